#!/bin/sh
# detector.sh — examples/lecture11/detector in seconds: make_shapes.py is
# seeded (two runs give the same bytes, another seed different ones) and
# writes files idx() reads; roi_head.nn trains on 300 of its images for 4
# epochs and its loss falls by a quarter (the README's run is 1000 images, 5
# epochs).  Python's standard library only.
# usage: detector.sh NNC   (run from the repository root)
set -u
nnc=$1
d=examples/lecture11/detector
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-detector.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
/usr/bin/python3 $d/make_shapes.py -n 300 --masks --png "$tmp/s.png" -o "$tmp/data" || fail "make_shapes.py"
head -c 8 "$tmp/s.png" | od -An -c | grep -q 'P   N   G' || fail "--png wrote no PNG"
/usr/bin/python3 $d/make_shapes.py -n 300 --masks -o "$tmp/again" >/dev/null || fail "make_shapes.py again"
/usr/bin/python3 $d/make_shapes.py -n 100 --seed 12 --prefix shapes_test -o "$tmp/data" >/dev/null ||
  fail "make_shapes.py --seed 12 --prefix shapes_test"
for f in img boxes labels masks rois gt pos label; do
  cmp -s "$tmp/data/shapes_$f.npy" "$tmp/again/shapes_$f.npy" || fail "shapes_$f.npy differs between two runs"
done
cmp -n 100000 -s "$tmp/data/shapes_img.npy" "$tmp/data/shapes_test_img.npy" && fail "seed 12 gave the same images"
"$nnc" build $d/roi_head.nn -o "$tmp/head" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build"; }
r=$(cd "$tmp" && ./head train --quiet --epochs 4 --log log.csv) || fail "train"
echo "$r"
echo "$r" | grep -q "test_loss=" || fail "no test_loss on the held-out images"
first=$(sed -n '2p' "$tmp/log.csv" | cut -d, -f2)
last=$(sed -n '5p' "$tmp/log.csv" | cut -d, -f2)
echo "loss: epoch 1 $first, epoch 4 $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a * 3 / 4) }' || fail "the loss did not fall by a quarter"
echo PASS
