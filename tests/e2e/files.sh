#!/bin/sh
# files.sh — what a compiled program does with the files it is given:
#   resume       train 2000 epochs vs 1000 + resume to 2000: identical checkpoints
#   corrupt-idx  a truncated gzipped IDX file: one clear error, exit != 0
#   corrupt-ckpt a checkpoint cut short or scribbled on: one clear error, exit != 0
#   corrupt-csv  a ragged or non-numeric CSV file: file:line:col error, exit != 0
#   corrupt-npy  a truncated or malformed .npy file: file and byte error, exit != 0
#   threads-conv a CNN (oneDNN convolutions) trains to the same bits with 1 and 2 threads
#   load-order   several data files fail at once: the message is the one reading them one
#                by one reports (the first in load order), even when a later, bigger file
#                (read first, on another thread) fails too
# usage: files.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-files.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$nnc" build examples/lecture02/xor.nn -o "$tmp/xor" || fail "build xor"
case $mode in
resume)
  "$tmp/xor" train --epochs 600 --save "$tmp/full.st" --quiet >/dev/null || fail "full run"
  "$tmp/xor" train --epochs 250 --save "$tmp/part.st" --quiet >/dev/null || fail "first half"
  "$tmp/xor" train --epochs 600 --resume "$tmp/part.st" --save "$tmp/part.st" --quiet >/dev/null || fail "resume"
  cmp "$tmp/full.st" "$tmp/part.st" || fail "resumed checkpoint differs from the uninterrupted one"
  echo "resumed run is byte-identical"
  ;;
corrupt-idx)
  src=/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
  [ -f "$src" ] || { echo "no Fashion-MNIST"; exit 77; }
  zcat "$src" | head -c 5000 | gzip >"$tmp/labels.gz"
  zcat /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz | head -c 16 >"$tmp/images"
  sed -e "s#/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz#$tmp/labels.gz#" \
      examples/lecture02/fashion_mlp.nn >"$tmp/m.nn"
  sed -i -e 's#^import "nn";#import "nn";#' "$tmp/m.nn"
  NNC_STDLIB=stdlib "$nnc" build "$tmp/m.nn" -o "$tmp/m" || fail "build"
  "$tmp/m" train --epochs 1 >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/err"
  [ $rc -ne 0 ] || fail "exit status 0 on a truncated file"
  [ $rc -lt 128 ] || fail "crashed (status $rc)"
  grep -q "labels.gz" "$tmp/err" || fail "message does not name the file"
  grep -q "byte" "$tmp/err" || fail "message does not give the byte offset"
  ;;
corrupt-ckpt)
  "$tmp/xor" train --epochs 5 --save "$tmp/good.st" --quiet >/dev/null || fail "train"
  size=$(wc -c <"$tmp/good.st")
  for cut in 0 4 8 20 $((size / 2)) $((size - 1)); do
    head -c "$cut" "$tmp/good.st" >"$tmp/bad.st"
    "$tmp/xor" eval --load "$tmp/bad.st" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "cut at $cut: status $rc"
    grep -q "bad.st" "$tmp/err" || fail "cut at $cut: message does not name the file: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/err")" -le 2 ] || fail "cut at $cut: more than a short message"
  done
  printf '\377\377\377\377\377\377\377\177' | dd of="$tmp/good.st" bs=1 conv=notrunc 2>/dev/null
  "$tmp/xor" eval --load "$tmp/good.st" >/dev/null 2>"$tmp/err"
  rc=$?
  [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "huge header length: status $rc"
  cat "$tmp/err"
  ;;
corrupt-csv|corrupt-npy)
  ext=${mode#corrupt-}
  cat >"$tmp/m.nn" <<EOF2
import "nn";
data t {
  x: f32[2] = $ext("$tmp/x.$ext");
  y: f32[1] = [[0], [1], [1], [0]];
}
model M {
  layer d = Dense(2, 1);
  fn forward(x: f32[B, 2]) -> f32[B, 1] { return sigmoid(d(x)); }
}
train M on t { loss = bce(forward(x), y); optimizer = sgd(lr = 0.1); epochs = 2; batch = 4; }
EOF2
  NNC_STDLIB=stdlib "$nnc" build "$tmp/m.nn" -o "$tmp/m" || fail "build"
  # a good file first: the program must run
  if [ $ext = csv ]; then
    printf 'a,b\n0,0\n0,1\n1,0\n1,1\n' >"$tmp/x.csv"
  else
    python3 - "$tmp/x.npy" <<'PY'
import struct, sys
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }"
hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
data = struct.pack("<8f", 0, 0, 0, 1, 1, 0, 1, 1)
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data)
PY
  fi
  "$tmp/m" train --quiet >/dev/null || fail "a good $ext file does not train"
  cp "$tmp/x.$ext" "$tmp/good"
  i=0
  for bad in cut ragged text; do
    case $ext-$bad in
    csv-cut) head -c 9 "$tmp/good" >"$tmp/x.csv" ;;
    csv-ragged) printf 'a,b\n0,0\n0,1,7\n1,0\n1,1\n' >"$tmp/x.csv" ;;
    csv-text) printf 'a,b\n0,0\n0,oops\n1,0\n1,1\n' >"$tmp/x.csv" ;;
    npy-cut) head -c 100 "$tmp/good" >"$tmp/x.npy" ;;
    npy-ragged) head -c 20 "$tmp/good" >"$tmp/x.npy" ;;
    npy-text) sed 's/<f4/<c8/' "$tmp/good" >"$tmp/x.npy" ;;
    esac
    "$tmp/m" train --quiet >/dev/null 2>"$tmp/err"
    rc=$?
    echo "$bad: $(cat "$tmp/err")"
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "$ext $bad: status $rc"
    grep -q "x.$ext" "$tmp/err" || fail "$ext $bad: message does not name the file"
    [ "$(wc -l <"$tmp/err")" -le 2 ] || fail "$ext $bad: more than a short message"
  done
  ;;
