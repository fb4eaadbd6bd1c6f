#!/bin/sh
# profile.sh — `nnc build --profile`: the executable prints, after
# training, the work items of its step that took most (GEMMs, fused loops,
# row nests), each with the name `nnc emit fused` gives it, and the share
# of matrix products; it trains to the same bits as the build without it.
# usage: profile.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-profile.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
src=tests/e2e/nest/encoder.nn
"$nnc" build --profile "$src" -o "$tmp/prof" || fail "build --profile"
"$nnc" build "$src" -o "$tmp/plain" || fail "build"
"$tmp/prof" train --quiet --save "$tmp/prof.st" > "$tmp/out" 2> "$tmp/err" || fail "train (profiled)"
"$tmp/plain" train --quiet --save "$tmp/plain.st" > /dev/null || fail "train"
cmp -s "$tmp/prof.st" "$tmp/plain.st" || fail "--profile changed the weights"
cat "$tmp/err"
grep -q "^profile: .* s in the step kernels of .* s of training" "$tmp/err" || fail "no profile header"
grep -q "^  matrix products: .* ms" "$tmp/err" || fail "no matrix-product share"
row='^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9.]+  [a-z_0-9]+[ :]' # "train k3 ...", or "train: copy of ..." (a copy item)
n=$(grep -Ec "$row" "$tmp/err")
[ "$n" -eq 40 ] || fail "$n items listed, expected 40"
grep -q "^ *[0-9.]* *[0-9.]* *[0-9]* *[0-9.]*  (\([0-9]* more items\))$" "$tmp/err" || fail "no line for the items not listed"
# every item (which ones are the slowest 40 depends on the machine)
NNRT_PROFILE_ROWS=100000 "$tmp/prof" train --quiet 2> "$tmp/all" > /dev/null || fail "train NNRT_PROFILE_ROWS=100000"
grep -q "train k[0-9]* single \[.*\]: %[0-9]*=matmul" "$tmp/all" || fail "no GEMM item in the profile"
grep -q "train k[0-9]*-k[0-9]* row nest \[" "$tmp/all" || fail "no row nest in the profile"
grep -q "more items" "$tmp/all" && fail "NNRT_PROFILE_ROWS=100000 left items out"
NNRT_PROFILE_ROWS=3 "$tmp/prof" train --quiet 2> "$tmp/err3" > /dev/null || fail "train NNRT_PROFILE_ROWS=3"
n=$(grep -Ec "$row" "$tmp/err3")
[ "$n" -eq 3 ] || fail "NNRT_PROFILE_ROWS=3 listed $n items"
"$tmp/plain" train --quiet 2>&1 | grep -q "^profile:" && fail "a build without --profile prints a profile"
echo PASS
