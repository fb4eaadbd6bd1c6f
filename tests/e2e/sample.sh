#!/bin/sh
# sample.sh — text generation (`OUT sample`): a tiny character LSTM
# (tests/e2e/sample/lm.nn) trained on a two-sentence corpus continues a
# prompt with what it learnt at temperature 0; a seed reproduces sampled
# text and another seed changes it; a prompt character outside the
# vocabulary, a program without `sample = ...;` and a bad temperature are
# refused.
# usage: sample.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/sample
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-sample.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build $dir/lm.nn -o "$tmp/lm" || fail "build"
cd $dir
"$tmp/lm" train --quiet --save "$tmp/lm.st" >/dev/null || fail "train exited $?"
greedy=$("$tmp/lm" sample --load "$tmp/lm.st" --prompt "the c" --len 42 --temperature 0) || fail "sample exited $?"
want=$(printf 'the cat sat on the mat.\na dog ran to a log.\nthe')
[ "$greedy" = "$want" ] || fail "greedy continuation: got [$greedy]"
a=$("$tmp/lm" sample --load "$tmp/lm.st" --len 80 --seed 3 --temperature 1.5) || fail "sample --seed 3"
b=$("$tmp/lm" sample --load "$tmp/lm.st" --len 80 --seed 3 --temperature 1.5) || fail "sample --seed 3 again"
c=$("$tmp/lm" sample --load "$tmp/lm.st" --len 80 --seed 4 --temperature 1.5) || fail "sample --seed 4"
[ "$a" = "$b" ] || fail "the same seed gave two texts"
[ "$a" != "$c" ] || fail "seeds 3 and 4 gave the same text"
err=$("$tmp/lm" sample --load "$tmp/lm.st" --prompt "the cat? " 2>&1) && fail "a prompt with '?' accepted"
echo "$err" | grep -q "prompt" || fail "prompt error: $err"
err=$("$tmp/lm" sample --temperature -1 2>&1); [ $? -eq 2 ] || fail "--temperature -1: $err"
cd - >/dev/null
"$nnc" build tests/e2e/grads/grads.nn -o "$tmp/g" || fail "build grads.nn"
err=$("$tmp/g" sample 2>&1) && fail "sample without a sample output accepted"
echo "$err" | grep -q "no 'sample' output" || fail "no sample output: $err"
echo "PASS: $greedy"
