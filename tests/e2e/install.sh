#!/bin/sh
# scripts/check-install must fail on a build that included a header from
# outside scripts/deps.sh's packages, and name the file: a C file is
# compiled with -MD against a header in a temporary directory (a stand-in
# for /usr/local or a home directory, owned by no Debian package) and its
# dependency file is handed to the check beside the real build's.
# usage: install.sh BUILD_DIR
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v dpkg-query >/dev/null || { echo "not a Debian machine: skipped"; exit 77; }
mkdir -p "$tmp/include" "$tmp/deps"
echo '#define PLANTED 1' > "$tmp/include/planted.h"
printf '#include <planted.h>\nint planted(void) { return PLANTED; }\n' > "$tmp/planted.c"
cc -I"$tmp/include" -MD -MF "$tmp/deps/planted.c.o.d" -c "$tmp/planted.c" -o "$tmp/deps/planted.o"
if ./scripts/check-install "$build" "$tmp/deps" > "$tmp/out" 2>&1; then
  cat "$tmp/out"
  echo "FAIL: check-install passed a build that included $tmp/include/planted.h"
  exit 1
fi
cat "$tmp/out"
grep -q "error: header $tmp/include/planted.h belongs to no Debian package" "$tmp/out" || {
  echo "FAIL: the planted header is not named"; exit 1; }
# and the real build alone passes
./scripts/check-install "$build"
echo "ok: the planted header is named; the build alone passes"
