#!/bin/sh
# optim.sh — the optimizer step nnc generates for both targets
# (compiler/codegen/optim.c) against runtime/optim.c's C loops, its
# reference: for every rule, with and without weight decay, in f32 and f64,
# a small regression trains 5 epochs twice — with the generated step and
# with NNRT_OPT_REFERENCE=1 — and the two checkpoints must be the same
# bytes; a run with the state PyTorch's options add (amsgrad's maximum,
# centered rmsprop's mean, adagrad's initial sum, dampened velocity) resumed
# from a checkpoint after 2 epochs must end on the same bytes.  It also checks that the executable registered a generated step
# at all (a program built by nnc always does).
# usage: optim.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-optim.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

program() { # DTYPE OPTIMIZER
  cat <<EOF2
data t {
  x: $1[3] = [[0.1, 0.9, -0.3], [0.4, 0.2, 0.5], [0.8, -0.5, 0.1], [0.3, 0.7, -0.9], [-0.6, 0.1, 0.4], [0.9, 0.3, 0.2],
               [0.2, -0.4, 0.6], [0.7, 0.8, -0.1]];
  y: $1[2] = [[1.0, 0.2], [0.6, -0.3], [1.3, 0.5], [1.0, 0.1], [0.7, -0.8], [1.2, 0.9], [0.6, 0.0], [1.5, -0.4]];
}
model M {
  param W1: $1[3, 8] = xavier_uniform;
  param b1: $1[8] = zeros;
  param W2: $1[8, 2] = xavier_uniform;
  param b2: $1[2] = zeros;
  fn forward(x: $1[B, 3]) -> $1[B, 2] { return tanh(x @ W1 + b1) @ W2 + b2; }
}
train M on t {
  loss = mean((forward(x) - y) * (forward(x) - y));
  optimizer = $2;
  epochs = 5;
  batch = 3;
  seed = 11;
}
EOF2
}

n=0
for dt in f32 f64; do
  for opt in "sgd(lr = 0.1)" "sgd(lr = 0.1, weight_decay = 0.01)" "momentum(lr = 0.05, momentum = 0.9)" \
             "nesterov(lr = 0.05, momentum = 0.9, weight_decay = 0.001)" "adagrad(lr = 0.1)" \
             "adadelta(lr = 1.0, rho = 0.9)" "rmsprop(lr = 0.01, rho = 0.9)" "adam(lr = 0.01)" \
             "adam(lr = 0.01, weight_decay = 0.01)" "adamw(lr = 0.01, weight_decay = 0.1)" \
             "sgd(lr = 0.05, momentum = 0.9, dampening = 0.3)" "nesterov(lr = 0.05, momentum = 0.8, dampening = 0.5)" \
             "adagrad(lr = 0.1, lr_decay = 0.05, initial_accumulator_value = 0.1)" \
             "rmsprop(lr = 0.01, rho = 0.9, centered = 1)" "adam(lr = 0.01, amsgrad = 1)" \
             "adamw(lr = 0.01, weight_decay = 0.1, amsgrad = 1)" \
             "nesterov(lr = 0.05, momentum = 0.9, lookahead = 1, weight_decay = 0.001)"; do
    program $dt "$opt" >"$tmp/p.nn"
    "$nnc" build "$tmp/p.nn" -o "$tmp/p" >"$tmp/err" 2>&1 || { cat "$tmp/err"; fail "nnc build ($dt, $opt)"; }
    "$tmp/p" train --quiet --save "$tmp/gen.st" >"$tmp/gen" || fail "train ($dt, $opt)"
    NNRT_OPT_REFERENCE=1 "$tmp/p" train --quiet --save "$tmp/ref.st" >"$tmp/ref" || fail "reference train ($dt, $opt)"
    cmp -s "$tmp/gen.st" "$tmp/ref.st" || fail "$dt $opt: the generated step's checkpoint differs from the reference's"
    cmp -s "$tmp/gen.st" "$tmp/p.nn" && fail "cmp does not compare"
    case "$opt" in *amsgrad*|*centered*|*initial_acc*|*dampening*|*lookahead*) # state beyond 2 arrays, not from zero, or a look-ahead buffer
      "$tmp/p" train --quiet --epochs 2 --save "$tmp/part.st" >/dev/null || fail "first part ($dt, $opt)"
      "$tmp/p" train --quiet --resume "$tmp/part.st" >/dev/null || fail "resume ($dt, $opt)"
      cmp -s "$tmp/gen.st" "$tmp/part.st" || fail "$dt $opt: 2 epochs + --resume to 5 differ from 5 epochs"
      ;;
    esac
    echo "ok $dt $opt: $(tail -n 1 "$tmp/gen")"
    n=$((n + 1))
  done
done
nm "$tmp/p" | grep -q ' T nnc_opt_f64$' || fail "the executable has no generated optimizer step"
echo "$n optimizer settings: the generated step and the reference give the same bytes"
