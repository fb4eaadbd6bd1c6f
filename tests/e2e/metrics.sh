#!/bin/sh
# metrics.sh — a train block's `metric NAME = EXPR;` (LANGUAGE.md 8.1):
# printed in the progress lines, the final key=value line (NAME=,
# val_NAME=, test_NAME=), the --log columns and a --plot chart; the
# built-in accuracy written as a metric agrees with accuracy= on every
# split, in training (running means, dropout on) and in inference; the
# same under --shards 2, and `eval` prints them too.
# usage: metrics.sh NNC   (run from the repository root)
set -u
nnc=$1
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "SKIP: no Fashion-MNIST"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-metrics.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build tests/e2e/metrics/acc.nn -o "$tmp/m" || fail "build"
# key K's value in line L
val() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
same() { # same A B: equal to 6 significant digits (the line's precision)
  awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 2e-6 * (a < 0 ? -a : a) + 1e-12) }'
}
for shards in 1 2; do
  "$tmp/m" train --limit 2000 --valid 0.1 --shards $shards --log "$tmp/l$shards.csv" --plot "$tmp/p.svg" \
    >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "train --shards $shards"; }
  last=$(tail -1 "$tmp/out")
  for split in "" val_ test_; do
    a=$(val ${split}accuracy "$last") b=$(val ${split}again "$last") c=$(val ${split}confidence "$last")
    same "$a" "$b" || fail "shards $shards: ${split}again=$b is not ${split}accuracy=$a: $last"
    [ -n "$c" ] || fail "no ${split}confidence in: $last"
  done
  grep -q "^epoch 2/2 .* again=.* val_again=.* test_confidence=" "$tmp/out" || { cat "$tmp/out"; fail "progress line"; }
  # the log: the running means of training (dropout on) agree too
  head -1 "$tmp/l$shards.csv" | grep -q ',again,confidence,val_again,val_confidence,test_again,test_confidence$' ||
    fail "log header: $(head -1 "$tmp/l$shards.csv")"
  awk -F, 'NR > 1 { d = $3 - $10; if (d < 0) d = -d; if ($10 == "" || d > 1e-6) bad = 1 } END { exit bad }' \
    "$tmp/l$shards.csv" || { cat "$tmp/l$shards.csv"; fail "log: running accuracy and again differ"; }
  grep -q '>metrics<' "$tmp/p.svg" || fail "plot: no metrics chart"
  grep -q 'test again' "$tmp/p.svg" || fail "plot: no 'test again' line"
done
"$tmp/m" train --limit 2000 --save "$tmp/c.st" --quiet >"$tmp/tr" 2>&1 || fail "train --save"
"$tmp/m" eval --load "$tmp/c.st" >"$tmp/ev" 2>&1 || { cat "$tmp/ev"; fail "eval"; }
[ "$(val test_again "$(tail -1 "$tmp/ev")")" = "$(val test_again "$(tail -1 "$tmp/tr")")" ] || fail "eval's test_again differs from train's"
echo "ok: metrics in progress, final line, log, plot, --shards 2 and eval; again = accuracy on every split"
