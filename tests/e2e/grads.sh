#!/bin/sh
# grads.sh — the `grads` command prints the derived gradients' norms (and,
# with --rows, per-row norms as CSV) of tests/e2e/grads/grads.nn, whose
# gradients are known by hand; a missing parameter and an output that is an
# input are refused.
# usage: grads.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-grads.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build tests/e2e/grads/grads.nn -o "$tmp/g" || fail "build"
out=$("$tmp/g" grads) || fail "grads exited $?"
echo "$out"
echo "$out" | grep -q '^W  *\[3\]  *norm=12.4499 *max=9$' || fail "W's gradient norm"
echo "$out" | grep -q '^V  *\[2, 3\]  *norm=4.89898 *max=2$' || fail "V's gradient norm"
echo "$out" | grep -q '^U  *\[3\]  *norm=1.73205 *max=1$' || fail "U's gradient norm (detach)"
"$tmp/g" grads --rows V -o "$tmp/rows.csv" >/dev/null || fail "grads --rows exited $?"
printf 'row,grad_norm\n0,3.46410162\n1,3.46410162\n' | cmp -s - "$tmp/rows.csv" || { cat "$tmp/rows.csv"; fail "per-row norms"; }
err=$("$tmp/g" grads --rows Z 2>&1) && fail "--rows Z accepted"
echo "$err" | grep -q "no parameter of that name" || fail "--rows Z: $err"
err=$("$tmp/g" grads --rows V -o "$tmp/g" 2>&1) && fail "-o onto the program accepted"
echo "$err" | grep -q "refusing to overwrite" || fail "-o onto the program: $err"
echo "PASS"
