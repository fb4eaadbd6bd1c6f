#!/bin/sh
# graph_data.sh — a graph("edges.csv") field: a good edge list trains; an
# edge to a missing node, a self-loop and a duplicate edge (either
# direction) stop the run with one line naming the file and the line.
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
echo PASS
