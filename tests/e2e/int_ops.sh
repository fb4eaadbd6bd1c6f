#!/bin/sh
# int_ops.sh — integer element-wise arithmetic (division, abs, sign,
# maximum on i32) compiles and computes what int_ops.nn says: the loss of
# its one full-batch step is 12.5.  Division was once rewritten to a
# multiplication by an i32 0.5 (that is, by 0); abs, sign and maximum
# emitted float instructions on integers and stopped nnc with an internal
# error, on the CPU and in the GPU kernels (emit ptx, checked here too).
# usage: int_ops.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-intops.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$nnc" build tests/e2e/int_ops.nn -o "$tmp/int_ops" || { echo "FAIL: build"; exit 1; }
# the GPU kernels of the same ops must compile too (no GPU needed)
"$nnc" emit ptx tests/e2e/int_ops.nn >"$tmp/int_ops.ptx" || { echo "FAIL: emit ptx"; exit 1; }
out=$("$tmp/int_ops" train --quiet) || { echo "FAIL: train exited $?"; exit 1; }
last=$(printf '%s\n' "$out" | tail -n 1)
case "$last" in
  *"loss=12.5"|*"loss=12.5 "*) echo "PASS: $last" ;;
  *) echo "FAIL: expected loss=12.5, got: $last"; exit 1 ;;
esac
