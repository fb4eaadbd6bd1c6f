#!/bin/sh
# scan.sh — a `for` kept as a loop (--scan, compiler/scan.c) computes what
# the unrolled loop does: stdlib/rnn.nn's RNN, LSTM, GRU, LSTM2 and BiLSTM
# (a reversed sequence, a prepended list), each trained 3 epochs both ways,
# end with the same weights, bit for bit (the same operations in the same
# order) when a weight's gradient is summed step by step (NNC_SCAN_HOIST=0);
# summed as one product after the loop (the default) the losses agree with
# the unrolled loop's to 1e-6, and `emit grad` shows that product and the
# forward's saved product; with both forward(x) and last(x) in the loss, the unrolled graph
# shares the two loops' nodes (so sums its gradients in another order) and
# the losses agree to 1e-6; `emit grad` shows the derived
# reverse loop, `emit memplan` the states saved for it; a loop whose code
# depends on t is still unrolled.
# usage: scan.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-scan.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0
for model in RNN LSTM GRU LSTM2 BiLSTM; do
  sed "s/MODEL/$model/g; s/LOSS/mean(h * h)/" tests/e2e/scan/seq.nn.in > "$tmp/$model.nn"
  "$nnc" emit grad --scan "$tmp/$model.nn" > "$tmp/$model.grad" || { echo "FAIL $model: emit grad"; fail=1; continue; }
  grep -q "for t in reversed 0\.\.6" "$tmp/$model.grad" || { echo "FAIL $model: no reverse loop in emit grad"; fail=1; }
  "$nnc" emit memplan --scan "$tmp/$model.nn" | grep -q "saved for the backward loop" ||
    { echo "FAIL $model: emit memplan shows no saved states"; fail=1; }
  grep -q "(a product saved for the backward loop)" "$tmp/$model.grad" ||
    { echo "FAIL $model: emit grad shows no product saved by the forward loop"; fail=1; }
  NNC_SCAN_HOIST=0 "$nnc" emit grad --scan "$tmp/$model.nn" > "$tmp/$model.grad0" || { echo "FAIL $model: emit grad"; fail=1; continue; }
  n1=$(grep -c "^  %[0-9]* = matmul .* trans=a" "$tmp/$model.grad"); n0=$(grep -c "^  %[0-9]* = matmul .* trans=a" "$tmp/$model.grad0")
  [ "$n1" -gt "$n0" ] ||
    { echo "FAIL $model: emit grad shows no weight gradient summed over the steps in one product ($n1 products a^T b after the loops, $n0 without)"; fail=1; }
  for how in scan unroll hoist; do
    flag=--$how hoist=0
    [ $how = hoist ] && flag=--scan hoist=1
    NNC_SCAN_HOIST=$hoist "$nnc" build -O1 $flag "$tmp/$model.nn" -o "$tmp/$model-$how" || { echo "FAIL $model: build --$how"; fail=1; continue 2; }
    "$tmp/$model-$how" train --quiet --save "$tmp/$model-$how.st" --log "$tmp/$model-$how.csv" >/dev/null || { echo "FAIL $model: train --$how"; fail=1; continue 2; }
  done
  if cmp -s "$tmp/$model-scan.st" "$tmp/$model-unroll.st"; then echo "ok $model: same weights"
  else echo "FAIL $model: the scan's weights differ from the unrolled loop's"; fail=1; fi
  if paste -d, "$tmp/$model-hoist.csv" "$tmp/$model-unroll.csv" | awk -F, 'NR > 1 { n++; d = $2 - $7; if (d < 0) d = -d; if (d > 1e-6) bad = 1 } END { exit bad || !n }'; then
    echo "ok $model: weight gradients summed after the loop, the same losses to 1e-6"
  else echo "FAIL $model: with the weight gradients summed after the loop, the losses differ"; fail=1; fi
done
# a training kernel emitted in parts, the scans among its items
for how in scan unroll; do
  "$nnc" build -O1 --$how tests/e2e/scan/deep.nn -o "$tmp/deep-$how" && "$tmp/deep-$how" train --quiet --save "$tmp/deep-$how.st" >/dev/null ||
    { echo "FAIL deep: --$how"; fail=1; }
done
if cmp -s "$tmp/deep-scan.st" "$tmp/deep-unroll.st"; then echo "ok deep: same weights"
else echo "FAIL deep: the scan's weights differ from the unrolled loop's"; fail=1; fi
for model in RNN LSTM; do
  sed "s/MODEL/$model/g; s/LOSS/mean(h * h) + mean(rnn.last(x))/" tests/e2e/scan/seq.nn.in > "$tmp/last.nn"
  for how in scan unroll; do
    "$nnc" build -O1 --$how "$tmp/last.nn" -o "$tmp/last-$how" && "$tmp/last-$how" train --quiet --log "$tmp/last-$how.csv" >/dev/null ||
      { echo "FAIL $model last: --$how"; fail=1; continue 2; }
  done
  if paste -d, "$tmp/last-scan.csv" "$tmp/last-unroll.csv" | awk -F, 'NR > 1 { d = $2 - $7; if (d < 0) d = -d; if (d > 1e-6) bad = 1 } END { exit bad }'; then
    echo "ok $model with last(x): the same losses to 1e-6"
  else echo "FAIL $model with last(x): losses differ"; paste -d, "$tmp/last-scan.csv" "$tmp/last-unroll.csv"; fail=1; fi
done
# code that depends on t: unrolled (no scan in the IR), and still right
cat > "$tmp/t.nn" <<'NN'
import "rnn";
data seqs { x: f32[6, 2] = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]]; }
model M {
  layer cell = RNNCell(2, 3);
  fn loss(x: f32[B, 6, 2]) -> f32[] {
    h = zeros([B, 3]);
    for t in 0..6 { if t == 3 { h = cell(x[:, t, :], h); } else { h = cell(x[:, t, :], h) * 0.5; } }
    return mean(h * h);
  }
}
train M on seqs { loss = loss(x); optimizer = sgd(lr = 0.1); epochs = 1; batch = 1; }
NN
if "$nnc" emit grad --scan "$tmp/t.nn" | grep -q "scan"; then echo "FAIL: a loop whose code depends on t became a scan"; fail=1
else echo "ok: a loop whose code depends on t is unrolled"; fi
[ $fail = 0 ] && echo PASS
exit $fail
