"""safetensors_io.py — reading and writing the checkpoints nnc saves
(safetensors: an 8-byte header length, a JSON header, the tensors' bytes)
with Python's standard library only, for the checks against PyTorch
(torch_check.py, torch_detect/, torch_gan/, torch_optim/).

read(path, dtype) -> (metadata, {name: [shape, values]}); every tensor must
be of dtype ("F32" or "F64").  write(path, metadata, tensors, dtype) writes
them back the same way."""
import json, struct

FORMATS = {"F32": ("f", 4), "F64": ("d", 8)}


def read(path, dtype):
    code, size = FORMATS[dtype]
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__", {})
    body = raw[8 + n:]
    ts = {}
    for name, e in head.items():
        b, end = e["data_offsets"]
        assert e["dtype"] == dtype, (name, e["dtype"])
        ts[name] = [e["shape"], list(struct.unpack("<%d%s" % ((end - b) // size, code), body[b:end]))]
    return meta, ts


def write(path, meta, ts, dtype):
    code, _ = FORMATS[dtype]
    head, body = {"__metadata__": meta}, b""
    for name, (shape, vals) in ts.items():
        data = struct.pack("<%d%s" % (len(vals), code), *vals)
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + body)
