#!/usr/bin/python3
"""make_shapes.py — the generated shapes data set of lecture 11, with
Python's standard library only (seeded, so the same files every run).

Each image is S x S RGB (default 64) of dark uniform noise with 1 to K
(default 3) shapes that do not touch: squares (class 1), circles (2) and
upward triangles (3), of random size (10 to 24 pixels) and bright random
colour.  A shape covers the pixels whose centres fall inside it; its box is
the exact bounding box of those pixels, (x1, y1, x2, y2) with x2, y2 one
past the last column and row, and its mask is those pixels.

Files written into OUT (default data/), all .npy that nnc's idx() reads:
  shapes_img.npy    |u1 [N, 3, S, S]   pixels 0..255
  shapes_boxes.npy  <f4 [N, K, 4]      the boxes, rows past the image's
                                       shape count all zero
  shapes_labels.npy <i4 [N, K]         1 square, 2 circle, 3 triangle; 0 none
  shapes_masks.npy  |u1 [N, K, S, S]   0/1 (only with --masks)
and R (default 8) sampled regions per image for a RoI head (LANGUAGE.md
§10.12), boxes as (cx, cy, w, h):
  shapes_rois.npy   <f4 [N, R, 4]      jittered copies of the shapes' boxes
                                       and random boxes
  shapes_gt.npy     <f4 [N, R, 4]      the box each region overlaps most
  shapes_pos.npy    <f4 [N, R]         1 where that IoU >= 0.5
  shapes_label.npy  <i4 [N, R]         its class where pos, else 0
and the region proposal network's targets (faster.nn) on the anchors of
stdlib/detect.nn's anchor_grid over the stride-4 feature map (S/4 x S/4
cells, x fastest; per cell the sizes of --anchors, square), A anchors:
  shapes_rpn_label.npy <f4 [N, A]      1: IoU >= 0.5 with a shape's box, or
                                       the best anchor of a shape; 0: IoU
                                       < 0.3 with every box; -1: neither
  shapes_rpn_delta.npy <f4 [N, A, 4]   box_encode(box, anchor, 1, 1, 1, 1)
                                       of the best-overlapping box (0 where
                                       label <= 0)
With --prefix P the files are P_img.npy, … (held-out images: another seed
and --prefix shapes_test).
usage: make_shapes.py [-n N] [--seed S] [--size S] [--max K] [--rois R]
                      [--masks] [--prefix P] [--png FILE] [-o OUT]
"""
import argparse, math, os, random, struct, zlib


def write_npy(path, descr, shape, data):
    """data: bytes already in the dtype's little-endian layout."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % d for d in shape) if len(shape) == 1 else ", ".join(map(str, shape)))
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data)


def write_png(path, w, h, rgb):
    """rgb: h rows of w RGB bytes; PNG with zlib (filter 0 on every row)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(rgb[y * 3 * w:(y + 1) * 3 * w]) for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


CLASS_RGB = {1: (255, 40, 40), 2: (40, 255, 40), 3: (60, 120, 255)}


