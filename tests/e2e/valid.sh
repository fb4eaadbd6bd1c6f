#!/bin/sh
# valid.sh — `valid = F;` in a train block and `normalize = 1` on a data
# source:
#   split      a table of the numbers 0..19 with valid = 0.25: 5 samples are
#              held out, train and validation are a partition (15·loss +
#              5·val_loss = 0+…+19), the split depends on the seed only,
#              val_ columns reach the progress lines, the log and the last
#              line, and --valid overrides the block
#   normalize  at w = 0, mean((x − w)²) over the normalised training split
#              is exactly 1 (mean 0, variance 1 per feature); validation and
#              test use the training statistics; raw features that differ
#              by 10^5 in scale stop a logistic regression, normalised ones
#              let it reach 97% on the validation split
#   resume     with valid and normalize, a run stopped and resumed ends with
#              the same checkpoint byte for byte, and eval --load repeats
#              train's last line
#   errors     a split that leaves nothing to train on, a normalised integer
#              field and valid outside [0, 1) are clear errors
# usage: valid.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-valid.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
last() { tail -n 1 "$1"; }
# value of KEY= in a key=value line
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# Two features of very different scales (~5000 ± 1000 and ± 0.01) and a
# label that depends on both.
awk 'BEGIN { print "a,b,y"
  for (i = 0; i < 200; i++) { a = sin(i * 1.7) * 1000 + 5000; b = cos(i * 2.3) * 0.01
    printf "%.6f,%.8f,%d\n", a, b, ((a - 5000) / 1000 + b / 0.01 > 0.3) } }' >"$tmp/d.csv"

case $mode in
split)
  cat >"$tmp/part.nn" <<'NN'
data d { x: f64[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]; }
model M {
  param w: f64[] = zeros;
  fn f(x: f64[B]) -> f64[] { return mean(x - w); }
}
train M on d { loss = f(x); optimizer = sgd(lr = 0.0); epochs = 2; batch = 4; valid = 0.25; }
NN
  "$nnc" build "$tmp/part.nn" -o "$tmp/part" || fail "build"
  "$tmp/part" train --log "$tmp/log.csv" >"$tmp/out" || fail "train"
  cat "$tmp/out"
  line=$(last "$tmp/out")
  loss=$(val "$line" loss); vloss=$(val "$line" val_loss)
  [ -n "$vloss" ] || fail "no val_loss in the last line: $line"
  awk -v l="$loss" -v v="$vloss" 'BEGIN { d = 15 * l + 5 * v - 190; exit !(d < 1e-3 && d > -1e-3) }' \
    || fail "train ($loss) and validation ($vloss) are not a 15/5 partition of 0..19"
  grep -q '^epoch 2/2 .* val_loss=' "$tmp/out" || fail "progress lines lack val_loss"
  head -n 1 "$tmp/log.csv" | grep -q '^epoch,loss,accuracy,lr,seconds,val_loss,val_accuracy,w$' \
    || fail "log header: $(head -n 1 "$tmp/log.csv")"
  [ "$(sed -n 3p "$tmp/log.csv" | cut -d, -f6)" = "$vloss" ] || fail "log val_loss differs from the last line"
  "$tmp/part" train --quiet >"$tmp/again" || fail "second run"
  [ "$(last "$tmp/again")" = "$line" ] || fail "the same seed gave another split"
  other=""
  for seed in 2 3 4; do
    l=$(val "$("$tmp/part" train --quiet --seed $seed)" val_loss)
    [ "$l" != "$vloss" ] && other=$l
  done
  [ -n "$other" ] || fail "three other seeds all drew the same split"
  line=$("$tmp/part" train --quiet --valid 0) || fail "--valid 0"
  echo "$line"
  [ "$line" = "epoch=2 loss=9.5" ] || fail "--valid 0 should train on all 20: $line"
  line=$("$tmp/part" train --quiet --valid 0.5) || fail "--valid 0.5"
  loss=$(val "$line" loss); vloss=$(val "$line" val_loss)
  awk -v l="$loss" -v v="$vloss" 'BEGIN { d = 10 * l + 10 * v - 190; exit !(d < 1e-3 && d > -1e-3) }' \
    || fail "--valid 0.5 is not a 10/10 partition: $line"
  ;;
normalize)
  cat >"$tmp/norm.nn" <<NN
data d {
  x: f64[2] = csv("$tmp/d.csv", cols = [0, 2], header = 1, normalize = 1);
  test x = csv("$tmp/d.csv", cols = [0, 2], header = 1);
}
model M {
  param w: f64[2] = zeros;
  fn f(x: f64[B, 2]) -> f64[] { return mean((x - w) ** 2); }
}
train M on d { loss = f(x); optimizer = sgd(lr = 0.1); epochs = 1; valid = 0.2; }
NN
  "$nnc" build "$tmp/norm.nn" -o "$tmp/norm" || fail "build"
  line=$("$tmp/norm" train --epochs 0 --quiet) || fail "train"
  echo "$line"
  awk -v l="$(val "$line" loss)" 'BEGIN { exit !(l > 1 - 1e-9 && l < 1 + 1e-9) }' \
    || fail "the normalised training split does not have mean 0 and variance 1: $line"
  awk -v v="$(val "$line" val_loss)" -v t="$(val "$line" test_loss)" \
    'BEGIN { exit !(v != 1 && t != 1 && t > 0.8 && t < 1.2) }' \
    || fail "validation and test should use the training statistics: $line"
  line=$("$tmp/norm" train --epochs 0 --valid 0 --quiet) || fail "train --valid 0"
  echo "$line"
  [ "$line" = "epoch=0 loss=1 test_loss=1" ] || fail "without a hold-out, train and test (the same file) are both standardised: $line"
  cat >"$tmp/lr.nn" <<NN
