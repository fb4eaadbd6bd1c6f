#!/bin/sh
# runtime.sh — a compiled program facing hostile files, streams and signals:
#   outputs       --save/--log/--plot/show -o onto a device node or a FIFO: refused
#                 before training (exit 1, the path named), the node left as it was
#   overlap       an output that is an input or another output (--log onto a
#                 data file, --save onto the executable, --plot onto the resumed
#                 checkpoint, show -o onto --load, ./a and a): exit 1, untouched
#   streams       a closed stdout (>&-) is refused up front; stdout on a full device
#                 (> /dev/full) is an error at the end (exit 1)
#   disk-full     writes that fail (ulimit -f: EFBIG, as a full disk's ENOSPC): the
#                 log and a checkpoint save are errors naming the path, exit 1, and
#                 the previous checkpoint is kept, with no PATH.tmp left (also
#                 when SIGXFSZ kills the save)
#   inputs        --load/--resume and data files that are FIFOs, directories or
#                 devices: refused at once (never blocks), naming what they are
#   nonfinite     a weight that becomes inf in an epoch whose loss was finite
#                 (runtime/overflow.nn): status 3, the parameter and epoch named,
#                 the checkpoint of the epoch before kept; eval of a program whose
#                 loss is inf (hardening/log_of_zero.nn) exits 3, and so does train
#                 whose final test loss is inf (runtime/test_inf.nn)
#   ckpt-meta     checkpoints rewritten by runtime/ckpt_edit.py (bad step, epoch,
#                 seed, batch, valid, rng, format, optimizer names; missing, renamed,
#                 retyped or NaN tensors; a step that would overflow when resumed):
#                 each one line naming the file, exit 1; a step just below the
#                 limit still resumes (no signed overflow under UBSan)
#   labels        a label outside [0, classes) of onehot(y, classes) (3, 255, -1 for
#                 3 classes; runtime/labels.nn): exit 1 naming the table or file,
#                 the sample and the value
#   sigterm-save  SIGTERM/SIGHUP while a save is in flight: status 128+sig, no
#                 PATH.tmp left, the checkpoint still loads
# usage: runtime.sh NNC MODE   (run from the repository root)
set -u
[ $# -eq 2 ] || { echo "usage: $0 NNC MODE" >&2; exit 2; }
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-runtime.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
build() { NNC_STDLIB=stdlib "$nnc" build "$1" -o "$tmp/$2" || fail "nnc build $1"; }
# expect RC PATTERN CMD...: CMD exits with RC within 20 s and says PATTERN on stderr, in one line
expect() {
  want=$1 pat=$2
  shift 2
  timeout 20 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  echo "$*: $(cat "$tmp/err")"
  [ $rc -eq "$want" ] || fail "$*: exit status $rc, expected $want"
  grep -qF -- "$pat" "$tmp/err" || fail "$*: expected '$pat' on stderr"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$*: not a one-line message"
}

build examples/lecture02/xor.nn xor
case $mode in
outputs)
  mkfifo "$tmp/fifo" || exit 77
  for flag in --save --log --plot; do
    for node in /dev/full /dev/null "$tmp/fifo"; do
      expect 1 "$node: " "$tmp/xor" train --quiet --epochs 1 $flag "$node"
      grep -q "not a regular file: refusing to write to it" "$tmp/err" || fail "$flag $node: message"
    done
  done
  [ -p "$tmp/fifo" ] || fail "the FIFO was replaced"
  [ -c /dev/full ] && [ -c /dev/null ] || fail "a device node was replaced"
  mkdir "$tmp/dir"
  expect 1 "$tmp/dir: is a directory" "$tmp/xor" train --quiet --epochs 1 --save "$tmp/dir"
  # a resumed run keeps saving to the file it resumed from: the same check
  "$tmp/xor" train --quiet --epochs 1 --save "$tmp/ck" >/dev/null || fail "train"
  expect 1 "/dev/full: is a character device" "$tmp/xor" train --quiet --resume "$tmp/ck" --save /dev/full
  build tests/e2e/runtime/show.nn show
  expect 1 "/dev/full: is a character device" "$tmp/show" show -o /dev/full
  expect 1 "$tmp/fifo: is a FIFO" "$tmp/show" show -o "$tmp/fifo"
  [ -p "$tmp/fifo" ] || fail "show replaced the FIFO"
  "$tmp/show" show -o "$tmp/ok.png" >/dev/null || fail "show to a new path"
  ;;