def preview(path, S, images, cols=8, zoom=3):
    """The first images in a grid, zoomed, each shape's box drawn in its
    class's colour (red square, green circle, blue triangle)."""
    rows = (len(images) + cols - 1) // cols
    W, H = cols * S * zoom, rows * S * zoom
    out = bytearray(3 * W * H)
    for n, (pix, shapes) in enumerate(images):
        ox, oy = (n % cols) * S * zoom, (n // cols) * S * zoom
        for y in range(S * zoom):
            for x in range(S * zoom):
                for c in range(3):
                    out[3 * ((oy + y) * W + ox + x) + c] = pix[c * S * S + (y // zoom) * S + x // zoom]
        for box, kind, _ in shapes:
            x1, y1, x2, y2 = (v * zoom for v in box)
            for x in range(x1, x2):
                for y in (y1, y2 - 1):
                    out[3 * ((oy + y) * W + ox + x):3 * ((oy + y) * W + ox + x) + 3] = bytes(CLASS_RGB[kind])
            for y in range(y1, y2):
                for x in (x1, x2 - 1):
                    out[3 * ((oy + y) * W + ox + x):3 * ((oy + y) * W + ox + x) + 3] = bytes(CLASS_RGB[kind])
    write_png(path, W, H, out)


def inside(kind, x, y, s, px, py):
    """Is the pixel centre (px, py) in a shape of size s at corner (x, y)?"""
    if kind == 1:
        return x <= px < x + s and y <= py < y + s
    if kind == 2:
        r = s / 2
        return (px - x - r) ** 2 + (py - y - r) ** 2 <= r * r
    # apex (x + s/2, y), base from (x, y + s) to (x + s, y + s)
    if not (y <= py <= y + s):
        return False
    half = (py - y) / 2
    return x + s / 2 - half <= px <= x + s / 2 + half


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def make_image(rng, S, K):
    pix = bytearray(v >> 2 for v in rng.randbytes(3 * S * S))  # noise 0..63
    shapes = []
    for _ in range(rng.randint(1, K)):
        for _try in range(100):
            s = rng.randint(10, 24)
            x, y = rng.randint(0, S - s), rng.randint(0, S - s)
            # keep a one-pixel gap, so masks and boxes are exact
            if all(x + s + 1 <= b[0] or b[2] + 1 <= x or y + s + 1 <= b[1] or b[3] + 1 <= y
                   for b, _, _ in shapes):
                break
        else:
            continue
        kind = rng.randint(1, 3)
        colour = [rng.randint(128, 255) for _ in range(3)]
        mask = bytearray(S * S)
        xs, ys = [], []
        for py in range(y, y + s + 1):
            for px in range(x, x + s + 1):
                if py < S and px < S and inside(kind, x, y, s, px + 0.5, py + 0.5):
                    mask[py * S + px] = 1
                    xs.append(px)
                    ys.append(py)
                    for c in range(3):
                        pix[c * S * S + py * S + px] = colour[c]
        box = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
        assert box[2] > box[0] and box[3] > box[1], box
        shapes.append((box, kind, mask))
    return pix, shapes


def sample_rois(rng, S, shapes, R):
    rois = []
    for box, _, _ in shapes:          # one jittered copy per shape (IoU >= 0.5)
        w, h = box[2] - box[0], box[3] - box[1]
        while True:
            dx, dy = rng.uniform(-0.15, 0.15) * w, rng.uniform(-0.15, 0.15) * h
            sw, sh = rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.25)
            cx, cy = (box[0] + box[2]) / 2 + dx, (box[1] + box[3]) / 2 + dy
            r = (cx - w * sw / 2, cy - h * sh / 2, cx + w * sw / 2, cy + h * sh / 2)
            if iou(r, box) >= 0.5:
                break
        rois.append(r)
    while len(rois) < R:              # random boxes, mostly background
        w, h = rng.uniform(8, 28), rng.uniform(8, 28)
        x, y = rng.uniform(0, S - w), rng.uniform(0, S - h)
        rois.append((x, y, x + w, y + h))
    out = []
    for r in rois[:R]:
        best, o = max(((b, iou(r, b[0])) for b in shapes), key=lambda t: t[1])
        g = best[0]
        pos = o >= 0.5
        cc = lambda b: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1])
        out.append((cc(r), cc(g), 1.0 if pos else 0.0, best[1] if pos else 0))
    return out


