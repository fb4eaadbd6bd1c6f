#!/bin/sh
# torch_transformer.sh — stdlib/attention.nn's TransformerEncoderLayer computes
# what torch.nn.TransformerEncoderLayer (post-norm, ReLU, dropout 0) does: with
# PyTorch's initial weights (tests/e2e/torch_transformer/reference.json,
# written by make_reference.py with Debian's python3-torch), one forward and
# backward on a fixed batch with a key padding mask gives PyTorch's loss and
# every weight's gradient to 1e-5 (f32); the same for the pre-norm layer
# (norm_first=True, reference_prenorm.json).
# usage: torch_transformer.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_transformer
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-tfm.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
# one program and its reference: encoder.nn (post-norm, PyTorch's default)
# and prenorm.nn (norm_first=True)
check_one() {
  prog=$1
  check="/usr/bin/python3 tests/e2e/torch_check.py $dir/$2"
  echo "== $prog"
  "$nnc" build $dir/$prog.nn -o "$tmp/$prog" || { echo "FAIL: build $prog"; exit 1; }
  # a checkpoint of this program to take names and metadata from
  (cd $dir && "$tmp/$prog" train --quiet --save "$tmp/template.st") >/dev/null || { echo "FAIL: first run"; exit 1; }
  $check start "$tmp/template.st" "$tmp/w0.st" || { echo "FAIL: writing w0"; exit 1; }
  (cd $dir && "$tmp/$prog" train --quiet --resume "$tmp/w0.st" --save "$tmp/w1.st" --log "$tmp/log.csv") >/dev/null ||
    { echo "FAIL: train exited $?"; exit 1; }
  # the epoch's training loss: the forward pass with the reference weights
  loss=$(sed -n '2s/^1,\([^,]*\),.*/\1/p' "$tmp/log.csv")
  [ -n "$loss" ] || { echo "FAIL: no loss in the log:"; cat "$tmp/log.csv"; exit 1; }
  $check compare "$tmp/w0.st" "$tmp/w1.st" "$loss" || { echo "FAIL: $prog differs from PyTorch"; exit 1; }
}
check_one encoder reference.json
check_one prenorm reference_prenorm.json
echo "PASS"
