#!/usr/bin/python3
"""weights.py CKPT NAME... — how many of a weight matrix's entries are
(nearly) zero, from an nnc checkpoint (safetensors), with Python's standard
library only: per name, the fraction with |w| < 1e-3 and < 1e-2, and a
histogram of log10 |w| (one '#' per 1% of the entries)."""
import json, math, struct, sys

raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
for name in sys.argv[2:]:
    e = head[name]
    b, end = e["data_offsets"]
    w = struct.unpack("<%df" % ((end - b) // 4), raw[8 + n + b:8 + n + end])
    tiny = sum(abs(v) < 1e-3 for v in w) / len(w)
    small = sum(abs(v) < 1e-2 for v in w) / len(w)
    print("%s %s: %d weights, |w| < 1e-3: %.1f%%, |w| < 1e-2: %.1f%%" % (sys.argv[1].split("/")[-1], name, len(w), 100 * tiny, 100 * small))
    bins = {}
    for v in w:
        k = max(-6, min(0, math.floor(math.log10(abs(v))))) if v else -6
        bins[k] = bins.get(k, 0) + 1
    for k in range(-6, 1):
        frac = bins.get(k, 0) / len(w)
        label = "< 1e-5" if k == -6 else "1e%d" % k
        print("  %-7s %5.1f%% %s" % (label, 100 * frac, "#" * round(100 * frac)))
