#!/bin/sh
# deep.sh — a generated 300-layer program (bench/gen_deep.py) builds and
# trains: the path codegen takes for big kernels (outlined items in parts,
# see PART_ABOVE in compiler/codegen/llvm.c) stays working.  Its training
# gives the same bits fused and unfused, and with --check-numerics (whose
# checked kernels are outlined too, check sites numbered by their callers).
# No time is asserted: bench/compile_time.sh measures it.
# usage: deep.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-deep.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
python3 bench/gen_deep.py 300 4 >"$tmp/deep.nn" || fail "gen_deep.py"
"$nnc" build "$tmp/deep.nn" -o "$tmp/fused" || fail "build"
"$nnc" build --no-fuse "$tmp/deep.nn" -o "$tmp/unfused" || fail "build --no-fuse"
"$tmp/fused" train --epochs 3 --quiet --save "$tmp/fused.st" >/dev/null || fail "train"
"$tmp/unfused" train --epochs 3 --quiet --save "$tmp/unfused.st" >/dev/null || fail "train unfused"
"$tmp/fused" train --epochs 3 --quiet --check-numerics --save "$tmp/checked.st" >/dev/null || fail "train --check-numerics"
cmp "$tmp/fused.st" "$tmp/unfused.st" || fail "fused and unfused training differ"
cmp "$tmp/fused.st" "$tmp/checked.st" || fail "training with --check-numerics differs"
out=$("$tmp/fused" eval --load "$tmp/fused.st") || fail "eval"
case $out in *loss=*) ;; *) fail "eval printed no loss: $out" ;; esac
n=$("$tmp/fused" info | grep -c Dense)
[ "$n" -ge 300 ] || fail "info lists $n Dense layers, not 300"
echo PASS
