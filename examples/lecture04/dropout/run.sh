#!/bin/sh
# Lecture 4: standard vs inverted dropout (and unscaled dropout, the bug),
# p = 0.5, on 64 units of mean activation 4.5.  Each program runs 2000
# epochs at learning rate 0: the log's loss column is the mean activation
# under one fresh mask per epoch (training mode), the last line's loss the
# inference-mode output.  Prints the mean and spread over the masks next to
# the inference value: they agree for standard and inverted dropout and
# differ by a factor 2 for the unscaled one.  About a second in all.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
printf '%-9s %24s %16s %12s %10s\n' dropout "training: mean ± sd" "min .. max" inference ratio
for k in inverted standard unscaled; do
  "$nnc" build "$here/$k.nn" -o "$out/$k"
  line=$("$out/$k" train --quiet --threads 1 --log "$out/$k.csv")
  infer=${line#*loss=}
  awk -F, -v k=$k -v e="$infer" 'NR > 1 { s += $2; q += $2 * $2; n++
      if (n == 1 || $2 < lo) lo = $2; if (n == 1 || $2 > hi) hi = $2 }
    END { m = s / n; printf "%-9s %14.4f ± %7.4f %7.3f .. %6.3f %12.4f %10.4f\n", k, m, sqrt(q / n - m * m), lo, hi, e, e / m }' "$out/$k.csv"
done
