#!/usr/bin/python3
"""spectral.py — lecture 10's two views of the karate club, side by side:

left, the spectral view with no label at all: every member placed at its
entries of the 2nd and 3rd eigenvectors of the normalised Laplacian
L = I - D^-1/2 A D^-1/2 (numpy.linalg.eigh: LAPACK's dsyevd, as
runtime/data/graph.c's nnrt_graph_spectral; each eigenvector signed so its
largest-magnitude entry is positive, as there);

right, what the trained GCN learned from two labels: the hidden layer
relu(Ah X W1) of karate.nn (X = I, Ah = D^-1/2 (A + I) D^-1/2, W1 = g1.W
read from the checkpoint that `./karate train --save` wrote), 16 features
per member, drawn at its first two principal components.

Colour: the faction each member joined (labels.csv); the two labelled
members (train_mask.csv) are ringed.
usage: /usr/bin/python3 spectral.py CHECKPOINT.safetensors OUT.png
Debian's python3-numpy and python3-matplotlib.
"""
import json, os, struct, sys

import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = os.path.dirname(os.path.abspath(__file__))


def one_row(name):
    return np.loadtxt(os.path.join(HERE, name), delimiter=",", ndmin=1)


def tensor(path, name):
    """One F32 tensor of a safetensors file (8-byte header size, JSON, data)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    t = json.loads(raw[8:8 + n])[name]
    a, b = t["data_offsets"]
    return np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(t["shape"]).astype(np.float64)


def main():
    ckpt, out = sys.argv[1], sys.argv[2]
    y, train = one_row("labels.csv").astype(int), one_row("train_mask.csv") > 0
    n = len(y)
    a = np.zeros((n, n))
    for u, v in np.loadtxt(os.path.join(HERE, "edges.csv"), delimiter=",", skiprows=1, dtype=int):
        a[u, v] = a[v, u] = 1
    d = a.sum(1)
    lap = np.eye(n) - a / np.sqrt(np.outer(d, d))
    vals, vecs = np.linalg.eigh(lap)
    for k in range(n):
        if vecs[np.argmax(np.abs(vecs[:, k])), k] < 0:
            vecs[:, k] = -vecs[:, k]
    ai = a + np.eye(n)
    dinv = 1 / np.sqrt(ai.sum(1))
    hidden = np.maximum(dinv[:, None] * ai * dinv[None, :] @ tensor(ckpt, "g1.W"), 0)  # X = I
    centred = hidden - hidden.mean(0)
    pcs = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    colours = np.array(["tab:blue", "tab:orange"])
    for ax, xy, title in ((axes[0], vecs[:, 1:3], f"Laplacian eigenvectors 2 and 3 (λ₂ = {vals[1]:.3f}, λ₃ = {vals[2]:.3f})"),
                          (axes[1], pcs, "GCN hidden layer (16 units), principal components 1 and 2")):
        ax.scatter(xy[:, 0], xy[:, 1], c=colours[y], s=60, edgecolors="k", linewidths=0.5)
        ax.scatter(xy[train, 0], xy[train, 1], s=260, facecolors="none", edgecolors="k", linewidths=1.5)
        for i in range(n):
            ax.annotate(str(i), xy[i], fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set_title(title, fontsize=9)
    axes[0].set_xlabel("no labels used"), axes[1].set_xlabel("trained from the 2 ringed labels")
    fig.legend(handles=[plt.Line2D([], [], marker="o", ls="", color=c, label=l)
                        for c, l in zip(colours, ["Mr. Hi's club (0)", "the officer's club (1)"])],
               loc="lower center", ncol=2, fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(out, dpi=90)
    agree = max(np.mean((vecs[:, 1] > 0) == y), np.mean((vecs[:, 1] > 0) != y))
    print(f"{out}: sign of eigenvector 2 agrees with the factions on {round(agree * n)} of {n} members")


main()
