#!/usr/bin/python3
"""bench/gcn/gcn.py — issue 21's benchmark: a GCN epoch (full batch, two
layers, examples/lecture10/sbm/gcn_sparse.nn: 8 -> 16 -> 4, Adam) on the
stochastic block model at --nodes nodes (make_sbm.py --p-in 0.004 --p-out
0.0002 at 10^4: about 57k edges), four ways: nnc with the csr[N, N]
adjacency and spmm (SparseGCNLayer), nnc with the same Â dense (f32[N, N],
GCNLayer: a batched GEMM), PyTorch dense (torch.mm) and PyTorch sparse
(torch.sparse.mm on a coalesced COO Â) — bench/gcn/torch_gcn.py.
Epochs per second over --epochs epochs after the first (nnc: between its
first_step and train_end marks, --quiet so no per-epoch evaluation;
PyTorch: after 5 warm-up epochs).  Each on 1 thread and on 2 (PyTorch's 2
with OMP_WAIT_POLICY=PASSIVE), best of --reps; the faster of 1 and 2 is
compared.  No ratio when PyTorch did not load OpenBLAS.

Writes a table to stdout and replaces the section "## GCN" of
bench/RESULTS.md.
usage: bench/gcn/gcn.py [--nnc build/compiler/nnc] [--reps 3] [--nodes 10000] [--epochs 200]
                        [--dense-epochs 10] [--no-results]
"""
import argparse, os, platform, re, shutil, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from results_io import replace_section, run as run_or_stop, torch_settings, torch_version  # noqa: E402

SBM = os.path.join(ROOT, "examples", "lecture10", "sbm")


def run(cmd, env, cwd=None):
    return run_or_stop("gcn.py", cmd, env, cwd)


def marks(p):
    return dict((k, float(v)) for k, v in re.findall(r"bench: (\w+)_unix=([0-9.]+)", p.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "compiler", "nnc"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--dense-epochs", type=int, default=10, help="epochs of the dense runs (N·N products)")
    ap.add_argument("--no-results", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nnc-gcn-bench.")
    try:
        data = os.path.join(work, "data10k")
        gen = run(["/usr/bin/python3", os.path.join(SBM, "make_sbm.py"), data, "--nodes", str(a.nodes),
                   "--p-in", "0.004", "--p-out", "0.0002"], {}).stdout.strip()
        print(gen, flush=True)
        gen = gen.split(" ->")[0]
        src = open(os.path.join(SBM, "gcn_sparse.nn")).read()
        src = re.sub(r"^const N = \d+;", f"const N = {a.nodes};", src, flags=re.M)
        progs = {"sparse": src,
                 "dense": src.replace("csr[", "f32[").replace("SparseGCNLayer", "GCNLayer")}
        rows = {}
        def epochs(form):
            return a.dense_epochs if form == "dense" else a.epochs

        for form, text in progs.items():
            nn, exe = os.path.join(work, f"gcn_{form}.nn"), os.path.join(work, f"gcn_{form}")
            open(nn, "w").write(text)
            run([a.nnc, "build", nn, "-o", exe], {}, cwd=work)
            best = {}
            for th in (1, 2):
                for _ in range(a.reps):
                    p = run([exe, "train", "--quiet", "--seed", "1", "--epochs", str(epochs(form)), "--threads", str(th)],
                            {"NNRT_BENCH": "1"}, cwd=work)
                    m = marks(p)
                    best[th] = max(best.get(th, 0), (epochs(form) - 1) / (m["train_end"] - m["first_step"]))
            rows[f"nnc {form}"] = best
            print(f"nnc {form}: {best[1]:.1f} / {best[2]:.1f} epochs/s ({p.stdout.strip()})", flush=True)
        blas, blas_rate, settings = "", 0, torch_settings()
        for form in ("dense", "sparse"):
            best = {}
            for _, th, env in settings:
                for _ in range(a.reps):
                    p = run(["/usr/bin/python3", os.path.join(HERE, "torch_gcn.py"), data, form, str(epochs(form)),
                             "--threads", str(th)], env)
                    m = marks(p)
                    rate = epochs(form) / (m["train_end"] - m["timed_start"])
                    if rate > best.get(th, 0):
                        best[th] = rate
                        if rate >= blas_rate:
                            blas_rate, blas = rate, re.findall(r"^blas: (.*)$", p.stderr, re.M)[0]
            rows[f"PyTorch {form}"] = best
            print(f"PyTorch {form}: {best[1]:.1f} / {best[2]:.1f} epochs/s ({p.stdout.strip()})", flush=True)
        openblas = "OpenBLAS" in blas
        torch_best = max(max(rows["PyTorch dense"].values()), max(rows["PyTorch sparse"].values()))
        load = open("/proc/loadavg").read().split()[0]
        lines = ["## GCN (bench/gcn/gcn.py)", "",
                 f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, `/usr/bin/python3 bench/gcn/gcn.py --reps {a.reps} "
                 f"--nodes {a.nodes} --epochs {a.epochs} --dense-epochs {a.dense_epochs}`; load average after: {load} (a 2-vCPU machine shared with "
                 f"other jobs: measured under load).  {gen}.  Epochs per second of the two-layer GCN of "
                 "examples/lecture10/sbm/gcn_sparse.nn (8 -> 16 -> 4, full batch, Adam), best of "
                 f"{a.reps}, over {a.epochs} epochs ({a.dense_epochs} dense) after the first (nnc) or after 5 warm-up "
                 "epochs (PyTorch "
                 + torch_version() + f", bench/gcn/torch_gcn.py, on {blas}).  Ratio: against PyTorch at its best "
                 "(the faster of dense and sparse, 1 and 2 threads).", "",
                 "| run | 1 thread | 2 threads | best / PyTorch best | target |", "|---|---|---|---|---|"]
        for name, best in rows.items():
            ratio = max(best.values()) / torch_best
            cell = f"{ratio:.2f}×" if openblas else "no ratio (PyTorch without OpenBLAS)"
            if name == "nnc sparse" and openblas:
                cell += " ✓" if ratio >= 2 else " ✗"
            lines.append(f"| {name} | {best[1]:.1f} | {best[2]:.1f} | {cell} | {'≥ 2×' if name == 'nnc sparse' else ''} |")
        text = "\n".join(lines)
        print("\n" + text)
        if not a.no_results:
            print(f"wrote the GCN section of {replace_section('GCN', text)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