import "nn";
data d {
  x: f64[2] = csv("$tmp/d.csv", cols = [0, 2], header = 1, normalize = 1);
  y: f64[1] = csv("$tmp/d.csv", cols = 2, header = 1);
}
model Logistic {
  param w: f64[2, 1] = zeros;
  param b: f64[1] = zeros;
  fn forward(x: f64[B, 2]) -> f64[B, 1] { return sigmoid(x @ w + b); }
}
train Logistic on d { loss = bce(forward(x), y); optimizer = sgd(lr = 0.5); epochs = 30; batch = 16; valid = 0.2; }
NN
  sed 's/, normalize = 1//' "$tmp/lr.nn" >"$tmp/raw.nn"
  for k in lr raw; do
    NNC_STDLIB=stdlib "$nnc" build "$tmp/$k.nn" -o "$tmp/$k" || fail "build $k"
  done
  line=$("$tmp/lr" train --quiet) || fail "train normalised"
  echo "normalised: $line"
  awk -v a="$(val "$line" val_accuracy)" 'BEGIN { exit !(a >= 0.95) }' || fail "normalised features did not learn"
  line=$("$tmp/raw" train --quiet) || fail "train raw"
  echo "raw:        $line"
  awk -v a="$(val "$line" val_accuracy)" 'BEGIN { exit !(a < 0.9) }' || fail "raw features were expected to fail"
  ;;
resume)
  cat >"$tmp/lr.nn" <<NN
import "nn";
data d {
  x: f64[2] = csv("$tmp/d.csv", cols = [0, 2], header = 1, normalize = 1);
  y: f64[1] = csv("$tmp/d.csv", cols = 2, header = 1);
  test x = csv("$tmp/d.csv", cols = [0, 2], header = 1);
  test y = csv("$tmp/d.csv", cols = 2, header = 1);
}
model Logistic {
  param w: f64[2, 1] = normal(0, 0.1);
  param b: f64[1] = zeros;
  fn forward(x: f64[B, 2]) -> f64[B, 1] { return sigmoid(x @ w + b); }
}
train Logistic on d { loss = bce(forward(x), y); optimizer = adam(lr = 0.05); epochs = 30; batch = 16; valid = 0.2; seed = 5; }
NN
  NNC_STDLIB=stdlib "$nnc" build "$tmp/lr.nn" -o "$tmp/lr" || fail "build"
  "$tmp/lr" train --save "$tmp/full.st" --quiet >"$tmp/full" || fail "full run"
  "$tmp/lr" train --epochs 12 --save "$tmp/part.st" --quiet >/dev/null || fail "first part"
  "$tmp/lr" train --resume "$tmp/part.st" --quiet >/dev/null || fail "resume"
  cmp "$tmp/full.st" "$tmp/part.st" || fail "resumed checkpoint differs from the uninterrupted one"
  want=$(last "$tmp/full" | sed 's/^epoch=[0-9]* //')
  got=$("$tmp/lr" eval --load "$tmp/full.st") || fail "eval"
  echo "train: $want"
  echo "eval:  $got"
  [ "$got" = "$want" ] || fail "eval --load does not repeat train's last line"
  echo "$got" | grep -q 'val_loss=.* test_loss=' || fail "eval line lacks val_/test_ keys"
  ;;
errors)
  cat >"$tmp/few.nn" <<'NN'
data d { x: f64[] = [1, 2, 3, 4]; }
model M { param w: f64[] = zeros; fn f(x: f64[B]) -> f64[] { return mean(x - w); } }
train M on d { loss = f(x); optimizer = sgd(lr = 0.1); valid = 0.9; }
NN
  "$nnc" build "$tmp/few.nn" -o "$tmp/few" || fail "build few"
  "$tmp/few" train >/dev/null 2>"$tmp/err"; rc=$?
  cat "$tmp/err"
  [ $rc = 1 ] || fail "valid = 0.9 of 4 samples: status $rc"
  grep -q "none to train on" "$tmp/err" || fail "message for an empty training split"
  "$tmp/few" train --valid 1 >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc = 2 ] || fail "--valid 1 should be a usage error, got $rc"
  cat >"$tmp/int.nn" <<NN
import "nn";
data d {
  x: f32[2] = csv("$tmp/d.csv", cols = [0, 2], header = 1);
  y: i32[] = csv("$tmp/d.csv", cols = 2, header = 1, normalize = 1);
}
model M { param w: f32[2, 2] = zeros; fn f(x: f32[B, 2]) -> f32[B, 2] { return x @ w; } }
train M on d { loss = cross_entropy(softmax(f(x)), y); optimizer = sgd(lr = 0.1); }
NN
  NNC_STDLIB=stdlib "$nnc" build "$tmp/int.nn" -o "$tmp/int" || fail "build int"
  "$tmp/int" train >/dev/null 2>"$tmp/err"; rc=$?
  cat "$tmp/err"
  [ $rc = 1 ] || fail "normalised i32 field: status $rc"
  grep -q "normalize needs a float field" "$tmp/err" || fail "message for a normalised i32 field"
  sed 's/valid = 0.9/valid = 1.5/' "$tmp/few.nn" >"$tmp/bad.nn"
  "$nnc" build "$tmp/bad.nn" -o "$tmp/bad" 2>"$tmp/err" && fail "valid = 1.5 compiled"
  cat "$tmp/err"
  grep -q "'valid' is the fraction" "$tmp/err" || fail "message for valid = 1.5"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
echo PASS
