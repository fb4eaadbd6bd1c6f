#!/bin/sh
# plot.sh — pictures made by the project itself: `OUT train --log --plot`
# on XOR (loss + accuracy) and on a two-parameter valley (trajectory
# columns p[0], p[1] in the log), then `nnc plot` overlaying the logs and
# drawing the trajectories.  Checks the files exist, are SVG, and have one
# <path> per series.
# usage: plot.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-plot.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
is_svg() { head -c 4 "$1" | grep -q '^<svg' && tail -n 1 "$1" | grep -q '^</svg>$' || fail "$1 is not an SVG"; }
paths() { grep -c '<path' "$1"; }

"$nnc" build examples/lecture02/xor.nn -o "$tmp/xor" || fail "build xor"
"$tmp/xor" train --epochs 200 --log "$tmp/xor.csv" --plot "$tmp/xor.svg" --quiet >/dev/null || fail "train xor"
is_svg "$tmp/xor.svg"
[ "$(paths "$tmp/xor.svg")" = 2 ] || fail "xor.svg: expected a loss and an accuracy curve"
head -n 1 "$tmp/xor.csv" | grep -q '^epoch,loss,accuracy,lr,seconds$' || fail "xor.csv header changed"
[ "$(wc -l <"$tmp/xor.csv")" = 201 ] || fail "xor.csv: expected 200 rows"

cat >"$tmp/valley.nn" <<'NN'
data none {}
model Valley {
  param p: f32[2] = constant(-1.5);
  fn f() -> f32[] { a = p[0]; b = p[1]; return (1 - a) ** 2 + 100 * (b - a * a) ** 2; }
}
train Valley on none { loss = f(); optimizer = adam(lr = 0.05); epochs = 300; }
NN
"$nnc" build "$tmp/valley.nn" -o "$tmp/valley" || fail "build valley"
"$tmp/valley" train --log "$tmp/adam.csv" --plot "$tmp/valley.svg" --quiet >/dev/null || fail "train valley"
"$tmp/valley" train --lr 0.01 --log "$tmp/slow.csv" --quiet >/dev/null || fail "train valley slowly"
is_svg "$tmp/valley.svg"
[ "$(paths "$tmp/valley.svg")" = 2 ] || fail "valley.svg: expected a loss curve and a trajectory"
head -n 2 "$tmp/adam.csv" | tr '\n' ' ' | grep -q '^epoch,loss,accuracy,lr,seconds,p\[0\],p\[1\] 0,[0-9.e+]*,,0.05,0,-1.5,-1.5 $' \
  || fail "adam.csv: expected p[0],p[1] columns and an epoch-0 row at the start"

"$nnc" plot "$tmp/adam.csv" "$tmp/slow.csv" -o "$tmp/loss.svg" --log-y --title "Adam, two rates" || fail "nnc plot"
is_svg "$tmp/loss.svg"
[ "$(paths "$tmp/loss.svg")" = 2 ] || fail "loss.svg: expected 2 series"
grep -q '>adam<' "$tmp/loss.svg" && grep -q '>slow<' "$tmp/loss.svg" || fail "loss.svg: legend names"
"$nnc" plot --xy 'p[0],p[1]' --mark 1,1,minimum "$tmp/adam.csv" "$tmp/slow.csv" -o "$tmp/traj.svg" || fail "nnc plot --xy"
is_svg "$tmp/traj.svg"
[ "$(paths "$tmp/traj.svg")" = 2 ] || fail "traj.svg: expected 2 paths"

# Errors: a missing column and a missing file are reported, not drawn.
"$nnc" plot --y accuracy "$tmp/adam.csv" -o "$tmp/bad.svg" 2>"$tmp/err" && fail "plotting an empty column succeeded"
grep -q "no values in column 'accuracy'" "$tmp/err" || fail "message for an empty column: $(cat "$tmp/err")"
"$nnc" plot --y nope "$tmp/adam.csv" -o "$tmp/bad.svg" 2>"$tmp/err" && fail "plotting a missing column succeeded"
grep -q "no column 'nope'" "$tmp/err" || fail "message for a missing column: $(cat "$tmp/err")"
"$nnc" plot "$tmp/none.csv" -o "$tmp/bad.svg" 2>/dev/null && fail "plotting a missing file succeeded"
"$nnc" plot "$tmp/adam.csv" 2>/dev/null; [ $? = 2 ] || fail "no -o should be a usage error (exit 2)"
echo "plots ok"
