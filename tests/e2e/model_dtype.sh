#!/bin/sh
# model_dtype.sh — f64 models without --f64 (LANGUAGE.md 4.1): programs in
# tests/e2e/model_dtype/ declare `model M: f64` and f64 data, and call
# stdlib layers (DenseHe, LayerNorm, Dense, LSTM) whose float[...] weights
# take the model's element type.  Each one
# - builds as written and keeps its parameters in f64 (8 bytes each, F64
#   tensors in the checkpoint);
# - trains: the last epoch's loss is under a tenth of the first's;
# - trains to the same bits when built with --f64 (nothing in it is f32);
# - passes `nnc gradcheck --f32` (as written) with f64's eps and tolerance.
# usage: model_dtype.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-dtype.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for p in mlp lstm; do
  nn=tests/e2e/model_dtype/$p.nn
  "$nnc" build "$nn" -o "$tmp/$p" || fail "$p: build"
  info=$("$tmp/$p" info) || fail "$p: info"
  params=$(echo "$info" | sed -n 's/^Total params: \([0-9]*\)$/\1/p')
  echo "$info" | grep -q "^Parameter bytes: $((params * 8)) " || { echo "$info"; fail "$p: parameters are not 8 bytes each"; }
  "$tmp/$p" train --quiet --log "$tmp/$p.csv" --save "$tmp/$p.st" >/dev/null || fail "$p: train"
  head -c 4096 "$tmp/$p.st" | grep -q '"dtype":"F64"' || fail "$p: no F64 tensor in the checkpoint"
  head -c 4096 "$tmp/$p.st" | grep -q '"dtype":"F32"' && fail "$p: an F32 tensor in the checkpoint"
  awk -F, 'NR == 2 { first = $2 } NR > 1 { last = $2 } END { exit !(last < first / 10) }' "$tmp/$p.csv" ||
    { cat "$tmp/$p.csv"; fail "$p: the loss did not fall"; }
  "$nnc" build --f64 "$nn" -o "$tmp/${p}64" || fail "$p: build --f64"
  "$tmp/${p}64" train --quiet --save "$tmp/${p}64.st" >/dev/null || fail "$p: train --f64"
  cmp "$tmp/$p.st" "$tmp/${p}64.st" || fail "$p: --f64 changed an f64 model's training"
  "$nnc" gradcheck "$nn" --f32 >"$tmp/$p.gc" 2>&1 || { cat "$tmp/$p.gc"; fail "$p: gradcheck --f32"; }
  grep -q '^gradcheck: eps=1e-06 (default: all parameters f64) tol=1e-05' "$tmp/$p.gc" ||
    { cat "$tmp/$p.gc"; fail "$p: gradcheck as written is not f64"; }
  tail -n 1 "$tmp/$p.gc" | grep -q '^gradcheck=pass ' || fail "$p: gradcheck's last line"
  echo "ok: $p: f64 as written, $(tail -n 1 "$tmp/$p.csv" | cut -d, -f2) after $(tail -n 1 "$tmp/$p.csv" | cut -d, -f1) epochs"
done
echo PASS
