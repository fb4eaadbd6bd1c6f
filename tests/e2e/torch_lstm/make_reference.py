#!/usr/bin/python3
"""make_reference.py — PyTorch's numbers for the LSTM check (torch_lstm.sh).

Run with Debian's python3 and python3-torch (`/usr/bin/python3
tests/e2e/torch_lstm/make_reference.py`); it rewrites, next to itself:
  x.npy, r.npy        a fixed batch: x [4, 6, 3] and the weights r [4, 6, 8]
                      of the loss  L = sum_t sum(h_t * r[:, t, :]) / 4
  reference.json      torch.nn.LSTM(3, 8)'s initial weights (seed 0) in nnc's
                      layout (stdlib/rnn.nn: Wx = weight_ih^T, Wh =
                      weight_hh^T, bx = bias_ih, bh = bias_hh), the loss, and
                      the gradient of L for each of them, all from one
                      forward and backward in float32.
The check needs none of this to run; only this script needs PyTorch.
"""
import json, os, struct

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
lstm = torch.nn.LSTM(3, 8, batch_first=True)
g = torch.Generator().manual_seed(1)
x = torch.randn(4, 6, 3, generator=g)
r = torch.randn(4, 6, 8, generator=g)
out, _ = lstm(x)
loss = (out * r).sum() / 4
loss.backward()

params = {
    "rnn.cell.Wx": lstm.weight_ih_l0.detach().T, "rnn.cell.Wh": lstm.weight_hh_l0.detach().T,
    "rnn.cell.bx": lstm.bias_ih_l0.detach(), "rnn.cell.bh": lstm.bias_hh_l0.detach(),
}
grads = {
    "rnn.cell.Wx": lstm.weight_ih_l0.grad.T, "rnn.cell.Wh": lstm.weight_hh_l0.grad.T,
    "rnn.cell.bx": lstm.bias_ih_l0.grad, "rnn.cell.bh": lstm.bias_hh_l0.grad,
}
np.save(os.path.join(here, "x.npy"), x.numpy().astype(np.float32))
np.save(os.path.join(here, "r.npy"), r.numpy().astype(np.float32))
ref = {
    "torch": torch.__version__,
    "loss": float(loss),
    "params": {k: v.contiguous().reshape(-1).tolist() for k, v in params.items()},
    "grads": {k: v.contiguous().reshape(-1).tolist() for k, v in grads.items()},
}
with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(ref, f, indent=0)
print("loss", float(loss))
