#!/bin/sh
# gradcheck.sh — `nnc gradcheck` (LANGUAGE.md 9.1): f64 by default, as
# PyTorch's gradcheck, with no edit to the program.
# - tests/e2e/gradcheck_kink.nn declares f32; `nnc gradcheck` checks it in
#   f64 (types f64, eps 1e-6, tol 1e-5), `--f32` as written (eps 1e-3);
# - at initialisation its zero biases meet all-zero samples: every probe of
#   b sits at relu's kink, reported as not checked (kinks=4), not failed;
# - an f32 checkpoint (--load) widens exactly into the f64 build, and the
#   check then runs at trained weights; --resume of it is refused;
# - FLAGS go to the executable (an unknown one is its usage error, 2); the
#   temporary build leaves nothing in $TMPDIR; no file is a usage error.
# usage: gradcheck.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-gc-test.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
nn=tests/e2e/gradcheck_kink.nn
mkdir "$tmp/t"
export TMPDIR="$tmp/t"

"$nnc" gradcheck "$nn" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "nnc gradcheck exit $?"; }
cat "$tmp/out"
grep -q '^gradcheck: eps=1e-06 (default: all parameters f64) tol=1e-05' "$tmp/out" || fail "not f64 by default"
grep -q '^W f64\[3,4\]: 12 of 12 entries, max_abs_err=[^ ]* max_err=[^ ]* at W\[[0-9,]*\] ok$' "$tmp/out" || fail "W not checked in f64"
grep -q '^b f64\[4\]: 4 of 4 entries, all at kinks (one-sided slopes differ: not checked)$' "$tmp/out" || fail "b's kinks not reported"
tail -n 1 "$tmp/out" | grep -Eq '^gradcheck=pass max_err=[^ ]+ worst=[WV]\[[0-9,]+\] checked=20/24 kinks=4$' || fail "last line"
[ -z "$(ls -A "$tmp/t")" ] || fail "nnc gradcheck left $(ls "$tmp/t") in TMPDIR"

"$nnc" gradcheck "$nn" --f32 --entries 5 >"$tmp/out32" 2>&1 || { cat "$tmp/out32"; fail "--f32 exit $?"; }
grep -q '^gradcheck: eps=0.001 (default: a parameter is f32) tol=0.01' "$tmp/out32" || fail "--f32: not as written"
grep -q '^W f32\[3,4\]: 5 of 12 entries' "$tmp/out32" || fail "--f32: W not f32 or --entries not passed"

"$nnc" build "$nn" -o "$tmp/k32" >/dev/null 2>&1 || fail "build"
"$tmp/k32" train --quiet --save "$tmp/k.st" >/dev/null || fail "train"
"$nnc" gradcheck "$nn" --load "$tmp/k.st" >"$tmp/outl" 2>&1 || { cat "$tmp/outl"; fail "--load f32 checkpoint into f64"; }
grep -q '^gradcheck: the first 4 training samples (unshuffled, training mode), loss=0.414148' "$tmp/outl" ||
  { cat "$tmp/outl"; fail "--load: not the trained weights' loss"; }
"$nnc" build --f64 "$nn" -o "$tmp/k64" >/dev/null 2>&1 || fail "build --f64"
"$tmp/k64" train --resume "$tmp/k.st" >/dev/null 2>"$tmp/err" && fail "--resume of an f32 run into f64 accepted"
grep -q "error: $tmp/k.st: tensor 'W' is F32 \[3, 4\], but the program expects F64 \[3, 4\]" "$tmp/err" || { cat "$tmp/err"; fail "resume message"; }

# a model of stdlib layers (Conv2d, Dense: float[...], f32 in an f32 model) moves to f64 too
"$nnc" gradcheck examples/lecture05/cnn.nn --entries 2 --batch 4 >"$tmp/outc" 2>&1 || { cat "$tmp/outc"; fail "cnn in f64"; }
grep -q '^c1.W f64\[16,1,3,3\]: 2 of 144 entries' "$tmp/outc" || { cat "$tmp/outc"; fail "cnn: stdlib Conv2d not f64"; }
grep -q '^out.W f64\[1568,10\]: 2 of 15680 entries' "$tmp/outc" || fail "cnn: stdlib Dense not f64"

"$nnc" gradcheck "$nn" --bogus >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "unknown flag: exit status not 2"
grep -q "^error: unknown flag '--bogus' for 'gradcheck'" "$tmp/err" || { cat "$tmp/err"; fail "unknown flag message"; }
"$nnc" gradcheck >/dev/null 2>&1
[ $? -eq 2 ] || fail "no file: exit status not 2"
[ -z "$(ls -A "$tmp/t")" ] || fail "left files in TMPDIR"
echo "ok: nnc gradcheck is f64 by default, reports kinks, loads f32 checkpoints"