threads-conv)
  [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST"; exit 77; }
  "$nnc" build examples/lecture07/lenet5.nn -o "$tmp/lenet" || fail "build lenet"
  for t in 1 2; do
    "$tmp/lenet" train --epochs 1 --limit 640 --threads $t --quiet --save "$tmp/t$t.st" >/dev/null || fail "train --threads $t"
  done
  cmp "$tmp/t1.st" "$tmp/t2.st" || fail "--threads 1 and --threads 2 differ"
  echo "same bits with 1 and 2 threads"
  ;;
load-order)
  cat >"$tmp/m.nn" <<EOF2
import "nn";
data t {
  x: f32[2] = csv("$tmp/x.csv");
  y: f32[1] = csv("$tmp/y.csv");
  test x = csv("$tmp/tx.csv");
  test y = csv("$tmp/ty.csv");
}
model M {
  layer d = Dense(2, 1);
  fn forward(x: f32[B, 2]) -> f32[B, 1] { return sigmoid(d(x)); }
}
train M on t { loss = bce(forward(x), y); optimizer = sgd(lr = 0.1); epochs = 2; batch = 4; }
EOF2
  NNC_STDLIB=stdlib "$nnc" build "$tmp/m.nn" -o "$tmp/m" || fail "build"
  good() {
    printf '0,0\n0,1\n1,0\n1,1\n' >"$tmp/x.csv"; printf '0\n1\n1\n0\n' >"$tmp/y.csv"
    cp "$tmp/x.csv" "$tmp/tx.csv"; cp "$tmp/y.csv" "$tmp/ty.csv"
  }
  # a file far bigger than the others (so it is read first) that fails at its end
  big_bad() { awk 'BEGIN { for (i = 0; i < 200000; i++) print "0"; print "1,2" }' >"$1"; }
  good
  "$tmp/m" train --quiet >/dev/null || fail "good files do not train"
  # each case: the first failure (left in place) and a later one (undone for the reference run)
  for case in x-missing:ty y-ragged:tx tx-columns:ty x-big:y; do
    first=${case%%:*} later=${case#*:}
    good
    case $first in
    x-missing) rm "$tmp/x.csv" ;;
    y-ragged) printf '0\n1,1\n1\n0\n' >"$tmp/y.csv" ;;
    tx-columns) printf '0,0,0\n0,1,0\n1,0,0\n1,1,0\n' >"$tmp/tx.csv" ;;
    x-big) awk 'BEGIN { for (i = 0; i < 200000; i++) print "0,0"; print "1" }' >"$tmp/x.csv" ;;
    esac
    "$tmp/m" train --quiet >/dev/null 2>"$tmp/want"
    [ $? -eq 1 ] || fail "$first: exit status"
    [ "$(wc -l <"$tmp/want")" -eq 1 ] || fail "$first: not one line: $(cat "$tmp/want")"
    case $later in
    ty|tx) big_bad "$tmp/$later.csv" ;;
    y) rm "$tmp/y.csv" ;;
    esac
    for run in 1 2 3; do
      "$tmp/m" train --quiet >/dev/null 2>"$tmp/got"
      [ $? -eq 1 ] || fail "$first + $later: exit status"
      cmp -s "$tmp/want" "$tmp/got" || fail "$first + $later: got '$(cat "$tmp/got")', want '$(cat "$tmp/want")'"
    done
    echo "$first + $later: $(cat "$tmp/got")"
  done
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
echo PASS
