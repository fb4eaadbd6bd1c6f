#!/bin/sh
# mpi.sh — data-parallel training (runtime/shard.c, runtime/comm.c):
# `mpirun -np 2` writes the checkpoint, byte for byte, that one process
# writes with --shards 2 (the same global batch, the same summation tree),
# for lecture 2's MLP (Adam) and a CNN with dropout; -np 4 on 2 shards
# each (--shards 4) and one process with --shards 4 agree too, and so do
# runs whose gradient travels in many small buckets (f32 and f64), started
# from inside the train kernel or after it (also for kernels in parts and
# with rolled loops); a run
# resumed with another process count continues bit-identically; rank 0
# alone prints and writes; wrong process counts, shard counts and programs
# are refused with one line and a non-zero status.
# usage: mpi.sh NNC   (run from the repository root)
set -u
nnc=$1
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
command -v mpirun >/dev/null || { echo "SKIP: no mpirun (scripts/deps.sh installs openmpi-bin)"; exit 77; }
[ -f $fashion ] || { echo "SKIP: no Fashion-MNIST"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-mpi.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# Open MPI refuses root unless told (CI runs as root); two ranks on a
# 2-core machine need --oversubscribe when it counts fewer slots.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI keeps allocations until exit in components it unloads (which
# LeakSanitizer cannot even name): under the ASan pass, the mpirun runs
# skip leak checks; the single-process --shards runs run the same shard.c
# code with them.
mpi() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun -np "$@"; }

"$nnc" build examples/lecture02/fashion_mlp.nn -o "$tmp/mlp" || fail "build mlp"
"$nnc" build tests/e2e/mpi/dropcnn.nn -o "$tmp/cnn" || fail "build cnn"
"$nnc" build tests/e2e/mpi/bn.nn -o "$tmp/bn" || fail "build bn"
if ! mpi 2 "$tmp/mlp" train --epochs 0 --quiet >"$tmp/probe" 2>&1; then
  grep -q "built without MPI" "$tmp/probe" && { echo "SKIP: nnc built without MPI (NNC_MPI=OFF)"; exit 77; }
  cat "$tmp/probe"; fail "mpirun -np 2 of an empty run"
fi

run="train --epochs 2 --limit 3000"
for m in mlp cnn; do
  "$tmp/$m" $run --shards 2 --save "$tmp/$m-one.st" --quiet >"$tmp/$m-one.out" 2>&1 || { cat "$tmp/$m-one.out"; fail "$m --shards 2"; }
  mpi 2 "$tmp/$m" $run --save "$tmp/$m-np2.st" --log "$tmp/$m.csv" >"$tmp/$m-np2.out" 2>"$tmp/$m-np2.err" || { cat "$tmp/$m-np2.err"; fail "$m mpirun -np 2"; }
  cmp "$tmp/$m-one.st" "$tmp/$m-np2.st" || fail "$m: mpirun -np 2 and --shards 2 saved different bytes"
  # rank 0 alone prints: one final line, the one a single process prints
  [ "$(grep -c '^epoch=2 ' "$tmp/$m-np2.out")" = 1 ] || { cat "$tmp/$m-np2.out"; fail "$m: not one final line"; }
  [ "$(tail -1 "$tmp/$m-np2.out")" = "$(tail -1 "$tmp/$m-one.out")" ] || fail "$m: final lines differ"
  [ "$(wc -l <"$tmp/$m.csv")" = 3 ] || fail "$m: the log is not one header and two epochs"
done
# without shards the whole batch is one kernel call: other rounding, other bytes
"$tmp/mlp" $run --save "$tmp/mlp-plain.st" --quiet >/dev/null 2>&1 || fail "mlp unsharded"
cmp -s "$tmp/mlp-plain.st" "$tmp/mlp-one.st" && fail "--shards 2 changed nothing (is the batch split at all?)"

