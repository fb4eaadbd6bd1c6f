#!/bin/sh
# Run one libFuzzer target for a while:  scripts/fuzz.sh TARGET SECONDS [libFuzzer flags]
#   TARGET: frontend lower idx csv npy safetensors
# Builds build-fuzz (clang, -DNNC_FUZZ=ON, ASan+UBSan) if needed, seeds a
# working corpus (build-fuzz/corpus/TARGET) from tests/fuzz/seeds/TARGET,
# tests/fuzz/corpus/TARGET, tests/fuzz/regress/TARGET and, for frontend and
# lower, every .nn in the tree, and runs one process (the machine is shared:
# no -jobs/-workers).  frontend and lower run with the language's
# dictionary, tests/fuzz/frontend.dict (keywords, operators, builtin and
# stdlib names; tests/fuzz/make_dict.py writes it).  A crash is written to
# build-fuzz/crashes/TARGET/; copy it to tests/fuzz/regress/TARGET/ once
# fixed, and ctest replays it forever.
# FUZZ_NO_BUILD=1 runs the binary as it is (long campaigns on a busy tree).
#
# The frontend campaign of issue 18 (10 minutes; short inputs first, so
# that deep-nesting inputs do not crowd out the rest):
#   scripts/fuzz.sh frontend 600 -max_len=2048
# The committed corpus tests/fuzz/corpus/frontend is the .nn files of the
# tree minimised against the target:
#   build-fuzz/tests/fuzz/fuzz_frontend -merge=1 -dict=tests/fuzz/frontend.dict \
#     tests/fuzz/corpus/frontend DIR_OF_NN_FILES
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 TARGET SECONDS [libFuzzer flags]" >&2; exit 2; }
t=$1 secs=$2
shift 2
case $t in frontend|lower|idx|csv|npy|safetensors) ;; *) echo "unknown target '$t'" >&2; exit 2;; esac
B=build-fuzz
if [ ! -f $B/CMakeCache.txt ]; then
  CC=${CC:-clang} cmake -S . -B $B -DNNC_FUZZ=ON -DNNC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
[ -n "${FUZZ_NO_BUILD:-}" ] || cmake --build $B --target fuzz_$t -j"${JOBS:-2}" >/dev/null
corpus=$B/corpus/$t crashes=$B/crashes/$t
mkdir -p "$corpus" "$crashes"
for d in tests/fuzz/seeds/$t tests/fuzz/corpus/$t tests/fuzz/regress/$t; do
  [ -d "$d" ] && cp -n "$d"/* "$corpus"/ 2>/dev/null || true
done
if [ "$t" = frontend ] || [ "$t" = lower ]; then
  find examples stdlib tests -name '*.nn' | while read -r f; do
    cp -n "$f" "$corpus/$(echo "$f" | tr / _)"
  done
fi
dict=
case $t in frontend|lower) dict=-dict=tests/fuzz/frontend.dict ;; esac
# detect_leaks stays on.  Later flags win: "$@" may override -max_len.
# shellcheck disable=SC2086 # dict is empty or one argument
exec env ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1} UBSAN_OPTIONS=print_stacktrace=1 \
  $B/tests/fuzz/fuzz_$t "$corpus" -max_total_time="$secs" -artifact_prefix="$crashes/" \
  -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 $dict "$@" </dev/null
