#!/bin/sh
# Pooling compared: the same small CNN with 2x2 max pooling, 2x2 average
# pooling, overlapping 3x3/stride-2 max pooling, and a global-average-pooling
# head, each trained briefly on the first LIMIT Fashion-MNIST training
# images; prints a table of parameters, test accuracy and time.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc (default build/compiler/nnc), THREADS (default 1),
#   LIMIT (default 10000 samples), EPOCHS (default 2)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit 1; }
echo "load: $(uptime | sed 's/.*load average/load average/')"
printf '%-9s %8s %14s %9s\n' pooling params test_accuracy seconds
for v in max avg overlap gap; do
  "$nnc" build "$here/$v.nn" -o "$out/$v"
  params=$("$out/$v" info | sed -n 's/^Trainable params: //p')
  t0=$(date +%s.%N)
  line=$("$out/$v" train --quiet --threads "${THREADS:-1}" --limit "${LIMIT:-10000}" --epochs "${EPOCHS:-2}" | tail -1)
  t1=$(date +%s.%N)
  acc=$(echo "$line" | sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p')
  printf '%-9s %8s %14s %9s\n' "$v" "$params" "$acc" "$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")"
done
