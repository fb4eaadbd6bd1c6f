"""PyTorch's side of bench/gen/gen.py: the GAN of examples/lecture12/gan and
the VAE of examples/lecture05/vae, written as a PyTorch user writes them —
the GAN with two Adam optimizers and `fake.detach()` for the
discriminator's step, then the generator's step with fresh noise; the VAE
with the reparameterisation and the closed-form KL — as fast as eager
PyTorch goes: the images a float tensor made once, set_to_none, no
per-step .item(), warm-up steps excluded from the timing.  One epoch over
the first N training images, shuffled, batch 64 (GAN) or 128 (VAE).
Prints "bench: timed_start_unix=..", "train_end_unix=.." and "blas: .." on
stderr and `timed_samples=..` on stdout.
usage: /usr/bin/python3 torch_gen.py gan|vae N --threads K
"""
import gzip, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mark(what):
    print(f"bench: {what}_unix={time.time():.6f}", file=sys.stderr, flush=True)


import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_cpu import blas_info  # noqa: E402  (bench/torch_cpu.py)

what, n = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
torch.manual_seed(1)
raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
x = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784)[:n].astype(np.float32) / 255)
WARM = 5

if what == "gan":
    Z, B = 64, 64
    G = nn.Sequential(nn.Linear(Z, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 784), nn.Sigmoid())
    D = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1))  # logits: BCE-with-logits is the stable form of bce(sigmoid)
    og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)

    def step(xb):
        b = xb.shape[0]
        fake = G(torch.randn(b, Z))
        d_loss = F.binary_cross_entropy_with_logits(D(xb), ones[:b]) + \
            F.binary_cross_entropy_with_logits(D(fake.detach()), zeros[:b])
        od.zero_grad(set_to_none=True)
        d_loss.backward()
        od.step()
        g_loss = F.binary_cross_entropy_with_logits(D(G(torch.randn(b, Z))), ones[:b])
        og.zero_grad(set_to_none=True)
        g_loss.backward()
        og.step()
else:
    Zc, B = 16, 128

    class Vae(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.mu, self.lv = nn.Linear(784, 256), nn.Linear(256, Zc), nn.Linear(256, Zc)
            self.d1, self.d2 = nn.Linear(Zc, 256), nn.Linear(256, 784)

        def forward(self, xb):
            h = F.relu(self.enc(xb))
            mu, lv = self.mu(h), self.lv(h)
            z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            logits = self.d2(F.relu(self.d1(z)))
            recon = F.binary_cross_entropy_with_logits(logits, xb, reduction="none").sum(1)
            kl = -0.5 * (1 + lv - mu * mu - lv.exp()).sum(1)
            return (recon + kl).mean()

    m = Vae()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)

    def step(xb):
        loss = m(xb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

perm = torch.randperm(n)
batches = [x[perm[s:s + B]] for s in range(0, n, B)]
for xb in batches[:WARM]:
    step(xb)
mark("timed_start")
for xb in batches[WARM:]:
    step(xb)
mark("train_end")
print(f"blas: {blas_info()}", file=sys.stderr)
print(f"timed_samples={sum(xb.shape[0] for xb in batches[WARM:])}")
