#!/usr/bin/env python3
"""ckpt_edit.py IN OUT EDIT... — rewrite a safetensors checkpoint for the
corruption tests (runtime.sh ckpt-meta).  The result is well-formed
safetensors; only what the runtime makes of it is under test.  EDITs:
  meta:KEY=VALUE   set a metadata string      meta:KEY=-   delete it
  drop:NAME        remove a tensor            rename:OLD=NEW
  nan:NAME         its first element becomes NaN (F32/F64)
  f64:NAME         an F32 tensor stored as F64 (same values)
"""
import json, struct, sys

src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
body = raw[8 + n:]
meta = head.pop("__metadata__", {})
tensors = {}
for name, e in head.items():
    b, end = e["data_offsets"]
    tensors[name] = [e["dtype"], e["shape"], bytearray(body[b:end])]
for ed in edits:
    kind, arg = ed.split(":", 1)
    if kind == "meta":
        k, v = arg.split("=", 1)
        if v == "-":
            meta.pop(k, None)
        else:
            meta[k] = v
    elif kind == "drop":
        del tensors[arg]
    elif kind == "rename":
        old, new = arg.split("=", 1)
        tensors[new] = tensors.pop(old)
    elif kind == "nan":
        t = tensors[arg]
        t[2][0:4 if t[0] == "F32" else 8] = struct.pack("<f" if t[0] == "F32" else "<d", float("nan"))
    elif kind == "f64":
        t = tensors[arg]
        vals = struct.unpack("<%df" % (len(t[2]) // 4), bytes(t[2]))
        t[0], t[2] = "F64", bytearray(struct.pack("<%dd" % len(vals), *vals))
    else:
        sys.exit("unknown edit " + ed)
out, data = {"__metadata__": meta} if meta else {}, b""
for name, (dt, shape, b) in tensors.items():
    out[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
    data += bytes(b)
h = json.dumps(out, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
open(dst, "wb").write(struct.pack("<Q", len(h)) + h + data)
