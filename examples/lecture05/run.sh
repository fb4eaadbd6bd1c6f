#!/bin/sh
# Lecture 5: train the small CNN (cnn.nn) and the convolutional auto-encoder
# (autoencoder.nn) briefly, then draw 16 test images next to their
# reconstructions in OUT_DIR/reconstructions.png.  (Pooling variants:
# pooling/run.sh.)
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   LIMIT (default 10000 training samples), EPOCHS (default 2)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
flags="--quiet --threads ${THREADS:-1} --limit ${LIMIT:-10000} --epochs ${EPOCHS:-2}"
echo "load: $(uptime | sed 's/.*load average/load average/')"
"$nnc" build "$here/cnn.nn" -o "$out/cnn"
printf 'cnn:         '
"$out/cnn" train $flags
"$nnc" build "$here/autoencoder.nn" -o "$out/autoencoder"
printf 'autoencoder: '
"$out/autoencoder" train $flags --save "$out/autoencoder.safetensors"
"$out/autoencoder" show --load "$out/autoencoder.safetensors" --count 16 -o "$out/reconstructions.png"
