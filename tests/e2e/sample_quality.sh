#!/bin/sh
# sample_quality.sh — issue 17's check of generated images by numbers, not
# pictures: lecture 2's Fashion-MNIST MLP, trained 1 epoch here, scores
# 1,000 samples of a generator with examples/lecture12/score.nn (the
# Inception score, IS = exp(E KL(p(y|x) || p(y))): 1 for images the
# classifier cannot tell apart or file under one class, up to 10).  The
# trained GAN (1 epoch), VAE (3 epochs of 3,000 images) and DDPM (1 epoch
# of 20,000: its 50-step sampler) must score at least 1.3, and their
# untrained selves under 1.1 (measured: GAN 1.74 vs 1.003, VAE 1.72 vs
# 1.002, DDPM 4.46 vs 1.000; real test images score 6.6).
# usage: sample_quality.sh NNC   (run from the repository root)
set -u
nnc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-quality.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || fail "needs dataset-fashion-mnist (scripts/deps.sh)"
cd "$tmp" || exit 2
"$nnc" build "$root/examples/lecture02/fashion_mlp.nn" -o mlp >/dev/null 2>&1 || fail "build mlp"
"$nnc" build "$root/examples/lecture12/score.nn" -o score >/dev/null 2>&1 || fail "build score"
"$nnc" build "$root/examples/lecture12/gan/gan.nn" -o gan >/dev/null 2>&1 || fail "build gan"
"$nnc" build "$root/examples/lecture05/vae/vae.nn" -o vae >/dev/null 2>&1 || fail "build vae"
"$nnc" build "$root/examples/lecture13/ddpm/ddpm.nn" -o ddpm >/dev/null 2>&1 || fail "build ddpm"
./mlp train --epochs 1 --save mlp.st --quiet >/dev/null || fail "train the classifier"
score() { # EXE CHECKPOINT -> IS
  "./$1" sample --load "$2" --count 1000 --seed 1 -o samples.npy >/dev/null || fail "$1 sample"
  l=$(./score eval --load mlp.st --batch 1000 | sed -n 's/.*loss=\([^ ]*\).*/\1/p')
  [ -n "$l" ] || fail "no score for $1"
  awk -v l="$l" 'BEGIN { printf "%.3f", exp(-l) }'
}
./gan train --epochs 0 --save g0.st --quiet >/dev/null || fail "gan init"
./gan train --epochs 1 --save g1.st --quiet >/dev/null || fail "gan train"
./vae train --epochs 0 --save v0.st --quiet >/dev/null || fail "vae init"
./vae train --epochs 3 --limit 3000 --save v1.st --quiet >/dev/null || fail "vae train"
./ddpm train --epochs 0 --save d0.st --quiet >/dev/null || fail "ddpm init"
./ddpm train --epochs 1 --limit 20000 --save d1.st --quiet >/dev/null || fail "ddpm train"
g0=$(score gan g0.st); g1=$(score gan g1.st); v0=$(score vae v0.st); v1=$(score vae v1.st)
d0=$(score ddpm d0.st); d1=$(score ddpm d1.st)
echo "Inception score: GAN untrained $g0, 1 epoch $g1; VAE untrained $v0, trained $v1; DDPM untrained $d0, trained $d1"
awk -v a="$g0" -v b="$g1" -v c="$v0" -v d="$v1" -v e="$d0" -v f="$d1" \
  'BEGIN { exit !(a < 1.1 && b >= 1.3 && c < 1.1 && d >= 1.3 && e < 1.1 && f >= 1.3) }' ||
  fail "a trained generator must score >= 1.3 and an untrained one < 1.1"
echo "ok: trained generators' samples score clearly above untrained ones'"
