#!/bin/sh
# frontend.sh — what nnc itself does with hostile files, paths and programs:
#   nonregular  a FIFO, a directory or /dev/zero as the .nn file or as an
#               import: refused at once ("is not a regular file"), exit 1
#   output      -o naming the source (also through a hard link or another
#               path), an import, a directory or a character device:
#               refused with one line, the source untouched, exit 1
#   build-atomic  a failed link, or SIGTERM while linking, leaves an older
#               OUT as it was and no temporary files beside it
#   plot-files  `nnc plot` refuses a FIFO or /dev/zero as a CSV and an
#               output that is one of its inputs
#   stdout      `nnc emit ...` into /dev/full or a closed stdout: exit 1
#               with the reason
#   deep        a 16,000-term a + a + ... + a chain compiles and dumps (ast,
#               ir, grad); a chain past NNC_MAX_HEIGHT (100,000), inlining
#               that stacks chains past 200,000, and 20,000 nested
#               parentheses are each one clean error, never a stack overflow
#   help        every command and emit kind that `nnc --help` names is
#               accepted (each kind dumps xor.nn), every pass with a dump
#               is a kind it names, and every command of the executable
#               that --help names is one the executable accepts
#   grad-numerics  --check-numerics names an op of the backward pass by
#               what it differentiates ("gradient of sqrt" at the sqrt
#               call), not by the primitive its rule is built from ('div')
# usage: frontend.sh NNC MODE   (run from the repository root)
set -u
[ $# -eq 2 ] || { echo "usage: $0 NNC MODE" >&2; exit 2; }
nnc=$1
mode=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-frontend.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
# expect STATUS WANT-LINE CMD...: the command exits STATUS within 10 s and
# prints WANT-LINE (a fixed string) as a whole line on stderr
expect() {
  want_rc=$1 want=$2
  shift 2
  timeout 10 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/err"
  [ $rc -eq "$want_rc" ] || fail "$*: exit status $rc, expected $want_rc"
  grep -qxF "$want" "$tmp/err" || fail "$*: expected the line: $want"
}
prog=tests/e2e/hardening/wide.nn

case $mode in
nonregular)
  mkfifo "$tmp/fifo.nn" || exit 77
  expect 1 "nnc: error: '$tmp/fifo.nn' is not a regular file" "$nnc" check "$tmp/fifo.nn"
  expect 1 "nnc: error: '$tmp/fifo.nn' is not a regular file" "$nnc" emit tokens "$tmp/fifo.nn"
  expect 1 "nnc: error: '$tmp' is not a regular file" "$nnc" check "$tmp"
  for imp in "$tmp/fifo.nn" /dev/zero "$tmp"; do
    printf 'import "%s";\n' "$imp" >"$tmp/imp.nn"
    expect 1 "$tmp/imp.nn:1:1: error: import \"$imp\": '$imp' is not a regular file" "$nnc" check "$tmp/imp.nn"
  done
  # a (sparse) 65 MiB import is refused by its size, before it is read
  truncate -s 65M "$tmp/huge.nn" || exit 77
  printf 'import "%s";\n' "$tmp/huge.nn" >"$tmp/imp.nn"
  expect 1 "$tmp/imp.nn:1:1: error: import \"$tmp/huge.nn\": '$tmp/huge.nn' is too large (68157440 bytes; a source file is at most 64 MiB)" \
    "$nnc" check "$tmp/imp.nn"
  ;;
build-atomic)
  "$nnc" build "$prog" -o "$tmp/w" || fail "first build"
  cp "$tmp/w" "$tmp/w.before"
  expect 1 "nnc: error: linking $tmp/w failed" env NNC_CC=false "$nnc" build "$prog" -o "$tmp/w"
  cmp "$tmp/w" "$tmp/w.before" || fail "a failed link changed the older executable"
  ls "$tmp" | grep -q tmp && fail "a failed link left temporary files: $(ls "$tmp")"
  # a linker that takes its time, and a SIGTERM while it runs
  printf '#!/bin/sh\necho $$ >"%s/cc.pid"\nexec sleep 20\n' "$tmp" >"$tmp/slowcc"
  chmod +x "$tmp/slowcc"
  NNC_CC=$tmp/slowcc "$nnc" build "$prog" -o "$tmp/w" 2>/dev/null &
  pid=$!
  i=0
  while [ ! -s "$tmp/cc.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -s "$tmp/cc.pid" ] || fail "the build never reached the linker"
  kill -TERM $pid
  wait $pid
  kill "$(cat "$tmp/cc.pid")" 2>/dev/null
  rm -f "$tmp/cc.pid" "$tmp/slowcc"
  cmp "$tmp/w" "$tmp/w.before" || fail "SIGTERM while linking changed the older executable"
  ls "$tmp" | grep -q tmp && fail "SIGTERM while linking left temporary files: $(ls "$tmp")"
  expect 1 "nnc: error: cannot write the executable to '$tmp/no/such/dir/w': No such file or directory" \
    "$nnc" build "$prog" -o "$tmp/no/such/dir/w"
  ;;
plot-files)
  printf 'epoch,loss\n1,0.5\n2,0.25\n' >"$tmp/log.csv"
  cp "$tmp/log.csv" "$tmp/log.before"
  mkfifo "$tmp/fifo.csv" || exit 77
  expect 1 "nnc plot: error: '$tmp/fifo.csv' is not a regular file" "$nnc" plot "$tmp/fifo.csv" -o "$tmp/p.svg"
  expect 1 "nnc plot: error: '/dev/zero' is not a regular file" "$nnc" plot /dev/zero -o "$tmp/p.svg"
  expect 1 "nnc plot: error: the output '$tmp/log.csv' is the input '$tmp/log.csv'; refusing to overwrite it" \
    "$nnc" plot "$tmp/log.csv" -o "$tmp/log.csv"
  cmp "$tmp/log.csv" "$tmp/log.before" || fail "the log was overwritten"
  "$nnc" plot "$tmp/log.csv" -o "$tmp/p.svg" || fail "a plain plot"
  ;;
