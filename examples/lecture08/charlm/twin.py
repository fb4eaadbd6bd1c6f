#!/usr/bin/python3
"""twin.py — the PyTorch twin of lstm.nn, to check that its held-out
bits/char is what a model of that size reaches (run with Debian's python3
and python3-torch: /usr/bin/python3 twin.py [EPOCHS]).

The same data and model: data/fortunes.txt as characters, ids in code-point
order, windows of 64 non-overlapping characters and the next character of
each position as targets, 5% of the windows held out at random;
Embedding(128, 64) -> LSTM(64, 256) -> Linear(256, 128), Adam lr 0.002,
gradient norm clipped to 5, batch 32, PyTorch's default initialisation (which
stdlib/rnn.nn and Embedding follow).  Prints the training and held-out loss
per epoch in nats and the held-out bits per character.
"""
import math, os, sys, time

import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
T, V, B = 64, 128, 32
torch.manual_seed(1)
torch.set_num_threads(2)
text = open(os.path.join(here, "data", "fortunes.txt"), encoding="utf-8").read()
vocab = sorted(set(text))
ix = {c: i for i, c in enumerate(vocab)}
ids = torch.tensor([ix[c] for c in text], dtype=torch.long)
n = (len(ids) - 1) // T
x = ids[:n * T].reshape(n, T)
y = ids[1:n * T + 1].reshape(n, T)
perm = torch.randperm(n)
nv = round(0.05 * n)
vx, vy, tx, ty = x[perm[:nv]], y[perm[:nv]], x[perm[nv:]], y[perm[nv:]]


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 64)
        self.rnn = nn.LSTM(64, 256, batch_first=True)
        self.head = nn.Linear(256, V)

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])


m = CharLM()
opt = torch.optim.Adam(m.parameters(), lr=0.002)
lossf = nn.CrossEntropyLoss()
print(f"{len(text)} characters, {len(vocab)} distinct, {n} windows ({nv} held out)")
for e in range(1, epochs + 1):
    t0, tot, steps = time.time(), torch.zeros(()), 0
    order = torch.randperm(len(tx))
    for s in range(0, len(tx), B):
        i = order[s:s + B]
        opt.zero_grad(set_to_none=True)
        loss = lossf(m(tx[i]).reshape(-1, V), ty[i].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()
        tot += loss.detach()
        steps += 1
    with torch.no_grad():
        vl = sum(lossf(m(vx[s:s + 256]).reshape(-1, V), vy[s:s + 256].reshape(-1)).item() * len(vx[s:s + 256])
                 for s in range(0, nv, 256)) / nv
    print(f"epoch {e}: loss={float(tot) / steps:.4f} val_loss={vl:.4f} val_bits_per_char={vl / math.log(2):.3f} "
          f"({time.time() - t0:.0f} s)", flush=True)
