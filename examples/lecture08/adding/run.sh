#!/bin/sh
# Lecture 8, the adding problem: a vanilla RNN, a GRU and an LSTM of 32 units
# each read 40 (value, marker) steps and must output the sum of the two
# marked values, for 10 epochs; prints each one's final line and draws their
# test-loss curves in OUT_DIR/adding.svg.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   EPOCHS (default 10)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f "$here/data/test_y.npy" ] || /usr/bin/python3 "$here/make_data.py"
logs=
for m in rnn gru lstm; do
  "$nnc" build "$here/$m.nn" -o "$out/$m"
  printf '%-5s ' "$m"
  (cd "$here" && "$out/$m" train --quiet --threads "${THREADS:-1}" --epochs "${EPOCHS:-10}" --log "$out/$m.csv")
  logs="$logs $out/$m.csv"
done
"$nnc" plot $logs --y test_loss --log-y --title "adding problem, T = 40: test MSE per epoch (1/6: predicting the mean)" -o "$out/adding.svg"
echo "wrote $out/adding.svg"
