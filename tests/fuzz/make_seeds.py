#!/usr/bin/env python3
"""Write the small seed inputs of the reader fuzz targets to seeds/<target>/.

Run from anywhere; the files are committed, so this only needs re-running
when a format gains a feature worth seeding.  Deterministic: gzip mtime 0.
"""
import gzip, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(code, dims, payload):
    return struct.pack(">HBB", 0, code, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


put("idx", "u8_2x3", idx(0x08, [2, 3], bytes(range(6))))
put("idx", "labels_u8", idx(0x08, [4], bytes([0, 1, 2, 9])))
put("idx", "i16_3", idx(0x0B, [3], struct.pack(">3h", -1, 0, 300)))
put("idx", "i32_2", idx(0x0C, [2], struct.pack(">2i", -7, 7)))
put("idx", "f32_2x2", idx(0x0D, [2, 2], struct.pack(">4f", 0.5, -1, 2, 3)))
put("idx", "f64_1", idx(0x0E, [1], struct.pack(">d", 1.25)))
put("idx", "i8_rank0", idx(0x09, [], b""))
put("idx", "u8_gz", gzip.compress(idx(0x08, [2, 2, 2], bytes(range(8))), mtime=0))

# csv: first byte = options (bit 0 header, bits 1-3 label column, 7 none)
NONE = 7 << 1
put("csv", "plain", bytes([NONE]) + b"1,2,3\n4,5,6\n")
put("csv", "header", bytes([NONE | 1]) + b"a,b,label\n0.5,1e-3,1\n-2,3.5,0\n")
put("csv", "label0", bytes([0]) + b"3,0.1,0.2\n7,0.3,0.4\r\n")
put("csv", "label2_header", bytes([(2 << 1) | 1]) + b"x,y,l\n1,2,3\n4,5,6")
put("csv", "blank_lines", bytes([NONE]) + b"\n1 , 2\n\n3,4\n")


def npy(descr, shape, payload, version=1):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        descr, "(" + "".join("%d," % s for s in shape) + ")" if len(shape) != 1 else "(%d,)" % shape[0])
    hlen_field = 2 if version == 1 else 4
    pre = 6 + 2 + hlen_field
    total = pre + len(hdr) + 1
    pad = (64 - total % 64) % 64
    hdr = hdr + " " * pad + "\n"
    head = b"\x93NUMPY" + bytes([version, 0])
    head += struct.pack("<H" if version == 1 else "<I", len(hdr))
    return head + hdr.encode("latin1") + payload


put("npy", "f4_2x3", npy("<f4", [2, 3], struct.pack("<6f", *range(6))))
put("npy", "f8_3", npy("<f8", [3], struct.pack("<3d", 1, 2, 3)))
put("npy", "u1_4", npy("|u1", [4], bytes([1, 2, 3, 4])))
put("npy", "i8_2", npy("<i8", [2], struct.pack("<2q", -5, 5)))
put("npy", "i4_2x1", npy("<i4", [2, 1], struct.pack("<2i", 1, 2)))
put("npy", "scalar_v2", npy("<f4", [], struct.pack("<f", 3.0), version=2))
put("npy", "empty_v3", npy("<f4", [0, 3], b"", version=3))


def safetensors(tensors, meta=None):
    head, blob = {}, b""
    for name, dtype, shape, data in tensors:
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if meta is not None:
        head["__metadata__"] = meta
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob


put("safetensors", "two", safetensors(
    [("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), ("b", "F64", [1], struct.pack("<d", 0.5))],
    {"epoch": "3", "nnc": "0.1.0"}))
put("safetensors", "empty_tensor", safetensors([("e", "F32", [0, 3], b"")]))
put("safetensors", "ints", safetensors(
    [("i", "I32", [3], struct.pack("<3i", 1, 2, 3)), ("u", "U8", [2], b"\x01\x02")]))
put("safetensors", "scalar", safetensors([("s", "F32", [], struct.pack("<f", 1))], {}))
