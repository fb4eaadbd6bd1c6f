#!/bin/sh
# earlystop.sh — `early_stop = P;` in a train block and train --early-stop P.
# The model fits one number w (from 0, by gradient descent) to a table of
# 0..19 with valid = 0.25; with seed 2 the held-out samples have a smaller
# mean than the training ones, so the validation loss falls while w passes
# their mean and then rises: a textbook over-fitting curve.  A state slot
# counts training steps, so the restored STATE is visible in the checkpoint.
#   stop     training stops P epochs after the epoch with the lowest
#            validation loss in the log (stopped_early=, best_epoch=), the
#            final line's val_loss is that epoch's, --save holds its weights
#            and state, and eval --load repeats the val_loss; --early-stop
#            overrides the block and --early-stop 0 trains every epoch
#   restore  a patience longer than the run still restores the best epoch
#   resume   a run stopped before its best epoch and resumed stops at the
#            same epoch with the same line as one that never stopped
#   errors   no validation split, a negative patience in the block or on
#            the command line, and --device cuda on a program built without
#            --cuda are clear errors (early stopping itself runs on either device)
# usage: earlystop.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-earlystop.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
last() { tail -n 1 "$1"; }
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# the value of tensor NAME (a scalar f64) in safetensors file FILE
tensor() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
s, e = json.loads(b[8:8 + n])[sys.argv[2]]["data_offsets"]
print("%.9g" % struct.unpack("<d", b[8 + n + s:8 + n + e])[0])
PY
}
# best epoch and its val_loss from a train --log file (column 6)
best_in_log() { awk -F, 'NR > 1 && (b == "" || $6 < b) { b = $6; e = $1 } END { print e, b }' "$1"; }

cat >"$tmp/es.nn" <<'NN'
data d { x: f64[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]; }
model M {
  param w: f64[] = zeros;
  state steps: f64[] = zeros;
  fn f(x: f64[B]) -> f64[] {
    if training { steps = steps + 1; }
    d = x - w;
    return mean(d * d);
  }
}
train M on d {
  loss = f(x);
  optimizer = sgd(lr = 0.02);
  epochs = 100; batch = 20; seed = 2;
  valid = 0.25;
  early_stop = 5;
}
NN
"$nnc" build "$tmp/es.nn" -o "$tmp/es" || fail "build"

case $mode in
stop)
  "$tmp/es" train --log "$tmp/log.csv" --save "$tmp/c.st" >"$tmp/out" || fail "train"
  tail -n 3 "$tmp/out"
  line=$(last "$tmp/out")
  set -- $(best_in_log "$tmp/log.csv"); best=$1 best_val=$2
  stopped=$(val "$line" stopped_early)
  [ "$(val "$line" best_epoch)" = "$best" ] || fail "best_epoch is not the log's lowest val_loss (epoch $best): $line"
  [ "$stopped" = $((best + 5)) ] || fail "did not stop 5 epochs after epoch $best: $line"
  [ "$(val "$line" epoch)" = "$stopped" ] || fail "epoch= is not the stopping epoch: $line"
  [ "$(tail -n 1 "$tmp/log.csv" | cut -d, -f1)" = "$stopped" ] || fail "the log runs past the stop"
  [ "$stopped" -lt 100 ] || fail "never stopped"
  # the line before the result says what it evaluated, and whose weights
  grep -qxF "eval on train (15 samples), validation (5) in inference mode, with the weights of epoch $best (the best validation loss; stopped early after epoch $stopped):" "$tmp/out" ||
    fail "no label naming epoch $best's weights: $(tail -n 2 "$tmp/out" | head -n 1)"
  awk -v a="$(val "$line" val_loss)" -v b="$best_val" 'BEGIN { exit !((a - b) / b < 1e-5 && (b - a) / b < 1e-5) }' \
    || fail "final val_loss is not epoch $best's ($best_val): $line"
  # w at the best epoch is the log's last column; steps counts its epochs
  w=$(awk -F, -v e="$best" '$1 == e { print $NF }' "$tmp/log.csv")
  awk -v a="$(tensor "$tmp/c.st" w)" -v b="$w" 'BEGIN { exit !((a - b) / b < 1e-6 && (b - a) / b < 1e-6) }' \
    || fail "saved w $(tensor "$tmp/c.st" w) is not epoch $best's $w"
  [ "$(tensor "$tmp/c.st" steps)" = "$best" ] || fail "saved state steps=$(tensor "$tmp/c.st" steps), want $best"
  ev=$("$tmp/es" eval --load "$tmp/c.st") || fail "eval --load"
  echo "eval: $ev"
  [ "$ev" = "$(echo "$line" | sed 's/^epoch=[0-9]* //; s/ stopped_early=.*//')" ] || fail "eval --load differs from train: $ev"
  "$tmp/es" train --quiet >"$tmp/again" || fail "second run"
  [ "$(last "$tmp/again")" = "$line" ] || fail "not deterministic"
  line=$("$tmp/es" train --quiet --early-stop 2) || fail "--early-stop 2"
  [ "$(val "$line" stopped_early)" = $(($(val "$line" best_epoch) + 2)) ] || fail "--early-stop 2: $line"
  line=$("$tmp/es" train --quiet --early-stop 0) || fail "--early-stop 0"
  echo "$line"
  case $line in epoch=100\ *) ;; *) fail "--early-stop 0 should run all 100 epochs: $line" ;; esac
  case $line in *best_epoch*|*stopped_early*) fail "--early-stop 0 still reports: $line" ;; esac
  ;;
