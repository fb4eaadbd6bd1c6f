#!/usr/bin/python3
"""make_reference.py — writes x.npy, y.npy and reference.json for
tests/e2e/torch_tbptt.sh with Debian's python3-torch (run from this folder:
/usr/bin/python3 make_reference.py).  The PyTorch twin of tbptt.nn trained
as the word-language-model example does truncated BPTT: the 12 windows are
3 contiguous streams, batch j takes window j of each, the hidden state is
carried from batch to batch detached, and starts from zeros every epoch.
reference.json: the initial weights (under nnc's names, input-major), each
epoch's mean training loss, and the final weights."""
import json
import numpy as np
import torch

torch.manual_seed(7)
N, T, H, B, EPOCHS, LR = 12, 4, 3, 3, 3, 0.1
signal = torch.sin(torch.arange(N * T + 1, dtype=torch.float64) * 0.7) + 0.1 * torch.randn(N * T + 1, dtype=torch.float64)
x = signal[:-1].reshape(N, T, 1)
y = signal[1:].reshape(N, T, 1)
np.save("x.npy", x.numpy())
np.save("y.npy", y.numpy())

w = {
    "Wx": torch.empty(1, H, dtype=torch.float64).uniform_(-0.8, 0.8),
    "Wh": torch.empty(H, H, dtype=torch.float64).uniform_(-0.8, 0.8),
    "b": torch.empty(H, dtype=torch.float64).uniform_(-0.3, 0.3),
    "Wo": torch.empty(H, 1, dtype=torch.float64).uniform_(-0.8, 0.8),
}
start = {k: v.flatten().tolist() for k, v in w.items()}
for v in w.values():
    v.requires_grad_(True)
opt = torch.optim.SGD(list(w.values()), lr=LR)


def run(carry):
    losses = []
    steps = N // B
    for _ in range(EPOCHS):
        h = torch.zeros(B, H, dtype=torch.float64)
        total = 0.0
        for j in range(steps):
            idx = [r * steps + j for r in range(B)]
            hs = h.detach() if carry else torch.zeros(B, H, dtype=torch.float64)
            out = []
            for t in range(T):
                hs = torch.tanh(x[idx, t, :] @ w["Wx"] + hs @ w["Wh"] + w["b"])
                out.append(hs @ w["Wo"])
            loss = ((torch.stack(out, 1) - y[idx]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            h = hs
            total += loss.item() * B
        losses.append(total / (steps * B))
    return losses


losses = run(True)
final = {k: v.detach().flatten().tolist() for k, v in w.items()}
with torch.no_grad():  # the same run without the carry differs (the test is not vacuous)
    for k, v in w.items():
        v.copy_(torch.tensor(start[k], dtype=torch.float64).reshape(v.shape))
plain = run(False)
assert abs(plain[-1] - losses[-1]) > 1e-4, (plain, losses)
json.dump({"params": start, "losses": losses, "final": final, "losses_without_carry": plain},
          open("reference.json", "w"), indent=1)
print("losses", losses, "without carry", plain)
