#!/usr/bin/python3
"""make_reference.py — PyTorch's numbers for the transformer check
(torch_transformer.sh).

Run with Debian's python3 and python3-torch (`/usr/bin/python3
tests/e2e/torch_transformer/make_reference.py`); it rewrites, next to itself:
  x.npy, r.npy, keep.npy  a fixed batch: x [4, 5, 16] (the layer reads x plus
                      the sinusoidal positions), the weights r [4, 5, 16]
                      of the loss  L = sum(out * r) / 4, and keep [4, 5]
                      (1 = a real token, 0 = padding: PyTorch's
                      src_key_padding_mask is keep == 0)
  reference.json      torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0,
                      batch_first=True)'s initial weights (seed 0) in nnc's
                      layout (stdlib/attention.nn, input-major: every weight
                      is PyTorch's transposed), its loss, and the gradient of
                      L for each of them, from one forward and backward in
                      float32 (encoder.nn)
  reference_prenorm.json  the same with norm_first=True (seed 2; prenorm.nn)
The check needs none of this to run; only this script needs PyTorch.
"""
import json, math, os

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(1)
x = torch.randn(4, 5, 16, generator=g)
r = torch.randn(4, 5, 16, generator=g)
keep = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]],
                    dtype=torch.float32)
np.save(os.path.join(here, "x.npy"), x.numpy().astype(np.float32))
np.save(os.path.join(here, "r.npy"), r.numpy().astype(np.float32))
np.save(os.path.join(here, "keep.npy"), keep.numpy().astype(np.float32))


def positions(t, d):
    """The sinusoidal encoding as PyTorch's transformer tutorial computes it."""
    pe = torch.zeros(t, d)
    p = torch.arange(t, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe[:, 0::2] = torch.sin(p * div)
    pe[:, 1::2] = torch.cos(p * div)
    return pe


def reference(seed, norm_first, out_name):
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                                             batch_first=True, norm_first=norm_first)
    layer.train()  # with dropout 0 this is the plain (not the fused "fast path") computation
    out = layer(x + positions(5, 16), src_key_padding_mask=keep == 0)
    loss = (out * r).sum() / 4
    loss.backward()
    a = layer.self_attn
    pairs = {  # nnc name: PyTorch tensor, in nnc's layout
        "enc.att.Wqkv": lambda t: t(a.in_proj_weight).T, "enc.att.bqkv": lambda t: t(a.in_proj_bias),
        "enc.att.Wo": lambda t: t(a.out_proj.weight).T, "enc.att.bo": lambda t: t(a.out_proj.bias),
        "enc.ff1.W": lambda t: t(layer.linear1.weight).T, "enc.ff1.b": lambda t: t(layer.linear1.bias),
        "enc.ff2.W": lambda t: t(layer.linear2.weight).T, "enc.ff2.b": lambda t: t(layer.linear2.bias),
        "enc.norm1.gamma": lambda t: t(layer.norm1.weight), "enc.norm1.beta": lambda t: t(layer.norm1.bias),
        "enc.norm2.gamma": lambda t: t(layer.norm2.weight), "enc.norm2.beta": lambda t: t(layer.norm2.bias),
    }
    flat = lambda v: v.contiguous().reshape(-1).tolist()
    params = {k: flat(f(lambda p: p.detach())) for k, f in pairs.items()}
    grads = {k: flat(f(lambda p: p.grad)) for k, f in pairs.items()}
    ref = {"torch": torch.__version__, "norm_first": norm_first, "loss": float(loss), "params": params,
           "grads": grads}
    with open(os.path.join(here, out_name), "w") as f:
        json.dump(ref, f, indent=0)
    print(out_name, "loss", float(loss))


reference(0, False, "reference.json")
reference(2, True, "reference_prenorm.json")
