#!/usr/bin/python3
"""check.py MODE ... — the halves of torch_optim.sh, with Python's standard
library only:
  check.py list                 each optimizer setting of reference.json, one a line
  check.py start TEMPLATE OUT   OUT = TEMPLATE (a checkpoint nnc saved) with
                                the reference's starting weights
  check.py compare W OPTIMIZER  the weights W after the reference's steps equal
                                torch.optim's for that setting to TOL (relative
                                to max(1, |torch|))
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import safetensors_io  # tests/e2e/safetensors_io.py

here = os.path.dirname(os.path.abspath(__file__))
ref = json.load(open(os.path.join(here, "reference.json")))
TOL = 1e-12


def read(path):
    return safetensors_io.read(path, "F64")


def write(path, meta, ts):
    safetensors_io.write(path, meta, ts, "F64")


if sys.argv[1] == "list":
    for s in ref["settings"]:
        print(s["optimizer"])
    sys.exit(0)

if sys.argv[1] == "start":
    meta, ts = read(sys.argv[2])
    for name, vals in ref["start"].items():
        assert len(ts[name][1]) == len(vals), name
        ts[name][1] = vals
    write(sys.argv[3], meta, ts)
    sys.exit(0)

_, w = read(sys.argv[2])
want = [s for s in ref["settings"] if s["optimizer"] == sys.argv[3]][0]["weights"]
worst, moved = 0.0, 0.0
for name, t in want.items():
    got = w[name][1]
    assert len(got) == len(t), name
    worst = max([worst] + [abs(a - b) / max(1.0, abs(b)) for a, b in zip(got, t)])
    moved = max([moved] + [abs(b - a) for a, b in zip(ref["start"][name], t)])
print("%-70s max rel |nnc - torch| = %.1e (weights moved up to %.2g)" % (sys.argv[3], worst, moved))
sys.exit(0 if worst <= TOL and moved > 1e-3 else 1)
