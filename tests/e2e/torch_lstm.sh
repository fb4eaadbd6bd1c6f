#!/bin/sh
# torch_lstm.sh — stdlib/rnn.nn's LSTM computes what torch.nn.LSTM does: with
# PyTorch's initial weights (tests/e2e/torch_lstm/reference.json, written by
# make_reference.py with Debian's python3-torch), one forward and backward on a
# fixed batch gives PyTorch's loss and every weight's gradient to 1e-5 (f32).
# usage: torch_lstm.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_lstm
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-lstm.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$nnc" build $dir/lstm.nn -o "$tmp/lstm" || { echo "FAIL: build"; exit 1; }
# a checkpoint of this program to take names and metadata from
(cd $dir && "$tmp/lstm" train --quiet --save "$tmp/template.st") >/dev/null || { echo "FAIL: first run"; exit 1; }
/usr/bin/python3 tests/e2e/torch_check.py $dir/reference.json start "$tmp/template.st" "$tmp/w0.st" || { echo "FAIL: writing w0"; exit 1; }
(cd $dir && "$tmp/lstm" train --quiet --resume "$tmp/w0.st" --save "$tmp/w1.st" --log "$tmp/log.csv") >/dev/null ||
  { echo "FAIL: train exited $?"; exit 1; }
# the epoch's training loss: the forward pass with the reference weights
loss=$(sed -n '2s/^1,\([^,]*\),.*/\1/p' "$tmp/log.csv")
[ -n "$loss" ] || { echo "FAIL: no loss in the log:"; cat "$tmp/log.csv"; exit 1; }
/usr/bin/python3 tests/e2e/torch_check.py $dir/reference.json compare "$tmp/w0.st" "$tmp/w1.st" "$loss" || { echo "FAIL: differs from PyTorch"; exit 1; }
echo "PASS"
