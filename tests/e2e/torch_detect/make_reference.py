#!/usr/bin/python3
"""make_reference.py — writes roi.nn and reference.json for torch_detect.sh
with Debian's python3-torchvision (0.14), once; the test itself needs only
Python's standard library.  Random features (three maps, one per op), loss
weights and boxes — inside the map, across and beyond its edges, smaller
than a pixel, reversed — and torchvision.ops' roi_align (aligned = 0 and 1)
and roi_pool on them, in float64: the loss
  sum(roi_align(x_a, r) * WA) + sum(roi_align(x_b, r, aligned) * WB)
  + sum(roi_pool(x_p, r) * WP),   x_* = s * F_*   (s per sample)
  + 2 sum(box_iou(BA, BB) * WI)   (once per sample of the batch of 2)
  + sum_b s_b sum(onehot(nms(nb_b, ns_b, 0.5, k = 8), 12) * WN)
and its gradient w.r.t. every parameter (that of W_* is the op's forward
value summed over the batch; those of BA, BB the IoU's w.r.t. the boxes;
that of WN the kept indices of the two sets of nms boxes, one-hot, weighted
by s: torchvision's nms cut or padded with -1 to 8).
usage: /usr/bin/python3 make_reference.py   (in this directory)"""
import json, random
import torch
from torchvision.ops import roi_align, roi_pool, box_iou, nms

random.seed(21)
torch.manual_seed(21)
C, H, W, S, R, SCALE, SAMPLES = 3, 7, 9, 3, 6, 0.25, 2
s = torch.tensor([1.0, -0.6], dtype=torch.float64)


def box():
    x1, y1 = random.uniform(-6, 36), random.uniform(-6, 28)
    return [x1, y1, x1 + random.uniform(0.5, 20), y1 + random.uniform(0.5, 16)]


boxes = [[box() for _ in range(R)] for _ in range(2)]
boxes[0][1] = [30.0, 20.0, 50.0, 40.0]  # across the bottom-right edge and beyond
boxes[0][2] = [12.0, 9.0, 12.3, 9.2]    # smaller than a pixel
boxes[1][3] = [20.0, 10.0, 8.0, 18.0]   # reversed: x2 < x1
boxes[1][4] = [-40.0, -30.0, -20.0, -10.0]  # wholly outside
p = {n: torch.empty(C, H, W, dtype=torch.float64).uniform_(-1, 1).requires_grad_() for n in ("FA", "FB", "FP")}
p.update({n: torch.empty(R, C, S, S, dtype=torch.float64).uniform_(-1, 1).requires_grad_() for n in ("WA", "WB", "WP")})
def boxes_param(n):
    b = torch.tensor([box() for _ in range(n)], dtype=torch.float64)
    return (b / 2).requires_grad_()  # around the others: many overlaps


p["BA"], p["BB"] = boxes_param(6), boxes_param(5)
p["WI"] = torch.empty(6, 5, dtype=torch.float64).uniform_(-1, 1).requires_grad_()
NN, K = 12, 8


def nms_set(spread, lo, hi):  # wide: more than K survive (cut); tight: fewer (padded)
    cx, cy = random.uniform(0, 30), random.uniform(0, 30)
    b = [[cx + random.uniform(-spread, spread), cy + random.uniform(-spread, spread)] for _ in range(NN)]
    b = [[x, y, x + random.uniform(lo, hi), y + random.uniform(lo, hi)] for x, y in b]
    return b, [round(random.uniform(0, 1), 1) for _ in range(NN)]  # rounded: equal scores


nms_sets = [nms_set(8, 4, 14), nms_set(2, 8, 10)]
p["WN"] = torch.empty(K, NN, dtype=torch.float64).uniform_(-1, 1).requires_grad_()
bl = [torch.tensor(b, dtype=torch.float64) for b in boxes]
x = {n: s.view(2, 1, 1, 1) * p["F" + n] for n in "ABP"}


def per_box(y):  # [2 * R, C, S, S] -> [2, R, C, S, S]
    return y.view(2, R, C, S, S)


