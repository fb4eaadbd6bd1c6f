#!/bin/sh
# Lecture 8, the character-level LSTM language model: builds the corpus
# (make_corpus.sh: Debian's fortunes), trains lstm.nn for 3 epochs (about 7
# minutes on 2 threads of a 2-vCPU VM), prints the held-out bits per
# character and 300 sampled characters.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 2),
#   EPOCHS (default 3), TEMPERATURE (default 0.8), SEED (default 1)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f "$here/data/fortunes.txt" ] || sh "$here/make_corpus.sh"
"$nnc" build "$here/lstm.nn" -o "$out/lstm"
cd "$here"
"$out/lstm" train --threads "${THREADS:-2}" --epochs "${EPOCHS:-3}" --save "$out/lstm.safetensors" --log "$out/lstm.csv"
val=$(tail -n 1 "$out/lstm.csv" | cut -d, -f6)
echo "held-out: $val nats/char = $(awk -v v="$val" 'BEGIN { printf "%.3f", v / log(2) }') bits/char"
"$out/lstm" sample --load "$out/lstm.safetensors" --prompt "The " --len 300 \
  --temperature "${TEMPERATURE:-0.8}" --seed "${SEED:-1}"
