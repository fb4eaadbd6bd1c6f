"""The benchmark harness behind bench/run.sh: nnc and PyTorch side by side.

For each workload (XOR 2-4-1, full batch, SGD+momentum, 2000 steps; the
Fashion-MNIST MLP 784-256-256-10, batch 128, Adam 1e-3, one epoch; LeNet-5
on Fashion-MNIST, batch 64, SGD lr 0.05 momentum 0.9, one pass over the
first --limit training samples, `train --epochs 1 --limit N` on nnc's
side) and each thread count it runs nnc's executable (NNRT_BENCH=1) and
bench/torch_cpu.py, each REPS times under /usr/bin/time, and takes from
every run: the training rate (between the train_start and train_end
marks), the time from launching the process to the end of the first
training step, peak RSS, and the final metrics.  PyTorch runs twice: as
installed, and with OPENBLAS_CORETYPE=SkylakeX ("at its best" where its
BLAS is OpenBLAS).  It also times `nnc build -O2` and runs bench/gemm.
Rates are reported as best and median of REPS; the ratio table uses the
best of each side.  Writes the report to stdout and to --out; sections of
the old --out headed "GPU" or "LSTM" (written by the GPU benchmark and
bench/lstm/lstm.py, not by this script) are kept, appended after the new report.
usage: python3 bench.py --nnc NNC --gemm GEMM --work DIR [--threads "1 2"]
                        [--reps N] [--limit N] [--out RESULTS.md] [--command "..."]
"""
import argparse, os, platform, re, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH = ["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_cpu.py")]
EXAMPLES = {"xor": "examples/lecture02/xor.nn", "mlp": "examples/lecture02/fashion_mlp.nn",
            "lenet": "examples/lecture07/lenet5.nn"}
TARGETS = {  # issue 6, ratios nnc / PyTorch at its best (higher is better)
    "xor rate": 200, "mlp rate": 2, "lenet rate": 2, "first step": 10, "peak rss": 4}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd, env_extra, work):
    """Run cmd under /usr/bin/time; returns dict of marks, rss, last line."""
    env = dict(os.environ, NNRT_BENCH="1", **env_extra)
    rss_file = os.path.join(work, "rss")
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    marks = {m[0]: float(m[1]) for m in re.findall(r"bench: (\w+)_unix=([0-9.]+)", p.stderr)}
    blas = re.findall(r"^blas: (.*)$", p.stderr, re.M)
    with open(rss_file) as f:
        rss_kb = int(f.read().split()[-1])
    last = p.stdout.strip().splitlines()[-1]
    kv = dict(re.findall(r"(\w+)=(\S+)", last))
    return {"rate_s": marks["train_end"] - marks["train_start"],
            "first": marks["first_step"] - t0, "rss": rss_kb / 1024, "kv": kv,
            "blas": blas[0] if blas else ""}


def kept_sections(path):
    """The sections of an existing report written by the other benchmarks
    (a heading naming the GPU, or the LSTM of bench/lstm/lstm.py): each
    from its heading to the next heading of the same or a higher level."""
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    kept, level = [], 0  # level: the heading level of the section being kept, 0 if none
    fence = False
    for line in lines:
        if line.startswith("```"):
            fence = not fence
        h = None if fence else re.match(r"^(#{1,6})\s+(.*)$", line)
        if h and level and len(h.group(1)) <= level:
            level = 0
        if h and not level and re.search(r"\b(GPU|LSTM)\b", h.group(2)):
            level = len(h.group(1))
            kept.append([])
        if level:
            kept[-1].append(line)
    return ["\n".join(sec).rstrip() for sec in kept]


