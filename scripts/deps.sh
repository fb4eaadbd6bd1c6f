#!/bin/sh
# Install nnc's build and test dependencies from Debian 12's packages.
# Skips apt when everything is already there (CI re-runs stay fast).
set -eu
PKGS="build-essential cmake pkg-config llvm-19-dev flex bison libcmocka-dev zlib1g-dev \
libdnnl-dev libblas-dev libcjson-dev dataset-fashion-mnist python3"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
