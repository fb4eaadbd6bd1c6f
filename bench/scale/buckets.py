#!/usr/bin/python3
"""buckets.py — the gradient exchange's bucket size, and a build before
bucketing, measured side by side (docs/SCALING.md, "Buckets").

For each example: samples/s of epoch 2 (scale.py's epoch_rate) of one
process (2 threads) and of `mpirun -np 2` with each NNRT_BUCKET_BYTES
given (and "default": unset), with this build's nnc, and with --before
NNC (a build without buckets) when given (a size with "=" is another
environment setting: NNRT_OVERLAP=0); best of --reps runs,
interleaved so that a machine shared with other work loads every variant
alike.  Prints a markdown table and the load averages around the runs.

usage: bench/scale/buckets.py --nnc build/compiler/nnc [--before OLD/nnc]
           [--sizes default,NNRT_OVERLAP=0,1G,64k] [--reps 3] [--only MLP]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import EXAMPLES, ROOT, epoch_rate, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnc", required=True)
    ap.add_argument("--before")
    ap.add_argument("--sizes", default="default,NNRT_OVERLAP=0,1G,64k")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", action="append", help="examples whose name contains this")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nnc-buckets.")
    sizes = a.sizes.split(",")
    load0 = os.getloadavg()
    print("| example | build | 1 process, 2 threads | " +
          " | ".join(f"`mpirun -np 2`, {s}" for s in sizes) + " |")
    print("|---|---|---|" + "---|" * len(sizes))
    for name, src, limit, mpi in EXAMPLES:
        if not mpi or (a.only and not any(o in name for o in a.only)):
            continue
        builds = [("bucketed", a.nnc)] + ([("before", a.before)] if a.before else [])
        exes = {}
        for b, nnc in builds:
            exes[b] = os.path.join(work, b + "-" + os.path.basename(src)[:-3])
            run([nnc, "build", os.path.join(ROOT, src), "-o", exes[b]])
        log = os.path.join(work, "log.csv")
        best = {}
        for _ in range(a.reps):
            for b, _nnc in builds:
                kinds = [("one", [], ["--threads", "2"], {})]
                for s in (sizes if b == "bucketed" else sizes[:1]):
                    env = {} if s == "default" else dict([s.split("=", 1)]) if "=" in s else {"NNRT_BUCKET_BYTES": s}
                    kinds.append((s, ["mpirun", "-np", "2"] + sum((["-x", k] for k in env), []), [], env))
                for k, prefix, extra, env in kinds:
                    os.environ.update(env)
                    try:
                        r = epoch_rate(prefix, exes[b], limit, log, extra)
                    finally:
                        for e in env:
                            del os.environ[e]
                    best[b, k] = max(best.get((b, k), 0), r)
        for b, _nnc in builds:
            cells = [f"{best[b, s]:,.0f}" if (b, s) in best else "" for s in sizes]
            print(f"| {name} | {b} | {best[b, 'one']:,.0f} | " + " | ".join(cells) + " |", flush=True)
    load1 = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; {os.cpu_count()} vCPUs")


if __name__ == "__main__":
    main()
