#!/bin/sh
# lanes.sh — the order of a long reduction on the CPU (lanes_reduce in
# compiler/codegen/llvm.c, documented in docs/LANGUAGE.md): the elements of
# a reduction's reduced suffix, in blocks of 256, go to 16 lanes (element j
# of a block to lane j % 16), the lanes are added by a fixed tree, then the
# block's last n % 16 elements in order.  tests/e2e/lanes/lanes.nn predicts
# sums over runs of 100 and of 300 (a block and a partial one), fused with
# a product, through a view whose strides are no run (flat_offset), and a
# row maximum; python3 computes the
# same sums in that order in f32 (an f32 sum rounded from double is the f32
# sum) and the bits must be equal — and differ from the ordered sum's, so the
# test shows the order is the lanes'.  The bits are also those of --no-fuse
# and of 2 threads.
# usage: lanes.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-lanes.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cp tests/e2e/lanes/lanes.nn "$tmp/" || fail "copy"
python3 - "$tmp" <<'PY' || fail "writing x.npy"
import os, random, struct, sys
os.chdir(sys.argv[1])
def npy(path, shape, vals):
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % s for s in shape)
    h += " " * (63 - (len(h) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%df" % len(vals), *vals))
r = random.Random(3)
npy("x.npy", (2, 3, 100), [r.choice((1, -1)) * r.uniform(0.5, 2) * 10 ** r.randint(-3, 3) for _ in range(600)])
npy("y.npy", (2, 8), [0.0] * 16)
PY
"$nnc" build "$tmp/lanes.nn" -o "$tmp/fused" || fail "build"
"$nnc" build --no-fuse "$tmp/lanes.nn" -o "$tmp/unfused" || fail "build --no-fuse"
for v in fused unfused; do
  for t in 1 2; do
    (cd "$tmp" && ./$v predict --threads $t -o $v-$t.npy >/dev/null) || fail "$v predict --threads $t"
  done
done
for o in fused-2 unfused-1 unfused-2; do
  cmp -s "$tmp/fused-1.npy" "$tmp/$o.npy" || fail "the predictions of $o differ from fused-1's"
done
python3 - "$tmp" <<'PY' || fail "the sums are not the lane order's"
import struct, sys
d = sys.argv[1]
def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<H", b[8:10])[0]
    body = b[10 + n:]
    return list(struct.unpack("<%df" % (len(body) // 4), body))
def lanes(xs, op):
    acc = 0.0 if op == "sum" else float("-inf")
    f = (lambda a, b: f32(a + b)) if op == "sum" else (lambda a, b: a if a >= b else b)
    for b0 in range(0, len(xs), 256):
        blk = xs[b0:b0 + 256]
        nv = len(blk) // 16
        if nv:
            lane = list(blk[:16])
            for v in range(1, nv):
                lane = [f(lane[l], blk[16 * v + l]) for l in range(16)]
            w = 8
            while w:
                lane = [f(lane[l], lane[l + w]) for l in range(w)]
                w //= 2
            acc = f(acc, lane[0])
        for x in blk[16 * nv:]:
            acc = f(acc, x)
    return acc
def ordered(xs):
    acc = 0.0
    for x in xs:
        acc = f32(acc + x)
    return acc
x, got = load(d + "/x.npy"), load(d + "/fused-1.npy")
want, plain = [], []
for s in range(2):
    rows = [x[300 * s + 100 * c:300 * s + 100 * (c + 1)] for c in range(3)]
    flat = [f32(v * v) for r in rows for v in r]
    tr = [f32(abs(rows[c][i]) + rows[c][0]) for i in range(100) for c in range(3)]
    want += [lanes(r, "sum") for r in rows] + [lanes(flat, "sum")] + [lanes(r, "max") for r in rows] + [lanes(tr, "sum")]
    plain += [ordered(r) for r in rows] + [ordered(flat)] + [max(r) for r in rows] + [ordered(tr)]
bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if struct.pack("<f", g) != struct.pack("<f", w)]
if len(got) != 16 or bad:
    sys.exit("lanes.sh: predicted (index, got, lane order): %s" % (bad or len(got)))
if want == plain:
    sys.exit("lanes.sh: the lane order and the ordered sum agree on every value: the data shows nothing")
print("ok: 16 values in the lane order (%d of them differ from the ordered sum)" % sum(a != b for a, b in zip(want, plain)))
PY
echo PASS
