#!/bin/sh
# threads.sh — the Fashion-MNIST MLP (one epoch) with OpenMP's default
# spin-waiting (GOMP_SPINCOUNT=300000, libgomp's default when
# OMP_WAIT_POLICY is unset: what every run did before runtime/threads.c),
# with the runtime's passive default, and with --threads 1; on the machine
# as it is, then with one core kept busy by `yes`.  Prints wall seconds
# (best/median of REPS) and the CPU seconds (user+sys) of the best run.
# usage: bench/threads.sh MLP_EXE [REPS]
set -u
exe=$1
reps=${2:-3}
one() { # LABEL ENV ARGS...: REPS runs
  label=$1 envs=$2
  shift 2
  walls=""
  for _ in $(seq "$reps"); do
    # shellcheck disable=SC2086 # envs is a list of NAME=VALUE words
    r=$(env $envs /usr/bin/time -f "%e %U %S" timeout 300 "$exe" train --epochs 1 --quiet "$@" 2>&1 >/dev/null | tail -n 1)
    walls="$walls$r
"
  done
  printf '%s' "$walls" | sort -n | awk -v l="$label" -v n="$reps" '
    { w[NR] = $1; c[NR] = $2 + $3 }
    END { printf "  %-44s wall best %6.2f s  median %6.2f s  cpu %6.2f s\n", l, w[1], w[int((n + 1) / 2)], c[1] }'
}
suite() {
  echo "$1 (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  one "before: 2 threads, spinning (GOMP_SPINCOUNT=300000)" "GOMP_SPINCOUNT=300000"
  one "after: 2 threads, passive (runtime default)" ""
  one "--threads 1" "" --threads 1
}
suite "machine as it is"
yes >/dev/null &
busy=$!
trap 'kill $busy 2>/dev/null' EXIT INT TERM
suite "one core busy (yes > /dev/null)"
kill $busy
