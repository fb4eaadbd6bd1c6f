#!/usr/bin/python3
"""scale.py — data-parallel training measured here and projected to clusters.

Measured (this machine): samples/s of one process (the faster of 1 and 2
threads), of `mpirun -np 2` (one thread per rank) and of one process with
`--shards 2`, each the second of two epochs on --limit samples (the first
warms caches), best of --reps interleaved runs.  Projected: N nodes like
this one, each with the example's batch (weak scaling, the global batch
grows with N); a step is the measured compute time of one batch plus a
ring all-reduce of the gradient, 2(N-1)/N x bytes / bandwidth + 2(N-1) x
latency (runtime/shard.c moves exactly those bytes: all-to-all, then
all-gather, in buckets, partly overlapped with the backward pass, which
this model ignores; bench/scale/buckets.py measures the buckets).
Writes docs/SCALING.md's tables to stdout (--md FILE: into that file
between its BEGIN/END markers).

usage: bench/scale/scale.py --nnc build/compiler/nnc [--reps 3] [--md docs/SCALING.md]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# name, source, training samples timed, measure mpirun -np 2 too
EXAMPLES = [
    ("MLP (lecture 2)", "examples/lecture02/fashion_mlp.nn", 20000, True),
    ("LeNet-5 (lecture 7)", "examples/lecture07/lenet5.nn", 6000, True),
    ("VGG (lecture 7)", "examples/lecture07/vgg.nn", 512, False),
    ("AlexNet (lecture 7)", "examples/lecture07/alexnet.nn", 512, False),
]
LINK_GBPS = 100          # 100 Gb/s links
LATENCY_S = 5e-6         # per message of a ring step (MPI over a fast fabric)
NODES = [1, 2, 8, 16, 32, 64]


def run(cmd, env=None):
    e = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1")
    e.update(env or {})
    r = subprocess.run(cmd, capture_output=True, text=True, env=e)
    if r.returncode != 0:
        sys.exit(f"scale.py: {' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return r.stdout


def epoch_rate(prefix, exe, limit, log, extra):
    """samples/s of epoch 2 of a 2-epoch run on `limit` samples."""
    run(prefix + [exe, "train", "--epochs", "2", "--limit", str(limit), "--quiet", "--log", log] + extra)
    with open(log) as f:
        rows = [r.split(",") for r in f.read().split("\n")[1:] if r]
    seconds = float(rows[-1][4])
    return limit / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnc", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--md")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nnc-scale.")
    rows = []
    for name, src, limit, mpi in EXAMPLES:
        exe = os.path.join(work, os.path.basename(src)[:-3])
        run([a.nnc, "build", os.path.join(ROOT, src), "-o", exe])
        info = run([exe, "info"])
        pbytes = int(re.search(r"Parameter bytes: (\d+)", info).group(1))
        batch = int(re.search(r"FLOPs per sample \(batch (\d+)\)", info).group(1))
        log = os.path.join(work, "log.csv")
        best = {}
        for _ in range(a.reps):
            kinds = [("1 process, 1 thread", [], ["--threads", "1"]),
                     ("1 process, 2 threads", [], ["--threads", "2"])]
            if mpi:
                kinds += [("1 process, --shards 2", [], ["--threads", "2", "--shards", "2"]),
                          ("mpirun -np 2", ["mpirun", "-np", "2"], [])]
            for k, prefix, extra in kinds:
                r = epoch_rate(prefix, exe, limit, log, extra)
                best[k] = max(best.get(k, 0), r)
        one = max(best["1 process, 1 thread"], best["1 process, 2 threads"])
        rows.append((name, pbytes, batch, best, one))
        print(f"{name}: {pbytes} parameter bytes, batch {batch}: " +
              ", ".join(f"{k} {v:,.0f}" for k, v in best.items()), file=sys.stderr)
    out = []
    out.append("Measured here (samples/s, best of %d; %s):\n" % (a.reps, cpu_name()))
    out.append("| example | parameters | 1 process, 1 thread | 1 process, 2 threads | `--shards 2` | `mpirun -np 2` | 2 ranks / best 1 process |")
    out.append("|---|---|---|---|---|---|---|")
    for name, pbytes, batch, best, one in rows:
        if "mpirun -np 2" not in best:
            continue
        out.append(f"| {name} | {pbytes / 1e6:.2f} MB | {best['1 process, 1 thread']:,.0f} | "
                   f"{best['1 process, 2 threads']:,.0f} | {best['1 process, --shards 2']:,.0f} | "
                   f"{best['mpirun -np 2']:,.0f} | {best['mpirun -np 2'] / one:.2f} |")
    bw = LINK_GBPS * 1e9 / 8
    out.append("")
    out.append(f"Projected for N nodes like this one on {LINK_GBPS} Gb/s links "
               f"(ring all-reduce, {LATENCY_S * 1e6:.0f} µs per message; each node keeps the "
               "example's batch): samples/s, and in brackets the efficiency "
               "t_compute / (t_compute + t_allreduce):\n")
    out.append("| example | gradient bytes / step | batch | compute / step | " +
               " | ".join(f"N = {n}" for n in NODES) + " |")
    out.append("|---|---|---|---|" + "---|" * len(NODES))
    for name, pbytes, batch, best, one in rows:
        tc = batch / one
        cells = []
        for n in NODES:
            tar = 0 if n == 1 else 2 * (n - 1) / n * pbytes / bw + 2 * (n - 1) * LATENCY_S
            cells.append(f"{n * batch / (tc + tar):,.0f} ({tc / (tc + tar):.0%})")
        out.append(f"| {name} | {pbytes / 1e6:.2f} MB | {batch} | {tc * 1e3:.2f} ms | " + " | ".join(cells) + " |")
    text = "\n".join(out) + "\n"
    if a.md:
        with open(a.md) as f:
            doc = f.read()
        begin, end = "<!-- BEGIN scale.py -->\n", "<!-- END scale.py -->"
        i, j = doc.index(begin) + len(begin), doc.index(end)
        doc = doc[:i] + text + doc[j:]
        with open(a.md, "w") as f:
            f.write(doc)
    print(text)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
        return f"{m.group(1).strip()}, {os.cpu_count()} vCPUs" if m else f"{os.cpu_count()} vCPUs"
    except OSError:
        return "unknown CPU"


if __name__ == "__main__":
    main()
