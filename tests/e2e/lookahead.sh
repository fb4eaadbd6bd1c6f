#!/bin/sh
# lookahead.sh — nesterov's two forms (LANGUAGE.md 8.2, lecture 3's README):
# PyTorch's (the parameter kept is the look-ahead point φ) and the lecture's
# (lookahead = 1: θ kept, the gradient taken at θ − μv).  In f64, from the
# same weights and batches, the look-ahead points are the same sequence:
# every epoch's training loss (a loss at φ in both) agrees to the 9 digits
# --log prints, and at
# the end θ − μ·v of the lecture's form equals φ of PyTorch's, v = lr·b (b:
# PyTorch's rate-free velocity), to 1e-12.  Also: the two forms' final
# parameters differ (the option is not ignored), and a dampened or
# momentum-less look-ahead is a compile error.
# (With a schedule the two differ: the lecture's v carries the rates of past
# steps, PyTorch's velocity none.)
# usage: lookahead.sh NNC   (run from the repository root)
set -u
nnc=$1
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-lookahead.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

program() { # OPTIMIZER
  cat <<EOF2
data t {
  x: f64[3] = [[0.1, 0.9, -0.3], [0.4, 0.2, 0.5], [0.8, -0.5, 0.1], [0.3, 0.7, -0.9], [-0.6, 0.1, 0.4], [0.9, 0.3, 0.2],
               [0.2, -0.4, 0.6], [0.7, 0.8, -0.1]];
  y: f64[2] = [[1.0, 0.2], [0.6, -0.3], [1.3, 0.5], [1.0, 0.1], [0.7, -0.8], [1.2, 0.9], [0.6, 0.0], [1.5, -0.4]];
}
model M {
  param W1: f64[3, 8] = xavier_uniform;
  param b1: f64[8] = zeros;
  param W2: f64[8, 2] = xavier_uniform;
  param b2: f64[2] = zeros;
  fn forward(x: f64[B, 3]) -> f64[B, 2] { return tanh(x @ W1 + b1) @ W2 + b2; }
}
train M on t {
  loss = mean((forward(x) - y) * (forward(x) - y));
  optimizer = $1;
  epochs = 30;
  batch = 4;
  seed = 5;
}
EOF2
}

program "nesterov(lr = 0.05, momentum = 0.9, weight_decay = 0.001)" >"$tmp/torch.nn"
program "sgd(lr = 0.05, momentum = 0.9, nesterov = 1, lookahead = 1, weight_decay = 0.001)" >"$tmp/lecture.nn"
for f in torch lecture; do
  "$nnc" build "$tmp/$f.nn" -o "$tmp/$f" >"$tmp/err" 2>&1 || { cat "$tmp/err"; fail "nnc build $f"; }
  "$tmp/$f" train --quiet --log "$tmp/$f.csv" --save "$tmp/$f.st" >/dev/null || fail "train $f"
done
python3 - "$root/tests/e2e" "$tmp" <<'PY' || fail "the two forms disagree"
import csv, sys
sys.path.insert(0, sys.argv[1])
import safetensors_io as io
tmp = sys.argv[2]
rows = [list(csv.DictReader(open("%s/%s.csv" % (tmp, f)))) for f in ("torch", "lecture")]
assert len(rows[0]) == len(rows[1]) == 30, (len(rows[0]), len(rows[1]))
worst = 0.0
for a, b in zip(*rows):
    la, lb = float(a["loss"]), float(b["loss"])
    worst = max(worst, abs(la - lb) / max(1e-300, abs(la)))
assert worst < 1e-8, "epoch losses differ by %g (relative; the log prints 9 digits)" % worst
_, t = io.read(tmp + "/torch.st", "F64")
_, l = io.read(tmp + "/lecture.st", "F64")
names = [n for n in t if not n.startswith("__")]
vel = lambda ts, n: [k for k in ts if k.startswith("__opt__") and k.endswith("/0") and n in k]
diff = far = 0.0
for n in names:
    (v,) = vel(l, n)
    theta, phi = l[n][1], t[n][1]
    ahead = [th - 0.9 * vv for th, vv in zip(theta, l[v][1])]
    diff = max(diff, max(abs(a - p) for a, p in zip(ahead, phi)))
    far = max(far, max(abs(th - p) for th, p in zip(theta, phi)))
assert diff < 1e-12, "theta - mu v differs from PyTorch's phi by %g" % diff
assert far > 1e-6, "theta equals phi: lookahead had no effect (%g)" % far
print("ok: %d epochs, losses agree to %.1e, theta - mu*v = phi to %.1e (theta - phi up to %.1e)" % (len(rows[0]), worst, diff, far))
PY
for bad in "momentum(lr = 0.05, lookahead = 1)" "nesterov(lr = 0.05, dampening = 0.2, lookahead = 1)"; do
  program "$bad" >"$tmp/bad.nn"
  "$nnc" check "$tmp/bad.nn" >"$tmp/err" 2>&1 && fail "accepted: $bad"
  grep -q 'error: lookahead = 1' "$tmp/err" || { cat "$tmp/err"; fail "no lookahead error for: $bad"; }
done
echo "ok: the look-ahead form is the lecture's and PyTorch's nesterov in other coordinates"
