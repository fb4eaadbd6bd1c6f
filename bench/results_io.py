"""bench/results_io.py — what the side benchmarks (lstm/, gen/, transformer/)
share: writing int32 .npy data for an nnc program to read, running a
command or stopping with its error, PyTorch's settings and version, and replacing
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


def torch_blas():
    """The BLAS PyTorch loads here and the kernels it picked (torch_cpu.blas_info)."""
    code = ("import sys; sys.path.insert(0, %r); import torch; torch.ones(8, 8) @ torch.ones(8, 8); "
            "from torch_cpu import blas_info; print(blas_info())" % os.path.join(ROOT, "bench"))
    return subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True).stdout.strip()


def torch_settings():
    """PyTorch's settings for a side benchmark, as bench.py compares them:
    (label, threads, env) for 1 thread and for 2 threads with passive OpenMP
    waiting (with OpenBLAS's own threads and without: they compete with
    torch's); where this CPU has AVX-512 and OpenBLAS fell back to an older
    core (0.3.21 does not know Sapphire or Emerald Rapids and picks
    Prescott's kernels: a slow twin), each again with
    OPENBLAS_CORETYPE=SkylakeX.  The caller reports the fastest."""
    settings = [("1 thread", 1, {}), ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
                ("2 threads, OMP_WAIT_POLICY=PASSIVE, OPENBLAS_NUM_THREADS=1", 2,
                 {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"})]
    blas = torch_blas()
    if "OpenBLAS" in blas and "avx512f" in open("/proc/cpuinfo").read() \
            and "SkylakeX" not in blas and "Cooperlake" not in blas:
        settings += [(label + ", OPENBLAS_CORETYPE=SkylakeX", t, dict(env, OPENBLAS_CORETYPE="SkylakeX"))
                     for label, t, env in list(settings)]
    return settings


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
