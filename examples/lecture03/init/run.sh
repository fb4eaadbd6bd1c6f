#!/bin/sh
# Weight initialisation: the same deep ReLU MLP (deep_mlp.nn) trained for one
# epoch from zeros, normal(0, 0.01), xavier_uniform and he_normal weights.
# Prints the final line of each run (one epoch: a few seconds each).
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
#   THREADS=N sets --threads (default 1: these small models gain little
#   from threads, and lose a lot when the cores are shared)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
logs=
for spec in "zeros:zeros" "small_normal:normal(0, 0.01)" "xavier:xavier_uniform" "he:he_normal"; do
  name=${spec%%:*}
  # deep_mlp.nn with only the line marked INIT changed.
  sed "s|= he_normal; // INIT|= ${spec#*:}; // INIT|" "$here/deep_mlp.nn" >"$out/$name.nn"
  "$nnc" build "$out/$name.nn" -o "$out/$name"
  printf '%-13s ' "$name"
  "$out/$name" train --quiet --threads "${THREADS:-1}" --epochs "${EPOCHS:-1}" --log "$out/$name.csv"
  logs="$logs $out/$name.csv"
done
# With more than one epoch (EPOCHS=3 ./run.sh) the runs are also overlaid.
if [ "${EPOCHS:-1}" -gt 1 ]; then
  "$nnc" plot $logs --y test_accuracy --title "Deep ReLU MLP: test accuracy by initialisation" \
    -o "$out/init_test_accuracy.svg"
  "$nnc" plot $logs --title "Deep ReLU MLP: training loss by initialisation" -o "$out/init_loss.svg"
  echo "wrote $out/init_test_accuracy.svg and $out/init_loss.svg"
fi
