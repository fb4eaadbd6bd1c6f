#!/bin/sh
# pipeline.sh — the lecture-2 examples through the whole pipeline:
#   xor          train XOR: the last line has accuracy=1 and loss < 0.02
#   fashion      Fashion-MNIST MLP, 3 epochs: test_accuracy >= 0.85
#                (exit 77, skipped, when the dataset is not installed)
#   grad-ce      `nnc emit grad` of the MLP holds the simplified softmax
#                cross-entropy gradient: sub(softmax, onehot), then * 1/B
#   llvm         `nnc emit llvm` of XOR defines @nnc_train and calls the GEMM
#                or has a loop; the MLP's @nnc_train at -O2 has a vector loop;
#                LeNet-5's bias + relu over 28x28 planes is one loop of 784
#   units        nnc build compiles each kernel as a module of its own (on
#                several threads) and links them: NNC_TIME=1 lists the units
#                and phases; the checked copies, compiled as cold (-O0) code,
#                train XOR to the same checkpoint as the optimised kernels
#   passes       `nnc emit passes` lists the pipeline in order; `nnc emit NAME`
#                dumps after each pass; every example and golden program
#                passes the IR verifier after every pass (--verify-each)
#   info         `OUT info` lists a model's own params beside its layers,
#                and its totals: the MLP's FLOPs per sample lie within 5%
#                above its matmuls' (forward 2·(784·256 + 256·256 + 256·10),
#                training step twice that plus the two input gradients),
#                Adam's state is twice the 64-byte-aligned params, and the
#                peak is the sum of the parts it names
#   save-load    train --save; eval --load: the same loss= and accuracy=
#   determinism  the same seed twice gives byte-identical checkpoints
#   threads      the program runs OpenMP with OMP_WAIT_POLICY=passive unless
#                the user set it; the MLP's checkpoint after one epoch is
#                byte-identical with --threads 1 and --threads 2
# usage: pipeline.sh NNC MODE   (run from the repository root)
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 NNC MODE" >&2
  exit 2
fi
nnc=$1
mode=$2
xor=examples/lecture02/xor.nn
mlp=examples/lecture02/fashion_mlp.nn
fashion_dir=/usr/share/datasets/fashion-mnist

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-pipeline.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# field KEY LINE: the value of KEY=VALUE in a key=value line (empty if absent)
field() {
  printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# at_least X Y, below X Y: X >= Y, X < Y as numbers
at_least() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x + 0 >= y + 0) }'; }
below() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x + 0 < y + 0) }'; }

build() { "$nnc" build "$1" -o "$2" || fail "nnc build $1"; }

case $mode in
info)
  cat >"$tmp/own.nn" <<'EOF'
import "nn";
data d {
  x: f32[2] = [[0, 0], [0, 1], [1, 0], [1, 1]];
  y: f32[1] = [[0], [1], [1], [0]];
}
model M {
  param s: f32[1] = ones;
  layer l1 = Dense(2, 4);
  layer l2 = Dense(4, 1);
  fn forward(x: f32[B, 2]) -> f32[B, 1] { return sigmoid(l2(tanh(l1(x))) * s); }
}
train M on d { loss = bce(forward(x), y); optimizer = sgd(lr = 0.5); epochs = 1; batch = 4; }
EOF
  "$nnc" build -O0 "$tmp/own.nn" -o "$tmp/own" || fail "build own.nn"
  "$tmp/own" info >"$tmp/out" || fail "own info"
  cat "$tmp/out"
  grep -Eq '^s \(param\) +\[1\] +1 +-$' "$tmp/out" || fail "the model's own param s is not listed"
  grep -q '^l1 (Dense) ' "$tmp/out" && grep -q '^Total params: 18$' "$tmp/out" || fail "layers or total"
  grep -q 'optimizer state 0 B ' "$tmp/out" || fail "plain SGD keeps no state"
  "$nnc" build -O0 "$mlp" -o "$tmp/mlp" || fail "build the MLP"
  "$tmp/mlp" info >"$tmp/out" || fail "mlp info"
  cat "$tmp/out"
  line=$(grep '^FLOPs per sample (batch 128): ' "$tmp/out") || fail "no FLOPs line"
  fwd=$(echo "$line" | sed -n 's/.*forward \([0-9]*\),.*/\1/p')
  step=$(echo "$line" | sed -n 's/.*training step \([0-9]*\) .*/\1/p')
  mm=$((2 * (784 * 256 + 256 * 256 + 256 * 10)))
  at_least "$fwd" "$mm" && below "$fwd" "$((mm * 105 / 100))" || fail "forward FLOPs $fwd, matmuls $mm"
  mm2=$((2 * mm + 2 * (256 * 256 + 256 * 10)))
  at_least "$step" "$mm2" && below "$step" "$((mm2 * 105 / 100))" || fail "step FLOPs $step, matmuls $mm2"
  # Adam: two arrays per param, each padded to 64 bytes:
  # 802816 + 1024 + 262144 + 1024 + 10240 + 64 = 1077312 bytes = 1.03 MiB
  grep -q 'optimizer state 2.05 MiB ' "$tmp/out" || fail "Adam's state is not 2 x 1077312 bytes"
  grep -Eq '^Activation memory \(batch 128, the memory plan.s scratch\): training step [0-9.]+ KiB, inference [0-9.]+ KiB$' "$tmp/out" ||
    fail "activation memory"
  peak=$(sed -n 's/^Peak memory (batch 128, training): \([0-9.]*\) MiB = slots \([0-9.]*\) MiB + optimizer state \([0-9.]*\) MiB + scratch \([0-9.]*\) KiB$/\1 \2 \3 \4/p' "$tmp/out")
  [ -n "$peak" ] || fail "peak memory line"
  echo "$peak" | awk '{ d = $1 - ($2 + $3 + $4 / 1024); exit !(d < 0.02 && d > -0.02) }' ||
    fail "peak $peak is not the sum of its parts"
  ;;
