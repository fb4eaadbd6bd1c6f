#!/usr/bin/python3
"""make_reference.py — reference.json for torch_kstep.sh, written once with
Debian's python3-torch: gan.nn as a PyTorch user writes k critic steps
(n_critic = 3: the discriminator steps on every batch, the generator after
every third, counting from each epoch's first batch), two Adams, the
generator's learning rate halved each epoch (StepLR) and the
discriminator's constant; 4 batches an epoch, 2 epochs.  Records the
initial weights (nnc's names, Dense's W is [n_in, n_out]), the weights
after training and the second epoch's mean losses."""
import json, os
import torch

torch.manual_seed(1)
x = torch.tensor([[0.9, 0.1, 0.4]] * 2)
z = torch.tensor([[0.5, -1.0]] * 2)
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
opt_d = torch.optim.Adam(list(D1.parameters()) + list(D2.parameters()), lr=0.05, betas=(0.5, 0.999))
opt_g = torch.optim.Adam(G.parameters(), lr=0.1, betas=(0.5, 0.999))
sched_g = torch.optim.lr_scheduler.StepLR(opt_g, step_size=1, gamma=0.5)
w0 = weights()
N_CRITIC, BATCHES = 3, 4
for epoch in range(2):
    d_losses, g_losses = [], []
    for b in range(BATCHES):
        d_loss = bce(disc(x), torch.ones(2, 1)) + bce(disc(gen(z).detach()), torch.zeros(2, 1))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        d_losses.append(d_loss.item())
        if b % N_CRITIC == N_CRITIC - 1:
            g_loss = bce(disc(gen(z)), torch.ones(2, 1))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            g_losses.append(g_loss.item())
    sched_g.step()
ref = {"params": w0, "after": weights(), "d_loss": sum(d_losses) / len(d_losses),
       "g_loss": sum(g_losses) / len(g_losses)}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json"), "w") as f:
    json.dump(ref, f, indent=1)
print("d_loss %.7g g_loss %.7g" % (ref["d_loss"], ref["g_loss"]))
