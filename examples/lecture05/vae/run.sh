#!/bin/sh
# Lecture 5 (13), the VAE: trains vae.nn (EPOCHS, default 10, on all 60,000
# images, ~1 min with 2 threads) and prints the negative ELBO per image on
# the training and test sets (the final line's loss and test_loss: a
# sampled estimate, ε drawn by the eval generator), then draws 16 test
# images next to their reconstructions (decode(μ)) in OUT_DIR/vae.png and
# 16 new images decoded from codes drawn from N(0, 1) in OUT_DIR/samples.png.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 2), EPOCHS
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
"$nnc" build "$here/vae.nn" -o "$out/vae"
"$out/vae" train --quiet --threads "${THREADS:-2}" --epochs "${EPOCHS:-10}" --save "$out/vae.safetensors"
"$out/vae" show --load "$out/vae.safetensors" --count 16 -o "$out/vae.png"
"$out/vae" sample --load "$out/vae.safetensors" --count 16 --seed 1 -o "$out/samples.png"
