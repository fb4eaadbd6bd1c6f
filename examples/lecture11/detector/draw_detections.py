#!/usr/bin/python3
"""draw_detections.py — the first images of a split with faster.nn's
detections (OUT predict's rows: x1, y1, x2, y2, score, class 0..2 or -1)
drawn in their class's colour (red square, green circle, blue triangle;
a detection below --min-score is left out) and the true boxes in white,
one pixel outside, so a miss or a wrong class shows.  Python's standard
library only (make_shapes.py's PNG writer).

usage: draw_detections.py IMG.npy DETS.npy BOXES.npy [-n 16] [--min-score 0.5] [-o detections.png]
"""
import argparse, struct
from make_shapes import CLASS_RGB, write_png


def read_npy(path):
    with open(path, "rb") as f:
        raw = f.read()
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode()
    descr = header.split("'descr': '")[1].split("'")[0]
    shape = tuple(int(v) for v in header.split("'shape': (")[1].split(")")[0].split(",") if v.strip())
    body = raw[10 + hlen:]
    fmt = {"|u1": "B", "<f4": "f", "<i4": "i", "<f8": "d"}[descr]
    count = len(body) // struct.calcsize(fmt)
    return shape, struct.unpack("<%d%s" % (count, fmt), body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("img")
    ap.add_argument("dets")
    ap.add_argument("boxes")
    ap.add_argument("-n", type=int, default=16)
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("-o", default="detections.png")
    a = ap.parse_args()
    (N, _, S, _), pix = read_npy(a.img)
    (Nd, D, six), dets = read_npy(a.dets)
    (Nb, K, _), boxes = read_npy(a.boxes)
    n = min(a.n, N, Nd, Nb)
    cols, zoom = 8, 3
    rows = (n + cols - 1) // cols
    W, H = cols * S * zoom, rows * S * zoom
    out = bytearray(3 * W * H)

    def rect(ox, oy, box, rgb, grow):
        x1, y1, x2, y2 = (int(round(v * zoom)) for v in box)
        x1, y1, x2, y2 = max(0, x1 - grow), max(0, y1 - grow), min(S * zoom - 1, x2 - 1 + grow), min(S * zoom - 1, y2 - 1 + grow)
        for x in range(x1, x2 + 1):
            for y in (y1, y2):
                out[3 * ((oy + y) * W + ox + x):3 * ((oy + y) * W + ox + x) + 3] = bytes(rgb)
        for y in range(y1, y2 + 1):
            for x in (x1, x2):
                out[3 * ((oy + y) * W + ox + x):3 * ((oy + y) * W + ox + x) + 3] = bytes(rgb)

    for i in range(n):
        ox, oy = (i % cols) * S * zoom, (i // cols) * S * zoom
        base = i * 3 * S * S
        for y in range(S * zoom):
            for x in range(S * zoom):
                for c in range(3):
                    out[3 * ((oy + y) * W + ox + x) + c] = pix[base + c * S * S + (y // zoom) * S + x // zoom]
        for k in range(K):
            b = boxes[(i * K + k) * 4:(i * K + k) * 4 + 4]
            if b[2] > b[0]:
                rect(ox, oy, b, (255, 255, 255), 1)
        for d in range(D):
            r = dets[(i * D + d) * six:(i * D + d) * six + six]
            if r[5] >= 0 and r[4] >= a.min_score:
                rect(ox, oy, r[:4], CLASS_RGB[int(round(r[5])) + 1], 0)
    write_png(a.o, W, H, out)
    print("wrote", a.o)


if __name__ == "__main__":
    main()
