#!/bin/sh
# Lecture 4, L1 makes weights sparse: the same MLP (784-128-10) trained
# with no penalty, an L1 penalty and an L2 penalty on its first layer's
# weights (λ = 1e-4 each, SGD + momentum, 10 epochs on the first LIMIT
# training images); prints each final line and, from each checkpoint, the
# share of first-layer weights that are (nearly) zero and a histogram of
# their magnitudes (weights.py).
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
for v in none l1 l2; do
  "$nnc" build "$here/$v.nn" -o "$out/$v"
  printf '%-5s ' "$v"
  "$out/$v" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-10000}" --save "$out/$v.safetensors"
done
for v in none l1 l2; do /usr/bin/python3 "$here/weights.py" "$out/$v.safetensors" l1.W; done
