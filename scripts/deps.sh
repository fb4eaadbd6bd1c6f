#!/bin/sh
# Install nnc's build and test dependencies from Debian 12's packages.
# Skips apt when everything is already there (CI re-runs stay fast).
#   scripts/deps.sh --list   prints the package list (scripts/check-install
#                            reads it) and installs nothing.
set -eu
PKGS="build-essential cmake pkg-config llvm-19-dev flex bison libcmocka-dev zlib1g-dev \
libdnnl-dev libblas-dev libcjson-dev liblapacke-dev libopenblas0-pthread graphviz dataset-fashion-mnist fortunes-min fortunes python3"
if [ "${1:-}" = "--list" ]; then
  echo $PKGS
  exit 0
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps.sh: missing Debian packages:$missing" >&2
    echo "deps.sh: not root and no sudo: install them as root with" >&2
    echo "    apt-get install$missing" >&2
    exit 1
  fi
  SUDO=sudo
fi
echo "deps.sh: installing:$missing"
if ! $SUDO apt-get update -qq; then
  echo "deps.sh: 'apt-get update' failed: check the network and /etc/apt/sources.list" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null; then
  echo "deps.sh: 'apt-get install$missing' failed (see apt's message above);" >&2
  echo "deps.sh: these are Debian 12 (bookworm) packages: is this Debian 12 with the main component enabled?" >&2
  exit 1
fi
