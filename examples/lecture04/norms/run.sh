#!/bin/sh
# Lecture 4: which axes does each normaliser standardise?  Builds each of
# none/batchnorm/layernorm/groupnorm/instancenorm.nn once per axis set
# (OVER = 1..5 in common.nn), runs one full-batch step at learning rate 0
# and prints, per norm and axis set, the worst group's deviation from mean
# 0 and variance 1 (the training-mode loss, from --log).  A last row is
# batch norm in inference mode: the running statistics after that one step
# (momentum 0.1) are not the batch's, so nothing is standardised.  About
# 5 s a program, mostly building it.
# usage: run.sh [OUT_DIR]      (default: out/ beside this script)
#   NNC=path/to/nnc overrides the compiler (default: build/compiler/nnc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nnc=${NNC:-$root/build/compiler/nnc}
out=${1:-$here/out}
mkdir -p "$out"
printf '%-22s %10s %10s %10s %10s %10s\n' "deviation over:" "(B,L)" "(C,L)" "(C/2,L)" "(L)" "(B,C,L)"
printf '%-22s %10s %10s %10s %10s %10s\n' "groups:" "channel" "sample" "smp+group" "smp+chan" "all"
infer="batchnorm,inference"
for norm in none batchnorm layernorm groupnorm instancenorm; do
  row=$norm
  for over in 1 2 3 4 5; do
    sed "s|^const OVER = 1;|const OVER = $over;|; s|^import \"common.nn\";|import \"$here/common.nn\";|" \
      "$here/$norm.nn" >"$out/$norm$over.nn"
    "$nnc" build "$out/$norm$over.nn" -o "$out/$norm$over"
    line=$("$out/$norm$over" train --quiet --threads 1 --log "$out/$norm$over.csv")
    row="$row $(sed -n 2p "$out/$norm$over.csv" | cut -d, -f2)"
    if [ $norm = batchnorm ]; then infer="$infer ${line#*loss=}"; fi
  done
  echo "$row" | awk '{ printf "%-22s", $1; for (i = 2; i <= NF; i++) printf " %10.2g", $i; printf "\n" }'
done
echo "$infer" | awk '{ printf "%-22s", $1; for (i = 2; i <= NF; i++) printf " %10.2g", $i; printf "\n" }'