xor)
  build "$xor" "$tmp/xor"
  "$tmp/xor" train --quiet >"$tmp/out" || fail "xor train exited with status $?"
  last=$(tail -n 1 "$tmp/out")
  echo "$last"
  acc=$(field accuracy "$last")
  loss=$(field loss "$last")
  [ -n "$acc" ] && [ -n "$loss" ] || fail "no loss= and accuracy= in the last line"
  at_least "$acc" 1 || fail "accuracy $acc, expected 1"
  below "$loss" 0.02 || fail "loss $loss, expected < 0.02"
  ;;
fashion)
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    if [ ! -f "$fashion_dir/$f" ]; then
      echo "SKIP: $fashion_dir/$f is missing"
      exit 77
    fi
  done
  build "$mlp" "$tmp/mlp"
  "$tmp/mlp" train --epochs 3 --quiet >"$tmp/out" || fail "fashion train exited with status $?"
  last=$(tail -n 1 "$tmp/out")
  echo "$last"
  acc=$(field test_accuracy "$last")
  [ -n "$acc" ] || fail "no test_accuracy= in the last line"
  at_least "$acc" 0.85 || fail "test_accuracy $acc, expected >= 0.85"
  ;;
grad-ce)
  "$nnc" emit grad "$mlp" >"$tmp/grad" || fail "nnc emit grad $mlp"
  # %S = softmax ..., %O = onehot ..., %D = sub ... %S, %O, then mul ... %D, %C
  # with %C = const ... 1/B (either operand order of the mul).
  awk '
    $3 == "softmax" { sm[$1] = 1 }
    $3 == "onehot" { oh[$1] = 1 }
    $3 == "const" && $NF == "1/B" { invb[$1] = 1 }
    $3 == "sub" { a = $(NF - 1); sub(/,$/, "", a); if (sm[a] && oh[$NF]) d[$1] = 1 }
    $3 == "mul" { a = $(NF - 1); sub(/,$/, "", a); b = $NF
                  if ((d[a] && invb[b]) || (d[b] && invb[a])) { print; found = 1 } }
    END { exit !found }
  ' "$tmp/grad" || fail "no mul(sub(softmax, onehot), 1/B) in the gradient of $mlp"
  ;;
llvm)
  "$nnc" emit llvm "$xor" >"$tmp/ll" || fail "nnc emit llvm $xor"
  grep -q 'define void @nnc_train' "$tmp/ll" || fail "no 'define void @nnc_train'"
  grep -q 'call void @nnrt_sgemm' "$tmp/ll" || grep -q '^loop' "$tmp/ll" || fail "no GEMM call and no loop"
  # the -O2 pipeline (no unrolling) must still vectorise the element-wise loops
  "$nnc" emit llvm "$mlp" -O2 >"$tmp/mlp.ll" || fail "nnc emit llvm $mlp"
  sed -n '/^define void @nnc_train(/,/^}/p' "$tmp/mlp.ll" | grep -q '^vector.body' ||
    fail "no vectorized loop in @nnc_train of $mlp at -O2"
  # dimensions every operand walks contiguously are merged into one loop
  "$nnc" emit llvm examples/lecture07/lenet5.nn -O0 >"$tmp/lenet.ll" || fail "nnc emit llvm lenet5.nn"
  grep -Eq 'icmp slt i64 %i[0-9]*, 784$' "$tmp/lenet.ll" || fail "no loop of 784 in lenet5.nn"
  grep -Eq 'icmp slt i64 %i[0-9]*, 28$' "$tmp/lenet.ll" && fail "a loop of 28 in lenet5.nn"
  ;;
