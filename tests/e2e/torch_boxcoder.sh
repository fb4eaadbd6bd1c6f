#!/bin/sh
# torch_boxcoder.sh — stdlib/detect.nn's box_encode, box_decode (dw/dh
# clamp), smooth_l1 and anchor_grid compute what torchvision 0.14's BoxCoder
# and AnchorGenerator and torch's smooth_l1_loss do: with their parameters
# (torch_detect/boxcoder.json, written by make_boxcoder.py with Debian's
# python3-torchvision), one forward and backward of boxcoder.nn gives the
# loss, the values (the gradients of the weights) and the gradients w.r.t.
# boxes, deltas and inputs to 1e-5 (f64).  Only Python's standard library
# is needed at test time.
# usage: torch_boxcoder.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_detect
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-boxcoder.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$nnc" build $dir/boxcoder.nn -o "$tmp/bc" || { echo "FAIL: build"; exit 1; }
(cd $dir && "$tmp/bc" train --quiet --epochs 0 --save "$tmp/template.st") >/dev/null || { echo "FAIL: first run"; exit 1; }
/usr/bin/python3 $dir/check_boxcoder.py start "$tmp/template.st" "$tmp/w0.st" || { echo "FAIL: writing w0"; exit 1; }
(cd $dir && "$tmp/bc" train --quiet --resume "$tmp/w0.st" --save "$tmp/w1.st" --log "$tmp/log.csv") >/dev/null ||
  { echo "FAIL: train exited $?"; exit 1; }
loss=$(sed -n '2s/^1,\([^,]*\),.*/\1/p' "$tmp/log.csv")
[ -n "$loss" ] || { echo "FAIL: no loss in the log:"; cat "$tmp/log.csv"; exit 1; }
/usr/bin/python3 $dir/check_boxcoder.py compare "$tmp/w0.st" "$tmp/w1.st" "$loss" || { echo "FAIL: differs from torch"; exit 1; }
echo "PASS"
