"""PyTorch's side of bench/gcn/gcn.py: the two-layer GCN of
examples/lecture10/sbm (8 -> 16 -> 4, no bias, ReLU, softmax, Adam lr 0.01,
the cross-entropy of the labelled nodes), full batch, one step per epoch,
written for speed: Â = D^-1/2 (A + I) D^-1/2 built once (dense, or sparse
COO for torch.sparse.mm), features, labels and the labelled nodes' indices
as tensors made once, zero_grad(set_to_none=True), no .item() until the
end; WARM epochs of warm-up excluded from the timing.
Prints "bench: timed_start_unix=..", "train_end_unix=.." and "blas: .." on
stderr and `timed_epochs=.. loss=..` on stdout.
usage: /usr/bin/python3 torch_gcn.py DATA_DIR dense|sparse EPOCHS --threads K
"""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mark(what):
    print(f"bench: {what}_unix={time.time():.6f}", file=sys.stderr, flush=True)


import numpy as np
import torch
import torch.nn.functional as F
from torch_cpu import blas_info  # noqa: E402  (bench/torch_cpu.py)

data, form, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
torch.manual_seed(1)
WARM = 5
row = lambda f: np.loadtxt(os.path.join(data, f), delimiter=",", ndmin=1)
x = torch.from_numpy(row("x.csv").astype(np.float32)).reshape(-1, 8)
n = x.shape[0]
y = torch.from_numpy(row("labels.csv").astype(np.int64))
train = torch.from_numpy(np.nonzero(row("train_mask.csv"))[0])
e = np.loadtxt(os.path.join(data, "edges.csv"), delimiter=",", skiprows=1, dtype=np.int64).reshape(-1, 2)
src = np.concatenate([e[:, 0], e[:, 1], np.arange(n)])
dst = np.concatenate([e[:, 1], e[:, 0], np.arange(n)])
dinv = 1 / np.sqrt(np.bincount(src, minlength=n).astype(np.float64))  # degrees with the self-loop
val = torch.from_numpy((dinv[src] * dinv[dst]).astype(np.float32))
a = torch.sparse_coo_tensor(torch.from_numpy(np.stack([src, dst])), val, (n, n)).coalesce()
if form == "dense":
    a = a.to_dense()
mm = torch.mm if form == "dense" else torch.sparse.mm
w1 = torch.nn.init.xavier_uniform_(torch.empty(8, 16)).requires_grad_()
w2 = torch.nn.init.xavier_uniform_(torch.empty(16, 4)).requires_grad_()
opt = torch.optim.Adam([w1, w2], lr=0.01)
yt = y[train]


def step():
    h = F.relu(mm(a, x @ w1))
    logits = mm(a, h @ w2)
    loss = F.cross_entropy(logits[train], yt)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


for _ in range(WARM):
    step()
mark("timed_start")
for _ in range(epochs):
    loss = step()
mark("train_end")
print(f"blas: {blas_info()}", file=sys.stderr)
print(f"timed_epochs={epochs} loss={loss.item():.4f}")
