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
#   embedding  table T = [[0,1],[2,3],[4,5]], ids = [[0,2,5],[1,1,-1]] (5 and
#            -1 out of range: zero rows), weights c per sample:
#            [0,1,4,5,0,0]·[1,2,4,8,16,32] = 58,
#            [2,3,2,3,0,0]·[1,10,100,1000,1e4,1e5] = 3232 → 3290
#   stack    a = x, b = 10·x: stack along a new last axis interleaves them,
#            [a0,b0,a1] · c = 1+20+8 + 32+640+160 = 861; along a new first
#            axis, item 1 is b: sum(10·x·c) = 10·321 = 3210; concat of three
#            (a balanced tree) keeps the order: columns 6:9 are 100·x → 32100
#   masked   a float mask m = (c < 5) = [[1,1,1],[0,0,0]]: the masked mean
#            sum(m·x)/sum(m) = (1+2+3)/3 = 2; where(c > 3, x, 0) keeps
#            [_,_,3],[4,5,6] → 18
#   matmul   batched products, x as above (rows x1, x2), c as above:
#            [B, 1, 3] @ [B, 3, 1]: x·x = 14 + 77 = 91; [B, 3, 1] @ [B, 1, 3]:
#            outer products, (Σx)² = 36 + 225 = 261; x against c transposed
#            in place: x·c = 17 + 304 = 321; the Gram matrix XᵀX [3, 3]
#            against each c [B, 3, 1]: Σ_b (Σx_b)(x_b·(c1+c2)) = 6·153 +
#            15·342 = 6048; rank 4 [B, 1, 3, 1] @ [B, 1, 1, 3]:
#            Σ_b (Σx_b)(Σc_b) = 6·7 + 15·56 = 882
#   softmax  along axis 1 of [B, 3, 1]: each sample's softmax(1, 2, 3) =
#            (e, e², e³)/Σ, against c: (1 + 2e + 4e²)/(1 + e + e²) · (1 + 8)
#            = 29.164062045413 (eval prints 29.1641); along the batch axis (0) of x: every column
#            differs by 3, p = 1/(1 + e³): 7p + 56(1 − p) = 53.676132214299
#            (53.6761)
#   mask     additive attention masks on zero scores, the weights against c
#            broadcast over the query rows: causal [T, T] (row t averages
#            positions 0..t): c0 + (c0+c1)/2 + (c0+c1+c2)/3 = 4.8333 + 38.6667
#            = 43.5; padding [B, 1, 1, T] masking c > 10 (none of sample 1,
#            positions 1, 2 of sample 2): 3·7/3 + 3·8 = 31; both: 4.8333 +
#            3·8 = 28.8333
#   lrn      lrn(x, n, k = 1, alpha = 1, beta = 1) over 3 channels: channel
#            i's window is [i - n/2, i + (n-1)/2], zeros outside, divided
#            by n (PyTorch's LocalResponseNorm); rows [1,2,3] and [4,5,6]
#            weighted by c: n = 2 gives 16.7812477, n = 3 gives 17.5127005
#   division '/' between compile-time integers is true division: with
#            s = sum(x * c) = 321, s * (1 / 16) = 20.0625 (not 0),
#            s * (6 / 3) = 642 (exact: an integer), s * floor(7 / 2) = 963
#   detect   boxes that are not boxes, made at run time (log(-1) is NaN):
#            nms over [0,0,10,10] 0.9; [1,1,11,11] 0.8 (IoU 81/119 with
#            box 0: suppressed); a box with x1 = NaN, score 0.95 (never kept,
#            suppresses nothing); [40,0,30,10] (x2 < x1) 0.99 (never kept);
#            [20,20,30,30] with score NaN (never kept); [21,21,31,31] 0.7
#            (kept: the boxes over it do not count); box 0 again, 0.9 (the
#            tie goes to the lower index, then IoU 1) → [0, 5, -1, -1],
#            against weights 10^q (j + 1): 1 + 60 = 61.  roi_align and
#            roi_pool (size 2, scale 1) over ones [1, 1, 4, 4]: the box
#            [0, 0, 3, 3] gives 4 bins of 1 each, a box with a NaN corner 0:
#            4 each; the loss 61 + 100·4 + 1000·4 = 4461
#   pool     PyTorch's conventions, on x as [B, 1, 1, 3] images: avg_pool2d
#            counts the padding (count_include_pad=True): 1x3 windows, stride
#            1, padding [0, 1] give [1, 2, 5/3] and [3, 5, 11/3], weighted by
#            c 233 (307.5 if the padding were not counted); max_unpool2d adds
#            where windows share a maximum: y = -(x - 2)², 1x2 windows at
#            stride 1, the pooled values + 10 put back give [0, 20, 0] and
#            [6, 1, 0], weighted by c 104 (84 if the second overwrote)
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
detect)
  cat >"$tmp/d.nn" <<EOF2