# 4 shards: one process, 2 processes of 2 shards, 4 processes of 1
"$tmp/mlp" $run --shards 4 --save "$tmp/s4-one.st" --quiet >/dev/null 2>&1 || fail "--shards 4"
mpi 2 "$tmp/mlp" $run --shards 4 --save "$tmp/s4-np2.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "np 2 --shards 4"; }
mpi 4 "$tmp/mlp" $run --save "$tmp/s4-np4.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "np 4"; }
cmp "$tmp/s4-one.st" "$tmp/s4-np2.st" || fail "np 2 --shards 4 differs from one process"
cmp "$tmp/s4-one.st" "$tmp/s4-np4.st" || fail "np 4 differs from one process with --shards 4"

# buckets (NNRT_BUCKET_BYTES): the same bytes for any bucket size.  The
# MLP's 269,322 f32 gradient elements in buckets of 3,999 (15,996 bytes):
# 68 buckets, boundaries inside l1's weights and across parameters, a last
# bucket of 1,389, and parts zero-padded (3,999 is odd); --shards 4 on 2
# ranks finishes its two shards' sum bucket by bucket.
mpi 2 -x NNRT_BUCKET_BYTES=15996 "$tmp/mlp" $run --save "$tmp/b-np2.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "np 2, 68 buckets"; }
cmp "$tmp/mlp-one.st" "$tmp/b-np2.st" || fail "np 2 in 68 buckets differs from one process with --shards 2"
mpi 4 -x NNRT_BUCKET_BYTES=15996 "$tmp/mlp" $run --save "$tmp/b-np4.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "np 4, 68 buckets"; }
cmp "$tmp/s4-one.st" "$tmp/b-np4.st" || fail "np 4 in 68 buckets differs from one process with --shards 4"
mpi 2 -x NNRT_BUCKET_BYTES=15996 "$tmp/mlp" $run --shards 4 --save "$tmp/b-s4.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "np 2 --shards 4, 68 buckets"; }
cmp "$tmp/s4-one.st" "$tmp/b-s4.st" || fail "np 2 --shards 4 in 68 buckets differs from one process"
NNRT_BUCKET_BYTES=15996 "$tmp/mlp" $run --shards 4 --save "$tmp/b-one.st" --quiet >/dev/null 2>&1 || fail "--shards 4, 68 buckets"
cmp "$tmp/s4-one.st" "$tmp/b-one.st" || fail "one process --shards 4 in 68 buckets differs"
# f32 and f64 gradients (24 and 26 elements) in 20-byte buckets: 5 f32
# buckets (the last of 4), 13 f64 ones, parts padded on 4 ranks
"$nnc" build tests/e2e/mpi/mixed.nn -o "$tmp/mixed" || fail "build mixed"
"$tmp/mixed" train --shards 4 --save "$tmp/x-one.st" --quiet >/dev/null 2>&1 || fail "mixed --shards 4"
for np in 2 4; do
  mpi $np -x NNRT_BUCKET_BYTES=20 "$tmp/mixed" train --shards 4 --save "$tmp/x-np$np.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "mixed np $np"; }
  cmp "$tmp/x-one.st" "$tmp/x-np$np.st" || fail "mixed f32/f64: np $np in 20-byte buckets differs from one process"
done

