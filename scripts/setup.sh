#!/bin/sh
# The first README command: install dependencies, build nnc, compile the
# Fashion-MNIST MLP example and train it.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/compiler/nnc build examples/lecture02/fashion_mlp.nn -o build/fashion_mlp
./build/fashion_mlp train
