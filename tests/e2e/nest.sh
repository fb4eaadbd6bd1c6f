#!/bin/sh
# nest.sh — row nests (compiler/fuse.c) change the order of loops, never
# the arithmetic: tests/e2e/nest/encoder.nn (layer norms over rows of 64,
# softmaxes over rows of 32 under a causal and a padding mask) trains to
# the same bits with nests (the default), without them (NNC_NO_NEST=1) and
# without fusion (--no-fuse), on 1 and on 2 threads (a nest's rows split
# over the team, and so are the columns of the feed-forward's bias
# gradients, sums of [4, 32, 256] over the rows: nnrt_par_team, fused
# or, with --no-fuse, a lone sum of a stored value); `emit
# fused` shows the nests of the layer norm and of the masked softmax,
# forward and backward.  Values computed in place of the inputs they
# replace (memplan.c), inside nests and out, give the same bits as every
# value in a buffer of its own (NNC_NO_IN_PLACE=1).
# usage: nest.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-nest.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
src=tests/e2e/nest/encoder.nn
"$nnc" emit fused "$src" > "$tmp/fused" || fail "emit fused"
# the masked softmax: the mask's add and the softmax, one loop over [B, 4, 32]
grep -A3 "row nest .*rows \[B, 4, 32\]" "$tmp/fused" | grep -q "softmax" || fail "emit fused shows no nest of a masked softmax"
# a layer norm: its sums, mean, deviation and output, one loop over [B, 32]
n=$(grep -c "row nest .*rows \[B, 32\]" "$tmp/fused")
[ "$n" -ge 4 ] || fail "emit fused shows $n nests over the rows [B, 32] (layer norms, forward and backward), expected 4 or more"
NNC_NO_NEST=1 "$nnc" emit fused "$src" | grep -q "row nest" && fail "NNC_NO_NEST=1 still nests"
"$nnc" build "$src" -o "$tmp/nest" || fail "build"
"$nnc" emit llvm "$src" | grep -q "call void @nnrt_par_team" || fail "no column sum split over the team"
"$nnc" emit llvm --no-fuse "$src" | grep -q "call void @nnrt_par_team" || fail "no lone column sum split over the team (--no-fuse)"
NNC_NO_NEST=1 "$nnc" build "$src" -o "$tmp/flat" || fail "build NNC_NO_NEST=1"
"$nnc" emit memplan "$src" > "$tmp/memplan" || fail "emit memplan"
grep -q "softmax .*(in place of %" "$tmp/memplan" || fail "emit memplan shows no softmax computed in place"
grep -q "relu_grad .*(in place of %" "$tmp/memplan" || fail "emit memplan shows no relu gradient computed in place"
NNC_NO_IN_PLACE=1 "$nnc" emit memplan "$src" | grep -q "in place of" && fail "NNC_NO_IN_PLACE=1 still computes in place"
NNC_NO_IN_PLACE=1 "$nnc" build "$src" -o "$tmp/apart" || fail "build NNC_NO_IN_PLACE=1"
"$nnc" build --no-fuse "$src" -o "$tmp/unfused" || fail "build --no-fuse"
for v in nest flat unfused apart; do
  for t in 1 2; do
    "$tmp/$v" train --quiet --threads $t --save "$tmp/$v-$t.st" > "$tmp/$v-$t.out" || fail "train $v --threads $t"
  done
done
for st in nest-2 flat-1 flat-2 unfused-1 unfused-2 apart-1 apart-2; do
  cmp -s "$tmp/nest-1.st" "$tmp/$st.st" || fail "the weights of $st differ from nest-1's"
done
cat "$tmp/nest-1.out"
echo PASS
