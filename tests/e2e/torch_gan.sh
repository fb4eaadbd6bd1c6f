#!/bin/sh
# torch_gan.sh — a step of two objectives (§8.4) computes what PyTorch does
# with two optimizers: from the weights of tests/e2e/torch_gan/reference.json
# (make_reference.py, Debian's python3-torch), one batch of gan.nn gives
# PyTorch's discriminator loss, its generator loss through the updated
# discriminator, and both updates, to 1e-5 (f32).
# usage: torch_gan.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_gan
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-gan.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$nnc" build $dir/gan.nn -o "$tmp/gan" || { echo "FAIL: build"; exit 1; }
"$tmp/gan" train --quiet --save "$tmp/template.st" >/dev/null || { echo "FAIL: first run"; exit 1; }
/usr/bin/python3 $dir/check.py start "$tmp/template.st" "$tmp/w0.st" || { echo "FAIL: writing w0"; exit 1; }
"$tmp/gan" train --resume "$tmp/w0.st" --save "$tmp/w1.st" >"$tmp/out" || { echo "FAIL: train exited $?"; exit 1; }
# the epoch's line: the training losses of the one batch
line=$(grep '^epoch 1/1' "$tmp/out")
d=$(echo "$line" | sed -n 's/.* d_loss=\([^ ]*\).*/\1/p')
g=$(echo "$line" | sed -n 's/.* g_loss=\([^ ]*\).*/\1/p')
[ -n "$d" ] && [ -n "$g" ] || { echo "FAIL: no d_loss and g_loss in:"; cat "$tmp/out"; exit 1; }
/usr/bin/python3 $dir/check.py compare "$tmp/w1.st" "$d" "$g" || { echo "FAIL: differs from PyTorch"; exit 1; }
echo "PASS"
