#!/bin/sh
# graph_data.sh — a graph("edges.csv") field: a good edge list trains; an
# edge to a missing node, a self-loop and a duplicate edge (either
# direction) stop the run with one line naming the file and the line, for
# the dense f32[N, N] and the sparse csr[N, N] (norm = "gcn") forms alike;
# node masks read with mask = 1 must hold 0/1 and be disjoint across the
# train and test splits; a csr field fed to anything but spmm is refused
# at compile time.
# usage: graph_data.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-graph.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/err" 2>/dev/null; exit 1; }
cat >"$tmp/g.nn" <<EOF2
data g {
  a: f32[4, 4] = graph("$tmp/edges.csv");
}
model M {
  param w: f32[4, 1] = zeros;
  fn forward(a: f32[B, 4, 4]) -> f32[B, 4, 1] { return a @ w; }
}
train M on g { loss = mean((forward(a) - 1) * (forward(a) - 1)); optimizer = sgd(lr = 0.1); epochs = 20; batch = 1; }
EOF2
"$nnc" build "$tmp/g.nn" -o "$tmp/g" 2>"$tmp/err" || fail "build"
# a path: node degrees 1 2 2 1, so a @ w = 1 is reachable
printf 'src,dst\n0,1\n2,1\n2,3\n' >"$tmp/edges.csv"
r=$("$tmp/g" train --quiet 2>"$tmp/err") || fail "train on a good edge list"
echo "good: $r"
case $r in *loss=0.0*) ;; *) fail "the loss did not fall below 0.1: $r" ;; esac
bad() { # CONTENT EXPECTED-ERROR
  printf "$1" >"$tmp/edges.csv"
  if "$tmp/g" train --quiet >/dev/null 2>"$tmp/err"; then fail "trained on bad edges: $2"; fi
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "not one line"
  grep -qF "error: $tmp/edges.csv:$2" "$tmp/err" || fail "expected '$2'"
  echo "bad: $(cat "$tmp/err")"
}
bad '0,1\n1,4\n' '2:3: edge to missing node 4 (the graph has nodes 0 to 3)'
bad '0,1\n3,3\n' '2: self-loop on node 3'
bad '0,1\n1,2\n1,0\n' '3: duplicate edge 0-1 (already on line 1; edges are undirected)'

# the sparse form: the same errors, and the same training as the dense
# program on the same normalised matrix
cat >"$tmp/s.nn" <<EOF2
import "nn";
data g {
  a: csr[4, 4] = graph("$tmp/edges.csv", norm = "gcn");
  m: f32[4] = csv("$tmp/train_mask.csv", mask = 1);
  x: f32[4, 1] = [[1.0, 1.5, 2.0, 2.5]];
  test a = graph("$tmp/edges.csv", norm = "gcn");
  test m = csv("$tmp/test_mask.csv", mask = 1);
  test x = [[1.0, 1.5, 2.0, 2.5]];
}
model M {
  layer l = SparseGCNLayer(1, 1);
  fn forward(a: csr[B, 4, 4], x: f32[B, 4, 1]) -> f32[B, 4, 1] { return l(a, x); }
}
train M on g { loss = sum(m * sum(forward(a, x) - 1, axis = -1) ** 2); optimizer = sgd(lr = 0.1); epochs = 20; batch = 1; }
EOF2
sed -e 's/csr\[/f32[/g' -e 's/SparseGCNLayer/GCNLayer/' "$tmp/s.nn" >"$tmp/d.nn"
"$nnc" build "$tmp/s.nn" -o "$tmp/g" 2>"$tmp/err" || fail "build (csr)"
"$nnc" build "$tmp/d.nn" -o "$tmp/gd" 2>"$tmp/err" || fail "build (dense, norm = gcn)"
printf 'src,dst\n0,1\n2,1\n2,3\n' >"$tmp/edges.csv"
printf '1,1,0,0\n' >"$tmp/train_mask.csv"
printf '0,0,1,1\n' >"$tmp/test_mask.csv"
rs=$("$tmp/g" train --quiet --seed 3 2>"$tmp/err") || fail "train (csr)"
rd=$("$tmp/gd" train --quiet --seed 3 2>"$tmp/err") || fail "train (dense, norm = gcn)"
echo "csr: $rs; dense: $rd"
[ "$rs" = "$rd" ] || fail "csr and dense results differ: '$rs' vs '$rd'"
bad '0,1\n1,4\n' '2:3: edge to missing node 4 (the graph has nodes 0 to 3)'
bad '0,1\n3,3\n' '2: self-loop on node 3'
bad '0,1\n1,2\n1,0\n' '3: duplicate edge 0-1 (already on line 1; edges are undirected)'

# node masks: overlap and a value other than 0/1
printf 'src,dst\n0,1\n2,1\n2,3\n' >"$tmp/edges.csv"
badmask() { # TRAIN TEST EXPECTED-ERROR
  printf "$1" >"$tmp/train_mask.csv"
  printf "$2" >"$tmp/test_mask.csv"
  if "$tmp/g" train --quiet >/dev/null 2>"$tmp/err"; then fail "trained with bad masks: $3"; fi
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "not one line"
  grep -qF "error: $3" "$tmp/err" || fail "expected '$3'"
  echo "bad: $(cat "$tmp/err")"
}
badmask '1,1,0,0\n' '0,1,1,1\n' "$tmp/train_mask.csv: row 2: node 1 is in both the train and the test mask ($tmp/test_mask.csv)"
badmask '1,2,0,0\n' '0,0,1,1\n' "$tmp/train_mask.csv: row 2 (node 1): a mask entry is 0 or 1"

# a csr field is only spmm's
sed 's|return l(a, x);|return a @ x;|' "$tmp/s.nn" | sed 's/^  layer l = .*//' >"$tmp/bad.nn"
if "$nnc" build "$tmp/bad.nn" -o "$tmp/bad" 2>"$tmp/err"; then fail "built a csr field used by @"; fi
grep -q "error: " "$tmp/err" || fail "no error for a csr field used by @"
echo "bad: $(grep 'error: ' "$tmp/err")"
echo PASS
