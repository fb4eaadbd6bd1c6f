#!/bin/sh
# Lecture 4, DropConnect: the MLP of ../overfitting without regularisation,
# with dropout and with DropConnect (p = 0.5 each), 40 epochs on the first
# LIMIT training images; prints the lowest validation loss and its epoch
# and the final validation loss and accuracy, and overlays the validation
# losses in OUT_DIR/val_loss.svg.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   LIMIT (default 1000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
printf '%-12s %13s %7s %10s %8s\n' model "min val_loss" "@epoch" val_loss val_acc
logs=
for m in none dropout dropconnect; do
  "$nnc" build "$here/$m.nn" -o "$out/$m"
  line=$("$out/$m" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-1000}" --log "$out/$m.csv")
  set -- $(awk -F, 'NR > 1 && (b == "" || $6 < b) { b = $6; e = $1 } END { print b, e }' "$out/$m.csv")
  printf '%-12s %13.4f %7s %10s %8s\n' "$m" "$1" "$2" "$(echo "$line" | sed -n 's/.*val_loss=\([^ ]*\).*/\1/p')" \
    "$(echo "$line" | sed -n 's/.*val_accuracy=\([^ ]*\).*/\1/p')"
  logs="$logs $out/$m.csv"
done
"$nnc" plot $logs --y val_loss --title "validation loss (1,200 held-out images)" -o "$out/val_loss.svg"
echo "wrote $out/val_loss.svg"
