#!/bin/sh
# Batch vs stochastic vs mini-batch gradient descent: one executable, three
# batch sizes, same epochs, rate and seed; the loss curves overlaid in
# gd_variants.svg.  Takes about a second.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
"$nnc" build "$here/rings.nn" -o "$out/rings"
for run in full_batch:48 mini_batch:8 single_example:1; do
  name=${run%%:*}
  printf '%-15s --batch %-3s ' "$name" "${run#*:}"
  "$out/rings" train --quiet --batch "${run#*:}" --log "$out/$name.csv"
done
"$nnc" plot "$out/full_batch.csv" "$out/mini_batch.csv" "$out/single_example.csv" --log-y \
  --title "Two rings, SGD lr 0.1: loss per epoch by batch size" -o "$out/gd_variants.svg"
"$nnc" plot "$out/full_batch.csv" "$out/mini_batch.csv" "$out/single_example.csv" --y accuracy \
  --title "Two rings: training accuracy by batch size" -o "$out/gd_variants_accuracy.svg"
echo "wrote $out/gd_variants.svg and $out/gd_variants_accuracy.svg"
