#!/bin/sh
# torch_kstep.sh — k discriminator updates per generator update (§8.4: a
# `for` of `minimize` statements, each iteration on the next batch) and a
# schedule of one objective's own compute what PyTorch does with n_critic
# = 3, two Adams and a StepLR on the generator alone: from the weights of
# tests/e2e/torch_kstep/reference.json (make_reference.py), two epochs of
# gan.nn give PyTorch's weights and second-epoch mean losses to 1e-5 (f32).
# Each optimizer counts its own steps (Adam's bias correction): the
# generator's second update is its step 2, not the run's step 7.
# usage: torch_kstep.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/torch_kstep
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch-kstep.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
"$nnc" build $dir/gan.nn -o "$tmp/gan" || { echo "FAIL: build"; exit 1; }
"$tmp/gan" train --quiet --epochs 0 --save "$tmp/template.st" >/dev/null || { echo "FAIL: epoch-0 save"; exit 1; }
REF=$dir/reference.json /usr/bin/python3 tests/e2e/torch_gan/check.py start "$tmp/template.st" "$tmp/w0.st" ||
  { echo "FAIL: writing w0"; exit 1; }
"$tmp/gan" train --resume "$tmp/w0.st" --save "$tmp/w2.st" >"$tmp/out" || { echo "FAIL: train exited $?"; exit 1; }
line=$(grep '^epoch 2/2' "$tmp/out")
d=$(echo "$line" | sed -n 's/.* d_loss=\([^ ]*\).*/\1/p')
g=$(echo "$line" | sed -n 's/.* g_loss=\([^ ]*\).*/\1/p')
[ -n "$d" ] && [ -n "$g" ] || { echo "FAIL: no d_loss and g_loss in:"; cat "$tmp/out"; exit 1; }
REF=$dir/reference.json /usr/bin/python3 tests/e2e/torch_gan/check.py compare "$tmp/w2.st" "$d" "$g" ||
  { echo "FAIL: differs from PyTorch"; exit 1; }
# one epoch, then --resume: the bytes of two epochs in one run
"$tmp/gan" train --quiet --resume "$tmp/w0.st" --epochs 1 --save "$tmp/w1.st" >/dev/null &&
  "$tmp/gan" train --quiet --resume "$tmp/w1.st" --save "$tmp/w2b.st" >/dev/null || { echo "FAIL: resume"; exit 1; }
cmp "$tmp/w2.st" "$tmp/w2b.st" || { echo "FAIL: 1 + 1 resumed epochs differ from 2"; exit 1; }
echo "PASS"
