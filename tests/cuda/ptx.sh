#!/bin/sh
# usage: ptx.sh NNC [PTXAS] — run from the repository root.
# For each tests/cuda/*.check: emit PTX for the .nn it names on its first
# line ("FILE: path"), require every "CHECK: text" line to occur in it (a
# fixed string), and assemble it with ptxas -arch=sm_90 when ptxas exists.
nnc=$1 ptxas=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
for chk in tests/cuda/*.check; do
  src=$(sed -n 's/^FILE: //p' "$chk")
  arch=$(sed -n 's/^ARCH: //p' "$chk")
  out=$tmp/$(basename "$chk" .check).ptx
  if ! NNC_CUDA_ARCH=${arch:-sm_80} "$nnc" emit ptx "$src" >"$out"; then
    echo "FAIL $chk: nnc emit ptx $src failed"; fail=1; continue
  fi
  sed -n 's/^CHECK: //p' "$chk" | while IFS= read -r pat; do
    grep -qF -- "$pat" "$out" || { echo "FAIL $chk: no '$pat' in the PTX"; echo x >>"$tmp/bad"; }
  done
  if [ -n "$ptxas" ] && [ -x "$ptxas" ]; then
    "$ptxas" -arch=sm_90 "$out" -o "$tmp/out.cubin" || { echo "FAIL $chk: ptxas -arch=sm_90 rejected it"; fail=1; }
  fi
done
[ -f "$tmp/bad" ] && fail=1
[ $fail = 0 ] && echo "ptx: ok${ptxas:+ (assembled with ptxas)}"
exit $fail
