#!/usr/bin/env python3
"""safetensors_check.py — cross-checks libnnrt's safetensors files in pure
Python (struct + json; no safetensors package), and against torch.frombuffer
when torch is importable.

  1. test_ckpt --write F: parse F by the format's rules and compare every
     dtype, shape, value and metadata entry with the reference checkpoint.
  2. Write a file the way the reference implementation does (compact JSON,
     space padding, data in dtype-alignment order, header keys sorted) and
     check that `test_ckpt --dump` reads back the same tensors.

Usage: safetensors_check.py PATH/TO/test_ckpt
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

FMT = {"F32": ("f", 4), "F64": ("d", 8), "I32": ("i", 4), "U8": ("B", 1)}

# Must match sample_tensors() in test_ckpt.c.
EXPECT = {
    "w": ("F32", [2, 4], [i * 0.5 - 1 for i in range(8)]),
    "b": ("F64", [3], [i / 3 for i in range(3)]),
    "step": ("I32", [], [42]),
    "mask": ("U8", [5], [i * 50 for i in range(5)]),
    "empty": ("F32", [0, 3], []),
}
EXPECT_META = {"epoch": "7", "nnc": "0.1.0"}


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    raw = data[8 : 8 + n]
    assert raw.startswith(b"{") and raw.rstrip(b" ").endswith(b"}"), "header padding"
    header = json.loads(raw.decode("utf-8"))
    meta = header.pop("__metadata__", {})
    body = data[8 + n :]
    tensors, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        assert set(info) == {"dtype", "shape", "data_offsets"}, info
        b, e = info["data_offsets"]
        assert b == end, f"{name}: gap or overlap at {b}"
        end = e
        code, size = FMT[info["dtype"]]
        count = math.prod(info["shape"])
        assert e - b == count * size, f"{name}: {e - b} bytes for {count} elements"
        vals = list(struct.unpack(f"<{count}{code}", body[b:e]))
        tensors[name] = (info["dtype"], info["shape"], vals, body[b:e])
    assert end == len(body), "trailing data"
    return tensors, meta


def torch_check(tensors):
    try:
        import torch
    except Exception:
        print("torch not importable: skipping the torch.frombuffer check")
        return
    tdt = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "U8": torch.uint8}
    for name, (dt, shape, vals, raw) in tensors.items():
        if not vals:
            continue
        t = torch.frombuffer(bytearray(raw), dtype=tdt[dt]).reshape(shape)
        want = torch.tensor(vals, dtype=tdt[dt]).reshape(shape)
        assert torch.equal(t, want), f"torch: {name}: {t} != {want}"
    print("torch.frombuffer agrees")


def write_reference_style(path, tensors, meta):
    """Data ordered by (alignment desc, name) as safetensors.torch does."""
    order = sorted(tensors, key=lambda k: (-FMT[tensors[k][0]][1], k))
    header, body = {"__metadata__": meta}, b""
    for name in order:
        dt, shape, vals = tensors[name]
        code, _ = FMT[dt]
        chunk = struct.pack(f"<{len(vals)}{code}", *vals)
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(body), len(body) + len(chunk)]}
        body += chunk
    text = json.dumps(dict(sorted(header.items())), separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        # 1. libnnrt writes, Python reads.
        p = os.path.join(d, "nnrt.safetensors")
        subprocess.run([exe, "--write", p], check=True)
        tensors, meta = read_safetensors(p)
        assert meta == EXPECT_META, meta
        assert list(tensors) != [], "no tensors"
        assert set(tensors) == set(EXPECT), sorted(tensors)
        for name, (dt, shape, vals) in EXPECT.items():
            got = tensors[name]
            assert (got[0], got[1], got[2]) == (dt, shape, vals), f"{name}: {got[:3]}"
        torch_check(tensors)

        # 2. Python writes (reference style), libnnrt reads.
        ref = {
            "layer.weight": ("F32", [3, 2], [0.5, -1.25, 3.0, 4.5, -0.0, 1e-3]),
            "bias": ("F64", [2], [1 / 7, -2.5]),
            "labels": ("I32", [4], [-5, 0, 7, 2147483647]),
            "img": ("U8", [2, 2], [0, 255, 17, 128]),
            "scalar": ("F32", [], [2.0]),
        }
        q = os.path.join(d, "ref.safetensors")
        write_reference_style(q, ref, {"format": "pt"})
        out = subprocess.run([exe, "--dump", q], check=True, capture_output=True, text=True).stdout
        got = {}
        for line in out.splitlines():
            parts = line.split()
            if parts[0] == "meta":
                got["meta " + parts[1]] = parts[2]
                continue
            name, dt, shape = parts[1], parts[2], json.loads(parts[3])
            conv = int if dt in ("I32", "U8") else float
            got[name] = (dt, shape, [conv(v) for v in parts[4:]])
        assert got.pop("meta format") == "pt", got
        for name, (dt, shape, vals) in ref.items():
            g = got.get(name)
            if dt == "F32":  # %.9g identifies a float32: compare after rounding both
                f32 = lambda xs: list(struct.unpack(f"<{len(xs)}f", struct.pack(f"<{len(xs)}f", *xs)))
                vals, g = f32(vals), (g[0], g[1], f32(g[2])) if g else g
            assert g == (dt, shape, vals), f"{name}: got {g}, want {(dt, shape, vals)}"
        assert set(got) == set(ref), sorted(got)
    print("safetensors_check: OK")


if __name__ == "__main__":
    main()
