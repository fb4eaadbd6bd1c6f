#!/bin/sh
# The second README command (and CI's): install dependencies, build, check
# that the build used only scripts/deps.sh's packages (scripts/check-install),
# and run the whole test suite through ctest; then build again with ASan and
# UBSan (-DNNC_SANITIZE=ON, in build-asan) and run the suite there, so a
# memory error or undefined behaviour in the compiler, the runtime or a
# generated program fails CI.  To stay inside CI's 20 minutes on 2 cores
# the sanitizer pass runs the unit, errors, golden and e2e labels and a
# gradcheck subset that covers each kernel family (GEMM, rows, losses,
# conv, pooling, norms, slicing); NNC_ASAN=all runs everything, NNC_ASAN=0
# skips the pass.  Leak detection stays on, and so does the IR verifier
# after every compiler pass (NNC_VERIFY_EACH=1).
set -eu
cd "$(dirname "$0")/.."
. ./scripts/steps.sh
j=$(nproc)
step "install dependencies" "$NNC_DEPS_HINT" ./scripts/deps.sh
step "configure (cmake)" "$NNC_CONFIGURE_HINT" configure build -DCMAKE_BUILD_TYPE=Release
step "build nnc" "$NNC_BUILD_HINT" cmake --build build -j"$j"
step "check the install (scripts/check-install)" \
  "the build used a file from a package scripts/deps.sh does not install (named above): add that package to scripts/deps.sh, or make the build stop using it" \
  ./scripts/check-install build
cat "$STEP_LOG"
echo "== tests (ctest)"
ctest --test-dir build --output-on-failure -j"$j"
[ "${NNC_ASAN:-1}" = 0 ] && exit 0
step "configure the sanitizer build (build-asan)" "$NNC_CONFIGURE_HINT" \
  configure build-asan -DNNC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "build with AddressSanitizer + UBSan" "$NNC_BUILD_HINT" cmake --build build-asan -j"$j"
echo "== tests under AddressSanitizer + UBSan (build-asan)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export NNC_VERIFY_EACH=1 # the IR verifier after every pass of every program compiled
if [ "${NNC_ASAN:-1}" = all ]; then
  ctest --test-dir build-asan --output-on-failure -j"$j"
else
  ctest --test-dir build-asan --output-on-failure -j"$j" -L 'unit|errors|golden|e2e'
  ctest --test-dir build-asan --output-on-failure -j"$j" \
    -R '^gradcheck/(matmul_chain|log_softmax|loss_cross_entropy_labels|loss_bce|conv2d_groups|conv_transpose2d|max_pool2d|avg_pool2d|norm_batch|norm_layer|slice|concat|where)(-nosimplify)?$'
fi
