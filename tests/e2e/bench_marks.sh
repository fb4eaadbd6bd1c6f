#!/bin/sh
# bench_marks.sh — what bench/bench.py reads from a compiled program and
# from bench/fmapeak: with NNRT_BENCH=1, `train` prints every start-up mark
# (main, setup, data_loaded, normalised, allocated, initialised,
# session_open, train_start, first_step, warm_end after the third step,
# train_end) once, in that order,
# with non-decreasing times; without it, none; `info` prints the training
# step's FLOPs; fmapeak prints positive AVX2 peaks on 1 and 2 threads.
# usage: bench_marks.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-bench-marks.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build examples/lecture02/xor.nn -o "$tmp/xor" || fail "build xor"
NNRT_BENCH=1 "$tmp/xor" train --quiet --epochs 20 >/dev/null 2>"$tmp/err" || fail "train"
sed -n 's/^bench: \([a-z_]*\)_unix=\([0-9.]*\)$/\1 \2/p' "$tmp/err" >"$tmp/marks"
want="main setup data_loaded normalised allocated initialised session_open train_start first_step warm_end train_end"
got=$(cut -d' ' -f1 "$tmp/marks" | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "marks: got '$got', want '$want'"
cut -d' ' -f2 "$tmp/marks" | sort -c -n 2>/dev/null || fail "marks out of time order"
"$tmp/xor" train --quiet --epochs 20 2>&1 >/dev/null | grep -q '^bench:' && fail "marks without NNRT_BENCH"
"$tmp/xor" info | grep -Eq 'training step [0-9]+ ' || fail "info: no 'training step N' FLOPs"
cc -O2 -fopenmp bench/fmapeak.c -o "$tmp/fmapeak" || fail "fmapeak does not compile"
out=$("$tmp/fmapeak" --threads 2) || fail "fmapeak failed"
echo "$out" | grep -Eq '^avx2_1=[0-9.]+ avx2_2=[0-9.]+ avx512_1=[0-9.]+ avx512_2=[0-9.]+ peak_1=[0-9.]+ peak_2=[0-9.]+$' ||
  fail "fmapeak: unexpected output '$out'"
echo "$out" | grep -Eq 'avx2_1=0(\.0)? |avx2_2=0(\.0)? ' && fail "fmapeak: a zero AVX2 peak: '$out'"
"$tmp/fmapeak" --threads 0 >/dev/null 2>&1 && fail "fmapeak --threads 0 accepted"
echo "ok: NNRT_BENCH marks in order, info FLOPs, fmapeak ($out)"
