#!/bin/sh
# make_data.sh — the mini-BERT's corpora from Debian's `fortunes`: every
# fortune file but `people`, concatenated in name order, into
# data/pretrain.txt (pretraining, and the fine-tune's training pairs), and
# `people` alone into data/heldout.txt (never seen before testing).
# Fortunes are separated by lines holding a single '%': one fortune is one
# document of the mlm(...) source.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=/usr/share/games/fortunes
[ -f $dir/people ] || { echo "needs Debian's fortunes (apt-get install fortunes)" >&2; exit 1; }
mkdir -p "$here/data"
files=$(find $dir -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' ! -name people | LC_ALL=C sort)
# shellcheck disable=SC2086 # a list of paths without spaces
cat $files >"$here/data/pretrain.txt"
cp $dir/people "$here/data/heldout.txt"
echo "wrote data/pretrain.txt ($(wc -c <"$here/data/pretrain.txt") bytes) and data/heldout.txt ($(wc -c <"$here/data/heldout.txt") bytes)"
