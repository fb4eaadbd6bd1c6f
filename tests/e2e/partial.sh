#!/bin/sh
# partial.sh — `train --init-from FILE [--only GLOB]... [--rename FROM=TO]...`
# (runtime/session_init.c).  tests/e2e/partial/pretrain.nn is trained and
# saved; finetune.nn (the same `encoder`, another `head`) starts from it
# with --only 'encoder.*' and saves its initial weights (--epochs 0
# --save): its encoder tensors must be byte-identical to the checkpoint's
# and its head byte-identical to a run without --init-from (the seeded
# initialisation), and the encoder must differ from the fresh one (else
# the test could not fail).  Then --rename, a whole-program load without
# --only, and each error: a glob that matches nothing, missing tensors
# (with the near name), a shape and a dtype mismatch, the head's shape
# without --only, a truncated file, --init-from with --resume, --only
# without --init-from, a bad --rename, --save onto the --init-from file;
# a failed run leaves an existing --save file as it was.
# usage: partial.sh NNC   (run from the repository root)
set -u
nnc=$1
dir=tests/e2e/partial
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-partial.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# same A.st B.st GLOB: exit 0 when every tensor of A whose name matches
# GLOB is in B with the same dtype, shape and bytes (and GLOB matches one).
same() {
  python3 - "$@" <<'PY'
import fnmatch, json, struct, sys
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items()}
a, b = read(sys.argv[1]), read(sys.argv[2])
names = [k for k in a if fnmatch.fnmatchcase(k, sys.argv[3])]
sys.exit(0 if names and all(k in b and a[k] == b[k] for k in names) else 1)
PY
}
meta() { # meta FILE KEY: a checkpoint metadata value
  python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"][sys.argv[2]])' "$1" "$2"
}
# refused CODE WHAT PATTERN CMD...: CMD exits CODE, its one-line stderr matches PATTERN.
refused() {
  code=$1 what=$2 pat=$3
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq "$code" ] || fail "$what: exit $rc, not $code: $(cat "$tmp/err")"
  [ "$(grep -c . "$tmp/err")" -le 2 ] || fail "$what: more than one error line: $(cat "$tmp/err")"
  grep -q -- "$pat" "$tmp/err" || fail "$what: no '$pat' in: $(cat "$tmp/err")"
}

"$nnc" build $dir/pretrain.nn -o "$tmp/pre" || fail "build pretrain.nn"
"$nnc" build $dir/finetune.nn -o "$tmp/fine" || fail "build finetune.nn"
"$tmp/pre" train --quiet --save "$tmp/pre.st" >/dev/null || fail "pretraining exited $?"

# Success: the encoder from the file, the head as seeded.
"$tmp/fine" train --epochs 0 --quiet --save "$tmp/scratch.st" >/dev/null || fail "fresh --epochs 0 --save"
out=$("$tmp/fine" train --epochs 0 --save "$tmp/init.st" --init-from "$tmp/pre.st" --only 'encoder.*') ||
  fail "--init-from --only 'encoder.*' exited $?"
echo "$out" | grep -q "init from .*pre.st: 6 tensors ('encoder.l1.W'.*; 2 kept their initialisation" ||
  fail "no summary line: $out"
same "$tmp/pre.st" "$tmp/init.st" 'encoder.*' || fail "the encoder is not the checkpoint's"
same "$tmp/scratch.st" "$tmp/init.st" 'head.*' || fail "the head lost its seeded initialisation"
same "$tmp/scratch.st" "$tmp/init.st" 'encoder.l1.W' && fail "the fresh encoder equals the pretrained one"
[ "$(meta "$tmp/init.st" epoch)" = 0 ] || fail "the fine-tune does not start at epoch 0"
[ "$(meta "$tmp/init.st" seed)" = 7 ] || fail "the fine-tune took the checkpoint's seed"
# Training from there: deterministic, and the run's own checkpoint.
"$tmp/fine" train --quiet --save "$tmp/t1.st" --init-from "$tmp/pre.st" --only 'encoder.*' >/dev/null || fail "train after --init-from"
"$tmp/fine" train --quiet --save "$tmp/t2.st" --init-from "$tmp/pre.st" --only 'encoder.l*' >/dev/null || fail "train again"
cmp -s "$tmp/t1.st" "$tmp/t2.st" || fail "the same fine-tune twice gave two checkpoints"
[ "$(meta "$tmp/t1.st" epoch)" = 2 ] || fail "epochs counted from the pretraining"
same "$tmp/pre.st" "$tmp/t1.st" 'encoder.l1.W' && fail "training did not move the loaded encoder"
# --epochs 0 then --resume is the run that never stopped.
"$tmp/fine" train --quiet --resume "$tmp/init.st" --save "$tmp/t3.st" >/dev/null || fail "resume from epoch 0"
cmp -s "$tmp/t1.st" "$tmp/t3.st" || fail "resuming the epoch-0 checkpoint differs from the whole run"

# --rename: the program calls the encoder `body`.
sed 's/encoder/body/g' $dir/finetune.nn >"$tmp/body.nn"
"$nnc" build "$tmp/body.nn" -o "$tmp/body" || fail "build body.nn"
"$tmp/body" train --epochs 0 --quiet --save "$tmp/body.st" --init-from "$tmp/pre.st" --only 'body.*' \
  --rename encoder.=body. >/dev/null || fail "--rename encoder.=body."
