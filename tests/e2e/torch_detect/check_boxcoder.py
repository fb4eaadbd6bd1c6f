#!/usr/bin/python3
"""check_boxcoder.py MODE ... — the two halves of torch_boxcoder.sh, with
Python's standard library only:
  check_boxcoder.py start TEMPLATE OUT   OUT = TEMPLATE (a checkpoint nnc
                                         saved) with boxcoder.json's
                                         parameters, at epoch 0, step 0
  check_boxcoder.py compare W0 W1 LOSS   the parameters moved by the
                                         gradient ((W0 - W1) / lr, SGD, lr = 2^-20) and
                                         the printed loss equal torchvision's
                                         to 1e-5 (relative for the loss)
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import safetensors_io  # tests/e2e/safetensors_io.py

here = os.path.dirname(os.path.abspath(__file__))
ref = json.load(open(os.path.join(here, "boxcoder.json")))
TOL = 1e-5
WHAT = {"G": "d/dG of box_encode", "A": "d/dA of box_encode and box_decode",
        "D": "d/dD of box_decode", "X": "d/dX of smooth_l1", "WE": "box_encode",
        "WD": "box_decode (10, 10, 5, 5)", "WR": "box_decode (1, 1, 1, 1)",
        "WS": "smooth_l1", "WN": "anchor_grid"}

if sys.argv[1] == "start":
    meta, ts = safetensors_io.read(sys.argv[2], "F64")
    for name, vals in ref["params"].items():
        assert len(ts[name][1]) == len(vals), name
        ts[name][1] = vals
    meta["epoch"] = meta["step"] = "0"
    safetensors_io.write(sys.argv[3], meta, ts, "F64")
    sys.exit(0)

_, w0 = safetensors_io.read(sys.argv[2], "F64")
_, w1 = safetensors_io.read(sys.argv[3], "F64")
bad = 0
for name, g in sorted(ref["grads"].items()):
    d = [(a - b) * 2 ** 20 for a, b in zip(w0[name][1], w1[name][1])]  # lr = 2^-20
    err = max(abs(a - b) for a, b in zip(d, g))
    print("%-3s %-34s max |nnc - torch| = %.2e over %d values" % (name, WHAT[name], err, len(g)))
    bad += err > TOL
loss = float(sys.argv[4])
print("loss nnc %.12g torch %.12g" % (loss, ref["loss"]))
bad += abs(loss - ref["loss"]) > TOL * max(1, abs(ref["loss"]))
sys.exit(1 if bad else 0)
