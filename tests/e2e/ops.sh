#!/bin/sh
# ops.sh — the forward values of primitives, checked against numbers worked
# out by hand (the gradchecks check derivatives against the forward, not the
# forward itself).  Each case builds a one-line loss over a data table and
# reads `eval`'s loss=.
#   cumsum   x = [[1,2,3],[4,5,6]], c = [[1,2,4],[8,16,32]]:
#            sum(cumsum(x) * c) = 1·1+3·2+6·4 + 4·8+9·16+15·32 = 687
#            reversed: [6,5,3],[15,11,6] → 6+10+12 + 120+176+192 = 516
#            along the batch: [1,2,3],[5,7,9] → 1+4+12 + 40+112+288 = 457
#            along the batch reversed (axis -2, positional): [5,7,9],[4,5,6]
#            → 5+14+36 + 32+80+192 = 359
#   lrn      lrn(x, n, k = 1, alpha = 1, beta = 1) over 3 channels: channel
#            i's window is [i - n/2, i + (n-1)/2], zeros outside, divided
#            by n (PyTorch's LocalResponseNorm); rows [1,2,3] and [4,5,6]
#            weighted by c: n = 2 gives 16.7812477, n = 3 gives 17.5127005
#   division '/' between compile-time integers is true division: with
#            s = sum(x * c) = 321, s * (1 / 16) = 20.0625 (not 0),
#            s * (6 / 3) = 642 (exact: an integer), s * floor(7 / 2) = 963
# usage: ops.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-ops.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# loss_of EXPR: eval's loss for loss = EXPR over x, c (f64[3] each, batch 2)
loss_of() {
  imp=""
  case $1 in import_nn\ *) imp='import "nn";'; set -- "${1#import_nn }" ;; esac
  cat >"$tmp/p.nn" <<EOF2
$imp
data t {
  x: f64[3] = [[1, 2, 3], [4, 5, 6]];
  c: f64[3] = [[1, 2, 4], [8, 16, 32]];
}
model M {
  param W: f64[3] = zeros;
  fn forward(x: f64[B, 3]) -> f64[B, 3] { return x + W; }
}
train M on t {
  loss = $1;
  optimizer = sgd(lr = 0.1);
  epochs = 1;
  batch = 2;
}
EOF2
  "$nnc" build "$tmp/p.nn" -o "$tmp/p" >"$tmp/build" 2>&1 || { cat "$tmp/build"; fail "nnc build for: $1"; }
  "$tmp/p" eval | sed -n 's/.*loss=\([^ ]*\).*/\1/p' | tail -n 1
}

case $mode in
cumsum)
  for t in "sum(cumsum(forward(x)) * c):687" "sum(cumsum(forward(x), reverse = 1) * c):516" \
           "sum(cumsum(forward(x), axis = 0) * c):457" "sum(cumsum(forward(x), -2, 1) * c):359"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
lrn)
  for t in "2:16.7812477" "3:17.5127005"; do
    n=${t%:*} want=${t##*:}
    expr="sum(lrn(reshape(forward(x), [size(x, 0), 3, 1, 1]), $n, 1, 1, 1) * reshape(c, [size(x, 0), 3, 1, 1]))"
    got=$(loss_of "import_nn $expr")
    echo "lrn n=$n: $got (want $want)"
    awk -v a="$got" -v b="$want" 'BEGIN { exit !((a - b) / b < 1e-5 && (b - a) / b < 1e-5) }' || fail "lrn n=$n gave $got, want $want"
  done
  ;;
division)
  for t in "sum(forward(x) * c) * (1 / 16):20.0625" "sum(forward(x) * c) * (6 / 3):642" \
           "sum(forward(x) * c) * floor(7 / 2):963"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
*) echo "usage: $0 NNC cumsum|lrn|division" >&2; exit 2 ;;
esac
echo "ok"
