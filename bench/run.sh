#!/bin/sh
# run.sh — builds nnc (Release, in build-bench/ unless BUILD is set),
# bench/gemm and bench/fmapeak, then runs bench/bench.py: nnc against
# PyTorch on the CPU, the same workloads and thread counts, a table of
# ratios, fractions of the FMA peak of the same run, the GEMM rows and
# nnc's start-up phases on stdout and in bench/RESULTS.md; then
# bench/lstm/lstm.py, which replaces the LSTM section of bench/RESULTS.md.
# usage: bench/run.sh [--threads "1 2"] [--reps N] [--limit N] [--quick] [--no-lstm]
#        (from anywhere; --reps: runs of each, default 5; --limit: LeNet-5
#        training samples timed, default 10000; --quick: 2 runs, LeNet-5 on
#        2,000 samples and no LSTM, to check the harness — no result)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-bench}
lstm=1
reps=5
args=""
prev=""
for arg in "$@"; do
  case $arg in
    --quick | --no-lstm) lstm=0 ;;
  esac
  [ "$prev" = "--reps" ] && reps=$arg
  prev=$arg
done
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target nnc nnrt >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/nnc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
libs=$(sed -n 's/^NNRT_LINK_LIBS:INTERNAL=//p' "$build/CMakeCache.txt")
# shellcheck disable=SC2086 # libs is a list of linker arguments
cc -O2 -I"$root/runtime/include" "$root/bench/gemm.c" "$build/runtime/libnnrt.a" $libs \
  -o "$work/gemm"
cc -O2 -fopenmp "$root/bench/fmapeak.c" -o "$work/fmapeak"
for arg in "$@"; do # bench.py does not know --no-lstm
  [ "$arg" = "--no-lstm" ] || args="$args $(printf '%s' "$arg" | sed "s/'/'\\\\''/g; s/^/'/; s/\$/'/")"
done
eval "set -- $args"
/usr/bin/python3 "$root/bench/bench.py" --nnc "$build/compiler/nnc" --gemm "$work/gemm" \
  --fmapeak "$work/fmapeak" --work "$work" --out "$root/bench/RESULTS.md" \
  --command "bench/run.sh $*" "$@"
if [ "$lstm" = 1 ]; then
  /usr/bin/python3 "$root/bench/lstm/lstm.py" --nnc "$build/compiler/nnc" --reps "$reps"
fi
