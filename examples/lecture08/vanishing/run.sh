#!/bin/sh
# Lecture 8, vanishing gradients: |dL/dh_t| for every step t of a vanilla RNN
# and an LSTM on the adding problem's sequences (40 steps, loss on the last),
# at initialisation and after 10 epochs of training, drawn in
# OUT_DIR/vanishing.svg (log scale).  `grads --rows probe` prints them: the
# zero parameter `probe` is added to h_t at every step, so its gradient's
# row t is dL/dh_t summed over the batch.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f "$here/../adding/data/y.npy" ] || /usr/bin/python3 "$here/../adding/make_data.py"
for m in rnn lstm; do
  "$nnc" build "$here/$m.nn" -o "$out/$m"
  cd "$here"
  "$out/$m" grads --batch 256 --rows probe -o "$out/${m}_init.csv" >/dev/null
  printf '%-5s ' "$m"
  "$out/$m" train --quiet --threads "${THREADS:-1}" --epochs 10 --save "$out/$m.safetensors"
  "$out/$m" grads --batch 256 --load "$out/$m.safetensors" --rows probe -o "$out/${m}_trained.csv" >/dev/null
  printf '%-5s |dL/dh_t| at t = 0, 20, 39 after training: %s\n' "$m" \
    "$(sed -n '2p;22p;41p' "$out/${m}_trained.csv" | cut -d, -f2 | tr '\n' ' ')"
done
"$nnc" plot "$out/rnn_init.csv" "$out/lstm_init.csv" "$out/rnn_trained.csv" "$out/lstm_trained.csv" \
  --x row --y grad_norm --log-y --title "|dL/dh_t| by step t (loss at t = 39)" -o "$out/vanishing.svg"
echo "wrote $out/vanishing.svg"
