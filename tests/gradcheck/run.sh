#!/bin/sh
# run.sh — build one gradcheck program and compare its symbolic gradients
# with central differences (`OUT gradcheck`, runtime/gradcheck.c).
# usage: run.sh NNC FILE.nn OUTDIR [NNC-FLAGS...]
#   NNC-FLAGS go to `nnc build`, e.g. --no-simplify to check the rules on
#   the graph as lowered, without algebraic rewrites.  A line
#   `// build: FLAGS` in FILE.nn adds its own (spmm.nn: --f64, so that the
#   sparse matrix's values, of the program's float type, are f64 too).
# Exit status: 0 when gradcheck passes, 1 otherwise.
set -u

if [ $# -lt 3 ]; then
  echo "usage: $0 NNC FILE.nn OUTDIR [NNC-FLAGS...]" >&2
  exit 2
fi
nnc=$1
nn=$2
outdir=$3
shift 3

name=$(basename "$nn" .nn)
for flag in "$@"; do name=$name$flag; done
own=$(sed -n 's|^// build: ||p' "$nn")
# shellcheck disable=SC2086 # the file's flags are words
set -- "$@" $own
mkdir -p "$outdir" || exit 1
exe=$outdir/$name

# -O0: these programs are tiny, and LLVM optimisation is most of their build time
if ! "$nnc" build -O0 "$nn" "$@" -o "$exe"; then
  echo "FAIL $nn: nnc build failed"
  exit 1
fi
"$exe" gradcheck >"$exe.out"
status=$?
cat "$exe.out"
if [ $status -ne 0 ]; then
  echo "FAIL $nn: gradcheck exit status $status"
  exit 1
fi
# the report says what it checked: eps and tol with their reason, each
# param's entries probed out of its size, and the worst element by name
last=$(tail -n 1 "$exe.out")
if ! echo "$last" | grep -Eq '^gradcheck=pass max_err=[^ ]+ worst=[A-Za-z_][A-Za-z0-9_.]*(\[[0-9,]+\])? checked=[0-9]+/[0-9]+$' ||
   ! grep -Eq '^gradcheck: eps=[^ ]+ \(default: [^)]*\) tol=[^ ]+ \(default: [^)]*\); up to 30 entries' "$exe.out" ||
   grep -v '^gradcheck' "$exe.out" | grep -Evq '^[^ ]+ f(32|64)\[[0-9,]*\]: [0-9]+ of [0-9]+ entries, max_abs_err=[^ ]+ max_err=[^ ]+ at [^ ]+ ok$'; then
  echo "FAIL $nn: gradcheck's report is not in the documented form"
  exit 1
fi
echo "PASS $nn"
