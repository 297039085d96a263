#!/usr/bin/env bash
# The README's second command, and what CI runs (.ci/run): install what is needed, check
# formatting, build with warnings as errors, run every test (unit, kvm, lab), run each fuzz
# target for 20 s, then build the unit and kvm tests again with AddressSanitizer +
# UndefinedBehaviorSanitizer and run them. A skipped test fails the run (scripts/ctest-all.sh):
# on a machine without /dev/kvm the kvm tests run inside the nested lab instead.
#   LABELS=unit scripts/test.sh     # only some labels (a ctest -L regex)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== clang-format"
scripts/check-format.sh

echo "== build"
scripts/build.sh

echo "== lab kernel (Debian cloud kernel, fetched once into lab-cache/)"
# The unit tests also load this real kernel (boot/real_kernel_test.cc); the lab boots it.
scripts/lab-prepare.sh
# shellcheck disable=SC1091
. lab-cache/lab.env
export NVMEVM_TEST_BZIMAGE=$LAB_BZIMAGE NVMEVM_TEST_VMLINUX=$LAB_VMLINUX

echo "== tests"
scripts/ctest-all.sh build ${LABELS:+-L "$LABELS"}

echo "== fuzz smoke: each libFuzzer target for 20 s (docs/fuzzing.md)"
scripts/fuzz.sh 20

echo "== ASan/UBSan build and tests"
BUILD_DIR=build-asan scripts/build.sh -DNVMEVM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1 scripts/ctest-all.sh build-asan -L "${ASAN_LABELS:-unit|kvm}"
