#!/bin/sh
# frontend.sh — what nnc itself does with hostile files, paths and programs:
#   nonregular  a FIFO, a directory or /dev/zero as the .nn file or as an
#               import: refused at once ("is not a regular file"), exit 1
#   output      -o naming the source (also through a hard link or another
#               path), an import, a directory or a character device:
#               refused with one line, the source untouched, exit 1
#   stdout      `nnc emit ...` into /dev/full or a closed stdout: exit 1
#               with the reason
#   grad-numerics  --check-numerics names an op of the backward pass by
#               what it differentiates ("gradient of sqrt" at the sqrt
#               call), not by the primitive its rule is built from ('div')
# usage: frontend.sh NNC MODE   (run from the repository root)
set -u
[ $# -eq 2 ] || { echo "usage: $0 NNC MODE" >&2; exit 2; }
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-frontend.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
# expect STATUS WANT-LINE CMD...: the command exits STATUS within 10 s and
# prints WANT-LINE (a fixed string) as a whole line on stderr
expect() {
  want_rc=$1 want=$2
  shift 2
  timeout 10 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/err"
  [ $rc -eq "$want_rc" ] || fail "$*: exit status $rc, expected $want_rc"
  grep -qxF "$want" "$tmp/err" || fail "$*: expected the line: $want"
}
prog=tests/e2e/hardening/wide.nn

case $mode in
nonregular)
  mkfifo "$tmp/fifo.nn" || exit 77
  expect 1 "nnc: error: '$tmp/fifo.nn' is not a regular file" "$nnc" check "$tmp/fifo.nn"
  expect 1 "nnc: error: '$tmp/fifo.nn' is not a regular file" "$nnc" emit tokens "$tmp/fifo.nn"
  expect 1 "nnc: error: '$tmp' is not a regular file" "$nnc" check "$tmp"
  for imp in "$tmp/fifo.nn" /dev/zero "$tmp"; do
    printf 'import "%s";\n' "$imp" >"$tmp/imp.nn"
    expect 1 "$tmp/imp.nn:1:1: error: import \"$imp\": '$imp' is not a regular file" "$nnc" check "$tmp/imp.nn"
  done
  ;;
output)
  cp "$prog" "$tmp/w.nn"
  ln "$tmp/w.nn" "$tmp/link"
  mkdir "$tmp/sub"
  printf 'import "%s";\n' "$PWD/stdlib/nn.nn" >"$tmp/imp.nn"
  sed 1d "$prog" | sed 's/^import.*//' >>"$tmp/imp.nn"
  expect 1 "nnc: error: the output '$tmp/w.nn' is the source file '$tmp/w.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/w.nn"
  expect 1 "nnc: error: the output '$tmp/sub/../w.nn' is the source file '$tmp/w.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/sub/../w.nn"
  expect 1 "nnc: error: the output '$tmp/link' is the source file '$tmp/w.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/link"
  cmp "$prog" "$tmp/w.nn" || fail "the source was changed"
  expect 1 "nnc: error: the output '$PWD/stdlib/nn.nn' is the source file '$PWD/stdlib/nn.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/imp.nn" -o "$PWD/stdlib/nn.nn"
  expect 1 "nnc: error: cannot write the executable to '$tmp/sub': it is not a regular file" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/sub"
  expect 1 "nnc: error: cannot write the executable to '/dev/null': it is not a regular file" \
    "$nnc" build "$tmp/w.nn" -o /dev/null
  [ -c /dev/null ] || fail "/dev/null was replaced"
  # a source named without .nn: the default output "w.out" beside the cwd is fine,
  # and building into a fresh path still works
  "$nnc" build "$tmp/w.nn" -o "$tmp/w" || fail "build to a new path"
  ;;
stdout)
  [ -w /dev/full ] || exit 77
  expect 1 "nnc: error: writing to standard output failed: No space left on device" \
    sh -c '"$0" emit ir "$1" >/dev/full' "$nnc" "$prog"
  expect 1 "nnc: error: writing to standard output failed: Bad file descriptor" \
    sh -c '"$0" emit tokens "$1" >&-' "$nnc" "$prog"
  expect 1 "nnc: error: writing to standard output failed: No space left on device" \
    sh -c '"$0" --help >/dev/full' "$nnc"
  "$nnc" emit ir "$prog" >/dev/null || fail "emit ir to /dev/null"
  ;;
grad-numerics)
  "$nnc" build tests/e2e/frontend/sqrt_at_zero.nn -o "$tmp/sq" || fail "nnc build sqrt_at_zero.nn"
  expect 3 "error: tests/e2e/frontend/sqrt_at_zero.nn:14:12: 'gradient of sqrt' produced inf (element 0 of f32[B, 1])" \
    "$tmp/sq" train --quiet --check-numerics
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
echo PASS
