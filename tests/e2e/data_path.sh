#!/bin/sh
# data_path.sh — a data file given as a compile-time path that does not
# exist is a build-time warning at the path, with the nearest name in its
# directory, once per path; the build still succeeds (the file may be made
# before the run) and the run's one-line error stays.  A file found from
# the directory nnc runs in, or beside the source, gets no warning.
# usage: data_path.sh NNC   (run from the repository root)
set -u
nnc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-data-path.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/err" 2>/dev/null; exit 1; }
mkdir "$tmp/src" "$tmp/src/data"
printf '0.5,1\n1,2\n' >"$tmp/src/data/train.csv"
program() { # X_PATH Y_PATH
  cat <<EOF2
data t {
  x: f32[1] = csv("$1", cols = 0);
  y: f32[1] = csv("$2", cols = 1) / 2;
}
model M { param w: f32[1] = zeros; fn forward(x: f32[B, 1]) -> f32[B, 1] { return x * w; } }
train M on t { loss = mean((forward(x) - y) * (forward(x) - y)); optimizer = sgd(lr = 0.1); epochs = 1; }
EOF2
}
# a misspelt name: one warning for the two fields, at the first path, with the near name
program data/trian.csv data/trian.csv >"$tmp/src/p.nn"
(cd "$tmp/src" && "$nnc" build p.nn -o ../p) 2>"$tmp/err" || fail "the build failed on a missing data file"
[ "$(grep -c 'warning:' "$tmp/err")" = 1 ] || fail "expected one warning"
grep -q '^p.nn:2:19: warning: data file "data/trian.csv" does not exist (a relative path is opened from where the program runs); did you mean "data/train.csv"?$' "$tmp/err" ||
  fail "the warning's place or text"
(cd "$tmp/src" && ../p train --quiet) 2>"$tmp/err" && fail "the run read a missing file"
grep -q 'data/trian.csv' "$tmp/err" || fail "the run's error does not name the file"
# found beside the source (built from elsewhere) or from here: no warning
program data/train.csv data/train.csv >"$tmp/src/p.nn"
"$nnc" build "$tmp/src/p.nn" -o "$tmp/p" 2>"$tmp/err" || fail "build from elsewhere"
[ -s "$tmp/err" ] && fail "a warning for a file beside the source"
(cd "$tmp/src" && "$nnc" build p.nn -o ../p) 2>"$tmp/err" || fail "build"
[ -s "$tmp/err" ] && fail "a warning for an existing file"
(cd "$tmp/src" && ../p train --quiet) >/dev/null 2>"$tmp/err" || fail "train on the existing file"
# an absolute path with nothing near: the warning alone, also from nnc check
program "$tmp/src/data/train.csv" "$tmp/nowhere/y.csv" >"$tmp/src/p.nn"
"$nnc" check "$tmp/src/p.nn" 2>"$tmp/err" || fail "check failed on a missing data file"
grep -q "^.*p.nn:3:19: warning: data file \"$tmp/nowhere/y.csv\" does not exist\$" "$tmp/err" || fail "the absolute path's warning"
echo "PASS"
