#!/bin/sh
# augment.sh — `augment = images(crop = 2, flip = 1, rotate = 10);` on a small
# CNN over the first 2000 Fashion-MNIST images (--limit 2000).
#   seed     two runs with the same seed save byte-identical checkpoints;
#            --no-augment saves a different one (augmentation changes the
#            batches), as does another seed; eval --load of the augmented
#            checkpoint repeats the train line's test numbers (eval batches
#            are never augmented)
#   resume   2 epochs vs 1 + --resume to 2: identical checkpoints (the
#            augmentation draws come from the checkpointed generator)
#   errors   augment on a program without an image input: one clear line
# Exits 77 (skipped) without the dataset.
# usage: augment.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-augment.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
test_part() { tail -n 1 "$1" | tr ' ' '\n' | grep '^test_'; }

[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST"; exit 77; }

# the image input: f32[1, 28, 28] (errors: a flat f32[784] one)
shape='1, 28, 28'
flat=''
[ "$mode" = errors ] && { shape='784'; flat='reshape(x, [B, 1, 28, 28])'; }
cat >"$tmp/cnn.nn" <<NN
import "nn";
data fashion {
  x: f32[$shape] = idx("$data/train-images-idx3-ubyte.gz") / 255;
  y: i32[] = idx("$data/train-labels-idx1-ubyte.gz");
  test x = idx("$data/t10k-images-idx3-ubyte.gz") / 255;
  test y = idx("$data/t10k-labels-idx1-ubyte.gz");
}
model Small {
  layer c1 = Conv2d(1, 4, 3, 1, 1);
  layer out = Dense(784, 10);
  fn forward(x: f32[B, $shape]) -> f32[B, 10] {
    h = max_pool2d(relu(c1(${flat:-x})), 2);
    return softmax(out(reshape(h, [B, 784])));
  }
}
train Small on fashion {
  loss = cross_entropy(forward(x), y);
  optimizer = sgd(lr = 0.05, momentum = 0.9);
  augment = images(crop = 2, flip = 1, rotate = 10);
  epochs = 1;
  batch = 50;
  seed = 3;
}
NN
NNC_STDLIB=stdlib "$nnc" build "$tmp/cnn.nn" -o "$tmp/cnn" || fail "build"
run() { "$tmp/cnn" train --limit 2000 --quiet "$@"; }

case $mode in
seed)
  run --save "$tmp/a.st" >"$tmp/a.out" || fail "first run"
  run --save "$tmp/b.st" >/dev/null || fail "second run"
  cmp "$tmp/a.st" "$tmp/b.st" || fail "same seed, different checkpoints"
  run --no-augment --save "$tmp/n.st" >"$tmp/n.out" || fail "--no-augment run"
  cmp -s "$tmp/a.st" "$tmp/n.st" && fail "--no-augment made no difference"
  run --seed 4 --save "$tmp/s.st" >/dev/null || fail "seed 4 run"
  cmp -s "$tmp/a.st" "$tmp/s.st" && fail "another seed made no difference"
  "$tmp/cnn" eval --load "$tmp/a.st" >"$tmp/e.out" || fail "eval"
  [ "$(test_part "$tmp/a.out")" = "$(test_part "$tmp/e.out")" ] ||
    fail "eval differs from train's final line: $(tail -n 1 "$tmp/a.out") vs $(tail -n 1 "$tmp/e.out")"
  echo "augmented: $(tail -n 1 "$tmp/a.out")"
  echo "--no-augment: $(tail -n 1 "$tmp/n.out")"
  ;;
resume)
  run --epochs 2 --save "$tmp/full.st" >/dev/null || fail "full run"
  run --epochs 1 --save "$tmp/part.st" >/dev/null || fail "first half"
  run --epochs 2 --resume "$tmp/part.st" >/dev/null || fail "resume"
  cmp "$tmp/full.st" "$tmp/part.st" || fail "resumed checkpoint differs from the uninterrupted one"
  echo "resumed augmented run is byte-identical"
  ;;
errors)
  run >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/err"
  [ $rc -eq 1 ] || fail "status $rc, expected 1"
  grep -q "needs an image input" "$tmp/err" || fail "message does not say what is missing"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
echo PASS
