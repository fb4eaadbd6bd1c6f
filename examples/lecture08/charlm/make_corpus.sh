#!/bin/sh
# make_corpus.sh [OUT] — the character corpus of the lecture-8 language
# models: every fortune file of Debian's `fortunes` package (2.5 MB of
# English quotations, jokes and poems; `fortunes-min`'s three files, 98 kB,
# when only that is installed), concatenated in name order into
# OUT (default data/fortunes.txt beside this script).  Fortunes are
# separated by lines holding a single '%'.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/data/fortunes.txt}
dir=/usr/share/games/fortunes
[ -d $dir ] || { echo "needs Debian's fortunes (apt-get install fortunes)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
files=$(find $dir -maxdepth 1 -type f ! -name '*.dat' | LC_ALL=C sort)
# shellcheck disable=SC2086 # a list of paths without spaces
cat $files >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out: $(wc -c <"$out") bytes from $(echo "$files" | wc -l) files"
