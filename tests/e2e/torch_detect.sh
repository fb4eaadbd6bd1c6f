#!/bin/sh
# torch_detect.sh — roi_align (aligned = 0 and 1) and roi_pool compute what
# torchvision.ops (0.14) does: with torchvision's parameters (torch_detect/
# reference.json, written by make_reference.py with Debian's
# python3-torchvision), one forward and backward of roi.nn gives its loss,
# the ops' values (the gradients of the weights) and the features'
# gradients to 1e-5 (f64).
# With a second argument `cuda` (tests/cuda: cuda_detect), the program is
# built with --cuda and both runs train on the GPU: its kernels against
# torchvision's numbers (skipped, 77, without a driver or device).
# usage: torch_detect.sh NNC [cuda]   (run from the repository root)
set -u
nnc=$1
cuda=${2:-}
build_flags="" dev=""
[ "$cuda" = cuda ] && build_flags=--cuda dev="--device cuda"
dir=tests/e2e/torch_detect
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-detect.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$nnc" build $build_flags $dir/roi.nn -o "$tmp/roi" || { echo "FAIL: build"; exit 1; }
# a checkpoint of this program to take names and metadata from
if ! (cd $dir && "$tmp/roi" train $dev --quiet --save "$tmp/template.st") >/dev/null 2>"$tmp/err"; then
  [ -n "$dev" ] && grep -q 'no CUDA driver found\|no CUDA device found' "$tmp/err" && exit 77
  cat "$tmp/err"; echo "FAIL: first run"; exit 1
fi
/usr/bin/python3 $dir/check.py start "$tmp/template.st" "$tmp/w0.st" || { echo "FAIL: writing w0"; exit 1; }
(cd $dir && "$tmp/roi" train $dev --quiet --resume "$tmp/w0.st" --save "$tmp/w1.st" --log "$tmp/log.csv") >/dev/null ||
  { echo "FAIL: train exited $?"; exit 1; }
# the epoch's training loss: the forward pass with the reference weights
loss=$(sed -n '2s/^1,\([^,]*\),.*/\1/p' "$tmp/log.csv")
[ -n "$loss" ] || { echo "FAIL: no loss in the log:"; cat "$tmp/log.csv"; exit 1; }
/usr/bin/python3 $dir/check.py compare "$tmp/w0.st" "$tmp/w1.st" "$loss" || { echo "FAIL: differs from torchvision"; exit 1; }
echo "PASS"
