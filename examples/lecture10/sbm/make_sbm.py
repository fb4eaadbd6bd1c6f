#!/usr/bin/python3
"""make_sbm.py — a seeded stochastic block model for the lecture 10 GCN.

N nodes in K equal communities; each pair is an edge with probability
p_in inside a community and p_out across.  Node features are noisy: F
dimensions of N(0, 1) noise plus `signal` on the dimension of the node's
community, so the features alone classify poorly and the graph has to help.
Writes, into the folder given (default data/):
  edges.csv        "src,dst" per edge (graph("...") of nnc)
  x.csv            one row: the N x F features, row-major
  labels.csv       one row: the community of every node
  train_mask.csv   one row: 1 on `train` random nodes per community
  test_mask.csv    one row: 1 on every other node
usage: make_sbm.py [DIR] [--nodes N] [--communities K] [--seed S]
Python's standard library only; the same seed gives the same files.
"""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default="data")
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--communities", type=int, default=4)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--p-in", type=float, default=0.02)
    ap.add_argument("--p-out", type=float, default=0.001)
    ap.add_argument("--signal", type=float, default=0.5)
    ap.add_argument("--train", type=int, default=10, help="labelled nodes per community")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n, k, f = a.nodes, a.communities, a.features
    if n % k:
        ap.error("--nodes must be a multiple of --communities")
    rng = random.Random(a.seed)
    label = [i * k // n for i in range(n)]
    edges = []
    for u in range(n):
        for v in range(u + 1, n):
            if rng.random() < (a.p_in if label[u] == label[v] else a.p_out):
                edges.append((u, v))
    x = []
    for i in range(n):
        for d in range(f):
            x.append(rng.gauss(0, 1) + (a.signal if d == label[i] % f else 0))
    train = set()
    for c in range(k):
        train.update(rng.sample(range(c * n // k, (c + 1) * n // k), a.train))
    os.makedirs(a.dir, exist_ok=True)
    row = lambda vals: ",".join(vals) + "\n"
    with open(os.path.join(a.dir, "edges.csv"), "w") as o:
        o.write("src,dst\n")
        o.writelines(f"{u},{v}\n" for u, v in edges)
    with open(os.path.join(a.dir, "x.csv"), "w") as o:
        o.write(row(f"{v:.6f}" for v in x))
    with open(os.path.join(a.dir, "labels.csv"), "w") as o:
        o.write(row(str(c) for c in label))
    with open(os.path.join(a.dir, "train_mask.csv"), "w") as o:
        o.write(row("1" if i in train else "0" for i in range(n)))
    with open(os.path.join(a.dir, "test_mask.csv"), "w") as o:
        o.write(row("0" if i in train else "1" for i in range(n)))
    print(f"{n} nodes, {k} communities, {len(edges)} edges, {len(train)} labelled -> {a.dir}/")


if __name__ == "__main__":
    main()
