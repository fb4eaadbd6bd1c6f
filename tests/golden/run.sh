#!/bin/sh
# run.sh — the golden runner: compare what nnc prints for X.nn with X's
# expected files.  The sibling's extension picks the command:
#   X.tokens  nnc emit tokens X.nn   (stdout, exit 0)
#   X.ast     nnc emit ast X.nn      (stdout, exit 0)
#   X.ir      nnc emit ir X.nn       (stdout, exit 0)
#   X.grad    nnc emit grad X.nn     (stdout, exit 0)
#   X.fused   nnc emit fused X.nn    (stdout, exit 0)
#   X.memplan nnc emit memplan X.nn  (stdout, exit 0)
#   X.dot     nnc emit dot X.nn      (stdout, exit 0)
#   X.err     nnc check X.nn         (stderr, exit 1)
# Run it from the repository root so paths in messages are relative; the
# absolute path of that root (stdlib files are named by one) is cut from
# what nnc prints, so expectations do not depend on where the tree lives.
#
# usage: tests/golden/run.sh NNC [--update] FILE.nn...
#   --update rewrites the expected files with what nnc prints now; review
#   the result with `git diff` rather than editing expectations by hand.
set -u

if [ $# -lt 1 ]; then
  echo "usage: $0 NNC [--update] FILE.nn..." >&2
  exit 2
fi
nnc=$1
shift
update=0
if [ "${1:-}" = --update ]; then
  update=1
  shift
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-golden.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

root=$(pwd)
failed=0
for nn in "$@"; do
  base=${nn%.nn}
  found=0
  for ext in tokens ast ir grad fused memplan dot err; do
    expected=$base.$ext
    [ -f "$expected" ] || continue
    found=1
    if [ "$ext" = err ]; then
      "$nnc" check "$nn" >/dev/null 2>"$tmp/actual"
      status=$?
      want=1
      : >"$tmp/stderr"
    else
      "$nnc" emit "$ext" "$nn" >"$tmp/actual" 2>"$tmp/stderr"
      status=$?
      want=0
    fi
    sed "s|$root/||g" "$tmp/actual" >"$tmp/actual.rel" && mv "$tmp/actual.rel" "$tmp/actual"

    if [ $update = 1 ]; then
      cp "$tmp/actual" "$expected"
      echo "UPDATED $expected"
      if [ $status -ne $want ]; then
        echo "  warning: exit status $status, expected $want" >&2
        cat "$tmp/stderr" >&2
      fi
    elif [ $status -ne $want ]; then
      echo "FAIL $expected: exit status $status, expected $want"
      cat "$tmp/stderr"
      failed=1
    elif ! diff -u "$expected" "$tmp/actual" >"$tmp/diff"; then
      echo "FAIL $expected"
      cat "$tmp/diff"
      failed=1
    else
      echo "PASS $expected"
    fi
  done
  if [ $found = 0 ]; then
    echo "FAIL $nn: no expected file (.tokens .ast .ir .grad .err) beside it"
    failed=1
  fi
done
exit $failed