overlap)
  cat >"$tmp/m.nn" <<EOF2
import "nn";
data t {
  x: f32[2] = csv("$tmp/x.csv");
  y: f32[1] = [[0], [1], [1], [0]];
}
model M {
  layer d = Dense(2, 1);
  fn forward(x: f32[B, 2]) -> f32[B, 1] { return sigmoid(d(x)); }
}
train M on t { loss = bce(forward(x), y); optimizer = sgd(lr = 0.1); epochs = 2; batch = 4; }
EOF2
  build "$tmp/m.nn" m
  printf '0,0\n0,1\n1,0\n1,1\n' >"$tmp/x.csv"
  cp "$tmp/x.csv" "$tmp/x.good"
  cp "$tmp/m" "$tmp/m.good"
  "$tmp/m" train --quiet --save "$tmp/ck" >/dev/null || fail "train"
  cp "$tmp/ck" "$tmp/ck.good"
  cd "$tmp" || exit 2
  expect 1 "error: --log $tmp/x.csv is also the train data of field 'x': refusing to overwrite it" ./m train --log "$tmp/x.csv"
  expect 1 "error: --save ./x.csv is also the train data of field 'x'" ./m train --save ./x.csv
  expect 1 "error: --save m is also this program" ./m train --save m
  expect 1 "error: --plot ck is also the file of --resume (which keeps saving)" ./m train --resume ck --plot ck
  expect 1 "error: --log ck is also the checkpoint it reads (--resume)" ./m train --resume ck --save ck2 --log ck
  expect 1 "error: --log ./new.csv is also the file of --save" ./m train --save new.csv --log ./new.csv
  expect 1 "error: -o ck is also the checkpoint it reads (--load)" ./m show --load ck -o ck
  cd - >/dev/null || exit 2
  cmp "$tmp/x.csv" "$tmp/x.good" && cmp "$tmp/m" "$tmp/m.good" && cmp "$tmp/ck" "$tmp/ck.good" ||
    fail "an input was touched"
  [ -e "$tmp/new.csv" ] && fail "new.csv was written"
  # the default: a resumed run saves onto the checkpoint it read
  "$tmp/m" train --quiet --resume "$tmp/ck" --epochs 3 >/dev/null || fail "--resume without --save"
  ;;
streams)
  "$tmp/xor" train --quiet --epochs 1 >&- 2>"$tmp/err"
  rc=$?
  cat "$tmp/err"
  [ $rc -eq 1 ] || fail ">&-: exit status $rc"
  grep -q "standard output is closed" "$tmp/err" || fail ">&-: message"
  for cmd in "train --quiet --epochs 1" "eval" "info" "--help"; do
    "$tmp/xor" $cmd >/dev/full 2>"$tmp/err"
    rc=$?
    echo "$cmd >/dev/full: $(cat "$tmp/err")"
    [ $rc -eq 1 ] || fail "$cmd >/dev/full: exit status $rc"
    grep -q "cannot write to standard output" "$tmp/err" || fail "$cmd >/dev/full: message"
  done
  # a closed stderr: still the exit status, and no output lands in another file
  "$tmp/xor" train --quiet --epochs 1 --log "$tmp/log.csv" 2>&- >"$tmp/out" || fail "2>&-: a good run failed"
  grep -q "^epoch=1 " "$tmp/out" || fail "2>&-: no result line"
  ;;
