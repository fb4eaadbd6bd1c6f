#!/usr/bin/python3
"""bench/lstm/lstm.py — the character-level LSTM (issue 15's benchmark): nnc
against torch.nn.LSTM side by side on this machine, and nnc's compile time
against the sequence length T.

Training rate: charlstm.nn (hidden 256, embedding 64, vocabulary 96, T = 64,
batch 32, Adam) and its PyTorch twin torch_lstm.py, one epoch over the same
N random sequences, in tokens/s (N * T over the time between the
train_start and train_end marks; PyTorch's warm-up steps excluded), best of
--reps runs.  nnc runs on 1 and 2 threads; PyTorch on 1 thread and on 2
threads with OMP_WAIT_POLICY=PASSIVE, and its best is the one compared
(issue 24: the fastest honest twin).  It refuses to report a ratio when
PyTorch did not load OpenBLAS (Debian's reference BLAS would flatter nnc).
Compile time: `nnc build` of charlstm.nn with T = 16, 64, 256, 1024, wall
seconds, best of --reps, with the loop unrolled (`--unroll`: grows with T)
and kept as a loop (`--scan`, the default: flat in T).  --compile-only
prints that table alone (and touches nothing).

Writes a table to stdout and replaces the section "## LSTM language model"
of bench/RESULTS.md (bench.py keeps it when it rewrites the file).
usage: bench/lstm/lstm.py [--nnc build/compiler/nnc] [--reps 3] [--n 640] [--no-results] [--compile-only]
"""
import argparse, os, platform, re, shutil, sys, tempfile, time, random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from results_io import replace_section, run as run_or_stop, save_i32, torch_settings, torch_version  # noqa: E402


def marks(stderr):
    m = dict(re.findall(r"bench: (\w+)_unix=([0-9.]+)", stderr))
    return float(m["train_end"]) - float(m["train_start"])


def run(cmd, cwd, env):
    return run_or_stop("lstm.py", cmd, env, cwd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "compiler", "nnc"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=640, help="sequences per epoch (a multiple of 32)")
    ap.add_argument("--no-results", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--compile-only", action="store_true", help="only the compile-time table (stdout)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nnc-lstm-bench.")
    load0 = open("/proc/loadavg").read().split()[0]
    try:
        T = 64
        rng = random.Random(0)
        ids = [rng.randrange(96) for _ in range(a.n * T + 1)]
        save_i32(os.path.join(work, "x.npy"), a.n, T, ids[:-1])
        save_i32(os.path.join(work, "y.npy"), a.n, T, ids[1:])
        src = open(os.path.join(HERE, "charlstm.nn")).read()
        # compile time against T
        compile_rows = []
        for t in (16, 64, 256, 1024):
            path = os.path.join(work, f"charlstm{t}.nn")
            with open(path, "w") as f:
                f.write(re.sub(r"const T = \d+;", f"const T = {t};", src))
            row = [t]
            for how in ("unroll", "scan"):
                out = os.path.join(work, f"charlstm{t}" + ("" if how == "unroll" else "-scan"))
                best = None
                for _ in range(a.reps):
                    t0 = time.time()
                    run([a.nnc, "build", f"--{how}", path, "-o", out], work, {})
                    dt = time.time() - t0
                    best = dt if best is None else min(best, dt)
                row += [best, os.path.getsize(out)]
                print(f"compile T={t} --{how}: {best:.2f} s, executable {os.path.getsize(out) / 1e6:.1f} MB", flush=True)
            compile_rows.append(tuple(row))
        compile_lines = ["Compile time against the sequence length (`nnc build`, wall, best of "
                         f"{a.reps}; load average before: {load0}; target: flat, <= 1 s): the loop unrolled "
                         "(`--unroll`) grows with T, kept as a loop (`--scan`, the default) does not:", "",
                         "| T | unrolled s | MB | scan s | MB |", "|---|---|---|---|---|"]
        compile_lines += [f"| {t} | {u:.2f} | {ub / 1e6:.1f} | {sc:.2f} | {sb / 1e6:.1f} |" for t, u, ub, sc, sb in compile_rows]
        if a.compile_only:
            print("\n" + "\n".join(compile_lines))
            return
        exe = os.path.join(work, "charlstm64-scan")
        tokens = (a.n // 32) * 32 * T
        # interleaved rounds: every setting of both sides once per round, so
        # the VM's drift falls on both alike
        nnc, torch_rates, blas, setting, blas_rate = {}, {}, "", {}, 0
        settings = torch_settings()
        for _ in range(a.reps):
            for th in (1, 2):
                p = run([exe, "train", "--quiet", "--threads", str(th)], work, {"NNRT_BENCH": "1"})
                nnc[th] = max(nnc.get(th, 0), tokens / marks(p.stderr))
            for label, th, env in settings:
                p = run(["/usr/bin/python3", os.path.join(HERE, "torch_lstm.py"), work, "--threads", str(th)], work, env)
                rate = tokens / marks(p.stderr)
                if rate > torch_rates.get(th, 0):
                    torch_rates[th], setting[th] = rate, label
                    if rate >= blas_rate:
                        blas_rate, blas = rate, re.findall(r"^blas: (.*)$", p.stderr, re.M)[0]
        for th in (1, 2):
            print(f"{th} thread(s): nnc {nnc[th]:,.0f}, PyTorch {torch_rates[th]:,.0f} tokens/s ({setting[th]})", flush=True)
        openblas = "OpenBLAS" in blas
        best_torch = max(torch_rates.values())
        lines = [
            "## LSTM language model (bench/lstm/lstm.py)",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, `/usr/bin/python3 bench/lstm/lstm.py --reps {a.reps} --n {a.n}`; "
            f"load average before: {open('/proc/loadavg').read().split()[0]}.  "
            "Character-level LSTM, hidden 256, embedding 64, vocabulary 96, T = 64, batch 32, Adam; "
            f"one epoch of {a.n} random sequences; best of {a.reps} interleaved rounds.  PyTorch "
            + torch_version()
            + f" (nn.Embedding, nn.LSTM over the sequence, one Linear over all steps) on {blas}.",
            "",
            "| threads | nnc tokens/s | PyTorch tokens/s | PyTorch's fastest setting |",
            "|---|---|---|---|",
            f"| 1 | {nnc[1]:,.0f} | {torch_rates[1]:,.0f} | {setting[1]} |",
            f"| 2 | {nnc[2]:,.0f} | {torch_rates[2]:,.0f} | {setting[2]} |",
            "",
        ]
        if openblas:
            lines.append(f"Ratio nnc (best) / PyTorch (best): **{max(nnc.values()) / best_torch:.2f}x** (target: >= 2x).")
        else:
            lines.append("No ratio: PyTorch did not load OpenBLAS (install libopenblas0-pthread).")
        lines += [""] + compile_lines
        text = "\n".join(lines)
        print("\n" + text)
        if not a.no_results:
            path = replace_section("LSTM language model", text)
            print(f"wrote the LSTM section of {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
