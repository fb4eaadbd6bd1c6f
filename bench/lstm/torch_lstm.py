"""PyTorch's side of bench/lstm/lstm.py: the same character-level LSTM
language model as charlstm.nn (nn.Embedding(96, 64) -> nn.LSTM(64, 256) ->
nn.Linear(256, 96), the mean cross-entropy of every step's next character,
Adam lr 0.002, batch 32, 64 steps), one epoch over the same ids, shuffled.
Written as fast as eager PyTorch goes: one nn.LSTM call over the sequence
(its fused CPU kernel), one Linear over all steps, no per-step .item(),
set_to_none gradients, warm-up steps excluded from the timed epoch.
Prints "bench: train_start_unix=..", "train_end_unix=.." and "blas: .." on
stderr and `loss=..` on stdout.
usage: /usr/bin/python3 torch_lstm.py DIR --threads N
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
V, D, H, B = 96, 64, 256, 32


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.lstm = nn.LSTM(D, H, batch_first=True)
        self.head = nn.Linear(H, V)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.head(h.reshape(-1, H))


model = CharLSTM()
opt = torch.optim.Adam(model.parameters(), lr=0.002)
lossf = nn.CrossEntropyLoss()


def step(xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = lossf(model(xb), yb.reshape(-1))
    loss.backward()
    opt.step()
    return loss


for i in range(3):  # warm-up: allocator, thread pool, first-call dispatch
    step(x[i * B:(i + 1) * B], y[i * B:(i + 1) * B])
n = x.shape[0]
perm = torch.randperm(n)
mark("train_start")
total = torch.zeros(())
for s in range(0, n - B + 1, B):
    i = perm[s:s + B]
    total += step(x[i], y[i]).detach()
mark("train_end")
print(f"blas: {blas_info()}", file=sys.stderr)
print(f"loss={float(total) / (n // B):.4f}")
