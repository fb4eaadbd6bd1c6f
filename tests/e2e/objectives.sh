#!/bin/sh
# objectives.sh — a step of two objectives (§8.4) with fresh noise and two
# Adam optimizers under a schedule (tests/e2e/objectives/gan.nn):
#  - 1 epoch, then --resume for the 2nd, saves the bytes of 2 epochs in one run
#    (both optimizers' state and the generator's position are checkpointed);
#  - the same seed gives the same bytes, another seed others;
#  - the generated optimizer step equals runtime/optim.c's (NNRT_OPT_REFERENCE=1);
#  - gradcheck passes (each param against its own objective's loss);
#  - the last line names both losses, and eval --load prints the same one;
#  - --log has a column per objective;
#  - one `minimize ... wrt l` (one_wrt.nn) trains l only: a keeps its weights.
# usage: objectives.sh NNC   (run from the repository root)
set -u
nnc=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-objectives.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" build tests/e2e/objectives/gan.nn -o "$tmp/gan" || fail "build"
"$tmp/gan" train --save "$tmp/two.st" >"$tmp/two.out" || fail "train exited $?"
last=$(tail -n 1 "$tmp/two.out")
echo "$last" | grep -Eq '^epoch=2 loss=[0-9.e+-]+ d_loss=[0-9.e+-]+ g_loss=[0-9.e+-]+$' || fail "last line: $last"
"$tmp/gan" train --quiet --log "$tmp/log.csv" >/dev/null || fail "train --log"
head -n 1 "$tmp/log.csv" | grep -q ',d_loss,g_loss$' || fail "log header: $(head -n 1 "$tmp/log.csv")"
"$tmp/gan" train --epochs 1 --save "$tmp/one.st" >/dev/null || fail "1 epoch"
"$tmp/gan" train --resume "$tmp/one.st" --save "$tmp/resumed.st" >/dev/null || fail "resume"
cmp "$tmp/two.st" "$tmp/resumed.st" || fail "1 + 1 resumed epochs differ from 2"
"$tmp/gan" train --save "$tmp/again.st" >/dev/null || fail "second run"
cmp "$tmp/two.st" "$tmp/again.st" || fail "the same seed gave different bytes"
"$tmp/gan" train --seed 7 --save "$tmp/seed7.st" >/dev/null || fail "seed 7"
cmp -s "$tmp/two.st" "$tmp/seed7.st" && fail "another seed gave the same bytes"
NNRT_OPT_REFERENCE=1 "$tmp/gan" train --save "$tmp/ref.st" >/dev/null || fail "reference step"
cmp "$tmp/two.st" "$tmp/ref.st" || fail "the generated step differs from optim.c's"
grep -q '__opt__/D1.W/1' "$tmp/two.st" && grep -q '__opt__/G2.b/1' "$tmp/two.st" && grep -q '"optimizers":"adam,adam"' "$tmp/two.st" ||
  fail "the checkpoint lacks an optimizer's state"
"$tmp/gan" gradcheck >"$tmp/gc.out" || { cat "$tmp/gc.out"; fail "gradcheck"; }
evl=$("$tmp/gan" eval --load "$tmp/two.st") || fail "eval"
[ "epoch=2 $evl" = "$last" ] || fail "eval --load printed '$evl', train '$last'"
"$nnc" build tests/e2e/objectives/one_wrt.nn -o "$tmp/one" 2>"$tmp/one.err" || fail "build one_wrt"
grep -q "parameter 'a.W' is updated by no objective" "$tmp/one.err" || fail "no warning for a.W"
"$tmp/one" train --epochs 1 --save "$tmp/one1.st" >/dev/null && "$tmp/one" train --save "$tmp/one2.st" >/dev/null ||
  fail "one_wrt train"
/usr/bin/python3 - "$tmp/one1.st" "$tmp/one2.st" <<'PY' || fail "one_wrt: a moved or l did not"
import json, struct, sys
def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    return {k: raw[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]] for k, e in head.items() if k != "__metadata__"}
w1, w2 = read(sys.argv[1]), read(sys.argv[2])
sys.exit(0 if w1["a.W"] == w2["a.W"] and w1["a.b"] == w2["a.b"] and w1["l.W"] != w2["l.W"] else 1)
PY
echo "PASS"