output)
  cp "$prog" "$tmp/w.nn"
  ln "$tmp/w.nn" "$tmp/link"
  mkdir "$tmp/sub"
  printf 'import "%s";\n' "$PWD/stdlib/nn.nn" >"$tmp/imp.nn"
  sed 1d "$prog" | sed 's/^import.*//' >>"$tmp/imp.nn"
  expect 1 "nnc: error: the output '$tmp/w.nn' is the source file '$tmp/w.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/w.nn"
  expect 1 "nnc: error: the output '$tmp/sub/../w.nn' is the source file '$tmp/w.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/sub/../w.nn"
  expect 1 "nnc: error: the output '$tmp/link' is the source file '$tmp/w.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/link"
  cmp "$prog" "$tmp/w.nn" || fail "the source was changed"
  expect 1 "nnc: error: the output '$PWD/stdlib/nn.nn' is the source file '$PWD/stdlib/nn.nn'; refusing to overwrite it" \
    "$nnc" build "$tmp/imp.nn" -o "$PWD/stdlib/nn.nn"
  expect 1 "nnc: error: cannot write the executable to '$tmp/sub': it is not a regular file" \
    "$nnc" build "$tmp/w.nn" -o "$tmp/sub"
  expect 1 "nnc: error: cannot write the executable to '/dev/null': it is not a regular file" \
    "$nnc" build "$tmp/w.nn" -o /dev/null
  [ -c /dev/null ] || fail "/dev/null was replaced"
  # a source named without .nn: the default output "w.out" beside the cwd is fine,
  # and building into a fresh path still works
  "$nnc" build "$tmp/w.nn" -o "$tmp/w" || fail "build to a new path"
  ;;
stdout)
  [ -w /dev/full ] || exit 77
  expect 1 "nnc: error: writing to standard output failed: No space left on device" \
    sh -c '"$0" emit ir "$1" >/dev/full' "$nnc" "$prog"
  expect 1 "nnc: error: writing to standard output failed: Bad file descriptor" \
    sh -c '"$0" emit tokens "$1" >&-' "$nnc" "$prog"
  expect 1 "nnc: error: writing to standard output failed: No space left on device" \
    sh -c '"$0" --help >/dev/full' "$nnc"
  "$nnc" emit ir "$prog" >/dev/null || fail "emit ir to /dev/null"
  ;;
