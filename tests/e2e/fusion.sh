#!/bin/sh
# fusion.sh — training with operator fusion and memory planning gives the
# same bits as one loop and one buffer per op: fusion only keeps values in
# registers, reuses dead buffers and reads slices in place; it never
# reorders arithmetic.
# usage: fusion.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-fusion.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for f in examples/lecture02/xor.nn tests/gradcheck/norm_group.nn tests/gradcheck/max_unpool2d.nn tests/gradcheck/loss_cross_entropy_labels.nn \
         tests/gradcheck/lstm_gates.nn tests/gradcheck/slice.nn tests/gradcheck/embedding.nn tests/cuda/seq.nn; do
  for v in fused unfused; do
    flag=
    [ $v = unfused ] && flag=--no-fuse
    "$nnc" build $flag "$f" -o "$tmp/$v" || fail "build $f $v"
    "$tmp/$v" train --epochs 4 --quiet --save "$tmp/$v.st" >/dev/null || fail "train $f $v"
  done
  cmp "$tmp/fused.st" "$tmp/unfused.st" || fail "$f: fused and unfused training differ"
  echo "same bits: $f"
done
echo PASS
