"""PyTorch eager on the CPU: the side of bench/run.sh that nnc is compared with.

The same workloads as examples/lecture02/xor.nn, fashion_mlp.nn and
examples/lecture07/lenet5.nn (models, initialisers, optimizers, batch sizes,
data, a shuffle per epoch): one epoch of the MLP, and one pass of LeNet-5
over the first --limit training samples (nnc's `train --limit N`).

Written as a PyTorch expert writes a training loop for speed (issue 20):
the data are float tensors made once, before training (scaled by 1/255);
each step gathers its batch by index, zero_grad(set_to_none=True), forward,
backward, step, with no host synchronisation (no .item(), no printing) until
the end; XOR's full batch is not shuffled.  The first WARM steps are a
warm-up, excluded from the timed part.  torch.compile is not used: Debian's
PyTorch 1.13 has none (it came with 2.0).  The thread count is set with
torch.set_num_threads; bench.py runs each thread count and BLAS setting as
its own process and reports the fastest.

Prints, like an nnc program run with NNRT_BENCH=1, "bench: WHAT_unix=SECONDS"
lines on stderr (import_done, train_start, first_step, timed_start,
train_end), a "blas: ..." line naming the BLAS the process loaded, and a last
line of key=value pairs on stdout, timed_samples= among them.
usage: /usr/bin/python3 torch_cpu.py xor|mlp|lenet --threads N [--epochs E] [--limit N]
"""
import ctypes, gzip, os, sys, time


def mark(what):
    print(f"bench: {what}_unix={time.time():.6f}", file=sys.stderr, flush=True)


import numpy as np
import torch
import torch.nn as nn
mark("import_done")

FASHION = "/usr/share/datasets/fashion-mnist"


def blas_info():
    """Which BLAS library is mapped, and the kernel set it picked."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in p or "blis" in p or "mkl" in p:
                libs.add(os.path.realpath(p))
    desc = []
    for p in sorted(libs):
        lib = ctypes.CDLL(p)
        blis = os.path.join(os.path.dirname(p), "libblis.so.4")  # Debian's libblas hides bli_*
        if not hasattr(lib, "bli_arch_query_id") and "blis" in p and os.path.exists(blis):
            lib = ctypes.CDLL(blis)
        if hasattr(lib, "bli_arch_query_id"):
            lib.bli_arch_string.restype = ctypes.c_char_p
            arch = lib.bli_arch_string(lib.bli_arch_query_id()).decode()
            desc.append(f"{p} (BLIS, arch {arch})")
        elif hasattr(lib, "openblas_get_corename"):
            lib.openblas_get_corename.restype = ctypes.c_char_p
            desc.append(f"{p} (OpenBLAS, core {lib.openblas_get_corename().decode()})")
        else:
            desc.append(p)
    return "; ".join(desc) or "none mapped"


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims).copy())


WARM = 10  # warm-up steps, not timed
TIMED = {"samples": 0}


def train(model, loss_fn, opt, x, y, batch, epochs, scale):
    """x: uint8 or float; made a float tensor (times scale) once, here."""
    x = x.float()
    if scale != 1:
        x.mul_(scale)
    n = x.shape[0]
    step = 0
    mark("train_start")
    for _ in range(epochs):
        if batch >= n:  # full batch: the order of rows does not matter
            batches = [(x, y)]
        else:
            perm = torch.randperm(n)
            batches = ((x[perm[s:s + batch]], y[perm[s:s + batch]]) for s in range(0, n, batch))
        for xb, yb in batches:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            step += 1
            if step == 1:
                mark("first_step")
            if step == WARM:
                mark("timed_start")
                TIMED["samples"] = 0
            else:
                TIMED["samples"] += xb.shape[0]
    mark("train_end")
    return loss.item()


def main():
    what = sys.argv[1]
    threads = int(sys.argv[sys.argv.index("--threads") + 1])
    epochs = int(sys.argv[sys.argv.index("--epochs") + 1]) if "--epochs" in sys.argv else None
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if what == "xor":
        x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32)
        y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32)
        m = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
        for layer in (m[0], m[2]):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        opt = torch.optim.SGD(m.parameters(), lr=0.5, momentum=0.9)
        loss = train(m, nn.BCELoss(), opt, x, y, 4, epochs or 2000, 1)
        with torch.no_grad():
            acc = ((m(x) > 0.5).float() == y).float().mean().item()
        print(f"blas: {blas_info()}", file=sys.stderr)
        print(f"steps={epochs or 2000} loss={loss:.6g} accuracy={acc:.6g} timed_samples={TIMED['samples']}")
    elif what == "mlp":
        x = idx(f"{FASHION}/train-images-idx3-ubyte.gz").reshape(-1, 784)
        y = idx(f"{FASHION}/train-labels-idx1-ubyte.gz").long()
        tx = idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").reshape(-1, 784)
        ty = idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz").long()
        m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
        nn.init.kaiming_normal_(m[0].weight, nonlinearity="relu")  # he_normal
        nn.init.kaiming_normal_(m[2].weight, nonlinearity="relu")
        nn.init.xavier_uniform_(m[4].weight)
        for layer in (m[0], m[2], m[4]):
            nn.init.zeros_(layer.bias)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        loss = train(m, nn.CrossEntropyLoss(), opt, x, y, 128, epochs or 1, 1 / 255)
        report(m, x, tx, ty, loss, epochs)
    elif what == "lenet":
        # examples/lecture07/lenet5.nn: Conv2d = he_normal weights (fan_in =
        # c_in*k*k), zero bias; Dense = xavier_uniform, zero bias; softmax +
        # cross-entropy (CrossEntropyLoss on the logits); sgd lr 0.05
        # momentum 0.9; batch 64; x / 255.
        limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else None
        x = idx(f"{FASHION}/train-images-idx3-ubyte.gz").reshape(-1, 1, 28, 28)[:limit]
        y = idx(f"{FASHION}/train-labels-idx1-ubyte.gz").long()[:limit]
        tx = idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").reshape(-1, 1, 28, 28)
        ty = idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz").long()
        m = nn.Sequential(nn.Conv2d(1, 6, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5, 1, 0), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                          nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        for layer in m:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # he_normal
                nn.init.zeros_(layer.bias)
            elif isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        loss = train(m, nn.CrossEntropyLoss(), opt, x, y, 64, epochs or 1, 1 / 255)
        report(m, x, tx, ty, loss, epochs)
    else:
        sys.exit(f"torch_cpu.py: unknown workload '{what}' (expected xor, mlp or lenet)")


def report(m, x, tx, ty, loss, epochs):
    """Test accuracy, the BLAS line and the last key=value line."""
    correct = 0
    with torch.no_grad():
        for s in range(0, tx.shape[0], 1000):
            z = m(tx[s:s + 1000].float() / 255)
            correct += (z.argmax(1) == ty[s:s + 1000]).sum().item()
    print(f"blas: {blas_info()}", file=sys.stderr)
    print(f"samples={x.shape[0] * (epochs or 1)} last_loss={loss:.6g} "
          f"test_accuracy={correct / tx.shape[0]:.6g} timed_samples={TIMED['samples']}")

if __name__ == "__main__":  # bench/lstm/torch_lstm.py imports blas_info
    main()
