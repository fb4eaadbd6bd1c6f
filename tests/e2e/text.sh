#!/bin/sh
# text.sh — the text(...) data source on the committed corpus
# tests/e2e/text/abc.txt ("abcdefgh" repeated, 100 characters: ids a=0 … h=7,
# the next id always (id + 1) mod 8):
#   align   x = text(…), y = text(…, shift = 1): at every position of every
#           window y − x is 1 or −7, checked exactly by a loss that is 0 only
#           then (with shift = 2 it is not); 12 windows of T = 8 (reach 9:
#           (100 − 9) / 8 + 1), 92 with stride = 1
#   learn   a bigram model onehot(x, V) @ E learns the next-character rule
#           (windows of stride 3, so they start at different letters) to
#           a near-zero loss, on the training, validation (valid = 0.25) and
#           test split (abc_test.txt, encoded with the train vocabulary)
#   ckpt    the vocabulary is in the checkpoint's metadata; eval --load and
#           train --resume take it; a program whose corpus has another
#           vocabulary refuses the checkpoint, and so does one reading text
#           given a checkpoint without a vocabulary or with a malformed one
#   words   words = 1: the vocabulary is the distinct words, sorted
#   errors  a missing, empty, binary (NUL byte) or non-UTF-8 corpus, a window
#           longer than the corpus, a vocabulary over the cap and a test
#           character the training corpus lacks: each one line naming the file
# usage: text.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-text.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
last() { tail -n 1 "$1"; }
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# metadata value KEY of checkpoint $1 (JSON string, as written)
meta() { python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"].get(sys.argv[2], "<absent>"), end="")' "$1" "$2"; }
abc=$PWD/tests/e2e/text/abc.txt
[ -f "$abc" ] || fail "no corpus $abc"

# prog NAME SHIFT EXTRA-DATA-FIELDS TRAIN-SETTINGS [CORPUS]: the alignment program
align_prog() {
  cat >"$tmp/$1.nn" <<NN
import "nn";
const T = 8;
const V = 8;
data corpus {
  x: i32[T] = text("${5:-$abc}", vocab = V$3);
  y: i32[T] = text("${5:-$abc}", vocab = V, shift = $2$3);
}
model M {
  param w: f32[] = zeros;
  fn id(t: i32[B, T]) -> f32[B, T] { return sum(onehot(t, V) * arange(V), axis = -1); }
}
train M on corpus {
  d = id(y) - id(x);
  loss = mean((d - 1) * (d + 7)) + w * w;
  optimizer = sgd(lr = 0.0);
  epochs = 1; batch = 1;$4
}
NN
  "$nnc" build "$tmp/$1.nn" -o "$tmp/$1" || fail "build $1"
}

# the bigram model; $2: extra data lines, $3: train settings, $4: corpus,
# $5: more text(...) settings
bigram_prog() {
  cat >"$tmp/$1.nn" <<NN
import "nn";
const T = 8;
const V = 8;
data corpus {
  x: i32[T] = text("${4:-$abc}", vocab = V${5:-});
  y: i32[T] = text("${4:-$abc}", vocab = V, shift = 1${5:-});$2
}
model M {
  param E: f32[V, V] = zeros;
  fn f(x: i32[B, T]) -> f32[B, T, V] { return onehot(x, V) @ E; }
}
train M on corpus {
  loss = cross_entropy_logits(f(x), y);
  optimizer = adam(lr = 0.1);
  epochs = 30; batch = 4;$3
}
NN
  "$nnc" build "$tmp/$1.nn" -o "$tmp/$1" || fail "build $1"
}

# expect_error PROG NEEDLE...: PROG train fails with one line containing each NEEDLE
expect_error() {
  p=$1
  shift
  "$tmp/$p" train --quiet >"$tmp/out" 2>"$tmp/err" && fail "$p: train succeeded"
  cat "$tmp/err"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$p: not one line: $(cat "$tmp/err")"
  for n in "$@"; do
    grep -qF -- "$n" "$tmp/err" || fail "$p: no '$n' in: $(cat "$tmp/err")"
  done
}

case $mode in
align)
  align_prog a1 1 "" ""
  "$tmp/a1" train --save "$tmp/a1.st" >"$tmp/out" || fail "train a1"
  [ "$(val "$(last "$tmp/out")" loss)" = 0 ] || fail "x and y windows are not one token apart: $(last "$tmp/out")"
  [ "$(meta "$tmp/a1.st" step)" = 12 ] || fail "expected 12 windows (steps of batch 1), got $(meta "$tmp/a1.st" step)"
  align_prog a2 2 "" ""
  "$tmp/a2" train >"$tmp/out" || fail "train a2"
  [ "$(val "$(last "$tmp/out")" loss)" != 0 ] || fail "the check cannot tell shift 2 from shift 1"
  align_prog a3 1 ", stride = 1" ""
  "$tmp/a3" train --save "$tmp/a3.st" >"$tmp/out" || fail "train a3"
  [ "$(val "$(last "$tmp/out")" loss)" = 0 ] || fail "stride 1: windows misaligned: $(last "$tmp/out")"
  [ "$(meta "$tmp/a3.st" step)" = 92 ] || fail "stride 1: expected 92 windows, got $(meta "$tmp/a3.st" step)"
  # shuffled batches and a validation split keep the pairs together
  align_prog a4 1 "" " batch = 3; valid = 0.25; epochs = 2;"
  "$tmp/a4" train --save "$tmp/a4.st" >"$tmp/out" || fail "train a4"
  line=$(last "$tmp/out")
  [ "$(val "$line" loss)" = 0 ] && [ "$(val "$line" val_loss)" = 0 ] || fail "valid split misaligned: $line"
  [ "$(meta "$tmp/a4.st" step)" = 6 ] || fail "9 training windows in batches of 3 for 2 epochs: $(meta "$tmp/a4.st" step) steps"
  ;;
