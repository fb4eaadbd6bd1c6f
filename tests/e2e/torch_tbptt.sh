#!/bin/sh
# torch_tbptt.sh — a state carried across batches (LANGUAGE.md 5.3) is
# truncated BPTT as PyTorch users write it: tests/e2e/torch_tbptt/tbptt.nn,
# started from the weights of reference.json (make_reference.py, Debian's
# python3-torch), trains to PyTorch's per-epoch losses (to the 9 digits
# --log prints) and final weights (1e-12, f64): streams of batches, the
# hidden state carried detached, reset every epoch.  The reference also
# holds the losses without the carry, which differ, so the carry is what
# is checked.  Also: a --resume checkpoint has no carried state in it, and
# a carried state with fewer samples than streams is a run-time error.
# usage: torch_tbptt.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_tbptt
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-tbptt.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build $dir/tbptt.nn -o "$tmp/t" || fail "build"
"$tmp/t" train --epochs 0 --save "$tmp/template.st" >/dev/null || fail "initial checkpoint"
python3 - "$dir/reference.json" "$tmp" <<'PY' || fail "writing the reference weights"
import json, sys
sys.path.insert(0, "tests/e2e")
import safetensors_io as io
ref = json.load(open(sys.argv[1]))
meta, ts = io.read(sys.argv[2] + "/template.st", "F64")
assert sorted(ts) == sorted(ref["params"]), ("a carried state was saved?", sorted(ts))
for k, v in ref["params"].items():
    ts[k][1] = v
io.write(sys.argv[2] + "/w0.st", meta, ts, "F64")
PY
"$tmp/t" train --quiet --resume "$tmp/w0.st" --save "$tmp/w1.st" --log "$tmp/log.csv" >/dev/null || fail "train"
python3 - "$dir/reference.json" "$tmp" <<'PY' || fail "differs from PyTorch"
import csv, json, sys
sys.path.insert(0, "tests/e2e")
import safetensors_io as io
ref = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2] + "/log.csv")))
got = [float(r["loss"]) for r in rows]
assert len(got) == len(ref["losses"]), got
worst = max(abs(a - b) / abs(b) for a, b in zip(got, ref["losses"]))
assert worst < 1e-8, ("epoch losses", got, ref["losses"])
_, w = io.read(sys.argv[2] + "/w1.st", "F64")
werr = max(abs(a - b) for k, v in ref["final"].items() for a, b in zip(w[k][1], v))
assert werr < 1e-12, ("final weights differ by", werr)
gap = max(abs(a - b) for a, b in zip(ref["losses"], ref["losses_without_carry"]))
print("ok: losses %s agree to %.1e (without the carry they would differ by %.1e), weights to %.1e"
      % (["%.9g" % l for l in got], worst, gap, werr))
PY
"$tmp/t" train --batch 13 >/dev/null 2>"$tmp/err" && fail "13 streams of 12 samples accepted"
grep -q "^error: the state 'h' is carried from step to step, so every batch is 13 streams, but there are only 12 training samples" "$tmp/err" ||
  { cat "$tmp/err"; fail "message for too few samples"; }
echo PASS
