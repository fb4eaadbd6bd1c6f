#!/bin/sh
# clip.sh — gradient-norm clipping (`clip_norm = X;`, runtime/optim.c):
#  1. against an explicit computation: a linear loss whose gradients are
#     known exactly (10·Σx for W, 3 for every V) takes one SGD step; the
#     checkpoint's parameters must be the bits python3 computes for
#     θ − lr·g·X/(‖g‖ + 1e-6) (the norm's square summed in the runtime's
#     order: NNRT_CLIP_PARTS partials, element i to partial i mod 256), and
#     −lr·g when X is above the norm;
#  2. the generated kernels (codegen/optim.c) against their C reference
#     (NNRT_OPT_REFERENCE=1): a small regression trained 5 epochs with
#     Adam in f32 and f64 gives the same checkpoint bytes, and clipping
#     changed it (the run without clip_norm differs).
# usage: clip.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-clip.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

linear() { # CLIP
  cat <<EOF2
data t {
  x: f64[3] = [[0.5, 1.25, -2], [3.5, 0.75, 6], [-1, 2.5, 0.125]];
}
model M {
  param W: f64[3] = zeros;
  param V: f64[2, 2] = zeros;
  fn forward(x: f64[B, 3]) -> f64[B] { return sum(x * W, axis = 1); }
}
train M on t {
  loss = sum(forward(x)) * 10 + sum(V * 3);
  optimizer = sgd(lr = 0.5);
  clip_norm = $1;
  epochs = 1;
  batch = 3;
}
EOF2
}

for cap in 1.5 1000; do
  linear $cap >"$tmp/l.nn"
  "$nnc" build "$tmp/l.nn" -o "$tmp/l" >"$tmp/build" 2>&1 || { cat "$tmp/build"; fail "nnc build (clip_norm = $cap)"; }
  (cd "$tmp" && ./l train --save l.st >/dev/null) || fail "train (clip_norm = $cap)"
  python3 - "$tmp/l.st" "$cap" <<'EOF2' || fail "clip_norm = $cap: the parameters differ from the explicit computation"
import json, math, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def get(k):
    o = h[k]["data_offsets"]
    return list(struct.unpack("<%dd" % ((o[1] - o[0]) // 8), b[8 + n + o[0]:8 + n + o[1]]))
xs = [[0.5, 1.25, -2], [3.5, 0.75, 6], [-1, 2.5, 0.125]]
gw = [10 * sum(r[i] for r in xs) for i in range(3)]  # exact: dyadic numbers
gv = [3.0] * 4
cap, lr = float(sys.argv[2]), 0.5
part = [0.0] * 256
for g in (gw, gv):  # the gradients in order, element i to partial i mod 256
    for i, v in enumerate(g):
        part[i % 256] = part[i % 256] + v * v
total = 0.0
for p in part:
    total = total + p
norm = math.sqrt(total)
scale = cap / (norm + 1e-6) if norm > cap else 1.0
want = {"W": [0.0 - lr * (v * scale) for v in gw], "V": [0.0 - lr * (v * scale) for v in gv]}
for k, w in want.items():
    got = get(k)
    print(k, "got", got, "want", w)
    if got != w:
        sys.exit(1)
print("norm %.17g scale %.17g" % (norm, scale))
EOF2
done

regression() { # DTYPE CLIP-LINE
  cat <<EOF2
data t {
  x: $1[3] = [[0.1, 0.9, -0.3], [0.4, 0.2, 0.5], [0.8, -0.5, 0.1], [0.3, 0.7, -0.9], [-0.6, 0.1, 0.4], [0.9, 0.3, 0.2]];
  y: $1[2] = [[1.0, 0.2], [0.6, -0.3], [1.3, 0.5], [1.0, 0.1], [0.7, -0.8], [1.2, 0.9]];
}
model M {
  param W1: $1[3, 300] = xavier_uniform;
  param b1: $1[300] = zeros;
  param W2: $1[300, 2] = xavier_uniform;
  fn forward(x: $1[B, 3]) -> $1[B, 2] { return tanh(x @ W1 + b1) @ W2; }
}
train M on t {
  loss = mean((forward(x) - y) * (forward(x) - y)) * 50;
  optimizer = adam(lr = 0.01);
  $2
  epochs = 5;
  batch = 3;
  seed = 11;
}
EOF2
}

for dt in f32 f64; do
  regression $dt "clip_norm = 0.25;" >"$tmp/r.nn"
  regression $dt "" >"$tmp/u.nn"
  for p in r u; do
    "$nnc" build "$tmp/$p.nn" -o "$tmp/$p" >"$tmp/build" 2>&1 || { cat "$tmp/build"; fail "nnc build ($dt, $p)"; }
  done
  (cd "$tmp" && ./r train --save gen.st >/dev/null && NNRT_OPT_REFERENCE=1 ./r train --save ref.st >/dev/null &&
   ./u train --save none.st >/dev/null) || fail "$dt: train"
  cmp -s "$tmp/gen.st" "$tmp/ref.st" || fail "$dt: the generated clipping differs from its C reference"
  cmp -s "$tmp/gen.st" "$tmp/none.st" && fail "$dt: clip_norm = 0.25 changed nothing (the gradients should exceed it)"
  echo "$dt: generated = reference, clipped != unclipped"
done
echo ok
