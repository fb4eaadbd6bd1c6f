#!/bin/sh
# roll.sh — an unrolled loop's repeating work items become a loop in the
# generated code (codegen/llvm.c, emit_rolled), with the same bits as one
# call per item (NNC_NO_ROLL=1): tests/e2e/roll/steps.nn trained both ways
# gives byte-identical checkpoints, and its train kernel holds the loop.
# usage: roll.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-roll.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
p=tests/e2e/roll/steps.nn
"$nnc" emit llvm -O0 --unroll $p >"$tmp/rolled.ll" || fail "emit llvm"
grep -q '^step[0-9]*:' "$tmp/rolled.ll" || fail "no rolled loop (block 'step') in the train kernel"
NNC_NO_ROLL=1 "$nnc" emit llvm -O0 --unroll $p >"$tmp/flat.ll" || fail "emit llvm (NNC_NO_ROLL=1)"
grep -q '^step[0-9]*:' "$tmp/flat.ll" && fail "NNC_NO_ROLL=1 still rolled"
"$nnc" build --unroll $p -o "$tmp/rolled" || fail "build"
NNC_NO_ROLL=1 "$nnc" build --unroll $p -o "$tmp/flat" || fail "build (NNC_NO_ROLL=1)"
for v in rolled flat; do
  "$tmp/$v" train --quiet --save "$tmp/$v.st" >/dev/null || fail "train $v"
done
cmp "$tmp/rolled.st" "$tmp/flat.st" || fail "rolled and flat training differ"
echo "PASS: $(grep -c '^step[0-9]*:' "$tmp/rolled.ll") rolled loop(s), same bits"