data t {
  nb: f64[7, 4] = [[0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 40, 0, 30, 10, 20, 20, 30, 30, 21, 21, 31, 31, 0, 0, 10, 10]];
  m: f64[7, 4] = [[1, 1, 1, 1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]];
  ns: f64[7] = [[0.9, 0.8, 0.95, 0.99, 0, 0.7, 0.9]];
  nm: f64[7] = [[1, 1, 1, 1, -1, 1, 1]];
  c: f64[4, 7] = [[1, 2, 3, 4, 5, 6, 7, 10, 20, 30, 40, 50, 60, 70,
                   100, 200, 300, 400, 500, 600, 700, 1000, 2000, 3000, 4000, 5000, 6000, 7000]];
  r: f64[2, 4] = [[0, 0, 3, 3, 0, 0, 3, 3]];
  rm: f64[2, 4] = [[1, 1, 1, 1, 1, -1, 1, 1]];
}
model M {
  param W: f64[1] = zeros;
  fn forward(nb: f64[B, 7, 4], m: f64[B, 7, 4], ns: f64[B, 7], nm: f64[B, 7], c: f64[B, 4, 7],
             r: f64[B, 2, 4], rm: f64[B, 2, 4]) -> f64[B] {
    keep = nms(nb + log(m), ns + log(nm), iou = 0.5, k = 4);
    n = sum(onehot(keep, 7, like = c) * c, axis = [1, 2]);
    x = ones([B, 1, 4, 4], like = c) + W;
    a = roi_align(x, r + log(rm), size = 2, scale = 1);
    p = roi_pool(x, r + log(rm), size = 2, scale = 1);
    return n + 100 * sum(a, axis = [1, 2, 3, 4]) + 1000 * sum(p, axis = [1, 2, 3, 4]);
  }
}
train M on t {
  loss = sum(forward(nb, m, ns, nm, c, r, rm));
  optimizer = sgd(lr = 0.1);
  epochs = 1;
  batch = 1;
}
EOF2
  "$nnc" build "$tmp/d.nn" -o "$tmp/d" >"$tmp/build" 2>&1 || { cat "$tmp/build"; fail "nnc build (detect)"; }
  got=$("$tmp/d" eval | sed -n 's/.*loss=\([^ ]*\).*/\1/p' | tail -n 1)
  echo "detect loss = $got (want 4461: nms 61, roi_align 4, roi_pool 4)"
  [ "$got" = "4461" ] || fail "detect gave $got, want 4461"
  ;;
cumsum)
  for t in "sum(cumsum(forward(x)) * c):687" "sum(cumsum(forward(x), reverse = 1) * c):516" \
           "sum(cumsum(forward(x), axis = 0) * c):457" "sum(cumsum(forward(x), -2, 1) * c):359"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
embedding)
  cat >"$tmp/e.nn" <<EOF2
