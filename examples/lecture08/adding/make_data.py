#!/usr/bin/python3
"""make_data.py [OUT_DIR] — the adding problem (Hochreiter & Schmidhuber 1997)
as .npy files, with Python's standard library only.

Each sample is a sequence of T = 40 steps of two numbers: a value drawn
uniformly from [0, 1) and a marker, 1 at exactly two steps (one in the
first half, one in the second) and 0 elsewhere.  The target is the sum of
the two marked values.  Predicting the mean (1.0) scores an MSE of 1/6;
solving it means carrying the first marked value across up to 39 steps.
Writes x.npy [N, T, 2] and y.npy [N, 1] (N = 10000), test_x.npy and
test_y.npy (N = 1000), all float32, seeded: the same files every time.
"""
import os, random, struct, sys

T = 40


def save(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
    header += " " * (-(len(header) + 11) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % len(values), *values))


def make(n, rng):
    xs, ys = [], []
    for _ in range(n):
        vals = [rng.random() for _ in range(T)]
        a, b = rng.randrange(T // 2), rng.randrange(T // 2, T)
        for t in range(T):
            xs += [vals[t], 1.0 if t in (a, b) else 0.0]
        ys.append(vals[a] + vals[b])
    return xs, ys


out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(out, exist_ok=True)
rng = random.Random(8)
for prefix, n in (("", 10000), ("test_", 1000)):
    xs, ys = make(n, rng)
    save(os.path.join(out, prefix + "x.npy"), (n, T, 2), xs)
    save(os.path.join(out, prefix + "y.npy"), (n, 1), ys)
print(f"wrote {out}/x.npy, y.npy (10000 sequences of {T} steps), test_x.npy, test_y.npy (1000)")