units)
  NNC_TIME=1 "$nnc" build "$xor" -o "$tmp/xor" 2>"$tmp/time" || fail "nnc build $xor"
  cat "$tmp/time"
  for u in train eval train_checked eval_checked setup; do
    grep -q "^nnc: time:   $u " "$tmp/time" || fail "NNC_TIME=1 lists no unit $u"
  done
  for p in parse lower autodiff schedule fuse memplan checked codegen emit link; do
    grep -q "^nnc: time: $p " "$tmp/time" || fail "NNC_TIME=1 lists no phase $p"
  done
  "$tmp/xor" train --seed 5 --epochs 300 --save "$tmp/a" --quiet >/dev/null || fail "train"
  "$tmp/xor" train --seed 5 --epochs 300 --save "$tmp/b" --quiet --check-numerics >/dev/null ||
    fail "train --check-numerics"
  cmp "$tmp/a" "$tmp/b" || fail "the checked kernels trained to a different checkpoint"
  ;;
passes)
  "$nnc" emit passes >"$tmp/passes" || fail "nnc emit passes"
  cat "$tmp/passes"
  order=$(sed -n 's/^ *[0-9][0-9]* \([a-z]*\) .*/\1/p' "$tmp/passes" | tr '\n' ' ')
  [ "$order" = "parse lower autodiff schedule fuse memplan checked codegen emit link " ] ||
    fail "the pass list is '$order'"
  for p in parse lower autodiff schedule fuse memplan checked codegen emit; do
    "$nnc" emit "$p" --verify-each "$xor" >"$tmp/$p" 2>&1 || fail "nnc emit $p exited with status $?"
    [ -s "$tmp/$p" ] || fail "nnc emit $p printed nothing"
  done
  grep -q '^kernel train {' "$tmp/autodiff" || fail "emit autodiff shows no training kernel"
  grep -q '^kernel eval: ' "$tmp/memplan" || fail "emit memplan shows no plan of the eval kernel"
  "$nnc" emit link "$xor" >/dev/null 2>&1 && fail "emit link (a pass with no dump) was accepted"
  n=0
  for f in $(find examples tests/golden tests/gradcheck -name '*.nn' | sort); do
    "$nnc" check "$f" >/dev/null 2>&1 || continue # a library file or an error test
    "$nnc" check --verify-each "$f" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "nnc check --verify-each $f"; }
    n=$((n + 1))
  done
  echo "the IR verifier passed after every pass on $n programs"
  [ "$n" -ge 50 ] || fail "only $n programs checked"
  ;;
save-load)
  build "$xor" "$tmp/xor"
  "$tmp/xor" train --save "$tmp/ckpt" --quiet >"$tmp/train" || fail "train --save exited with status $?"
  "$tmp/xor" eval --load "$tmp/ckpt" >"$tmp/eval" || fail "eval --load exited with status $?"
  t=$(tail -n 1 "$tmp/train")
  e=$(tail -n 1 "$tmp/eval")
  echo "train: $t"
  echo "eval:  $e"
  for k in loss accuracy; do
    tv=$(field $k "$t")
    ev=$(field $k "$e")
    [ -n "$tv" ] || fail "no $k= in the train line"
    [ "$tv" = "$ev" ] || fail "$k differs: train $tv, eval $ev"
  done
  ;;
determinism)
  build "$xor" "$tmp/xor"
  "$tmp/xor" train --seed 5 --epochs 300 --save "$tmp/a" --quiet >/dev/null || fail "first run"
  "$tmp/xor" train --seed 5 --epochs 300 --save "$tmp/b" --quiet >/dev/null || fail "second run"
  cmp "$tmp/a" "$tmp/b" || fail "two runs with seed 5 wrote different checkpoints"
  ;;
threads)
  build "$xor" "$tmp/xor"
  OMP_DISPLAY_ENV=true "$tmp/xor" info 2>&1 | grep -q "OMP_WAIT_POLICY = 'PASSIVE'" ||
    fail "OpenMP does not run with OMP_WAIT_POLICY=passive"
  OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=true "$tmp/xor" info 2>&1 |
    grep -q "OMP_WAIT_POLICY = 'ACTIVE'" || fail "the user's OMP_WAIT_POLICY was overridden"
  if [ ! -f "$fashion_dir/train-images-idx3-ubyte.gz" ]; then
    echo "SKIP: Fashion-MNIST is missing (OpenMP environment checked)"
    exit 77
  fi
  build "$mlp" "$tmp/mlp"
  for t in 1 2; do
    "$tmp/mlp" train --epochs 1 --threads $t --save "$tmp/t$t" --quiet >/dev/null ||
      fail "mlp --threads $t"
  done
  cmp "$tmp/t1" "$tmp/t2" || fail "--threads 1 and --threads 2 wrote different checkpoints"
  ;;
*)
  echo "unknown mode '$mode'" >&2
  exit 2
  ;;
esac
echo "PASS $mode"
