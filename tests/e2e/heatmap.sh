#!/bin/sh
# heatmap.sh — `OUT show` of a program with no image input (LANGUAGE.md
# 9.2): each sample's `show` map is drawn alone as a heat map from its own
# minimum (black) to its maximum (white) — how a transformer's attention
# weights are seen (examples/lecture09/char_transformer).  Checks the
# message, the PNG's size, that every map has a black and a white pixel,
# that the same program draws the same bytes twice, and that an output
# that is no image either is a clear error.
# usage: heatmap.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-heatmap.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build tests/e2e/heatmap/heat.nn -o "$tmp/heat" >/dev/null 2>&1 || fail "build"
"$tmp/heat" show -o "$tmp/a.png" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "show"; }
grep -q "^wrote $tmp/a.png: 4 train samples, show \[B, 4, 4\] alone (no image input), each a heat map from its minimum (black) to its maximum (white), 402x402 pixels$" "$tmp/out" ||
  { cat "$tmp/out"; fail "message"; }
"$tmp/heat" show -o "$tmp/b.png" >/dev/null 2>&1 || fail "show again"
cmp -s "$tmp/a.png" "$tmp/b.png" || fail "two runs drew different bytes"
python3 - "$tmp/a.png" <<'PY' || fail "the picture"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
idat, at = b"", 8
while at < len(data):
    n, kind = struct.unpack(">I4s", data[at:at + 8])
    if kind == b"IDAT":
        idat += data[at + 8:at + 8 + n]
    at += 12 + n
raw = zlib.decompress(idat)
rows = [raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)] for y in range(h)]
px = lambda x, y: tuple(rows[y][3 * x:3 * x + 3])
# 2x2 grid of 192x192 maps (4x4 cells of 48 pixels) with a 6-pixel border
for r in range(4):
    x0, y0 = 6 + (r % 2) * 198, 6 + (r // 2) * 198
    cells = {px(x0 + 48 * i + 24, y0 + 48 * j + 24) for i in range(4) for j in range(4)}
    assert (0, 0, 0) in cells and (255, 255, 255) in cells, (r, cells)
print("ok: %dx%d, each map spans black to white" % (w, h))
PY
sed 's/  show = weights(x);/  show = forward(x);/' tests/e2e/heatmap/heat.nn >"$tmp/flat.nn"
"$nnc" build "$tmp/flat.nn" -o "$tmp/flat" >/dev/null 2>&1 || fail "build flat"
"$tmp/flat" show -o "$tmp/c.png" >/dev/null 2>"$tmp/err" && fail "a [B, 4] output drawn"
grep -q "error: program 'M' has no image input, and its 'show' output \[B, 4\] is no image either" "$tmp/err" ||
  { cat "$tmp/err"; fail "message for a non-image output"; }
[ -e "$tmp/c.png" ] && fail "wrote a PNG anyway"
echo "ok: heat maps of a program without image input"