deep)
  # chain N HEAD: HEAD + x + x ... (N terms in all), on one line
  chain() { awk -v n="$1" -v head="$2" 'BEGIN { printf "%s", head; for (i = 1; i < n; i++) printf " + x"; }'; }
  wrap() { # wrap BODY-FILE: a program whose loss is mean(forward(BODY))
    printf 'data D { x: f32[2] = [[0, 1]]; }\n'
    cat "$1"
    printf 'model M {\n  param w: f32[2, 2];\n  fn forward(x: f32[B, 2]) -> f32[B, 2] { return x @ w; }\n}\n'
    printf 'train M on D {\n  loss = mean(forward(%s));\n  optimizer = sgd(lr = 0.1);\n}\n' "$2"
  }
  { printf 'const c = '; chain 16000 x | sed 's/x/1/g'; printf ';\n'; } >"$tmp/consts"
  wrap "$tmp/consts" "$(chain 16000 x) + x * c" >"$tmp/flat.nn"
  for what in check "emit ast" "emit ir" "emit grad"; do
    # shellcheck disable=SC2086
    "$nnc" $what "$tmp/flat.nn" >/dev/null 2>"$tmp/err" || { head -c 2000 "$tmp/err"; fail "$what of a 16000-term chain"; }
  done
  { printf 'const c = '; chain 100001 1 | sed 's/x/1/g'; printf ';\n'; } >"$tmp/tall.nn"
  expect_prefix() { # STATUS PREFIX CMD...: like expect, for the first line of stderr
    want_rc=$1 want=$2
    shift 2
    timeout 60 "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    head -n 1 "$tmp/err" | cut -c 1-300
    [ $rc -eq "$want_rc" ] || fail "$*: exit status $rc, expected $want_rc"
    head -n 1 "$tmp/err" | grep -qF "$want" || fail "$*: expected a first line with: $want"
  }
  expect_prefix 1 "$tmp/tall.nn:1:400009: error: expression nested more than 100000 deep" "$nnc" check "$tmp/tall.nn"
  expect_prefix 1 "$tmp/tall.nn:1:400009: error: expression nested more than 100000 deep" "$nnc" emit ast "$tmp/tall.nn"
  { for f in f:x g:'f(x)' h:'g(x)'; do
      printf 'fn %s(x: f32[B, 2]) -> f32[B, 2] { return ' "${f%%:*}"; chain 99000 "${f#*:}"; printf '; }\n'
    done; } >"$tmp/fns"
  wrap "$tmp/fns" 'h(x)' >"$tmp/inlined.nn"
  expect_prefix 1 "error: expression nested more than 200000 deep once functions are inlined" "$nnc" check "$tmp/inlined.nn"
  awk 'BEGIN { printf "const c = "; for (i = 0; i < 20000; i++) printf "("; printf "1"; for (i = 0; i < 20000; i++) printf ")"; print ";" }' >"$tmp/parens.nn"
  expect_prefix 1 "$tmp/parens.nn:1:10005: error: program nested too deeply" "$nnc" check "$tmp/parens.nn"
  ;;
grad-numerics)
  "$nnc" build tests/e2e/frontend/sqrt_at_zero.nn -o "$tmp/sq" || fail "nnc build sqrt_at_zero.nn"
  expect 3 "error: tests/e2e/frontend/sqrt_at_zero.nn:14:12: 'gradient of sqrt' produced inf (element 0 of f32[B, 1])" \
    "$tmp/sq" train --quiet --check-numerics
  ;;
help)
  "$nnc" --help >"$tmp/help" || fail "--help: exit status $?"
  cat "$tmp/help"
  cmds=$(sed -n 's/^\(usage:\)\{0,1\} *nnc \([a-z]*\).*/\2/p' "$tmp/help" | sort -u)
  [ "$(echo $cmds)" = "build check emit export gradcheck plot" ] || fail "commands in --help: $(echo $cmds)"
  for c in $cmds; do
    "$nnc" "$c" >/dev/null 2>"$tmp/err"
    grep -q "unknown command" "$tmp/err" && fail "nnc $c: refused"
  done
  "$nnc" frob x.nn 2>"$tmp/err" && fail "nnc frob: accepted"
  grep -q "unknown command 'frob'" "$tmp/err" || fail "nnc frob: message"
  kinds=$(sed -n 's/^emit KIND: //p' "$tmp/help")
  [ -n "$kinds" ] || fail "no emit kinds in --help"
  for k in $kinds; do
    [ "$k" = passes ] && continue
    "$nnc" emit "$k" examples/lecture02/xor.nn >"$tmp/out" 2>"$tmp/err" ||
      grep -q "without CUDA support" "$tmp/err" || fail "nnc emit $k: $(cat "$tmp/err")"
    [ -s "$tmp/out" ] || grep -q "without CUDA support" "$tmp/err" || fail "nnc emit $k: no output"
  done
  "$nnc" emit passes >"$tmp/passes" || fail "emit passes"
  for p in $(awk '/^ *[0-9]+ / && !/\[no dump\]/ { print $2 }' "$tmp/passes"); do
    echo " $kinds " | grep -q " $p " || fail "pass $p has a dump but --help does not name it"
  done
  "$nnc" emit frob examples/lecture02/xor.nn 2>/dev/null && fail "emit frob: accepted"
  "$nnc" build -O0 examples/lecture02/xor.nn -o "$tmp/xor" || fail "build xor"
  outcmds=$(sed -n 's/^The executable it builds: OUT \([a-z|]*\) .*/\1/p' "$tmp/help" | tr '|' ' ')
  [ -n "$outcmds" ] || fail "no executable commands in --help"
  "$tmp/xor" --help >"$tmp/xhelp" || fail "xor --help"
  for c in $outcmds; do
    "$tmp/xor" "$c" --help >/dev/null 2>"$tmp/err" || fail "xor $c: $(cat "$tmp/err")"
    grep -q "^  $c " "$tmp/xhelp" || fail "xor --help does not describe $c"
  done
  "$tmp/xor" frob 2>&1 | grep -q "expected $(echo $outcmds | sed 's/ /, /g'))" ||
    fail "xor frob: the expected commands differ from nnc --help's"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
echo PASS
