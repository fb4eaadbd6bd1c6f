#!/bin/sh
# The first README command: install dependencies, build nnc, compile the
# Fashion-MNIST MLP example and train it.  Each step prints its name and,
# when it fails, what failed and what to do (scripts/steps.sh).
set -eu
cd "$(dirname "$0")/.."
. ./scripts/steps.sh
step "install dependencies" "$NNC_DEPS_HINT" ./scripts/deps.sh
step "configure (cmake)" "$NNC_CONFIGURE_HINT" configure build -DCMAKE_BUILD_TYPE=Release
step "build nnc" "$NNC_BUILD_HINT" cmake --build build -j"$(nproc)"
step "compile examples/lecture02/fashion_mlp.nn" "$NNC_BUILD_HINT" \
  ./build/compiler/nnc build examples/lecture02/fashion_mlp.nn -o build/fashion_mlp
echo "== train build/fashion_mlp"
./build/fashion_mlp train
