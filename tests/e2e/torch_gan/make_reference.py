#!/usr/bin/python3
"""make_reference.py — reference.json for torch_gan.sh, written once with
Debian's python3-torch: gan.nn's generator and discriminator as PyTorch
modules written the way a PyTorch user would (two optimizers, detach), from
seeded weights, one step: the discriminator's loss and SGD step (lr = 1),
then the generator's loss through the updated discriminator and its step
(lr = 0.5).  Records the initial weights (nnc's names, Dense's W is
[n_in, n_out]), both losses and the weights after the step."""
import json, os
import torch

torch.manual_seed(0)
x = torch.tensor([[0.9, 0.1, 0.4], [0.2, 0.8, 0.6], [0.5, 0.5, 0.1], [0.7, 0.3, 0.9]])
z = torch.tensor([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.3], [0.1, 0.9]])
G = torch.nn.Linear(2, 3)
D1, D2 = torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)
gen = lambda z: torch.sigmoid(G(z))
disc = lambda x: torch.sigmoid(D2(torch.tanh(D1(x))))
names = {"G.l1": G, "D.l1": D1, "D.l2": D2}


def weights():
    out = {}
    for n, m in names.items():
        out[n + ".W"] = m.weight.detach().t().contiguous().flatten().tolist()
        out[n + ".b"] = m.bias.detach().flatten().tolist()
    return out


bce = torch.nn.functional.binary_cross_entropy
opt_d = torch.optim.SGD(list(D1.parameters()) + list(D2.parameters()), lr=1.0)
opt_g = torch.optim.SGD(G.parameters(), lr=0.5)
w0 = weights()
fake = gen(z)
d_loss = bce(disc(x), torch.ones(4, 1)) + bce(disc(fake.detach()), torch.zeros(4, 1))
opt_d.zero_grad()
d_loss.backward()
opt_d.step()
g_loss = bce(disc(gen(z)), torch.ones(4, 1))
opt_g.zero_grad()
g_loss.backward()
opt_g.step()
ref = {"params": w0, "after": weights(), "d_loss": d_loss.item(), "g_loss": g_loss.item()}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json"), "w") as f:
    json.dump(ref, f, indent=1)
print("d_loss %.7g g_loss %.7g" % (ref["d_loss"], ref["g_loss"]))
