#!/bin/sh
# onnx.sh — `nnc export` (LANGUAGE.md 9.1): the ONNX file of each example
# passes Debian's python3-onnx checker (full_check) and, run by the test
# interpreter tests/e2e/onnx/onnx_eval.py, gives what `OUT predict` gives for
# the same inputs (random, 5 samples, in batches of 2) within 1e-5.  Each
# example trains briefly first (--limit 64, one epoch), so the weights and
# the norms' running statistics are not their initial values.
#   lecture02 lecture05 lecture07a lecture07b   the examples, as groups
#   ops       tests/e2e/onnx/ops.nn: the ops and forms they do not reach
#             (an explicit predict, 1/B, a broadcast to [B, n], ...); its
#             batch mean needs the 5 samples in one call
#   errors    an op with no ONNX form (tests/e2e/onnx/unsupported.nn: its
#             .err exactly), usage errors, a checkpoint of another program
# usage: onnx.sh NNC MODE   (run from the repository root; exit 77: skipped)
set -u
nnc=$1
mode=$2
here=$(dirname "$0")/onnx
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-onnx.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

"$py" -c 'import numpy, onnx.checker' 2>/dev/null || skip "python3-onnx is not installed (scripts/deps.sh)"
"$nnc" export examples/lecture02/xor.nn --load /nonexistent -o "$tmp/x.onnx" 2>"$tmp/err"
grep -q "built without ONNX support" "$tmp/err" && skip "this nnc was built without ONNX export (protobuf-c)"

# check NN: build, train briefly, export, predict, evaluate, compare
check() {
  nn=$1
  b=$(basename "$nn" .nn)
  d=$tmp/$b
  mkdir -p "$d"
  "$nnc" build "$nn" -o "$d/model" >"$d/log" 2>&1 || { cat "$d/log"; fail "$nn: build"; }
  # from the example's folder: data paths are relative to it
  (cd "$(dirname "$nn")" && "$d/model" train --limit 64 --epochs 1 --batch 32 --quiet --save "$d/ck.st") >"$d/log" 2>&1 ||
    { cat "$d/log"; fail "$nn: train"; }
  "$nnc" export "$nn" --load "$d/ck.st" -o "$d/model.onnx" 2>"$d/log" || { cat "$d/log"; fail "$nn: export"; }
  # one random .npy per graph input, its batch dimension 5
  "$py" - "$d/model.onnx" "$d" >"$d/inputs" 2>"$d/log" <<'EOF' || { cat "$d/log"; fail "$nn: inputs"; }
import sys, numpy as np, onnx
m = onnx.load(sys.argv[1])
inits = {t.name for t in m.graph.initializer}
rng = np.random.default_rng(7)
for i in m.graph.input:
    if i.name in inits:
        continue
    dims = [5 if d.dim_param == "B" else d.dim_value for d in i.type.tensor_type.shape.dim]
    path = f"{sys.argv[2]}/in_{i.name}.npy"
    np.save(path, rng.random(dims, dtype=np.float32))
    print(i.name, path)
EOF
  set --
  ins=
  while read -r name path; do
    set -- "$@" --input "$name=$path"
    ins="$ins $path"
  done <"$d/inputs"
  "$d/model" predict --load "$d/ck.st" --batch "${pbatch:-2}" "$@" -o "$d/predict.npy" >"$d/log" 2>&1 ||
    { cat "$d/log"; fail "$nn: predict"; }
  # shellcheck disable=SC2086
  "$py" "$here/onnx_eval.py" "$d/model.onnx" $ins -o "$d/onnx.npy" 2>"$d/log" ||
    { cat "$d/log"; fail "$nn: the ONNX checker or the evaluation"; }
  "$py" - "$d/predict.npy" "$d/onnx.npy" "$nn" <<'EOF' || fail "$nn: predict and the ONNX model differ"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
if a.shape != b.shape:
    sys.exit(print(f"shapes differ: predict {a.shape}, onnx {b.shape}"))
err = np.abs(a.astype(np.float64) - b)
bad = err > 1e-5 * np.maximum(1, np.abs(b))
if bad.any():
    k = np.unravel_index(np.argmax(err), err.shape)
    sys.exit(print(f"{bad.sum()} of {a.size} values differ by more than 1e-5 (relative above 1): first at "
                   f"{np.argwhere(bad)[0].tolist()}; largest {err.max():.3g} at {list(k)} ({a[k]} vs {b[k]})"))
print(f"ok: {sys.argv[3]}: {a.shape} match, max |predict - onnx| = {err.max():.2g}")
EOF
}

