#!/bin/sh
# torch_optim.sh — the optimizer options taken from PyTorch (SGD's dampening,
# Adagrad's lr_decay and initial_accumulator_value, centered RMSprop,
# Adam/AdamW's amsgrad, Nesterov) follow torch.optim's trajectory: from the
# same starting weights (tests/e2e/torch_optim/reference.json, written once by
# make_reference.py with Debian's python3-torch), 6 full-batch steps of
# optim.nn in f64 give torch's weights to 1e-12.  Python's standard library
# only.  usage: torch_optim.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_optim
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-optim.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
python3 $dir/check.py list >"$tmp/settings" || fail "reading reference.json"
n=0
while IFS= read -r opt; do
  sed "s/OPTIMIZER/$opt/" $dir/optim.nn >"$tmp/p.nn"
  "$nnc" build "$tmp/p.nn" -o "$tmp/p" || fail "nnc build ($opt)"
  "$tmp/p" train --quiet --epochs 0 --save "$tmp/template.st" >/dev/null || fail "template ($opt)"
  python3 $dir/check.py start "$tmp/template.st" "$tmp/w0.st" || fail "writing w0 ($opt)"
  "$tmp/p" train --quiet --init-from "$tmp/w0.st" --save "$tmp/w1.st" >/dev/null || fail "train ($opt)"
  python3 $dir/check.py compare "$tmp/w1.st" "$opt" || fail "$opt differs from torch.optim"
  n=$((n + 1))
done <"$tmp/settings"
[ "$n" -gt 0 ] || fail "no settings"
echo "PASS: $n settings follow torch.optim"