ya = per_box(roi_align(x["A"], bl, S, SCALE, SAMPLES, aligned=False))
yb = per_box(roi_align(x["B"], bl, S, SCALE, SAMPLES, aligned=True))
yp = per_box(roi_pool(x["P"], bl, S, SCALE))
loss = (ya * p["WA"]).sum() + (yb * p["WB"]).sum() + (yp * p["WP"]).sum()
loss = loss + 2 * (box_iou(p["BA"], p["BB"]) * p["WI"]).sum()
keeps = []
for b, (nb, ns) in enumerate(nms_sets):
    keep = nms(torch.tensor(nb, dtype=torch.float64), torch.tensor(ns, dtype=torch.float64), 0.5).tolist()
    print("nms keeps %d of %d: %s" % (len(keep), NN, keep))
    keep = (keep + [-1] * K)[:K]
    keeps.append(keep)
    hot = torch.zeros(K, NN, dtype=torch.float64)
    for q, i in enumerate(keep):
        if i >= 0:
            hot[q, i] = 1
    loss = loss + s[b] * (hot * p["WN"]).sum()
loss.backward()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


ref = {"loss": float(loss), "params": {n: flat(t) for n, t in p.items()},
       "grads": {n: flat(t.grad) for n, t in p.items()}, "boxes": boxes, "nms": keeps}
json.dump(ref, open("reference.json", "w"), indent=0)


def rows(vals):
    return "[" + ", ".join(repr(v) for v in vals) + "]"


open("roi.nn", "w").write("""// roi.nn — torch_detect.sh's program (written by make_reference.py): three
// feature maps through roi_align (aligned = 0, 1) and roi_pool, and two
// sets of boxes through box_iou, against weights; the parameters are
// replaced by torchvision's before the one step.
data t {
  s: f64[1] = [[1.0], [-0.6]];
  r: f64[%d, 4] = [%s,
                  %s];
  nb: f64[%d, 4] = [%s,
                   %s];
  ns: f64[%d] = [%s, %s];
}

model M {
  param FA: f64[%d, %d, %d] = zeros;
  param FB: f64[%d, %d, %d] = zeros;
  param FP: f64[%d, %d, %d] = zeros;
  param WA: f64[%d, %d, %d, %d] = zeros;
  param WB: f64[%d, %d, %d, %d] = zeros;
  param WP: f64[%d, %d, %d, %d] = zeros;
  param BA: f64[6, 4] = uniform(0, 1);  // zeros would be 0 / 0 in the first run
  param BB: f64[5, 4] = uniform(0, 1);
  param WI: f64[6, 5] = zeros;
  param WN: f64[%d, %d] = zeros;

  fn forward(s: f64[B, 1], r: f64[B, %d, 4], nb: f64[B, %d, 4], ns: f64[B, %d]) -> f64[B] {
    k = reshape(s, [B, 1, 1, 1]);
    a = roi_align(k * FA, r, size = %d, scale = 1 / 4, samples = %d);
    b = roi_align(k * FB, r, size = %d, scale = 1 / 4, samples = %d, aligned = 1);
    p = roi_pool(k * FP, r, size = %d, scale = 1 / 4);
    kept = onehot(nms(nb, ns, iou = 0.5, k = %d), %d, like = s);
    n = sum(kept * WN, axis = [1, 2]) * reshape(s, [B]);
    return sum(a * WA + b * WB + p * WP, axis = [1, 2, 3, 4]) + sum(box_iou(BA, BB) * WI) + n;
  }
}

train M on t {
  loss = sum(forward(s, r, nb, ns));
  optimizer = sgd(lr = 1);
  epochs = 1;
  batch = 2;
  seed = 1;
}
""" % ((R, rows(sum(boxes[0], [])), rows(sum(boxes[1], [])), NN, rows(sum(nms_sets[0][0], [])),
        rows(sum(nms_sets[1][0], [])), NN, rows(nms_sets[0][1]), rows(nms_sets[1][1])) + (C, H, W) * 3 +
       (R, C, S, S) * 3 + (K, NN, R, NN, NN, S, SAMPLES, S, SAMPLES, S, K, NN)))
