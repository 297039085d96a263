#!/usr/bin/env bash
# Runs ctest in a build folder and fails when a test skipped: CI must not turn green because a
# machine lost /dev/kvm, QEMU or root and its tests quietly became skips. (kvm tests run in the
# nested lab where the machine has no /dev/kvm, tests/kvm/need.sh, so nothing here should skip.)
# A skip is accepted only for a test named in tests/allowed-skips.txt, with its reason.
#   scripts/ctest-all.sh BUILD_DIR [CTEST ARGS...]
set -euo pipefail
repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:?usage: scripts/ctest-all.sh BUILD_DIR [CTEST ARGS...]}
shift
log=$build_dir/ctest-all.log
set +e
(cd "$build_dir" && ctest --output-on-failure -j1 "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# ctest lists them under "The following tests did not run:" as "<n> - <name> (Skipped)".
allowed=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$repo/tests/allowed-skips.txt" | awk '{ print $1 }')
bad=()
while read -r name; do
  [[ -n $name ]] || continue
  grep -qxF -- "$name" <<<"$allowed" || bad+=("$name")
done < <(sed -nE 's/^[[:space:]]*[0-9]+ - (.*) \(Skipped\)$/\1/p' "$log")
if ((${#bad[@]})); then
  echo "ctest-all: ${#bad[@]} test(s) skipped that must run here (tests/allowed-skips.txt):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
exit "$rc"
