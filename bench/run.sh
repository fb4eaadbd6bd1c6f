#!/bin/sh
# run.sh — builds nnc (Release, in build-bench/ unless BUILD is set) and
# bench/gemm, then runs bench/bench.py: nnc against PyTorch on the CPU, the
# same workloads and thread counts, a table of ratios on stdout and in
# bench/RESULTS.md.
# usage: bench/run.sh [--threads "1 2"] [--reps N] [--limit N]   (from anywhere;
#        --limit: LeNet-5 training samples timed, default 10000)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target nnc nnrt >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/nnc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
libs=$(sed -n 's/^NNRT_LINK_LIBS:INTERNAL=//p' "$build/CMakeCache.txt")
# shellcheck disable=SC2086 # libs is a list of linker arguments
cc -O2 -I"$root/runtime/include" "$root/bench/gemm.c" "$build/runtime/libnnrt.a" $libs \
  -o "$work/gemm"
/usr/bin/python3 "$root/bench/bench.py" --nnc "$build/compiler/nnc" --gemm "$work/gemm" \
  --work "$work" --out "$root/bench/RESULTS.md" --command "bench/run.sh $*" "$@"
