#!/bin/sh
# CE = H(p) + KL(p || q): train cross_entropy.nn and kl_div.nn, check that
# they take identical steps (same z columns in the logs) and that their
# losses differ by H(p) at every epoch, and plot both curves.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
for k in cross_entropy kl_div; do
  "$nnc" build "$here/$k.nn" -o "$out/$k"
  printf '%-14s ' "$k"
  "$out/$k" train --quiet --log "$out/$k.csv"
done
# H(p) for p = (0.1, 0.2, 0.3, 0.4)
awk 'BEGIN { h = 0; split("0.1 0.2 0.3 0.4", p, " "); for (i in p) h -= p[i] * log(p[i]);
             printf "H(p)           = %.6f nats\n", h }'
# Columns: epoch loss accuracy lr seconds z[0..3]; compare row by row.
paste -d, "$out/cross_entropy.csv" "$out/kl_div.csv" | awk -F, '
  NR == 1 { next }
  { d = $2 - $11; if (NR == 2 || d < lo) lo = d; if (NR == 2 || d > hi) hi = d
    for (i = 6; i <= 9; i++) if ($i != $(i + 9)) same = "no" }
  END { printf "CE - KL        in [%.6f, %.6f] over %d epochs\n", lo, hi, NR - 1
        printf "same z path    %s\n", same == "no" ? "no" : "yes" }'
"$nnc" plot "$out/cross_entropy.csv" "$out/kl_div.csv" --title "CE = H(p) + KL(p||q): same steps, offset H(p)" \
  -o "$out/losses.svg"
echo "wrote $out/losses.svg"
