#!/bin/sh
# examples.sh — the lecture examples added for issues 15 and 19 build and
# learn, each in a few seconds (fewer images and epochs than their
# READMEs): a mode per example, each checking what its README shows.
# usage: examples.sh NNC MODE   (run from the repository root)
set -u
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-examples.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
need_fashion() { [ -f $fashion ] || { echo "SKIP: no Fashion-MNIST"; exit 77; }; }
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }  # key=value from a result line
build() { "$nnc" build "$1" -o "$2" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build $1"; }; }
case $mode in
schedules) need_fashion
  d=examples/lecture03/schedules
  for s in constant cosine; do
    build $d/$s.nn "$tmp/$s"
    r=$("$tmp/$s" train --quiet --limit 3000 --epochs 4 --log "$tmp/$s.csv") || fail "train $s"
    echo "$s: $r"
  done
  last=$(tail -n 1 "$tmp/cosine.csv" | cut -d, -f4)
  awk -v l="$last" 'BEGIN { exit !(l < 0.02) }' || fail "cosine's last lr $last is not below 0.02"
  acc=$(val "$r" test_accuracy)
  awk -v a="$acc" 'BEGIN { exit !(a > 0.7) }' || fail "cosine test accuracy $acc"
  ;;
l1) need_fashion
  d=examples/lecture04/l1_sparsity
  for v in none l1; do
    build $d/$v.nn "$tmp/$v"
    "$tmp/$v" train --quiet --limit 5000 --epochs 8 --save "$tmp/$v.st" >/dev/null || fail "train $v"
  done
  n=$(/usr/bin/python3 $d/weights.py "$tmp/none.st" l1.W | sed -n '1s/.*< 1e-3: \([0-9.]*\)%.*/\1/p')
  l=$(/usr/bin/python3 $d/weights.py "$tmp/l1.st" l1.W | sed -n '1s/.*< 1e-3: \([0-9.]*\)%.*/\1/p')
  echo "weights below 1e-3: none $n%, l1 $l%"
  awk -v n="$n" -v l="$l" 'BEGIN { exit !(l > 3 * n + 5) }' || fail "L1 is not sparser"
  ;;
calibration) need_fashion
  d=examples/lecture02/calibration
  build $d/measure_confidence.nn "$tmp/conf"
  for v in plain smooth; do
    build $d/$v.nn "$tmp/$v"
    "$tmp/$v" train --quiet --limit 2000 --epochs 8 --save "$tmp/$v.st" >/dev/null || fail "train $v"
    eval "c_$v=\$(\"\$tmp/conf\" eval --quiet --load \"\$tmp/\$v.st\" | sed -n 's/.*test_loss=\([^ ]*\).*/\1/p')"
  done
  echo "mean confidence: plain $c_plain, smoothing $c_smooth"
  awk -v p="$c_plain" -v s="$c_smooth" 'BEGIN { exit !(s < p - 0.03) }' || fail "smoothing did not lower the confidence"
  ;;
receptive) need_fashion
  d=examples/lecture07/receptive_field
  for v in plain:7 dilated:15; do
    n=${v%:*} want=${v#*:}
    build $d/$n.nn "$tmp/$n"
    "$tmp/$n" grads --batch 1 --rows probe -o "$tmp/$n.csv" >/dev/null || fail "grads $n"
    got=$(awk -F, 'NR > 1 && $2 > 0' "$tmp/$n.csv" | wc -l)
    echo "$n: $got rows"
    [ "$got" = "$want" ] || fail "$n: receptive field of $got rows, want $want"
  done
  ;;
dropconnect) need_fashion
  d=examples/lecture04/dropconnect
  build $d/dropconnect.nn "$tmp/dc"
  r=$("$tmp/dc" train --quiet --limit 1000 --epochs 5) || fail "train"
  echo "$r"
  awk -v a="$(val "$r" val_accuracy)" 'BEGIN { exit !(a > 0.65) }' || fail "DropConnect did not learn"
  ;;
vae) need_fashion
  build examples/lecture05/vae/vae.nn "$tmp/vae"
  r=$("$tmp/vae" train --quiet --limit 3000 --epochs 3 --save "$tmp/vae.st") || fail "train"
  echo "$r"
  awk -v l="$(val "$r" test_loss)" 'BEGIN { exit !(l < 330) }' || fail "negative ELBO not below 330"
  "$tmp/vae" show --load "$tmp/vae.st" --count 4 -o "$tmp/vae.png" >/dev/null || fail "show"
  "$tmp/vae" sample --load "$tmp/vae.st" --count 4 --seed 1 -o "$tmp/s1.png" >/dev/null || fail "sample"
  "$tmp/vae" sample --load "$tmp/vae.st" --count 4 --seed 1 -o "$tmp/s2.png" >/dev/null || fail "sample again"
  cmp -s "$tmp/s1.png" "$tmp/s2.png" || fail "sampling with one seed gave different PNG bytes"
  ;;
adding)
  d=examples/lecture08/adding
  /usr/bin/python3 $d/make_data.py "$tmp/data" >/dev/null || fail "make_data.py"
  sed "s|\"data/|\"$tmp/data/|g" $d/gru.nn >"$tmp/gru.nn"
  build "$tmp/gru.nn" "$tmp/gru"
  r=$("$tmp/gru" train --quiet --epochs 3) || fail "train"
  echo "$r"
  awk -v l="$(val "$r" test_loss)" 'BEGIN { exit !(l < 0.1) }' || fail "the GRU did not beat the mean's 0.167"
  ;;
