#!/bin/sh
# Seven activations, one network, one problem: mlp.nn with act() = sigmoid,
# tanh, relu, leaky_relu, elu, gelu, softplus; same data, split, optimizer
# and seed.  Prints each run's last line and the first epoch whose training
# accuracy reached 90%, and overlays the curves.  Takes about 20 seconds.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
export NNC_STDLIB=${NNC_STDLIB:-$root/stdlib}
out=${1:-$here/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here" # spirals.csv is read relative to the working directory
acts="sigmoid tanh relu leaky_relu elu gelu softplus"
logs=""
for a in $acts; do
  sed "s/return tanh(z);/return $a(z);/" mlp.nn >"$out/$a.nn"
  "$nnc" build "$out/$a.nn" -o "$out/$a"
  printf '%-11s ' "$a"
  "$out/$a" train --quiet --threads 1 --log "$out/$a.csv" | tr -d '\n'
  awk -F, 'NR > 1 && $3 >= 0.9 && !e { e = $1 } END { printf "  90%%@%s\n", e ? e : "never" }' "$out/$a.csv"
  logs="$logs $out/$a.csv"
done
# shellcheck disable=SC2086
"$nnc" plot $logs --log-y --title "Two spirals, 2-32-32-32-1, Adam: training loss by activation" \
  -o "$out/activations.svg"
# shellcheck disable=SC2086
"$nnc" plot $logs --y val_loss --log-y --title "Two spirals: validation loss (40 held-out points)" \
  -o "$out/activations_val.svg"
# shellcheck disable=SC2086
"$nnc" plot $logs --y accuracy --title "Two spirals: training accuracy by activation" \
  -o "$out/activations_accuracy.svg"
echo "wrote $out/activations.svg, activations_val.svg and activations_accuracy.svg"
