#!/bin/sh
# hardening.sh — what must hold when things go wrong:
#   numerics     --check-numerics names the .nn line, column and op of the
#                first NaN/Inf (hardening/log_of_zero.nn: log(0) on 14:13)
#   nan-ckpt     a loss that goes non-finite stops the run with status 3 and
#                leaves the checkpoint of the last good epoch: byte-identical
#                to a run told to stop at that epoch (hardening/diverge.nn)
#   threads      --threads 1 and --threads 2 write byte-identical checkpoints
#                (and a repeat with the same seed too) (hardening/wide.nn)
#   kill-save    SIGKILL of a run that saves every epoch, half the time while
#                a save is in flight (PATH.tmp exists), half at random
#                moments: after each kill the checkpoint loads (eval --load),
#                and at the end train --resume continues from it
# usage: hardening.sh NNC MODE   (run from the repository root)
set -u
[ $# -eq 2 ] || { echo "usage: $0 NNC MODE" >&2; exit 2; }
nnc=$1
mode=$2
dir=tests/e2e/hardening
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-hardening.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
# ckpt_epoch FILE: the "epoch" of a checkpoint's metadata
ckpt_epoch() { LC_ALL=C grep -ao '"epoch":"[0-9]*"' "$1" | head -n 1 | tr -dc 0-9; }
build() { "$nnc" build "$dir/$1.nn" -o "$tmp/$1" || fail "nnc build $1.nn"; }

case $mode in
numerics)
  build log_of_zero
  "$tmp/log_of_zero" train --quiet --check-numerics 2>"$tmp/err"
  rc=$?
  cat "$tmp/err"
  [ $rc -eq 3 ] || fail "exit status $rc, expected 3"
  want="error: $dir/log_of_zero.nn:14:13: 'log' produced -inf (element 2 of f32[B, 1])"
  grep -qxF "$want" "$tmp/err" || fail "expected the line: $want"
  # without the flag the same program only sees the loss go bad
  "$tmp/log_of_zero" train --quiet 2>"$tmp/err2"
  [ $? -eq 3 ] || fail "without --check-numerics: expected status 3"
  grep -q "log_of_zero.nn" "$tmp/err2" && fail "without --check-numerics the op should not be named"
  ;;
nan-ckpt)
  build diverge
  "$tmp/diverge" train --quiet --save "$tmp/bad" 2>"$tmp/err" >/dev/null
  rc=$?
  cat "$tmp/err"
  [ $rc -eq 3 ] || fail "exit status $rc, expected 3"
  grep -q "loss became" "$tmp/err" || fail "no 'loss became' message"
  [ -f "$tmp/bad" ] || fail "no checkpoint left"
  epoch=$(ckpt_epoch "$tmp/bad")
  [ -n "$epoch" ] && [ "$epoch" -ge 1 ] || fail "checkpoint has no epoch >= 1"
  # (its final evaluation overflows, which is status 3 since issue 18; the
  # checkpoint is saved before it)
  "$tmp/diverge" train --quiet --epochs "$epoch" --save "$tmp/good" >/dev/null 2>&1
  rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "a run of $epoch epochs failed (status $rc)"
  cmp "$tmp/good" "$tmp/bad" || fail "the kept checkpoint is not the state after epoch $epoch"
  # it loads; its weights are finite but their loss overflows f32, and eval
  # says so with status 3 (issue 18)
  "$tmp/diverge" eval --load "$tmp/bad" >/dev/null 2>"$tmp/err"
  rc=$?
  [ $rc -eq 0 ] || { [ $rc -eq 3 ] && grep -q "^error: the train loss is" "$tmp/err"; } ||
    fail "eval --load of the kept checkpoint: status $rc: $(cat "$tmp/err")"
  ls "$tmp" | grep -q '\.tmp' && fail "a temporary checkpoint was left behind"
  echo "kept the checkpoint of epoch $epoch"
  ;;
threads)
  build wide
  "$tmp/wide" train --quiet --threads 1 --save "$tmp/t1" >/dev/null || fail "--threads 1"
  "$tmp/wide" train --quiet --threads 2 --save "$tmp/t2" >/dev/null || fail "--threads 2"
  "$tmp/wide" train --quiet --threads 2 --save "$tmp/t2b" >/dev/null || fail "--threads 2 again"
  cmp "$tmp/t2" "$tmp/t2b" || fail "two runs with --threads 2 differ"
  cmp "$tmp/t1" "$tmp/t2" || fail "--threads 1 and --threads 2 differ"
  ;;
kill-save)
  build wide
  ck=$tmp/ck
  "$tmp/wide" train --quiet --epochs 2 --save "$ck" >/dev/null || fail "first run"
  kills=0 in_save=0
  i=0
  while [ $i -lt 16 ]; do
    i=$((i + 1))
    # even kills: the moment a save is seen in flight (a fresh PATH.tmp);
    # odd kills: at a random moment 50-1500 ms in, with the last kill's
    # half-written PATH.tmp still lying there
    [ $((i % 2)) -eq 0 ] && rm -f "$ck.tmp"
    "$tmp/wide" train --quiet --resume "$ck" --epochs 1000000 >/dev/null 2>&1 &
    pid=$!
    if [ $((i % 2)) -eq 0 ]; then
      n=0
      while [ ! -e "$ck.tmp" ] && [ $n -lt 3000 ]; do n=$((n + 1)); sleep 0.002; done
      [ -e "$ck.tmp" ] && in_save=$((in_save + 1))
    else
      sleep "$(awk -v s="$$$i" 'BEGIN { srand(s); printf "%.3f", 0.05 + rand() * 1.45 }')"
    fi
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    "$tmp/wide" eval --load "$ck" >"$tmp/eval" 2>&1 || { cat "$tmp/eval"; fail "after kill $i the checkpoint does not load"; }
  done
  [ $in_save -gt 0 ] || fail "no kill landed during a save"
  epoch=$(ckpt_epoch "$ck")
  "$tmp/wide" train --quiet --resume "$ck" --epochs $((epoch + 1)) >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "train --resume after the kills"; }
  tail -n 1 "$tmp/out" | grep -q "^epoch=$((epoch + 1)) " || fail "resume did not reach epoch $((epoch + 1))"
  echo "$kills kills ($in_save of 8 with a save in flight), checkpoint at epoch $epoch, resumed"
  ;;
*)
  echo "unknown mode '$mode'" >&2
  exit 2
  ;;
esac
echo "PASS $mode"