case $mode in
lecture02)
  for nn in examples/lecture02/xor.nn examples/lecture02/fashion_mlp.nn examples/lecture02/activations/mlp.nn \
            examples/lecture02/calibration/plain.nn examples/lecture02/gd_variants/rings.nn; do check "$nn"; done ;;
lecture05)
  for nn in examples/lecture05/cnn.nn examples/lecture05/autoencoder.nn examples/lecture05/pooling/avg.nn \
            examples/lecture05/pooling/gap.nn examples/lecture05/pooling/max.nn examples/lecture05/pooling/overlap.nn \
            examples/lecture05/vae/vae.nn; do check "$nn"; done ;;
lecture07a)
  for nn in lenet5 alexnet vgg inception; do check examples/lecture07/$nn.nn; done ;;
lecture07b)
  for nn in resnet shufflenet ghost adder; do check examples/lecture07/$nn.nn; done ;;
ops)
  pbatch=5 check "$here/ops.nn" ;;
errors)
  # every op with no ONNX form, at its line; nothing written
  "$nnc" export "$here/unsupported.nn" --load /nonexistent -o "$tmp/u.onnx" 2>"$tmp/err"
  [ $? -eq 1 ] || { cat "$tmp/err"; fail "unsupported ops: exit status"; }
  sed "s|$(pwd)/||g" "$tmp/err" | diff -u "$here/unsupported.err" - || fail "unsupported ops: the messages"
  [ -e "$tmp/u.onnx" ] && fail "unsupported ops: a file was written"
  "$nnc" export examples/lecture02/xor.nn -o "$tmp/x.onnx" 2>"$tmp/err"
  [ $? -eq 2 ] && grep -q "export needs --load" "$tmp/err" || fail "export without --load: not a usage error"
  "$nnc" build examples/lecture02/xor.nn --load x.st -o "$tmp/x" 2>"$tmp/err"
  [ $? -eq 2 ] && grep -q -- "--load goes with nnc export" "$tmp/err" || fail "build --load: not a usage error"
  # a checkpoint of another program: each missing tensor named
  "$nnc" build examples/lecture02/xor.nn -o "$tmp/xor" >/dev/null 2>&1 || fail "build xor"
  "$tmp/xor" train --epochs 0 --save "$tmp/xor.st" --quiet >/dev/null 2>&1 || fail "xor train --epochs 0"
  "$nnc" export examples/lecture07/lenet5.nn --load "$tmp/xor.st" -o "$tmp/l.onnx" 2>"$tmp/err"
  [ $? -eq 1 ] && grep -q "has no tensor 'c1.W' (the program's parameter f32\[6, 1, 5, 5\])" "$tmp/err" ||
    { cat "$tmp/err"; fail "lenet5 with xor's checkpoint"; }
  [ -e "$tmp/l.onnx" ] && fail "a bad checkpoint: a file was written"
  "$nnc" export examples/lecture02/xor.nn --load "$tmp/xor.st" -o "$tmp/xor.st" 2>"$tmp/err"
  [ $? -eq 1 ] && grep -q "is the checkpoint it reads" "$tmp/err" || { cat "$tmp/err"; fail "-o onto --load"; }
  # no prediction to export: the message says how to add one
  "$nnc" export examples/lecture02/calibration/measure_entropy_of.nn --load "$tmp/xor.st" -o "$tmp/m.onnx" 2>"$tmp/err"
  [ $? -eq 1 ] && grep -q "add \`predict = forward(x);\`" "$tmp/err" || { cat "$tmp/err"; fail "no prediction"; }
  "$tmp/xor" predict --input "$tmp/none.npy" 2>"$tmp/err"
  [ $? -eq 1 ] && grep -q "none.npy" "$tmp/err" || { cat "$tmp/err"; fail "predict --input of a missing file"; }
  echo "ok: export errors" ;;
*) fail "unknown mode '$mode'" ;;
esac
