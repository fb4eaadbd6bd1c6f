#!/bin/sh
# Lecture 3, learning-rate schedules: the lecture-2 MLP with SGD + momentum
# (base lr 0.1) under constant, step, exponential, cosine, warm-up and
# warm-up + cosine schedules, 12 epochs on the first LIMIT training
# images; prints each final line and draws OUT_DIR/schedules_lr.svg (the
# learning rate per epoch) and schedules_test_loss.svg.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   LIMIT (default 10000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
logs=
for s in constant step exponential cosine warmup warmup_cosine; do
  "$nnc" build "$here/$s.nn" -o "$out/$s"
  printf '%-14s ' "$s"
  "$out/$s" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-10000}" --log "$out/$s.csv"
  logs="$logs $out/$s.csv"
done
"$nnc" plot $logs --y lr --title "learning rate per epoch (base 0.1)" -o "$out/schedules_lr.svg"
"$nnc" plot $logs --y test_loss --title "test loss per epoch" -o "$out/schedules_test_loss.svg"
echo "wrote $out/schedules_lr.svg and $out/schedules_test_loss.svg"