data t {
  ids: i32[3] = [[0, 2, 5], [1, 1, -1]];
  c: f64[6] = [[1, 2, 4, 8, 16, 32], [1, 10, 100, 1000, 10000, 100000]];
}
model M {
  param E: f64[3, 2] = zeros;
  fn forward(ids: i32[B, 3]) -> f64[B, 6] {
    return reshape(embedding(reshape(arange(6, like = E), [3, 2]) + E, ids), [B, 6]);
  }
}
train M on t {
  loss = sum(forward(ids) * c);
  optimizer = sgd(lr = 0.1);
  epochs = 1;
  batch = 2;
}
EOF2
  "$nnc" build "$tmp/e.nn" -o "$tmp/e" >"$tmp/build" 2>&1 || { cat "$tmp/build"; fail "nnc build (embedding)"; }
  got=$("$tmp/e" eval | sed -n 's/.*loss=\([^ ]*\).*/\1/p' | tail -n 1)
  echo "embedding loss = $got (want 3290)"
  [ "$got" = "3290" ] || fail "embedding gave $got, want 3290"
  ;;
stack)
  for t in "sum(reshape(stack([forward(x), forward(x) * 10], axis = 2), [-1, 6])[:, 0:3] * c):861" \
           "sum(stack(forward(x), forward(x) * 10, axis = 0)[1] * c):3210" \
           "sum(concat([forward(x), forward(x) * 10, forward(x) * 100], axis = 1)[:, 6:9] * c):32100"; do
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
pool)
  img="reshape(forward(x), [size(x, 0), 1, 1, 3])" cw="reshape(c, [size(x, 0), 1, 1, 3])"
  y="(-($img - 2) * ($img - 2))"
  for t in "sum(avg_pool2d($img, [1, 3], stride = 1, padding = [0, 1]) * $cw):233" \
           "sum(max_unpool2d(max_pool2d($y, [1, 2], stride = 1) + 10, max_pool2d_indices($y, [1, 2], stride = 1), [1, 2], stride = 1, like = $y) * $cw):104"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    awk -v a="$got" -v b="$want" 'BEGIN { exit !((a - b) / b < 1e-12 && (b - a) / b < 1e-12) }' || fail "$expr gave $got, want $want"
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
matmul)
  for t in "sum(reshape(forward(x), [-1, 1, 3]) @ reshape(forward(x), [-1, 3, 1])):91" \
           "sum(reshape(forward(x), [-1, 3, 1]) @ reshape(forward(x), [-1, 1, 3])):261" \
           "sum(reshape(forward(x), [-1, 1, 3]) @ transpose(reshape(c, [-1, 1, 3]), [0, 2, 1])):321" \
           "sum((transpose(forward(x)) @ forward(x)) @ reshape(c, [-1, 3, 1])):6048" \
           "sum(reshape(forward(x), [-1, 1, 3, 1]) @ reshape(c, [-1, 1, 1, 3])):882"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
masked)
  for t in "sum((c < 5) * forward(x)) / sum(c < 5):2" "sum(where(c > 3, forward(x), 0)):18"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
softmax)
  for t in "sum(softmax(reshape(forward(x), [-1, 3, 1]), axis = 1) * reshape(c, [-1, 3, 1])):29.1641" \
           "sum(exp(log_softmax(forward(x), 0)) * c):53.6761"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
mask)
  i="arange(3, like = c)"
  causal="where(reshape($i, [3, 1]) >= reshape($i, [1, 3]), zeros([3, 3], like = c), full([3, 3], -1e9, like = c))"
  pad="reshape((c > 10) * -1e9, [-1, 1, 1, 3])"
  for t in "sum(softmax(reshape(forward(x), [-1, 3, 1]) * 0 + $causal) * reshape(c, [-1, 1, 3])):43.5" \
           "sum(softmax(reshape(forward(x), [-1, 1, 3, 1]) * 0 + $pad) * reshape(c, [-1, 1, 1, 3])):31" \
           "sum(softmax(reshape(forward(x), [-1, 1, 3, 1]) * 0 + $causal + $pad) * reshape(c, [-1, 1, 1, 3])):28.8333"; do
    expr=${t%:*} want=${t##*:}
    got=$(loss_of "$expr")
    echo "$expr = $got (want $want)"
    [ "$got" = "$want" ] || fail "$expr gave $got, want $want"
  done
  ;;
*) echo "usage: $0 NNC cumsum|embedding|stack|masked|matmul|softmax|mask|lrn|division|detect|pool" >&2; exit 2 ;;
esac
echo "ok"
