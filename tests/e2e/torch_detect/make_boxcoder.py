#!/usr/bin/python3
"""make_boxcoder.py — writes boxcoder.json for torch_boxcoder.sh with Debian's
python3-torchvision (0.14), once; the test itself needs only Python's
standard library.  Random boxes G (targets) and A (references), deltas D
(some beyond the dw/dh clamp), smooth-L1 inputs X (both sides of beta),
loss weights W*, and in float64 the loss
  sum(encode(G, A; 10, 10, 5, 5) * WE) + sum(decode(D, A; 10, 10, 5, 5) * WD)
  + sum(decode(D, A; 1, 1, 1, 1) * WR) + sum(smooth_l1(X, 1/9) * WS)
  + sum(anchors(2x3 map, stride 16, sizes (32, 64), ratios (0.5, 1, 2)) * WN)
with torchvision's BoxCoder, torch's smooth_l1_loss and AnchorGenerator,
and its gradient w.r.t. every parameter (that of a W* is the forward value).
usage: /usr/bin/python3 make_boxcoder.py   (in this directory)"""
import json, math
import torch
import torch.nn.functional as F
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator

torch.manual_seed(11)
dt = torch.float64
xy = torch.rand(6, 2, dtype=dt) * 40
G = torch.cat([xy, xy + 1 + torch.rand(6, 2, dtype=dt) * 30], 1)
xy = torch.rand(6, 2, dtype=dt) * 40
A = torch.cat([xy, xy + 1 + torch.rand(6, 2, dtype=dt) * 30], 1)
D = torch.randn(6, 4, dtype=dt)
D[1, 2] = 30.0   # dw / 5 = 6 > log(1000 / 16): clamped in both coders
D[4, 3] = 45.0
X = torch.tensor([-0.5, -0.1, -0.01, 0.0, 0.05, 0.1, 0.2, 3.0], dtype=dt)
params = {"G": G, "A": A, "D": D, "X": X}
for k in params:
    params[k].requires_grad_(True)
W = {k: torch.rand(*s, dtype=dt) * 2 - 1 for k, s in
     [("WE", (6, 4)), ("WD", (6, 4)), ("WR", (6, 4)), ("WS", (8,)), ("WN", (36, 4))]}
for k in W:
    W[k].requires_grad_(True)
roi = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
rpn = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
e = roi.encode_single(G, A)
d = roi.decode_single(D, A)
r = rpn.decode_single(D, A)
l = F.smooth_l1_loss(X, torch.zeros_like(X), reduction="none", beta=1 / 9)
ag = AnchorGenerator(sizes=((32, 64),), aspect_ratios=((0.5, 1.0, 2.0),))
ag.set_cell_anchors(dt, torch.device("cpu"))
an = ag.grid_anchors([[2, 3]], [[torch.tensor(16), torch.tensor(16)]])[0]
loss = (e * W["WE"]).sum() + (d * W["WD"]).sum() + (r * W["WR"]).sum() + \
    (l * W["WS"]).sum() + (an * W["WN"]).sum()
loss.backward()
allp = dict(params, **W)
lift = torch.tensor([0.0, 0.0, 2.0, 2.0], dtype=dt)
out = {"loss": loss.item(),
       # boxcoder.nn adds lift = (0, 0, 2, 2) to its G and A
       "params": {k: (v.detach() - (lift if k in "GA" else 0)).flatten().tolist()
                  for k, v in allp.items()},
       "grads": {k: v.grad.flatten().tolist() for k, v in allp.items()}}
json.dump(out, open("boxcoder.json", "w"), indent=0)
