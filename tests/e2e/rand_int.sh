#!/bin/sh
# rand_int.sh — rand_int (LANGUAGE.md 6.2) draws uniform integers in
# [lo, hi): tests/e2e/rand_int.nn scores two histograms of 4096 draws
# (from [0, 10) and [-5, 5)) against uniform; the score stays under 1.5
# (a χ² bound no uniform draw exceeds in practice; a constant draw scores
# 900, a draw outside the range adds 1000 per percent missing), the same
# seed gives the same bits, another seed another draw; its GPU kernels
# compile (emit ptx).
# usage: rand_int.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-randint.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build tests/e2e/rand_int.nn -o "$tmp/ri" >/dev/null 2>&1 || fail "build"
"$nnc" emit ptx tests/e2e/rand_int.nn >/dev/null 2>&1 || fail "emit ptx"
a=$("$tmp/ri" train --quiet | sed -n 's/.*loss=//p')
b=$("$tmp/ri" train --quiet | sed -n 's/.*loss=//p')
c=$("$tmp/ri" train --quiet --seed 4 | sed -n 's/.*loss=//p')
[ -n "$a" ] || fail "no loss"
[ "$a" = "$b" ] || fail "the same seed drew differently: $a, $b"
[ "$a" != "$c" ] || fail "seeds 3 and 4 drew the same: $a"
awk -v a="$a" -v c="$c" 'BEGIN { exit !(a >= 0 && a < 1.5 && c >= 0 && c < 1.5) }' ||
  fail "the histograms are not uniform enough: scores $a, $c (a constant draw scores 900)"
echo "ok: rand_int scores $a (seed 3) and $c (seed 4) against uniform, reproducibly"