def anchors(S, sizes, stride=4):
    """stdlib/detect.nn's anchor_grid for each size (ratio 1), stacked per
    cell: corners (x*stride - s/2, y*stride - s/2, x*stride + s/2, ...),
    the half-size rounded half away from zero, row-major cells, x fastest."""
    half = [math.floor(s / 2 + 0.5) for s in sizes]
    return [(x * stride - h, y * stride - h, x * stride + h, y * stride + h)
            for y in range(S // stride) for x in range(S // stride) for h in half]


def rpn_targets(shapes, anc):
    """Faster R-CNN's anchor labels and deltas (torchvision's Matcher with
    thresholds 0.5 / 0.3 and allow_low_quality_matches; BoxCoder weights 1)."""
    boxes = [b for b, _, _ in shapes]
    ious = [[iou(a, b) for b in boxes] for a in anc]
    best_of_box = [max(ious[i][j] for i in range(len(anc))) for j in range(len(boxes))]
    labels, deltas = [], []
    for i, a in enumerate(anc):
        j = max(range(len(boxes)), key=lambda j: ious[i][j])
        o = ious[i][j]
        low_quality = any(ious[i][k] == best_of_box[k] and best_of_box[k] > 0 for k in range(len(boxes)))
        lab = 1.0 if o >= 0.5 or low_quality else 0.0 if o < 0.3 else -1.0
        labels.append(lab)
        if lab > 0:
            b = boxes[j]
            aw, ah = a[2] - a[0], a[3] - a[1]
            gw, gh = b[2] - b[0], b[3] - b[1]
            deltas += ((b[0] + gw / 2 - a[0] - aw / 2) / aw, (b[1] + gh / 2 - a[1] - ah / 2) / ah,
                       math.log(gw / aw), math.log(gh / ah))
        else:
            deltas += (0.0, 0.0, 0.0, 0.0)
    return labels, deltas


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--max", type=int, default=3)
    ap.add_argument("--rois", type=int, default=8)
    ap.add_argument("--masks", action="store_true")
    ap.add_argument("--anchors", default="14,22", help="anchor sizes, comma-separated (default 14,22)")
    ap.add_argument("--prefix", default="shapes")
    ap.add_argument("--png", help="also draw the first 16 images and their boxes into this PNG")
    ap.add_argument("-o", default="data")
    a = ap.parse_args()
    if a.n < 1 or a.size < 32 or a.max < 1 or a.rois < a.max:
        ap.error("need n >= 1, size >= 32, max >= 1, rois >= max")
    rng = random.Random(a.seed)
    S, K, R = a.size, a.max, a.rois
    img, boxes, labels, masks = bytearray(), [], [], bytearray()
    rois, gts, poss, rlabels, first = [], [], [], [], []
    anc = anchors(S, [int(v) for v in a.anchors.split(",")])
    rpn_l, rpn_d = [], []
    for _ in range(a.n):
        pix, shapes = make_image(rng, S, K)
        if a.png and len(first) < 16:
            first.append((pix, shapes))
        img += pix
        for k in range(K):
            if k < len(shapes):
                boxes += shapes[k][0]
                labels.append(shapes[k][1])
                masks += shapes[k][2]
            else:
                boxes += (0, 0, 0, 0)
                labels.append(0)
                masks += bytes(S * S)
        lab, dl = rpn_targets(shapes, anc)
        rpn_l += lab
        rpn_d += dl
        for r, g, p, l in sample_rois(rng, S, shapes, R):
            rois += r
            gts += g
            poss.append(p)
            rlabels.append(l)
    os.makedirs(a.o, exist_ok=True)
    f32 = lambda v: struct.pack("<%df" % len(v), *v)
    i32 = lambda v: struct.pack("<%di" % len(v), *v)
    N = a.n
    write_npy(os.path.join(a.o, a.prefix + "_img.npy"), "|u1", (N, 3, S, S), bytes(img))
    write_npy(os.path.join(a.o, a.prefix + "_boxes.npy"), "<f4", (N, K, 4), f32(boxes))
    write_npy(os.path.join(a.o, a.prefix + "_labels.npy"), "<i4", (N, K), i32(labels))
    if a.masks:
        write_npy(os.path.join(a.o, a.prefix + "_masks.npy"), "|u1", (N, K, S, S), bytes(masks))
    write_npy(os.path.join(a.o, a.prefix + "_rois.npy"), "<f4", (N, R, 4), f32(rois))
    write_npy(os.path.join(a.o, a.prefix + "_gt.npy"), "<f4", (N, R, 4), f32(gts))
    write_npy(os.path.join(a.o, a.prefix + "_pos.npy"), "<f4", (N, R), f32(poss))
    write_npy(os.path.join(a.o, a.prefix + "_label.npy"), "<i4", (N, R), i32(rlabels))
    write_npy(os.path.join(a.o, a.prefix + "_rpn_label.npy"), "<f4", (N, len(anc)), f32(rpn_l))
    write_npy(os.path.join(a.o, a.prefix + "_rpn_delta.npy"), "<f4", (N, len(anc), 4), f32(rpn_d))
    if a.png:
        preview(a.png, S, first)
    print("%d images %dx%d, %d shapes, %d of %d regions positive -> %s"
          % (N, S, S, sum(1 for l in labels if l), int(sum(poss)), len(poss), a.o))


if __name__ == "__main__":
    main()
