#!/usr/bin/python3
"""check.py MODE ... — the two halves of torch_detect.sh, with Python's
standard library only:
  check.py start TEMPLATE OUT    OUT = TEMPLATE (a checkpoint nnc saved) with
                                 the reference's parameters, at epoch 0, step 0
  check.py compare W0 W1 LOSS    the parameters moved by the reference gradient
                                 (W0 - W1, SGD with lr = 1) and the printed
                                 loss equal torchvision's to 1e-5
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import safetensors_io  # tests/e2e/safetensors_io.py

here = os.path.dirname(os.path.abspath(__file__))
ref = json.load(open(os.path.join(here, "reference.json")))
TOL = 1e-5


def read(path):
    return safetensors_io.read(path, "F64")


def write(path, meta, ts):
    safetensors_io.write(path, meta, ts, "F64")


if sys.argv[1] == "start":
    meta, ts = read(sys.argv[2])
    for name, vals in ref["params"].items():
        assert len(ts[name][1]) == len(vals), name
        ts[name][1] = vals
    meta["epoch"] = meta["step"] = "0"
    write(sys.argv[3], meta, ts)
    sys.exit(0)

_, w0 = read(sys.argv[2])
_, w1 = read(sys.argv[3])
bad = 0
for name, g in sorted(ref["grads"].items()):
    d = [a - b for a, b in zip(w0[name][1], w1[name][1])]
    err = max(abs(a - b) for a, b in zip(d, g))
    what = "forward" if name[0] == "W" else "gradient"
    op = "box_iou" if name[0] == "B" or name == "WI" else "nms" if name == "WN" else \
        {"A": "roi_align", "B": "roi_align aligned", "P": "roi_pool"}[name[1]]
    print("%-3s (%s of %s) max |nnc - torchvision| = %.2e over %d values" % (name, what, op, err, len(g)))
    bad += err > TOL
loss = float(sys.argv[4])
print("loss nnc %.9g torchvision %.9g" % (loss, ref["loss"]))
bad += abs(loss - ref["loss"]) > TOL * max(1, abs(ref["loss"]))
sys.exit(1 if bad else 0)
