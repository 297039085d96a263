#!/usr/bin/env bash
# Configures and builds nvmevm into BUILD_DIR (default: build). Extra arguments go to cmake.
#   scripts/build.sh                      # RelWithDebInfo, warnings as errors
#   BUILD_DIR=build-asan scripts/build.sh -DNVMEVM_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DNVMEVM_WERROR=ON "$@" >/dev/null
# Two jobs: the machines this project runs on have two cores.
ninja -C "$build_dir" -j "${JOBS:-2}"