# overlap with the backward pass: the train kernel calls nnrt_grad_ready
# once per gradient (after its last write; the eval kernel never), and
# buckets start from there; NNRT_OVERLAP=0 starts them after the kernel:
# the same bytes either way
"$nnc" emit llvm -O0 examples/lecture02/fashion_mlp.nn >"$tmp/mlp.ll" || fail "emit llvm mlp"
n=$(sed -n '/^define void @nnc_train(/,/^}/p' "$tmp/mlp.ll" | grep -o 'nnrt_grad_ready(ptr %[0-9]*, i32 [0-9]*)' | sort -u | wc -l)
[ "$n" = 6 ] || fail "the MLP's train kernel hands over $n gradients, not 6"
sed -n '/^define void @nnc_eval(/,/^}/p' "$tmp/mlp.ll" | grep -q nnrt_grad_ready && fail "the eval kernel calls nnrt_grad_ready"
mpi 2 -x NNRT_OVERLAP=0 -x NNRT_SHARD_TIMES=1 "$tmp/mlp" $run --save "$tmp/o-np2.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "np 2, NNRT_OVERLAP=0"; }
cmp "$tmp/mlp-one.st" "$tmp/o-np2.st" || fail "np 2 with NNRT_OVERLAP=0 differs from one process with --shards 2"
grep -q "^shard times: rank 1, 48 steps, 4 buckets, overlap off" "$tmp/err" || { cat "$tmp/err"; fail "NNRT_SHARD_TIMES printed no times of rank 1"; }
# kernels emitted as parts of outlined items (60 Dense layers) and with
# rolled loops (an LSTM over 48 steps): their hooks, in 64-byte buckets
python3 bench/gen_deep.py 60 4 >"$tmp/deep.nn" || fail "gen_deep.py"
"$nnc" build "$tmp/deep.nn" -o "$tmp/deep" || fail "build deep"
"$nnc" build tests/e2e/roll/steps.nn -o "$tmp/steps" || fail "build steps"
for m in deep steps; do
  "$tmp/$m" train --epochs 3 --shards 2 --save "$tmp/$m-one.st" --quiet >/dev/null 2>&1 || fail "$m --shards 2"
  mpi 2 -x NNRT_BUCKET_BYTES=64 "$tmp/$m" train --epochs 3 --save "$tmp/$m-np2.st" --quiet >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "$m np 2"; }
  cmp "$tmp/$m-one.st" "$tmp/$m-np2.st" || fail "$m: np 2 in 64-byte buckets differs from one process with --shards 2"
done

# resume with another process count: epoch 1 on 2 ranks, epoch 2 on one
mpi 2 "$tmp/mlp" train --epochs 1 --limit 3000 --save "$tmp/r.st" --quiet >/dev/null 2>&1 || fail "np 2, epoch 1"
"$tmp/mlp" train --epochs 2 --limit 3000 --shards 2 --resume "$tmp/r.st" --quiet >/dev/null 2>&1 || fail "resume on one process"
cmp "$tmp/r.st" "$tmp/mlp-one.st" || fail "resumed on one process: not the bytes of the uninterrupted run"

# refusals: one line each (from rank 0), non-zero status
expect() { # expect WHAT PATTERN CMD...: fails with PATTERN on stderr
  what=$1 pat=$2; shift 2
  "$@" >/dev/null 2>"$tmp/err" && fail "$what: accepted"
  grep -q "$pat" "$tmp/err" || { cat "$tmp/err"; fail "$what: no '$pat'"; }
  [ "$(grep -c "^error: " "$tmp/err")" = 1 ] || { cat "$tmp/err"; fail "$what: not one error line"; }
}
expect "np 3" "power-of-two process count" mpi 3 "$tmp/mlp" $run
expect "--shards 3" "must be a power of two" "$tmp/mlp" $run --shards 3
expect "np 4 on --shards 2" "cannot share 2 shards" mpi 4 "$tmp/mlp" $run --shards 2
expect "batch norm" "running statistics" "$tmp/bn" train --epochs 1 --limit 500 --shards 2
expect "eval under mpirun" "only 'train' runs" mpi 2 "$tmp/mlp" eval
expect "bad bucket size" "NNRT_BUCKET_BYTES=12x" mpi 2 -x NNRT_BUCKET_BYTES=12x "$tmp/mlp" $run
expect "bucket sizes differ" "differs from rank to rank" mpi 1 env NNRT_BUCKET_BYTES=64 "$tmp/mixed" train : -np 1 "$tmp/mixed" train
echo "ok: mpirun -np 2 and 4 match one process with --shards (MLP, CNN with dropout; 68 buckets; f32 and f64 buckets; overlap on and off; parted and rolled kernels); resume across counts; refusals"
