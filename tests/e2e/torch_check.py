#!/usr/bin/python3
"""torch_check.py REF MODE ... — the two halves of the checks against
PyTorch (torch_lstm.sh, torch_transformer.sh), with Python's standard
library only.  REF is a reference.json a make_reference.py wrote: PyTorch's
weights and gradients under nnc's parameter names, and its loss.
  torch_check.py REF start TEMPLATE OUT    OUT = TEMPLATE (a checkpoint nnc
                                 saved) with the reference's weights, at
                                 epoch 0, step 0
  torch_check.py REF compare W0 W1 LOSS    the weights moved by the reference
                                 gradient (W0 - W1, SGD with lr = 1) and the
                                 printed loss equal the reference to 1e-5
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # tests/e2e/safetensors_io.py

ref = json.load(open(sys.argv.pop(1)))
TOL = 1e-5


def read(path):
    return safetensors_io.read(path, "F32")


def write(path, meta, ts):
    safetensors_io.write(path, meta, ts, "F32")


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
for name, g in ref["grads"].items():
    d = [a - b for a, b in zip(w0[name][1], w1[name][1])]
    err = max(abs(a - b) for a, b in zip(d, g))
    print("%-16s max |nnc - torch| = %.2e over %d gradients" % (name, err, len(g)))
    bad += err > TOL
loss = float(sys.argv[4])
print("loss nnc %.7g torch %.7g" % (loss, ref["loss"]))
bad += abs(loss - ref["loss"]) > TOL
sys.exit(1 if bad else 0)