disk-full)
  # limited BLOCKS CMD...: CMD with files limited to BLOCKS 512-byte blocks
  # (writes past it fail with EFBIG; SIGXFSZ ignored); its stderr goes
  # through a pipe, which the limit does not touch, into $tmp/err
  limited() {
    blocks=$1
    shift
    ( (trap '' XFSZ; ulimit -f "$blocks"; exec "$@") 2>&1 >/dev/null; echo $? >"$tmp/rc") |
      cat >"$tmp/err"
  }
  build tests/e2e/hardening/wide.nn wide
  "$tmp/wide" train --quiet --epochs 1 --save "$tmp/ck" >/dev/null || fail "train"
  cp "$tmp/ck" "$tmp/ck.good"
  # 512-byte blocks: the 3 MB checkpoint does not fit, the log header does
  limited 64 "$tmp/wide" train --quiet --resume "$tmp/ck" --epochs 3
  rc=$(cat "$tmp/rc")
  cat "$tmp/err"
  [ $rc -eq 1 ] || fail "save past the file-size limit: exit status $rc"
  grep -q "$tmp/ck: write error on $tmp/ck.tmp: File too large" "$tmp/err" || fail "save: message"
  cmp "$tmp/ck" "$tmp/ck.good" || fail "the previous checkpoint was not kept"
  [ -e "$tmp/ck.tmp" ] && fail "PATH.tmp left behind"
  # with SIGXFSZ at its default the save dies of it (153), still leaving no PATH.tmp
  (ulimit -f 64; exec "$tmp/wide" train --quiet --resume "$tmp/ck" --epochs 3) >/dev/null 2>&1
  rc=$?
  [ $rc -eq 153 ] || fail "SIGXFSZ: exit status $rc, expected 153"
  cmp "$tmp/ck" "$tmp/ck.good" || fail "SIGXFSZ: the previous checkpoint was not kept"
  [ -e "$tmp/ck.tmp" ] && fail "SIGXFSZ: PATH.tmp left behind"
  limited 0 "$tmp/xor" train --quiet --epochs 3 --log "$tmp/log.csv"
  rc=$(cat "$tmp/rc")
  cat "$tmp/err"
  [ $rc -eq 1 ] || fail "log past the file-size limit: exit status $rc"
  grep -q "$tmp/log.csv: cannot write log file: File too large" "$tmp/err" || fail "log: message"
  ;;
inputs)
  mkfifo "$tmp/fifo" || exit 77
  mkdir "$tmp/dir"
  for node in "$tmp/fifo:is a FIFO" "$tmp/dir:is a directory" "/dev/zero:is a character device"; do
    path=${node%%:*} what=${node#*:}
    expect 1 "$path: $what" "$tmp/xor" eval --load "$path"
    expect 1 "$path: $what" "$tmp/xor" train --resume "$path"
  done
  for ext in csv npy idx; do
    case $ext in
    csv) src="csv(\"$tmp/x.csv\")" ;;
    npy) src="npy(\"$tmp/x.npy\")" ;;
    idx) src="idx(\"$tmp/x.idx\")" ;;
    esac
    cat >"$tmp/m.nn" <<EOF2
import "nn";
data t {
  x: f32[2] = $src;
  y: f32[1] = [[0], [1], [1], [0]];
}
model M {
  layer d = Dense(2, 1);
  fn forward(x: f32[B, 2]) -> f32[B, 1] { return sigmoid(d(x)); }
}
train M on t { loss = bce(forward(x), y); optimizer = sgd(lr = 0.1); epochs = 2; batch = 4; }
EOF2
    build "$tmp/m.nn" m
    rm -rf "$tmp/x.$ext"
    mkfifo "$tmp/x.$ext"
    expect 1 "$tmp/x.$ext: is a FIFO (named pipe), not a regular file" "$tmp/m" train --quiet
    rm "$tmp/x.$ext"
    mkdir "$tmp/x.$ext"
    expect 1 "$tmp/x.$ext: is a directory, not a regular file" "$tmp/m" train --quiet
    rmdir "$tmp/x.$ext"
  done
  ;;