learn)
  bigram_prog b1 "
  test x = text(\"$PWD/tests/e2e/text/abc_test.txt\", vocab = V);
  test y = text(\"$PWD/tests/e2e/text/abc_test.txt\", vocab = V, shift = 1);" " valid = 0.25;" "$abc" ", stride = 3"
  "$tmp/b1" train >"$tmp/out" || fail "train b1"
  line=$(last "$tmp/out")
  echo "$line"
  for k in loss val_loss test_loss; do
    awk -v l="$(val "$line" $k)" 'BEGIN { exit !(l != "" && l < 0.02) }' || fail "$k not near zero: $line"
  done
  # the same seed: the same run, bit for bit
  "$tmp/b1" train >"$tmp/again" || fail "train b1 again"
  [ "$(last "$tmp/again")" = "$line" ] || fail "not reproducible"
  ;;
ckpt)
  bigram_prog c1 "" " epochs = 4;"
  "$tmp/c1" train --save "$tmp/c1.st" >"$tmp/out" || fail "train c1"
  [ "$(meta "$tmp/c1.st" vocab)" = abcdefgh ] || fail "vocab metadata: '$(meta "$tmp/c1.st" vocab)'"
  [ "$(meta "$tmp/c1.st" vocab_kind)" = chars ] || fail "vocab_kind metadata: '$(meta "$tmp/c1.st" vocab_kind)'"
  "$tmp/c1" eval --load "$tmp/c1.st" >"$tmp/eval" || fail "eval --load"
  [ "$(val "$(last "$tmp/eval")" loss)" = "$(val "$(last "$tmp/out")" loss)" ] || fail "eval differs from train"
  "$tmp/c1" train --resume "$tmp/c1.st" --epochs 6 --save "$tmp/c2.st" >/dev/null || fail "resume"
  [ "$(meta "$tmp/c2.st" vocab)" = abcdefgh ] || fail "resumed checkpoint lost its vocabulary"
  # another corpus: 'i' for 'h', so other tokens behind the ids
  printf 'abcdefgiabcdefgi' >"$tmp/other.txt"
  bigram_prog c3 "" "" "$tmp/other.txt"
  "$tmp/c3" eval --load "$tmp/c1.st" >/dev/null 2>"$tmp/err" && fail "a checkpoint of another vocabulary was accepted"
  cat "$tmp/err"
  grep -q "c1.st: the checkpoint's vocabulary (8 characters) differs from the corpus's (8 characters) from token 7 on" "$tmp/err" \
    || fail "message: $(cat "$tmp/err")"
  "$tmp/c3" train --resume "$tmp/c1.st" >/dev/null 2>&1 && fail "resume with another vocabulary was accepted"
  # a malformed vocabulary (not sorted) is bad metadata, refused at open
  python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); h["__metadata__"]["vocab"] = "bacdefgh"
j = json.dumps(h).encode(); j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b[8 + n:])' "$tmp/c1.st" "$tmp/bad.st" || fail "rewrite"
  "$tmp/c1" eval --load "$tmp/bad.st" >/dev/null 2>"$tmp/err" && fail "an unsorted vocabulary was accepted"
  grep -q "bad.st: bad checkpoint metadata: vocab: vocabulary byte 1: tokens are not distinct and sorted" "$tmp/err" \
    || fail "message: $(cat "$tmp/err")"
  # a checkpoint without a vocabulary, for a program that reads text
  cat >"$tmp/novocab.nn" <<NN
