"""PyTorch eager (and torch.compile) baselines for the nnc GPU benchmark.

Same models, optimizers, batch sizes and epoch counts as
examples/lecture02/xor.nn and fashion_mlp.nn; data already on the GPU and
shuffled there (the fastest eager setup).  Prints one line per run:
  torch MODEL MODE samples_per_s=N seconds=S final_loss=L
usage: python3 torch_bench.py DATA_DIR [--compile]
"""
import gzip, sys, time
import numpy as np
import torch
import torch.nn as nn

dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = False  # nnc's cuBLAS SGEMM is plain FP32


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def run(name, model, loss_fn, opt, x, y, batch, epochs, mode):
    n = x.shape[0]
    step = lambda xb, yb: loss_fn(model(xb), yb)
    if mode == "compile":
        step = torch.compile(step)
    def epoch():
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        for s in range(0, n, batch):
            i = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = step(x[i], y[i])
            loss.backward()
            opt.step()
            total += loss.detach() * i.numel()
        return total
    if mode == "compile":  # compile outside the timing
        epoch(); torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(epochs):
        total = epoch()
    torch.cuda.synchronize()
    sec = time.perf_counter() - t
    print(f"torch {name} {mode} samples_per_s={n * epochs / sec:.0f} seconds={sec:.3f} "
          f"final_loss={total.item() / n:.6g}", flush=True)


def main():
    data = sys.argv[1]
    modes = ["eager"] + (["compile"] if "--compile" in sys.argv else [])
    torch.manual_seed(1)
    for mode in modes:
        x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32, device=dev)
        y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32, device=dev)
        m = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()).to(dev)
        run("xor", m, nn.BCELoss(), torch.optim.SGD(m.parameters(), lr=0.5, momentum=0.9), x, y, 4, 2000, mode)
        xi = torch.tensor(idx(f"{data}/train-images-idx3-ubyte.gz").reshape(-1, 784), device=dev).float() / 255
        yi = torch.tensor(idx(f"{data}/train-labels-idx1-ubyte.gz").astype(np.int64), device=dev)
        m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).to(dev)
        run("fashion_mlp", m, nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3), xi, yi, 128, 3, mode)


main()
