"""PyTorch's side of bench/transformer/transformer.py: the same encoder as
encoder.nn — nn.Embedding(96, 128), a learned position table, an
nn.TransformerEncoder of 2 nn.TransformerEncoderLayer(128, 4, 512,
dropout = 0, batch_first = True), nn.Linear(128, 96), the mean
cross-entropy of every position, Adam lr 1e-3, batch 32 — as fast as eager
PyTorch goes: no per-step .item(), set_to_none, 3 warm-up steps excluded.
Prints "bench: timed_start_unix=..", "train_end_unix=..", "blas: .." on
stderr and `timed_tokens=..` on stdout.  With --device cuda (scripts/gpu-check,
issue 16's GPU row) the model and the data live on the GPU, TF32 is off (FP32
products, as nnc's cuBLAS calls), and each mark waits for the GPU first.
usage: /usr/bin/python3 torch_encoder.py DIR --threads N [--device cpu|cuda]
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
dev = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cpu"
torch.set_num_threads(threads)
torch.manual_seed(1)
if dev == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
x = torch.from_numpy(np.load(os.path.join(d, "x.npy"))).long().to(dev)
y = torch.from_numpy(np.load(os.path.join(d, "y.npy"))).long().to(dev)
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


model = Encoder().to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()


def step(xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = lossf(model(xb), yb.reshape(-1))
    loss.backward()
    opt.step()


perm = torch.randperm(x.shape[0]).to(dev)
batches = [(x[perm[s:s + B]], y[perm[s:s + B]]) for s in range(0, x.shape[0], B)]
def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


for xb, yb in batches[:3]:
    step(xb, yb)
sync()
mark("timed_start")
for xb, yb in batches[3:]:
    step(xb, yb)
sync()
mark("train_end")
print(f"blas: {blas_info() if dev == 'cpu' else 'cuda ' + torch.cuda.get_device_name()}", file=sys.stderr)
print(f"timed_tokens={sum(xb.numel() for xb, _ in batches[3:])}")