data d { x: f32[] = [0, 1]; }
model M { param E: f32[8, 8] = zeros; }
train M on d { loss = sum(E * E) + mean(x) * 0; optimizer = sgd(lr = 0.1); epochs = 1; }
NN
  "$nnc" build "$tmp/novocab.nn" -o "$tmp/novocab" || fail "build novocab"
  "$tmp/novocab" train --save "$tmp/nv.st" >/dev/null || fail "train novocab"
  [ "$(meta "$tmp/nv.st" vocab)" = "<absent>" ] || fail "a program without text saved a vocabulary"
  "$tmp/c1" eval --load "$tmp/nv.st" >/dev/null 2>"$tmp/err" && fail "a checkpoint without vocabulary was accepted"
  grep -q "nv.st: the checkpoint has no vocabulary" "$tmp/err" || fail "message: $(cat "$tmp/err")"
  ;;
words)
  cat >"$tmp/w.nn" <<NN
import "nn";
const T = 3;
const V = 7;
data corpus {
  x: i32[T] = text("$PWD/tests/e2e/text/words.txt", vocab = V, words = 1);
  y: i32[T] = text("$PWD/tests/e2e/text/words.txt", vocab = V, words = 1, shift = 1);
}
model M {
  param E: f32[V, V] = zeros;
  fn f(x: i32[B, T]) -> f32[B, T, V] { return onehot(x, V) @ E; }
}
train M on corpus { loss = cross_entropy_logits(f(x), y); optimizer = adam(lr = 0.1); epochs = 1; batch = 1; }
NN
  "$nnc" build "$tmp/w.nn" -o "$tmp/w" || fail "build words"
  "$tmp/w" train --save "$tmp/w.st" >/dev/null || fail "train words"
  [ "$(meta "$tmp/w.st" vocab)" = "cat dog log mat on sat the" ] || fail "word vocab: '$(meta "$tmp/w.st" vocab)'"
  [ "$(meta "$tmp/w.st" vocab_kind)" = words ] || fail "vocab_kind: $(meta "$tmp/w.st" vocab_kind)"
  [ "$(meta "$tmp/w.st" step)" = 3 ] || fail "12 words, reach 4, stride 3: 3 windows; got $(meta "$tmp/w.st" step)"
  sed 's/const V = 7;/const V = 6;/' "$tmp/w.nn" >"$tmp/w6.nn"
  "$nnc" build "$tmp/w6.nn" -o "$tmp/w6" || fail "build w6"
  expect_error w6 "words.txt: 7 distinct words, more than the vocabulary cap vocab = 6"
  ;;
errors)
  : >"$tmp/empty.txt"
  printf 'abc\000def' >"$tmp/nul.txt"
  printf 'caf\351 abc' >"$tmp/latin1.txt"
  printf 'abcdefgh' >"$tmp/short.txt"
  printf 'abcdefghij' >"$tmp/ten.txt"
  align_prog e1 1 "" "" "$tmp/missing.txt"
  expect_error e1 "$tmp/missing.txt"
  align_prog e2 1 "" "" "$tmp/empty.txt"
  expect_error e2 "$tmp/empty.txt: the file is empty"
  align_prog e3 1 "" "" "$tmp/nul.txt"
  expect_error e3 "$tmp/nul.txt: byte 3: a NUL byte: this is a binary file"
  align_prog e4 1 "" "" "$tmp/latin1.txt"
  expect_error e4 "$tmp/latin1.txt: byte 3: invalid UTF-8 (byte 0xe9)"
  align_prog e5 1 "" "" "$tmp/short.txt"
  expect_error e5 "$tmp/short.txt: a window of 9 tokens (length and shift) is longer than the corpus (8 characters)"
  align_prog e6 1 "" "" "$tmp/ten.txt"
  expect_error e6 "$tmp/ten.txt: 10 distinct characters, more than the vocabulary cap vocab = 8"
  printf 'abcxabcdefgh' >"$tmp/unknown.txt"
  bigram_prog e7 "
  test x = text(\"$tmp/unknown.txt\", vocab = V);
  test y = text(\"$tmp/unknown.txt\", vocab = V, shift = 1);" ""
  expect_error e7 "$tmp/unknown.txt: byte 3: character 'x' is not in the vocabulary of $abc"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
echo PASS