python3 - "$tmp/pre.st" "$tmp/body.st" <<'PY' || fail "--rename: body.* is not the checkpoint's encoder.*"
import json, struct, sys
def read(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
a, b = read(sys.argv[1]), read(sys.argv[2])
enc = [k for k in a if k.startswith("encoder.")]
sys.exit(0 if len(enc) == 6 and all(a[k] == b["body." + k[8:]] for k in enc) else 1)
PY
# Without --only: every tensor of the program the file has (all of them here).
"$tmp/pre" train --epochs 0 --quiet --save "$tmp/all.st" --init-from "$tmp/pre.st" >/dev/null || fail "whole load"
same "$tmp/pre.st" "$tmp/all.st" 'encoder.*' && same "$tmp/pre.st" "$tmp/all.st" 'head.*' ||
  fail "a whole load is not the checkpoint"
same "$tmp/pre.st" "$tmp/all.st" '__opt__/head.W/0' && fail "the optimizer state was taken"
[ "$(meta "$tmp/all.st" step)" = 0 ] || fail "the step count was taken"

# Errors, one line each, naming what is wrong.
cp "$tmp/scratch.st" "$tmp/keep.st"
refused 1 "a glob that matches nothing" "--only 'enc\.\*' matches no parameter or state of program 'Fine' (it has 'encoder.l1.W'" \
  "$tmp/fine" train --init-from "$tmp/pre.st" --only 'enc.*' --save "$tmp/keep.st"
refused 1 "no --rename" "no tensors 'body.l1.W', .*'body.l2.running_mean' (6 of the 6 that --only selects.*it has 'encoder.l1.W' (--rename encoder.=body. ?)" \
  "$tmp/body" train --init-from "$tmp/pre.st" --only 'body.*'
sed -e 's/layer l2 = Block(d, d);/layer l2 = Block(d, d);\n  layer l3 = Block(d, d);/' \
    -e 's/return l2(l1(x))/return l3(l2(l1(x)))/' $dir/finetune.nn >"$tmp/deeper.nn"
"$nnc" build "$tmp/deeper.nn" -o "$tmp/deeper" || fail "build deeper.nn"
refused 1 "missing tensors" "pre.st: no tensors 'encoder.l3.W', 'encoder.l3.b', 'encoder.l3.running_mean' (3 of the 9 .*it has 'encoder.l[12].W'" \
  "$tmp/deeper" train --init-from "$tmp/pre.st" --only 'encoder.*' --save "$tmp/keep.st"
sed 's/Encoder(4, 8)/Encoder(4, 6)/; s/Dense(8, 3)/Dense(6, 3)/' \
  $dir/finetune.nn >"$tmp/narrow.nn"
"$nnc" build "$tmp/narrow.nn" -o "$tmp/narrow" || fail "build narrow.nn"
refused 1 "a shape mismatch" "6 tensors of another dtype or shape: 'encoder.l1.W' is F32 \[4, 8\] in the file, F32 \[4, 6\] in the program" \
  "$tmp/narrow" train --init-from "$tmp/pre.st" --only 'encoder.*' --save "$tmp/keep.st"
sed 's/f32/f64/g' $dir/finetune.nn >"$tmp/wide.nn"
sed -i 's/layer head = Dense(8, 3);/param hw: f64[8, 3] = xavier_uniform;/; s/head(encoder(x))/encoder(x) @ hw/' "$tmp/wide.nn"
"$nnc" build "$tmp/wide.nn" -o "$tmp/wide" || fail "build wide.nn (f64)"
refused 1 "a dtype mismatch" "'encoder.l1.W' is F32 \[4, 8\] in the file, F64 \[4, 8\] in the program" \
  "$tmp/wide" train --init-from "$tmp/pre.st" --only 'encoder.*'
refused 1 "the head's shape without --only" "2 tensors of another dtype or shape: 'head.W' is F32 \[8, 1\] in the file, F32 \[8, 3\] in the program; 'head.b' .*--only GLOB selects" \
  "$tmp/fine" train --init-from "$tmp/pre.st" --save "$tmp/keep.st"
head -c 300 "$tmp/pre.st" >"$tmp/trunc.st"
refused 1 "a truncated file" "trunc.st: header length .* runs past the end" \
  "$tmp/fine" train --init-from "$tmp/trunc.st" --only 'encoder.*' --save "$tmp/keep.st"
refused 1 "a missing file" "none.st: cannot open" "$tmp/fine" train --init-from "$tmp/none.st"
refused 2 "--init-from with --resume" "--init-from and --resume exclude each other" \
  "$tmp/fine" train --init-from "$tmp/pre.st" --resume "$tmp/keep.st"
refused 2 "--only without --init-from" "--only says what --init-from FILE reads, but there is no --init-from" \
  "$tmp/fine" train --only 'encoder.*'
refused 2 "--rename without =" "bad value 'bert' for --rename" \
  "$tmp/fine" train --init-from "$tmp/pre.st" --rename bert
refused 2 "--init-from for eval" "unknown flag '--init-from' for 'eval'" \
  "$tmp/fine" eval --init-from "$tmp/pre.st"
cp "$tmp/pre.st" "$tmp/pre.bak"
refused 1 "--save onto --init-from" "is also the checkpoint it starts from (--init-from)" \
  "$tmp/fine" train --init-from "$tmp/pre.st" --only 'encoder.*' --save "$tmp/pre.st"
cmp -s "$tmp/pre.st" "$tmp/pre.bak" || fail "the --init-from file changed"
cmp -s "$tmp/keep.st" "$tmp/scratch.st" || fail "a failed --init-from touched the --save file"
echo "PASS"
