#!/bin/sh
# Lecture 4: over-fitting and four ways to fight it.  Trains the MLP of
# baseline.nn and its regularised variants (l2, dropout, batchnorm,
# earlystop) on the first 1000 Fashion-MNIST training images for 60 epochs
# (early stopping: until it stops), each with --log, then overlays the
# validation-loss curves in val_loss.svg, the training-loss curves in
# train_loss.svg and the validation accuracy in val_accuracy.svg, and prints
# a table of the numbers.  About 20 s a model with --threads 1.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
#   THREADS=N sets --threads (default 1), LIMIT=N the training images (1000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST in /usr/share/datasets"; exit 1; }
models="baseline l2 dropout batchnorm earlystop"
logs=
for m in $models; do
  "$nnc" build "$here/$m.nn" -o "$out/$m"
  "$out/$m" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-1000}" \
    --log "$out/$m.csv" --save "$out/$m.st" >"$out/$m.txt"
  logs="$logs $out/$m.csv"
done
"$nnc" plot $logs --y val_loss --title "validation loss (1200 held-out images)" -o "$out/val_loss.svg"
"$nnc" plot $logs --y loss --title "training loss (mean over each epoch, training mode)" -o "$out/train_loss.svg"
"$nnc" plot $logs --y val_accuracy --title "validation accuracy" -o "$out/val_accuracy.svg"
# The table: lowest validation loss and its epoch, then the final model
# (early stopping: the restored best epoch) on the training and validation
# splits, all measured in inference mode.
printf '%-10s %14s %9s %9s %9s %9s %9s\n' model "min val_loss" "@epoch" epochs val_loss train_acc val_acc
for m in $models; do
  line=$(tail -n 1 "$out/$m.txt")
  get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  set -- $(awk -F, 'NR > 1 && (b == "" || $6 < b) { b = $6; e = $1 } END { print b, e }' "$out/$m.csv")
  printf '%-10s %14.4f %9s %9s %9.4f %9.4f %9.4f\n' "$m" "$1" "$2" "$(get epoch)" "$(get val_loss)" \
    "$(get accuracy)" "$(get val_accuracy)"
done
echo "wrote $out/val_loss.svg, $out/train_loss.svg and $out/val_accuracy.svg"
