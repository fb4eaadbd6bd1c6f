"""PyTorch eager (and torch.compile) baselines for the nnc GPU benchmark.

Same models, optimizers, batch sizes and epoch counts as
examples/lecture02/xor.nn and fashion_mlp.nn, and LeNet-5 as
examples/lecture07/lenet5.nn (issue 20's GPU row; 2 epochs, as
scripts/gpu-check times nnc's); data already on the GPU and shuffled there
(the fastest eager setup).  Prints one line per run:
  torch MODEL MODE samples_per_s=N seconds=S final_loss=L
usage: python3 torch_bench.py DATA_DIR [--compile] [--only MODEL]
(TORCH_BENCH_DEVICE=cpu runs it on the CPU, to check the script without a GPU)
"""
import gzip, os, sys, time
import numpy as np
import torch
import torch.nn as nn

dev = os.environ.get("TORCH_BENCH_DEVICE", "cuda")


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()
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
        epoch(); sync()
    t = time.perf_counter()
    for _ in range(epochs):
        total = epoch()
    sync()
    sec = time.perf_counter() - t
    print(f"torch {name} {mode} samples_per_s={n * epochs / sec:.0f} seconds={sec:.3f} "
          f"final_loss={total.item() / n:.6g}", flush=True)


def main():
    data = sys.argv[1]
    modes = ["eager"] + (["compile"] if "--compile" in sys.argv else [])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    torch.manual_seed(1)
    for mode in modes:
        if only in (None, "xor"):
            x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32, device=dev)
            y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32, device=dev)
            m = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()).to(dev)
            run("xor", m, nn.BCELoss(), torch.optim.SGD(m.parameters(), lr=0.5, momentum=0.9), x, y, 4, 2000, mode)
        if only in (None, "fashion_mlp", "lenet5"):
            images = idx(f"{data}/train-images-idx3-ubyte.gz")
            yi = torch.tensor(idx(f"{data}/train-labels-idx1-ubyte.gz").astype(np.int64), device=dev)
        if only in (None, "fashion_mlp"):
            xi = torch.tensor(images.reshape(-1, 784), device=dev).float() / 255
            m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).to(dev)
            run("fashion_mlp", m, nn.CrossEntropyLoss(), torch.optim.Adam(m.parameters(), lr=1e-3), xi, yi, 128, 3, mode)
        if only in (None, "lenet5"):  # examples/lecture07/lenet5.nn: softmax + cross_entropy = CrossEntropyLoss
            xi = torch.tensor(images.reshape(-1, 1, 28, 28), device=dev).float() / 255
            m = nn.Sequential(nn.Conv2d(1, 6, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                              nn.ReLU(), nn.Linear(84, 10)).to(dev)
            run("lenet5", m, nn.CrossEntropyLoss(), torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), xi, yi, 64,
                int(os.environ.get("TORCH_BENCH_LENET_EPOCHS", "2")), mode)


main()
