#!/usr/bin/python3
"""check.py MODE ... — the two halves of torch_gan.sh (and torch_kstep.sh,
with REF=tests/e2e/torch_kstep/reference.json), with Python's standard
library only:
  check.py start TEMPLATE OUT          OUT = TEMPLATE (a checkpoint nnc saved)
                                       with the reference's weights, at epoch
                                       0, step 0
  check.py compare W1 D_LOSS G_LOSS    the weights after the step and both
                                       printed losses equal PyTorch's to 1e-5
                                       (REF: another reference.json)
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import safetensors_io  # tests/e2e/safetensors_io.py

here = os.path.dirname(os.path.abspath(__file__))
ref = json.load(open(os.environ.get("REF", os.path.join(here, "reference.json"))))
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

_, w1 = read(sys.argv[2])
bad = 0
for name, want in ref["after"].items():
    moved = max(abs(a - b) for a, b in zip(want, ref["params"][name]))
    err = max(abs(a - b) for a, b in zip(w1[name][1], want))
    print("%-8s max |nnc - torch| = %.2e after the step (moved by up to %.2e)" % (name, err, moved))
    bad += err > TOL or moved < 1e-3  # every layer must have moved: a skipped update fails
for i, key in enumerate(("d_loss", "g_loss")):
    loss = float(sys.argv[3 + i])
    print("%s nnc %.7g torch %.7g" % (key, loss, ref[key]))
    bad += abs(loss - ref[key]) > TOL
sys.exit(1 if bad else 0)
