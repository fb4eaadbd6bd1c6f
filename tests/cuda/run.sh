#!/bin/sh
# usage: run.sh NNC MODE — run from the repository root.
#   nodriver  train --device cuda --check-numerics is refused with one line;
#             where libcuda.so.1 is absent: --device cuda prints one line
#             and exits 1 (skipped, 77, where a driver is installed)
#   train     xor on the GPU; its final loss within 1e-3 of the CPU run's
#             (skipped, 77, without a GPU)
#   loop      the one training loop's features on the GPU (tests/cuda/loop.nn:
#             --log, --plot, a validation split, early stopping, --save and
#             --resume): the log's losses epoch by epoch within 1e-5 of the
#             CPU run's, the same stopping epoch and final line (skipped, 77,
#             without a GPU)
#   seq       the sequence primitives (tests/cuda/seq.nn: embedding and its
#             scatter-add, slices, stack, concat, clip_norm; no GEMM, no libm):
#             the GPU's trained parameters equal the CPU's bit for bit
#             (skipped, 77, without a GPU)
nnc=$1 mode=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$nnc" build --cuda examples/lecture02/xor.nn -o "$tmp/xor" || exit 1
has_driver() { ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; }
case $mode in
nodriver)
  # refused before any driver is looked for: the checked kernels are the CPU's
  "$tmp/xor" train --device cuda --check-numerics --quiet 2>"$tmp/err" && { echo "FAIL: --check-numerics on the GPU accepted"; exit 1; }
  grep -q '^error: --check-numerics runs its checked kernels on the CPU only' "$tmp/err" || { cat "$tmp/err"; exit 1; }
  has_driver && exit 77
  "$tmp/xor" train --device cuda --quiet >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc = 1 ] || { echo "FAIL: exit $rc, expected 1"; cat "$tmp/err"; exit 1; }
  [ "$(wc -l <"$tmp/err")" = 1 ] || { echo "FAIL: expected one line:"; cat "$tmp/err"; exit 1; }
  grep -q '^error: --device cuda: no CUDA driver found (libcuda.so.1' "$tmp/err" || { cat "$tmp/err"; exit 1; }
  echo "nodriver: ok"
  ;;
train)
  "$tmp/xor" train --device cuda --quiet >"$tmp/gpu" 2>"$tmp/err"
  rc=$?
  if [ $rc != 0 ]; then
    grep -q 'no CUDA driver found\|no CUDA device found' "$tmp/err" && exit 77
    cat "$tmp/err"; exit 1
  fi
  "$tmp/xor" train --quiet >"$tmp/cpu" || exit 1
  g=$(sed -n 's/.*loss=\([^ ]*\).*/\1/p' "$tmp/gpu") c=$(sed -n 's/.*loss=\([^ ]*\).*/\1/p' "$tmp/cpu")
  awk -v g="$g" -v c="$c" 'BEGIN { d = g - c; if (d < 0) d = -d; if (d > 1e-3) { print "FAIL: gpu loss " g " cpu loss " c; exit 1 } print "train: gpu loss " g " cpu loss " c }'
  ;;
loop)
  "$nnc" build --cuda tests/cuda/loop.nn -o "$tmp/loop" || exit 1
  "$tmp/loop" train --device cuda --log "$tmp/gpu.csv" --plot "$tmp/gpu.svg" --save "$tmp/gpu.ckpt" >"$tmp/gpu" 2>"$tmp/err"
  rc=$?
  if [ $rc != 0 ]; then
    grep -q 'no CUDA driver found\|no CUDA device found' "$tmp/err" && exit 77
    cat "$tmp/err"; exit 1
  fi
  "$tmp/loop" train --log "$tmp/cpu.csv" --save "$tmp/cpu.ckpt" >"$tmp/cpu" || exit 1
  cat "$tmp/gpu" "$tmp/cpu"
  grep -q '^early stopping after epoch' "$tmp/gpu" || { echo "FAIL: the GPU run did not stop early"; exit 1; }
  [ "$(grep -c . "$tmp/gpu.csv")" = "$(grep -c . "$tmp/cpu.csv")" ] || { echo "FAIL: the logs have different lengths"; exit 1; }
  [ -s "$tmp/gpu.svg" ] || { echo "FAIL: no plot"; exit 1; }
  # columns: epoch,loss,accuracy,lr,seconds,val_loss,val_accuracy
  paste -d, "$tmp/gpu.csv" "$tmp/cpu.csv" | awk -F, 'NR > 1 {
      for (k = 0; k < 2; k++) { c = k ? 6 : 2; g = $c; p = $(c + 7); d = g - p; if (d < 0) d = -d
        m = p < 0 ? -p : p; if (m < 1) m = 1
        if (d > 1e-5 * m) { print "FAIL: epoch " $1 " column " c ": gpu " g " cpu " p; bad = 1 } } }
    END { exit bad }' || exit 1
  "$tmp/loop" eval --load "$tmp/gpu.ckpt" >/dev/null || { echo "FAIL: the GPU checkpoint does not load on the CPU"; exit 1; }
  "$tmp/loop" train --device cuda --resume "$tmp/gpu.ckpt" --epochs 61 --save "$tmp/more.ckpt" --quiet >/dev/null ||
    { echo "FAIL: resume on the GPU"; exit 1; }
  echo "loop: the GPU's log, early stop and checkpoints agree with the CPU's"
  ;;
seq)
  "$nnc" build --cuda tests/cuda/seq.nn -o "$tmp/seq" || exit 1
  "$tmp/seq" train --device cuda --save "$tmp/gpu.ckpt" --quiet >"$tmp/gpu" 2>"$tmp/err"
  rc=$?
  if [ $rc != 0 ]; then
    grep -q 'no CUDA driver found\|no CUDA device found' "$tmp/err" && exit 77
    cat "$tmp/err"; exit 1
  fi
  "$tmp/seq" train --save "$tmp/cpu.ckpt" --quiet >"$tmp/cpu" || exit 1
  cat "$tmp/gpu" "$tmp/cpu"
  python3 - "$tmp/gpu.ckpt" "$tmp/cpu.ckpt" <<'PY' || exit 1
import json, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
g, c = tensors(sys.argv[1]), tensors(sys.argv[2])
bad = [k for k in c if g.get(k) != c[k]]
if bad or set(g) != set(c):
    print("FAIL: the GPU's tensors differ from the CPU's:", bad or sorted(set(g) ^ set(c)))
    sys.exit(1)
print("seq: %d tensors, the GPU's bits are the CPU's" % len(c))
PY
  ;;
esac
