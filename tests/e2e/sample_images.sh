#!/bin/sh
# sample_images.sh — `OUT sample` of a program without text data draws its
# `sample = G(noise)` as a PNG grid (LANGUAGE.md 9.2): the same --seed gives
# the same bytes (also after --load, whose checkpoint's seed it overrides),
# another seed another picture; the grid has the right size; --count
# beyond the data is a clear error; a `sample` that is not batch-first
# floats is a compile error; `train --samples DIR` writes a grid per epoch
# without changing the training's bits.
# usage: sample_images.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-sampleimg.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
nn=tests/e2e/sample_images/gen.nn
"$nnc" build $nn -o "$tmp/g" >/dev/null 2>&1 || fail "build"
"$tmp/g" train --quiet --save "$tmp/g.st" >/dev/null || fail "train"
"$tmp/g" sample --load "$tmp/g.st" --count 4 --seed 1 -o "$tmp/a.png" >"$tmp/out" || fail "sample"
grep -q "^wrote $tmp/a.png: 4 samples of \[B, 1, 4, 4\] (seed 1), values clamped to \[0, 1\]$" "$tmp/out" ||
  { cat "$tmp/out"; fail "message"; }
"$tmp/g" sample --load "$tmp/g.st" --count 4 --seed 1 -o "$tmp/b.png" >/dev/null || fail "sample again"
"$tmp/g" sample --load "$tmp/g.st" --count 4 --seed 2 -o "$tmp/c.png" >/dev/null || fail "sample seed 2"
cmp -s "$tmp/a.png" "$tmp/b.png" || fail "seed 1 twice: different bytes"
cmp -s "$tmp/a.png" "$tmp/c.png" && fail "seeds 1 and 2: the same picture"
python3 - "$tmp/a.png" <<'PY' || fail "PNG size"
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", d[16:24])
assert (w, h) == (4 + 2 * (64 + 4), 4 + 2 * (64 + 4)), (w, h)   # 2x2 grid of 4x4 images at 16x
PY
"$tmp/g" sample --count 9 -o "$tmp/d.png" >/dev/null 2>"$tmp/err" && fail "--count 9 of 4 samples accepted"
grep -q "^error: --count 9: the batch takes its size from the data, which has 4 training samples" "$tmp/err" ||
  { cat "$tmp/err"; fail "--count message"; }
sed 's/  sample = forward(rand_normal(\[size(x, 0), 8\]));/  sample = sum(forward(rand_normal([size(x, 0), 8])));/' $nn >"$tmp/bad.nn"
"$nnc" check "$tmp/bad.nn" >/dev/null 2>"$tmp/err" && fail "a scalar sample accepted"
grep -q "error: 'sample' without text data draws images: a float tensor with the batch first" "$tmp/err" ||
  { cat "$tmp/err"; fail "compile message"; }
# train --samples DIR: a grid after every epoch, and the same training bits as without it
"$tmp/g" train --quiet --samples "$tmp/ep" --save "$tmp/s.st" >/dev/null || fail "train --samples"
[ -s "$tmp/ep/epoch-001.png" ] && [ -s "$tmp/ep/epoch-002.png" ] && [ ! -e "$tmp/ep/epoch-003.png" ] ||
  { ls "$tmp/ep"; fail "--samples: not one grid per epoch"; }
cmp -s "$tmp/s.st" "$tmp/g.st" || fail "--samples changed what training computed"
"$nnc" build examples/lecture02/xor.nn -o "$tmp/xor" >/dev/null 2>&1 || fail "build xor"
"$tmp/xor" train --quiet --samples "$tmp/ep2" >/dev/null 2>"$tmp/err" && fail "--samples accepted for xor"
grep -q "^error: --samples: program 'Xor' draws no images" "$tmp/err" || { cat "$tmp/err"; fail "--samples message"; }
echo "ok: image samples from noise, reproducible by seed; a grid per epoch with --samples"
