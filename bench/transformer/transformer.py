#!/usr/bin/python3
"""bench/transformer/transformer.py — issue 16's benchmark: encoder.nn (a
2-layer transformer encoder, d = 128, 4 heads, feed-forward 512, sequences
of 64, batch 32, Adam) against torch.nn.TransformerEncoder of the same size
(torch_encoder.py), side by side on this machine, in tokens per second over
one epoch of --n random sequences, the first 3 steps (warm-up: oneDNN
generating its kernels, the first touch of the buffers) left out on both
sides (nnc: between its warm_end and train_end marks; PyTorch: after 3
warm-up steps).  nnc
runs on 1 and 2 threads; PyTorch on 1 thread and on 2 with
OMP_WAIT_POLICY=PASSIVE (and each with OPENBLAS_CORETYPE=SkylakeX where
OpenBLAS missed an AVX-512 CPU: results_io.torch_settings), and the fastest
is compared.  No ratio when PyTorch
did not load OpenBLAS.  Best of --reps rounds, each round running every
setting of both sides once (interleaved: the VM's drift falls on both).

Writes a table to stdout and replaces the section "## Transformer encoder"
of bench/RESULTS.md (bench.py keeps it when it rewrites the file).
usage: bench/transformer/transformer.py [--nnc build/compiler/nnc] [--reps 3] [--n 640] [--no-results]
"""
import argparse, os, platform, random, re, shutil, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from results_io import replace_section, run as run_or_stop, save_i32, torch_settings, torch_version  # noqa: E402


def run(cmd, cwd, env):
    return run_or_stop("transformer.py", cmd, env, cwd)


def seconds(p):
    m = dict(re.findall(r"bench: (\w+)_unix=([0-9.]+)", p.stderr))
    return float(m["train_end"]) - float(m.get("timed_start", m.get("warm_end")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "compiler", "nnc"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=640, help="sequences per epoch (a multiple of 32)")
    ap.add_argument("--no-results", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nnc-transformer-bench.")
    try:
        T, n = 64, a.n // 32 * 32
        if n < 4 * 32:
            sys.exit("transformer.py: --n must be at least 128 (3 warm-up batches of 32 and one timed)")
        rng = random.Random(0)
        save_i32(os.path.join(work, "x.npy"), n, T, [rng.randrange(96) for _ in range(n * T)])
        save_i32(os.path.join(work, "y.npy"), n, T, [rng.randrange(96) for _ in range(n * T)])
        exe = os.path.join(work, "encoder")
        t0 = time.time()
        run([a.nnc, "build", os.path.join(HERE, "encoder.nn"), "-o", exe], work, {})
        build_s = time.time() - t0
        # The runs interleave (each round: nnc on 1 and 2 threads, then each
        # PyTorch setting), so that the VM's drift (its speed moves by 2x over
        # minutes here) falls on both sides alike; each round also gives a
        # ratio of its own.
        nnc, tr, rounds = {}, {}, []
        settings = torch_settings()
        for r in range(a.reps):
            got_nnc, got_torch = 0, 0
            for th in (1, 2):
                rate = (n - 3 * 32) * T / seconds(run([exe, "train", "--quiet", "--threads", str(th)], work, {"NNRT_BENCH": "1"}))
                nnc[th] = max(nnc.get(th, 0), rate)
                got_nnc = max(got_nnc, rate)
            for label, th, env in settings:
                p = run(["/usr/bin/python3", os.path.join(HERE, "torch_encoder.py"), work, "--threads", str(th)], work, env)
                rate = int(re.search(r"timed_tokens=(\d+)", p.stdout).group(1)) / seconds(p)
                core = re.findall(r"^blas: (.*)$", p.stderr, re.M)[0]
                if rate > tr.get(th, (0,))[0]:
                    tr[th] = (rate, label, core)
                got_torch = max(got_torch, rate)
            rounds.append(got_nnc / got_torch)
            print(f"round {r + 1}: nnc {got_nnc:,.0f}, PyTorch {got_torch:,.0f} tokens/s (best of each side): "
                  f"{rounds[-1]:.2f}x", flush=True)
        for th in (1, 2):
            print(f"nnc   {th} thread(s): {nnc[th]:,.0f} tokens/s; PyTorch {tr[th][0]:,.0f} ({tr[th][1]})", flush=True)
        blas = max(tr.values())[2]
        ratio = max(nnc.values()) / max(tr.values())[0]
        lines = ["## Transformer encoder (bench/transformer/transformer.py)", "",
                 f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, `/usr/bin/python3 bench/transformer/transformer.py "
                 f"--reps {a.reps} --n {a.n}`; load average before: {open('/proc/loadavg').read().split()[0]}.  Two post-norm "
                 "encoder layers (d = 128, 4 heads, feed-forward 512, dropout 0), learned positions, a linear head over "
                 f"96 ids, T = 64, batch 32, Adam; one epoch of {n} random sequences, best of {a.reps} interleaved rounds; `nnc build` "
                 f"{build_s:.2f} s.  PyTorch "
                 + torch_version()
                 + f" (nn.TransformerEncoder, no per-step sync) on {blas} (the fastest setting's); 3 warm-up steps excluded on both sides.", "",
                 "| threads | nnc tokens/s | PyTorch tokens/s (fastest setting) | PyTorch setting |", "|---|---|---|---|",
                 f"| 1 | {nnc[1]:,.0f} | {tr[1][0]:,.0f} | {tr[1][1]} |",
                 f"| 2 | {nnc[2]:,.0f} | {tr[2][0]:,.0f} | {tr[2][1]} |", ""]
        if "OpenBLAS" in blas:
            rs = sorted(rounds)
            lines.append(f"Ratio nnc (best) / PyTorch (best): **{ratio:.2f}x**; the rounds' own ratios (each round's best "
                         f"of nnc against its best of PyTorch): {', '.join(f'{x:.2f}' for x in rounds)} "
                         f"(median {rs[len(rs) // 2]:.2f}).")
        else:
            lines.append("No ratio: PyTorch did not load OpenBLAS (install libopenblas0-pthread).")
        text = "\n".join(lines)
        print("\n" + text)
        if not a.no_results:
            path = replace_section("Transformer encoder", text)
            print(f"wrote the transformer section of {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
