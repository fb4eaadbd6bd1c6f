"""bench/results_io.py — what the side benchmarks (lstm/, gen/, transformer/)
share: writing int32 .npy data for an nnc program to read, running a
command or stopping with its error, the PyTorch version, and replacing
their own section of bench/RESULTS.md (bench.py keeps those sections when
it rewrites the file)."""
import os, re, struct, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save_i32(path, rows, cols, vals):
    """A NumPy int32 array [rows, cols] (format 1.0) that `npy(...)` reads."""
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * (-(len(header) + 11) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%di" % len(vals), *vals))


def run(who, cmd, env, cwd=None):
    """cmd's completed process; stops the benchmark with its error output."""
    p = subprocess.run(cmd, cwd=cwd, env=dict(os.environ, **env), capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"{who}: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p


def torch_version():
    return subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True).stdout.strip()


def replace_section(heading, text, path=None):
    """Put text (which starts with '## ' + heading) in place of that section
    of RESULTS.md, or before the GPU section, or at the end."""
    path = path or os.path.join(ROOT, "bench", "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else ""
    sec = re.search(r"^## " + re.escape(heading) + r".*?(?=^## |\Z)", old, re.M | re.S)
    if sec:
        new = old[:sec.start()] + text + "\n\n" + old[sec.end():]
    else:
        gpu = re.search(r"^## GPU", old, re.M)
        new = old[:gpu.start()] + text + "\n\n" + old[gpu.start():] if gpu else old.rstrip() + "\n\n" + text + "\n"
    with open(path, "w") as f:
        f.write(new)
    return path
