"""PyTorch's side of bench/transformer/transformer.py: the same encoder as
encoder.nn — nn.Embedding(96, 128), a learned position table, an
nn.TransformerEncoder of 2 nn.TransformerEncoderLayer(128, 4, 512,
dropout = 0, batch_first = True), nn.Linear(128, 96), the mean
cross-entropy of every position, Adam lr 1e-3, batch 32 — as fast as eager
PyTorch goes: no per-step .item(), set_to_none, 3 warm-up steps excluded.
Prints "bench: timed_start_unix=..", "train_end_unix=..", "blas: .." on
stderr and `timed_tokens=..` on stdout.
usage: /usr/bin/python3 torch_encoder.py DIR --threads N
"""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mark(what):
    print(f"bench: {what}_unix={time.time():.6f}", file=sys.stderr, flush=True)


import numpy as np
import torch
import torch.nn as nn
from torch_cpu import blas_info  # noqa: E402  (bench/torch_cpu.py)

d, threads = sys.argv[1], int(sys.argv[sys.argv.index("--threads") + 1])
torch.set_num_threads(threads)
torch.manual_seed(1)
x = torch.from_numpy(np.load(os.path.join(d, "x.npy"))).long()
y = torch.from_numpy(np.load(os.path.join(d, "y.npy"))).long()
V, D, H, FF, T, B = 96, 128, 4, 512, 64, 32


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.randn(T, D) * 0.02)
        layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(D, V)

    def forward(self, xb):
        return self.head(self.enc(self.emb(xb) + self.pos)).reshape(-1, V)


model = Encoder()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()


def step(xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = lossf(model(xb), yb.reshape(-1))
    loss.backward()
    opt.step()


perm = torch.randperm(x.shape[0])
batches = [(x[perm[s:s + B]], y[perm[s:s + B]]) for s in range(0, x.shape[0], B)]
for xb, yb in batches[:3]:
    step(xb, yb)
mark("timed_start")
for xb, yb in batches[3:]:
    step(xb, yb)
mark("train_end")
print(f"blas: {blas_info()}", file=sys.stderr)
print(f"timed_tokens={sum(xb.numel() for xb, _ in batches[3:])}")