def summarise(runs, units):
    """units(run) -> the rate; best and median over the runs."""
    rates = [units(r) for r in runs]
    firsts = [r["first"] for r in runs]
    return {"best": max(rates), "median": statistics.median(rates),
            "first_best": min(firsts), "first_median": statistics.median(firsts),
            "rss": min(r["rss"] for r in runs), "kv": runs[-1]["kv"], "blas": runs[-1]["blas"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnc", required=True)
    ap.add_argument("--gemm", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--limit", type=int, default=10000,
                    help="LeNet-5: training samples in the timed pass (both sides)")
    ap.add_argument("--out")
    ap.add_argument("--command", default="bench/run.sh")
    a = ap.parse_args()
    load_before = loadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    out = []
    say = lambda s="": (out.append(s), print(s, flush=True))

    compile_s = {}
    exe = {}
    for name, src in EXAMPLES.items():
        exe[name] = os.path.join(a.work, name)
        ts = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            subprocess.run([a.nnc, "build", os.path.join(ROOT, src), "-O2", "-o", exe[name]],
                           check=True)
            ts.append(time.perf_counter() - t0)
        compile_s[name] = (min(ts), statistics.median(ts))

    results = {}
    sides = [("nnc", None), ("torch", {}), ("torch best", {"OPENBLAS_CORETYPE": "SkylakeX"})]
    for t in a.threads.split():
        for name in EXAMPLES:
            per = {}
            for side, env in sides:
                runs = []
                for _ in range(a.reps):
                    if side == "nnc":
                        cmd = [exe[name], "train", "--quiet", "--threads", t]
                        if name in ("mlp", "lenet"):
                            cmd += ["--epochs", "1"]
                        if name == "lenet":
                            cmd += ["--limit", str(a.limit)]
                        runs.append(run(cmd, {}, a.work))
                    else:
                        cmd = TORCH + [name, "--threads", t]
                        if name == "lenet":
                            cmd += ["--limit", str(a.limit)]
                        runs.append(run(cmd, env, a.work))
                if name == "xor":
                    per[side] = summarise(runs, lambda r: 2000 / r["rate_s"])
                elif name == "mlp":
                    per[side] = summarise(runs, lambda r: 60000 / r["rate_s"])
                else:
                    per[side] = summarise(runs, lambda r: a.limit / r["rate_s"])
            results[(name, t)] = per

    gemm = {}
    for t in a.threads.split():
        p = subprocess.run([a.gemm, "--threads", t], capture_output=True, text=True, check=True)
        gemm[t] = p.stdout.strip()

    load_after = loadavg()
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        cpu = m.group(1) if m else cpu
    flags = open("/proc/cpuinfo").read()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"

    say(f"# nnc vs PyTorch (CPU) — {started}")
    say()
    say(f"Machine: {cpu}, {os.cpu_count()} cores ({isa}); {platform.platform()}.  ")
    say(f"Load average (1/5/15 min) before: {load_before}; after: {load_after}.  ")
    say(f"Command: `{a.command}` ({a.reps} runs of each; best and median).  ")
    blas = next(iter(results.values()))["torch"]["blas"]
    say(f"PyTorch {subprocess.run(TORCH[:1] + ['-c', 'import torch; print(torch.__version__)'], capture_output=True, text=True).stdout.strip()}; its BLAS: {blas}.")
    say()
    for t in a.threads.split():
        x, m, le = results[("xor", t)], results[("mlp", t)], results[("lenet", t)]
        say(f"## {t} thread{'s' if t != '1' else ''}")
        say()
        say("| metric | nnc | PyTorch | PyTorch best | nnc / best | target |")
        say("|---|---|---|---|---|---|")

        def row(label, key, fmt, better_high, target):
            vals = [x_[key] for x_ in (d["nnc"], d["torch"], d["torch best"])]
            ratio = vals[0] / vals[2] if better_high else vals[2] / vals[0]
            ok = "" if target is None else (" ✓" if ratio >= target else " ✗")
            say(f"| {label} | " + " | ".join(fmt(v) for v in vals) +
                f" | {ratio:.2f}×{ok} | {'' if target is None else f'≥ {target}×'} |")

        d = x
        row("XOR steps/s, best", "best", lambda v: f"{v:,.0f}", True, TARGETS["xor rate"])
        row("XOR steps/s, median", "median", lambda v: f"{v:,.0f}", True, None)
        row("XOR start → first step, s (best)", "first_best", lambda v: f"{v:.3f}", False,
            TARGETS["first step"])
        row("XOR peak RSS, MB", "rss", lambda v: f"{v:.0f}", False, TARGETS["peak rss"])
        d = m
        row("MLP samples/s, best", "best", lambda v: f"{v:,.0f}", True, TARGETS["mlp rate"])
        row("MLP samples/s, median", "median", lambda v: f"{v:,.0f}", True, None)
        row("MLP start → first step, s (best)", "first_best", lambda v: f"{v:.3f}", False,
            TARGETS["first step"])
        row("MLP start → first step, s (median)", "first_median", lambda v: f"{v:.3f}", False,
            None)
        row("MLP peak RSS, MB", "rss", lambda v: f"{v:.0f}", False, TARGETS["peak rss"])
        accs = [m[s]["kv"].get("test_accuracy", "?") for s in ("nnc", "torch", "torch best")]
        say(f"| MLP test accuracy, 1 epoch | {accs[0]} | {accs[1]} | {accs[2]} | | same |")
        xl = [x[s]["kv"].get("loss", "?") for s in ("nnc", "torch", "torch best")]
        say(f"| XOR final loss | {xl[0]} | {xl[1]} | {xl[2]} | | |")
        d = le
        row("LeNet-5 samples/s, best", "best", lambda v: f"{v:,.0f}", True, TARGETS["lenet rate"])
        row("LeNet-5 samples/s, median", "median", lambda v: f"{v:,.0f}", True, None)
        row("LeNet-5 start → first step, s (best)", "first_best", lambda v: f"{v:.3f}", False,
            TARGETS["first step"])
        row("LeNet-5 peak RSS, MB", "rss", lambda v: f"{v:.0f}", False, TARGETS["peak rss"])
        accs = [le[s]["kv"].get("test_accuracy", "?") for s in ("nnc", "torch", "torch best")]
        say(f"| LeNet-5 test accuracy, {a.limit:,} samples | {accs[0]} | {accs[1]} | {accs[2]} "
            "| | |")
        say()
    say("## nnc compile time (`nnc build -O2`, best / median)")
    say()
    for name, (b, md) in compile_s.items():
        say(f"- {EXAMPLES[name]}: {b:.2f} s / {md:.2f} s (target ≤ 1 s: {'✓' if b <= 1 else '✗'})")
    say()
    say("## GEMM (bench/gemm: nnrt_sgemm, square, 10 calls)")
    say()
    say("```")
    for t, g in gemm.items():
        say(g)
    say("```")
    say("Target: ≥ 70% of the fp32 peak at 1024–2048 (pct_peak: against the nominal "
        "310 GFLOP/s for 2 cores, wall clock).  pct_fma_peak is against fma_peak_N, the "
        "FMA throughput this machine gave at that moment with no memory traffic at all "
        "(an upper bound no GEMM reaches).  cpu_pct_core is per CPU-second of the "
        "process against one core's nominal peak: what the kernel reaches when it is "
        "scheduled, independent of the load.")
    notes = os.path.join(ROOT, "bench", "analysis.md")  # threads and profile, by hand
    if os.path.exists(notes):
        say()
        with open(notes) as f:
            say(f.read().rstrip())
    if a.out:
        kept = kept_sections(a.out)  # read before the file is rewritten
        body = "\n".join(out).rstrip() + "\n"
        for sec in kept:
            body += "\n" + sec + "\n"
        with open(a.out, "w") as f:
            f.write(body)
        if kept:
            print(f"bench: kept {len(kept)} GPU/LSTM section(s) of the old {a.out}", flush=True)


main()
