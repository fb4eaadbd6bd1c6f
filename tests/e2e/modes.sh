#!/bin/sh
# modes.sh — train/eval behaviour of lecture 4's layers (issue 4):
#   dropout      inverted and standard dropout: the mean training-time
#                activation over many masks equals the inference output,
#                which is the identity (inverted) or (1-p)·x (standard)
#   norms        batch/layer/instance/group norm forward against a direct
#                computation; batch norm's inference uses running statistics
#   bn-ckpt      checkpoints carry running statistics: eval --load == train
# usage: modes.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
dir=tests/e2e/modes
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-modes.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
field() { tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

case $mode in
dropout)
  for kind in inverted standard; do
    "$nnc" build $dir/dropout_$kind.nn -o "$tmp/d" || fail "build $kind"
    "$tmp/d" train --quiet --log "$tmp/log.csv" >"$tmp/out" || fail "train $kind"
    eval_loss=$(field "$tmp/out" loss)
    # column 2 of the log is the training-mode loss of each epoch (one batch)
    train_mean=$(awk -F, 'NR > 1 && $1 > 0 { s += $2; n++ } END { printf "%.6f", s / n }' "$tmp/log.csv")
    want=4.5
    [ $kind = standard ] && want=3.15
    echo "$kind: mean training activation $train_mean, inference $eval_loss, expected $want"
    awk -v a="$train_mean" -v b="$eval_loss" -v w="$want" 'BEGIN {
      if ((a - b) / b > 0.01 || (b - a) / b > 0.01) exit 1
      if ((b - w) / w > 1e-5 || (w - b) / w > 1e-5) exit 1 }' || fail "$kind dropout expectations differ"
  done
  ;;
norms)
  for norm in "BatchNorm1d(4, 1.0)" "LayerNorm1d(4)" "InstanceNorm1d(4)" "GroupNorm1d(4, 2)"; do
    sed "s/NORM/$norm/" $dir/norms.nn >"$tmp/n.nn"
    NNC_STDLIB=stdlib "$nnc" build "$tmp/n.nn" -o "$tmp/n" || fail "build $norm"
    "$tmp/n" train --quiet >"$tmp/out" || fail "train $norm"
    got=$(field "$tmp/out" loss) gott=$(field "$tmp/out" test_loss)
    want=$(python3 $dir/norms_ref.py "$norm") || fail "reference for $norm"
    echo "$norm: loss=$got test_loss=$gott reference: $want"
    python3 - "$got" "$gott" $want <<'PY' || fail "$norm differs from the direct computation"
import sys
g, gt, w, wt = map(float, sys.argv[1:5])
ok = abs(g - w) <= 1e-4 * max(1, abs(w)) and abs(gt - wt) <= 1e-4 * max(1, abs(wt))
sys.exit(0 if ok else 1)
PY
  done
  ;;
bn-ckpt)
  sed "s/NORM/BatchNorm1d(4, 0.5)/; s/epochs = 1/epochs = 3/; s/lr = 0)/lr = 0.1)/; s/batch = 3/batch = 2/" $dir/norms.nn >"$tmp/n.nn"
  NNC_STDLIB=stdlib "$nnc" build "$tmp/n.nn" -o "$tmp/n" || fail build
  "$tmp/n" train --quiet --save "$tmp/c.st" >"$tmp/a" || fail train
  "$tmp/n" eval --load "$tmp/c.st" >"$tmp/b" || fail eval
  grep -q "n.running_mean" "$tmp/c.st" || fail "checkpoint has no running mean"
  a=$(tail -n 1 "$tmp/a" | sed 's/^epoch=[0-9]* //') b=$(tail -n 1 "$tmp/b")
  echo "train: $a"; echo "eval:  $b"
  [ "$a" = "$b" ] || fail "eval --load differs from train"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
echo PASS
