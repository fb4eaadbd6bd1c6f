#!/bin/sh
# dot.sh — `nnc emit dot` (LANGUAGE.md 9.1) renders with Graphviz: the
# backward, forward and fused graphs of lecture 2's XOR and of LeNet-5
# each go through `dot -Tsvg` without a warning and make an SVG with what
# the graph must show (the derived gradient ops and the gradient outputs in
# backward, none of them in forward, fusion boxes in fused); --graph with
# another dump, or an unknown graph, is a usage error.
# usage: dot.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-dot.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v dot >/dev/null || fail "Graphviz's dot is missing (scripts/deps.sh installs graphviz)"
for nn in examples/lecture02/xor.nn examples/lecture07/lenet5.nn; do
  b=$(basename "$nn" .nn)
  for g in backward forward fused; do
    "$nnc" emit dot --graph $g "$nn" >"$tmp/$b-$g.dot" 2>"$tmp/err" || { cat "$tmp/err"; fail "emit dot --graph $g $nn"; }
    dot -Tsvg "$tmp/$b-$g.dot" -o "$tmp/$b-$g.svg" 2>"$tmp/err" || { cat "$tmp/err"; fail "dot -Tsvg of $b $g"; }
    [ -s "$tmp/err" ] && { cat "$tmp/err"; fail "dot warned about $b $g"; }
    grep -q '<svg' "$tmp/$b-$g.svg" || fail "$b $g: no SVG"
  done
  grep -q '∂ matmul' "$tmp/$b-backward.svg" || fail "$b backward: no derived gradient op"
  grep -q '>grad ' "$tmp/$b-backward.svg" || fail "$b backward: no gradient output"
  grep -q '∂' "$tmp/$b-forward.svg" && fail "$b forward: gradient ops in the inference graph"
  grep -q 'class="cluster"' "$tmp/$b-fused.svg" || fail "$b fused: no fusion box"
done
grep -q '>grad W1<' "$tmp/xor-backward.svg" || fail "xor backward: no 'grad W1' output"
"$nnc" emit ir --graph fused examples/lecture02/xor.nn >/dev/null 2>&1
[ $? -eq 2 ] || fail "--graph with emit ir: not a usage error"
"$nnc" emit dot --graph sideways examples/lecture02/xor.nn >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "--graph sideways: not a usage error"
grep -q "unknown graph 'sideways'" "$tmp/err" || fail "--graph sideways: message"
echo "ok: emit dot renders (backward, forward, fused) for xor and lenet5"