restore)
  "$tmp/es" train --early-stop 90 --epochs 60 --log "$tmp/log.csv" --save "$tmp/c.st" >"$tmp/out" || fail "train"
  line=$(last "$tmp/out"); echo "$line"
  set -- $(best_in_log "$tmp/log.csv"); best=$1
  [ "$(grep -c '^epoch [0-9]*/60 ' "$tmp/out")" = 60 ] || fail "piped progress: not one line per epoch"
  grep -qxF "eval on train (15 samples), validation (5) in inference mode, with the weights of epoch $best (the best validation loss of 60 epochs):" "$tmp/out" ||
    fail "no label naming epoch $best's weights"
  [ "$best" -lt 60 ] || fail "the validation loss should have turned by epoch 60"
  case $line in epoch=60\ *best_epoch=$best) ;; *) fail "want epoch=60 ... best_epoch=$best: $line" ;; esac
  case $line in *stopped_early*) fail "it ran out of epochs, it did not stop: $line" ;; esac
  [ "$(tensor "$tmp/c.st" steps)" = "$best" ] || fail "saved state is not epoch $best's"
  ;;
resume)
  "$tmp/es" train --quiet --save "$tmp/full.st" >"$tmp/full" || fail "train"
  best=$(val "$(last "$tmp/full")" best_epoch)
  "$tmp/es" train --quiet --epochs $((best - 5)) --save "$tmp/part.st" >/dev/null || fail "first part"
  "$tmp/es" train --quiet --resume "$tmp/part.st" >"$tmp/rest" || fail "resume"
  echo "full:    $(last "$tmp/full")"; echo "resumed: $(last "$tmp/rest")"
  [ "$(last "$tmp/rest")" = "$(last "$tmp/full")" ] || fail "the resumed run stopped elsewhere"
  cmp -s "$tmp/full.st" "$tmp/part.st" || fail "the checkpoints differ"
  ;;
errors)
  "$tmp/es" train --quiet --valid 0 >"$tmp/out" 2>"$tmp/err" && fail "no validation split accepted"
  cat "$tmp/err"
  grep -q "^error: early stopping watches the validation loss, but there is no validation split" "$tmp/err" \
    || fail "message: $(cat "$tmp/err")"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line"
  "$tmp/es" train --quiet --valid 0 --early-stop 0 >/dev/null || fail "--early-stop 0 --valid 0 should train"
  "$tmp/es" train --early-stop -1 2>"$tmp/err"; [ $? -eq 2 ] || fail "--early-stop -1 is a usage error"
  grep -q "bad value '-1' for --early-stop" "$tmp/err" || fail "message: $(cat "$tmp/err")"
  # early stopping runs on either device (train.c's one loop); this build has no GPU code
  "$tmp/es" train --early-stop 1 --device cuda 2>"$tmp/err" && fail "--device cuda accepted without GPU code"
  grep -q "early stopping" "$tmp/err" && fail "early stopping refused on the GPU: $(cat "$tmp/err")"
  grep -q "no GPU code\|without CUDA" "$tmp/err" || fail "cuda message: $(cat "$tmp/err")"
  sed 's/early_stop = 5/early_stop = -1/' "$tmp/es.nn" >"$tmp/neg.nn"
  "$nnc" build "$tmp/neg.nn" -o "$tmp/neg" 2>"$tmp/err" && fail "early_stop = -1 compiled"
  cat "$tmp/err"
  grep -q "error: 'early_stop' is a patience in epochs" "$tmp/err" || fail "message: $(cat "$tmp/err")"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo ok