charlm)
  [ -d /usr/share/games/fortunes ] || { echo "SKIP: no fortunes"; exit 77; }
  d=examples/lecture08/charlm
  sh $d/make_corpus.sh "$tmp/fortunes.txt" >/dev/null || fail "make_corpus.sh"
  sed "s|\"data/fortunes.txt\"|\"$tmp/fortunes.txt\"|g" $d/lstm.nn >"$tmp/lstm.nn"
  build "$tmp/lstm.nn" "$tmp/lstm"
  r=$("$tmp/lstm" train --quiet --limit 1600 --epochs 1 --save "$tmp/lstm.st") || fail "train"
  echo "$r"
  awk -v l="$(val "$r" val_loss)" 'BEGIN { exit !(l < 3.5) }' || fail "val_loss not below 3.5 nats (uniform: 4.7)"
  a=$("$tmp/lstm" sample --load "$tmp/lstm.st" --prompt "The " --len 40 --seed 2) || fail "sample"
  b=$("$tmp/lstm" sample --load "$tmp/lstm.st" --prompt "The " --len 40 --seed 2) || fail "sample again"
  [ "$a" = "$b" ] || fail "sampling with one seed gave two texts"
  echo "sample: $a"
  ;;
karate) # the README's run: 100 epochs of the whole graph, a fraction of a second
  d=examples/lecture10/karate
  build $d/karate.nn "$tmp/karate"
  r=$(cd $d && "$tmp/karate" train --quiet --seed 1) || fail "train"
  echo "$r"
  e=$(val "$r" test_loss)  # the error rate on the 32 unlabelled members
  awk -v e="$e" 'BEGIN { exit !(e <= 0.0625) }' || fail "error rate $e above 2 of 32 nodes"
  a=$(cd $d && "$tmp/karate" train --quiet --seed 1) || fail "train again"
  [ "$a" = "$r" ] || fail "the same seed gave '$a' then '$r'"
  ;;
sbm) # a 400-node graph (the README's has 2000): the GCN beats the same net without the graph
  d=examples/lecture10/sbm
  /usr/bin/python3 $d/make_sbm.py "$tmp" --nodes 400 --p-in 0.05 --p-out 0.005 >/dev/null || fail "make_sbm.py"
  for g in 1 0; do
    sed -e 's|^const N = 2000;|const N = 400;|' -e "s|^const GRAPH = 1;|const GRAPH = $g;|" -e "s|\"data/|\"$tmp/|g" \
      $d/gcn.nn >"$tmp/g$g.nn"
    build "$tmp/g$g.nn" "$tmp/g$g"
    r=$("$tmp/g$g" train --quiet --seed 1 --epochs 100) || fail "train GRAPH=$g"
    echo "GRAPH=$g: $r"
    eval "e$g=$(val "$r" test_loss)"
  done
  awk -v g="$e1" -v m="$e0" 'BEGIN { exit !(g <= 0.35 && m >= g + 0.2) }' || fail "GCN error $e1, without the graph $e0"
  ;;
bert) # a smoke test: the pipeline runs end to end on fortunes-min's files
  [ -f /usr/share/games/fortunes/literature ] || { echo "SKIP: no fortunes-min"; exit 77; }
  d=examples/lecture09/bert
  cp $d/bert.nn "$tmp/"
  for p in pretrain mlm_eval finetune; do
    sed 's|"data/pretrain.txt"|"/usr/share/games/fortunes/literature"|g; s|"data/heldout.txt"|"/usr/share/games/fortunes/riddles"|g' \
      $d/$p.nn >"$tmp/$p.nn"
    build "$tmp/$p.nn" "$tmp/$p"
  done
  a=$("$tmp/pretrain" train --quiet --limit 96 --epochs 1 --save "$tmp/pre.st") || fail "pretrain"
  b=$("$tmp/pretrain" train --quiet --limit 96 --epochs 1) || fail "pretrain again"
  [ "$a" = "$b" ] || fail "one seed gave two pretraining runs: $a / $b"
  echo "pretrain: $a"
  r=$("$tmp/mlm_eval" eval --load "$tmp/pre.st") || fail "mlm_eval"
  echo "mlm_eval: $r"
  awk -v l="$(val "$r" test_loss)" 'BEGIN { exit !(l > 0 && l < 6) }' || fail "masked-token loss not in (0, 6)"
  f=$("$tmp/finetune" train --limit 96 --epochs 1 --init-from "$tmp/pre.st" --only 'enc.*' 2>&1) || fail "finetune: $f"
  echo "$f" | grep -q "^init from $tmp/pre.st: 31 tensors" || fail "finetune did not load the encoder: $f"
  echo "$f" | tail -n 1
  o=$("$tmp/pretrain" show --load "$tmp/pre.st" --count 4 -o "$tmp/att.png") || fail "show: $o"
  echo "$o"
  [ "$o" = "wrote $tmp/att.png: 4 test samples, show [B, 64, 64] alone (no image input), each a heat map from its minimum (black) to its maximum (white), 402x402 pixels" ] || fail "show: $o"
  # a PNG signature, and an IHDR of 402 x 402 (2 x 2 maps of 64 x 64 at 3x, 6-pixel borders)
  [ "$(od -An -tx1 -N8 "$tmp/att.png" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "att.png is not a PNG"
  [ "$(od -An -tx1 -j16 -N8 "$tmp/att.png" | tr -d ' \n')" = 0000019200000192 ] || fail "att.png is not 402x402"
  ;;
*) echo "usage: $0 NNC schedules|l1|calibration|receptive|dropconnect|vae|adding|charlm|karate|sbm|bert" >&2; exit 2 ;;
esac
echo PASS
