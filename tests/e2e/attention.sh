#!/bin/sh
# attention.sh — stdlib/attention.nn's pieces that the PyTorch check does not
# cover: BertEmbeddings, PositionalEmbedding, DropoutEncoderLayer and
# causal_mask (tests/e2e/attention/causal.nn).  Causality: with a loss on
# position 0 alone, `grads --rows` finds a gradient on row 0 of the
# position tables and exactly zero on every other row; and the stack trains
# (the final loss is below a tenth of the first epoch's).  The batched
# products' views, the heads' gradients written into the concat that joins
# them, and values computed in place change no bit: the same weights with
# NNC_NO_GEMM_VIEWS=1 (heads copied, nothing placed) and NNC_NO_IN_PLACE=1,
# on 1 and 2 threads.
# usage: attention.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/attention
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-attention.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build $dir/causal.nn -o "$tmp/causal" || fail "build"
for table in pos.P emb.position; do
  "$tmp/causal" grads --rows $table -o "$tmp/rows.csv" >/dev/null || fail "grads --rows $table exited $?"
  # row,grad_norm: row 0 non-zero, rows 1..7 zero
  awk -F, -v t=$table 'NR == 1 { next }
    $1 == 0 { if ($2 + 0 <= 0) { print "row 0 of " t " has no gradient"; bad = 1 } next }
    { n++; if ($2 + 0 != 0) { print "row " $1 " of " t " has gradient " $2 " from a later position"; bad = 1 } }
    END { if (n != 7) { print t ": " n " rows after row 0, expected 7"; bad = 1 } exit bad }' "$tmp/rows.csv" ||
    fail "position 0 depends on later positions"
done
"$tmp/causal" train --quiet --log "$tmp/log.csv" >/dev/null || fail "train exited $?"
awk -F, 'NR == 2 { first = $2 } END { last = $2; print "loss " first " -> " last; exit !(last < first / 10) }' "$tmp/log.csv" ||
  fail "the stack did not train"
"$nnc" emit memplan $dir/causal.nn > "$tmp/memplan" || fail "emit memplan"
grep -q "transpose .* in %[0-9]* from column" "$tmp/memplan" || fail "emit memplan shows no head gradient placed in its concat"
NNC_NO_GEMM_VIEWS=1 "$nnc" build $dir/causal.nn -o "$tmp/copied" || fail "build NNC_NO_GEMM_VIEWS=1"
NNC_NO_IN_PLACE=1 "$nnc" build $dir/causal.nn -o "$tmp/apart" || fail "build NNC_NO_IN_PLACE=1"
for v in causal copied apart; do
  for t in 1 2; do
    "$tmp/$v" train --quiet --threads $t --save "$tmp/$v-$t.st" >/dev/null || fail "train $v --threads $t"
  done
done
for st in causal-2 copied-1 copied-2 apart-1 apart-2; do
  cmp -s "$tmp/causal-1.st" "$tmp/$st.st" || fail "the weights of $st differ from causal-1's"
done
echo "PASS"
