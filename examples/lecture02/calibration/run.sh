#!/bin/sh
# Lecture 2, calibration: the MLP over-fitted on the first LIMIT training
# images with the plain cross-entropy, with label smoothing (0.1) and with
# an entropy bonus (a confidence penalty, 0.2), 30 epochs each; for each,
# the test accuracy (from train), and from its checkpoint (eval --load of
# measure_confidence.nn and measure_entropy_of.nn) the mean confidence (the
# probability of the predicted class) and the mean entropy on the test set.
# A calibrated model's mean confidence is its accuracy.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   LIMIT (default 5000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
for m in confidence entropy_of; do "$nnc" build "$here/measure_$m.nn" -o "$out/measure_$m"; done
printf '%-8s %14s %16s %12s %14s\n' loss test_accuracy mean_confidence gap test_entropy
for v in plain smooth entropy; do
  "$nnc" build "$here/$v.nn" -o "$out/$v"
  acc=$("$out/$v" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-5000}" --save "$out/$v.safetensors" |
        sed -n 's/.*test_accuracy=\([^ ]*\).*/\1/p')
  conf=$("$out/measure_confidence" eval --quiet --load "$out/$v.safetensors" | sed -n 's/.*test_loss=\([^ ]*\).*/\1/p')
  ent=$("$out/measure_entropy_of" eval --quiet --load "$out/$v.safetensors" | sed -n 's/.*test_loss=\([^ ]*\).*/\1/p')
  printf '%-8s %14s %16s %12s %14s\n' "$v" "$acc" "$conf" "$(awk -v c="$conf" -v a="$acc" 'BEGIN { printf "%+.4f", c - a }')" "$ent"
done
