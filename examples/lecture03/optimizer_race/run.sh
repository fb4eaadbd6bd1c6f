#!/bin/sh
# Lecture 3 optimizer race.  Part 1: all eight optimizers on the Rosenbrock
# valley (2000 steps each, < 1 s in all): loss curves (log y) and the paths
# of (x, y).  Part 2 (skip with FASHION=0): the same eight on the
# Fashion-MNIST MLP of lecture 2 for one epoch each (a few seconds each;
# THREADS=N sets --threads, default 1), printing the final lines.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
opts="sgd momentum nesterov adagrad adadelta rmsprop adam adamw"

echo "== Rosenbrock valley, from (-1.5, 2), 2000 steps =="
logs=
for o in $opts; do
  "$nnc" build "$here/$o.nn" -o "$out/$o"
  printf '%-9s ' "$o"
  "$out/$o" train --quiet --log "$out/$o.csv"
  logs="$logs $out/$o.csv"
done
"$nnc" plot $logs --log-y --title "Rosenbrock: loss per step" -o "$out/race_loss.svg"
"$nnc" plot $logs --xy x,y --mark 1,1,minimum --title "Rosenbrock: paths of (x, y)" -o "$out/race_paths.svg"
echo "wrote $out/race_loss.svg and $out/race_paths.svg"

[ "${FASHION:-1}" = 0 ] && exit 0
mlp=$root/examples/lecture02/fashion_mlp.nn
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: skipping part 2"; exit 0; }
echo "== Fashion-MNIST MLP 784-256-256-10, 1 epoch, batch 128 =="
logs=
for spec in "sgd:sgd(lr = 0.1)" "momentum:momentum(lr = 0.01, momentum = 0.9)" \
            "nesterov:nesterov(lr = 0.01, momentum = 0.9)" "adagrad:adagrad(lr = 0.01)" \
            "adadelta:adadelta(rho = 0.95)" "rmsprop:rmsprop(lr = 0.001)" \
            "adam:adam(lr = 0.001)" "adamw:adamw(lr = 0.001, weight_decay = 0.01)"; do
  o=${spec%%:*}
  # The lecture-2 model with only its optimizer line changed.
  sed "s|optimizer = .*;|optimizer = ${spec#*:};|" "$mlp" >"$out/fashion_$o.nn"
  "$nnc" build "$out/fashion_$o.nn" -o "$out/fashion_$o"
  printf '%-9s ' "$o"
  "$out/fashion_$o" train --quiet --threads "${THREADS:-1}" --epochs 1 --log "$out/fashion_$o.csv"
done
