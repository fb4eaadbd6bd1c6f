#!/bin/sh
# Lecture 7: build and train every architecture here briefly on the first
# LIMIT Fashion-MNIST training images, then print one Markdown table row
# per model: trainable parameters (from `info`), test accuracy on the full
# 10,000-image test set, and wall-clock seconds of `train` (build excluded).
# usage: run_all.sh [OUT_DIR] [MODEL...]   (default: out/ beside this script, all models)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   LIMIT (default 10000 samples), EPOCHS (default: each file's own)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
[ $# -gt 0 ] && shift
models=${*:-lenet5 alexnet vgg inception resnet shufflenet ghost adder}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
echo "load at start: $(uptime | sed 's/.*load average/load average/')"
echo "| model | params | epochs | test accuracy | train seconds |"
echo "|---|---:|---:|---:|---:|"
for m in $models; do
  "$nnc" build "$here/$m.nn" -o "$out/$m"
  "$out/$m" info >"$out/$m.info"
  params=$(sed -n 's/^Trainable params: //p' "$out/$m.info")
  epochs=${EPOCHS:-$(sed -n 's/^ *epochs = \([0-9]*\);.*/\1/p' "$here/$m.nn")}
  t0=$(date +%s.%N)
  line=$("$out/$m" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-10000}" --epochs "$epochs" | tail -1)
  t1=$(date +%s.%N)
  echo "$line" >"$out/$m.result"
  acc=$(echo "$line" | sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p')
  echo "| $m | $params | $epochs | $acc | $(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }") |"
done
echo "load at end: $(uptime | sed 's/.*load average/load average/')"