nonfinite)
  build tests/e2e/runtime/overflow.nn ovf
  expect 3 "error: parameter 'w' became inf in epoch 4 (element 0 of F32 [1, 1]); $tmp/ck keeps the checkpoint of epoch 3" \
    "$tmp/ovf" train --quiet --lr 1e38 --save "$tmp/ck"
  LC_ALL=C grep -q '"epoch":"3"' "$tmp/ck" || fail "the checkpoint is not that of epoch 3"
  "$tmp/ovf" eval --load "$tmp/ck" >"$tmp/out" || fail "eval of the kept checkpoint"
  grep -q "^loss=-3e+38$" "$tmp/out" || fail "the kept checkpoint is not the finite w = 3e38: $(cat "$tmp/out")"
  expect 3 "error: parameter 'w' became inf in epoch 4" "$tmp/ovf" train --quiet --lr 1e38
  build tests/e2e/hardening/log_of_zero.nn logz
  expect 3 "error: the train loss is inf with freshly initialised weights" "$tmp/logz" eval
  grep -q "^loss=inf" "$tmp/out" || fail "eval prints its line all the same"
  build tests/e2e/runtime/test_inf.nn ti
  expect 3 "error: the test loss is inf after training" "$tmp/ti" train --quiet
  grep -q "^epoch=1 .* test_loss=inf$" "$tmp/out" || fail "train prints its line all the same"
  ;;
ckpt-meta)
  build tests/e2e/hardening/wide.nn wide
  "$tmp/wide" train --quiet --epochs 2 --save "$tmp/ck" >/dev/null || fail "train"
  LC_ALL=C grep -q '"optimizers":"adam"' "$tmp/ck" || fail "the checkpoint does not name its optimizers"
  max=9223372036854775807
  edit() { python3 tests/e2e/runtime/ckpt_edit.py "$tmp/ck" "$tmp/bad" "$@" || fail "ckpt_edit $*"; }
  bad() { # bad EDIT MESSAGE
    edit "$1"
    expect 1 "error: $tmp/bad: $2" "$tmp/wide" train --quiet --resume "$tmp/bad" --epochs 3
  }
  meta="bad checkpoint metadata:"
  bad meta:step=$max "step $max: 1 more epochs of 1 steps would overflow the 64-bit step counter"
  bad meta:step=99999999999999999999 "$meta 'step' is not a non-negative 64-bit integer"
  bad meta:step=-5 "$meta 'step' is not a non-negative 64-bit integer"
  bad meta:step=2x "$meta 'step' is not a non-negative 64-bit integer"
  bad meta:epoch=3 "$meta 'step' is smaller than 'epoch'"
  bad meta:epoch=-1 "$meta 'epoch' is not a non-negative 64-bit integer"
  bad meta:seed=-1 "$meta 'seed' is not an unsigned 64-bit integer"
  bad meta:batch=0 "$meta 'batch' is not a positive integer"
  bad meta:valid=nan "$meta 'valid' is not a fraction in [0, 1)"
  bad meta:valid=1 "$meta 'valid' is not a fraction in [0, 1)"
  bad meta:format=nnc-9 "$meta 'format' is not nnc-1"
  bad meta:rng=0000000000000000000000000000000000000000000000000000000000000000 "$meta 'rng' is not 64 hex digits"
  bad meta:rng=-000000000000001000000000000000100000000000000010000000000000001 "$meta 'rng' is not 64 hex digits"
  bad meta:rng=- "not a resumable checkpoint"
  bad meta:optimizers=rmsprop "trained with optimizers 'rmsprop', but the program uses 'adam'"
  bad drop:__opt__/W1/1 "no tensor '__opt__/W1/1'"
  bad rename:__opt__/b3/1=__opt__/b4/1 "no tensor '__opt__/b3/1'"
  bad f64:__opt__/b1/0 "tensor '__opt__/b1/0' is F64 [512], but the program expects F32 [512]"
  bad nan:W2 "tensor 'W2' holds nan (element 0): not a usable checkpoint"
  bad nan:__opt__/W2/1 "tensor '__opt__/W2/1' holds nan (element 0)"
  # eval and show read the same metadata
  edit meta:batch=-4
  expect 1 "error: $tmp/bad: $meta 'batch' is not a positive integer" "$tmp/wide" eval --load "$tmp/bad"
  # the last step a resumed run can take is INT64_MAX itself
  edit meta:step=$((max - 1))
  "$tmp/wide" train --quiet --resume "$tmp/bad" --epochs 3 >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "a resume to step INT64_MAX"; }
  LC_ALL=C grep -q "\"step\":\"$max\"" "$tmp/bad" || fail "the resumed run did not save step $max"
  expect 1 "error: --epochs $max: 2 steps each would overflow the 64-bit step counter" \
    "$tmp/wide" train --quiet --epochs $max --batch 2
  ;;
