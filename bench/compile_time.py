#!/usr/bin/env python3
"""compile_time.py — nnc build time against program size.

Generates programs of N stacked Dense layers (bench/gen_deep.py), builds
each once with NNC_TIME=1 and prints a Markdown table: the ops of the
training kernel, wall and CPU seconds of `nnc build`, its peak memory, and
the phases NNC_TIME reports.  A benchmark, not a test: the machine's load
is printed with it (wall time on a shared machine moves with it; CPU time
much less).  tests/e2e/deep.sh keeps the 300-layer path working.

usage: bench/compile_time.py [--nnc PATH] [N ...]     (default N: 100 300 1000 3000)
       without --nnc, builds nnc (Release) in $BUILD or build-bench/, as bench/run.sh does
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def build_nnc():
    build = os.environ.get("BUILD", os.path.join(ROOT, "build-bench"))
    subprocess.run(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "-j2", "--target", "nnc", "nnrt"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(build, "compiler", "nnc")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nnc")
    ap.add_argument("sizes", nargs="*", type=int, default=[100, 300, 1000, 3000])
    a = ap.parse_args()
    nnc = a.nnc or build_nnc()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"nnc build of bench/gen_deep.py N (width 8, adam); load average before: {load}")
    print()
    print("| layers | train-kernel ops | build, wall s | CPU s (user+sys) | peak RSS, MB | phases (NNC_TIME, wall ms) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nnc-ctime.") as work:
        for n in a.sizes:
            src = os.path.join(work, f"deep{n}.nn")
            with open(src, "w") as f:
                subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_deep.py"), str(n)], stdout=f,
                               check=True)
            fused = subprocess.run([nnc, "emit", "fused", src], capture_output=True, text=True, check=True).stdout
            m = re.search(r"^kernel train: (\d+) ops", fused, re.M)
            ops = m.group(1) if m else "?"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            r = subprocess.run([nnc, "build", src, "-o", os.path.join(work, f"deep{n}")], capture_output=True,
                               text=True, env=dict(os.environ, NNC_TIME="1"))
            wall = time.monotonic() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode:
                sys.exit(f"compile_time: nnc build of {n} layers failed:\n{r.stderr}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            phases = []
            for line in r.stderr.splitlines():
                p = re.match(r"nnc: time: (\S.*?)\s+([\d.]+) ms wall", line)
                if p:
                    phases.append(f"{p.group(1)} {float(p.group(2)):.0f}")
            print(f"| {n:,} | {ops} | {wall:.2f} | {cpu:.2f} | {after.ru_maxrss / 1024:.0f} | {', '.join(phases)} |",
                  flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(f"load average after: {load}")


if __name__ == "__main__":
    main()
