#!/bin/sh
# Lecture 7, receptive fields: three 3x3 convolutions, plain (dilation 1,
# 1, 1) and dilated (1, 2, 4); prints, for each, the input rows whose
# pixels reach the centre output pixel (the nonzero rows of the gradient
# with respect to a zero probe image added to the input: `grads --rows
# probe`) and writes them to OUT_DIR/NAME.csv.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
for v in plain dilated; do
  "$nnc" build "$here/$v.nn" -o "$out/$v"
  "$out/$v" grads --batch 1 --rows probe -o "$out/$v.csv" >/dev/null
  rows=$(awk -F, 'NR > 1 && $2 > 0 { r = r (r ? " " : "") $1; n++ } END { print n " rows: " r }' "$out/$v.csv")
  printf '%-8s receptive field %s\n' "$v" "$rows"
done