labels)
  build tests/e2e/runtime/labels.nn lab
  "$tmp/lab" train --quiet >/dev/null || fail "good labels do not train"
  for v in 3 255 -1; do
    sed "s/y: i32\[\] = \[0, 1, 2, 0\]/y: i32[] = [0, 1, $v, 0]/" tests/e2e/runtime/labels.nn >"$tmp/bad.nn"
    build "$tmp/bad.nn" bad
    expect 1 "error: inline table: sample 2: label $v is outside 0..2 (field 'y' feeds input 'y', 3 classes)" "$tmp/bad" train --quiet
  done
  printf '0\n1\n2\n10\n' >"$tmp/y.csv"
  sed "s#y: i32\[\] = \[0, 1, 2, 0\]#y: i32[] = csv(\"$tmp/y.csv\")#" tests/e2e/runtime/labels.nn >"$tmp/bad.nn"
  build "$tmp/bad.nn" bad
  expect 1 "error: $tmp/y.csv: sample 3: label 10 is outside 0..2" "$tmp/bad" train --quiet
  ;;
sigterm-save)
  build tests/e2e/hardening/wide.nn wide
  ck=$tmp/ck
  "$tmp/wide" train --quiet --epochs 2 --save "$ck" >/dev/null || fail "first run"
  hits=0 i=0
  while [ $i -lt 12 ]; do
    i=$((i + 1))
    # (a background job of sh ignores SIGINT, so SIGHUP stands in for it)
    sig=TERM status=143
    [ $((i % 3)) -eq 0 ] && sig=HUP status=129
    "$tmp/wide" train --quiet --resume "$ck" --epochs 1000000 >/dev/null 2>&1 &
    pid=$!
    n=0
    while [ ! -e "$ck.tmp" ] && [ $n -lt 3000 ]; do n=$((n + 1)); sleep 0.002; done
    [ -e "$ck.tmp" ] && hits=$((hits + 1))
    kill -$sig $pid
    wait $pid
    rc=$?
    [ $rc -eq $status ] || fail "SIG$sig $i: exit status $rc, expected $status"
    [ -e "$ck.tmp" ] && fail "SIG$sig $i: $ck.tmp left behind"
    "$tmp/wide" eval --load "$ck" >"$tmp/eval" 2>&1 || { cat "$tmp/eval"; fail "after SIG$sig $i the checkpoint does not load"; }
  done
  [ $hits -gt 0 ] || fail "no signal landed during a save"
  echo "$hits of 12 signals sent with a save in flight; no PATH.tmp left"
  ;;
*)
  echo "unknown mode '$mode'" >&2
  exit 2
  ;;
esac
echo "PASS $mode"
