#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, docs/fuzzing.md) with clang, ASan and UBSan into
# build-fuzz and runs each for SECONDS (default 30) on a copy of its seed corpus
# (tests/fuzz/corpus/<target>/). Fails on any finding: a crash, a sanitizer report, a timeout
# or running out of memory; the input that caused it is left in build-fuzz/artifacts/.
#   scripts/fuzz.sh                        # 30 s per target, as CI runs it
#   scripts/fuzz.sh 600                    # 10 minutes per target
#   TARGETS=fuzz_pci scripts/fuzz.sh 60    # some targets only
# Reproduce a finding: build-fuzz/fuzz/<target> build-fuzz/artifacts/<target>-crash-<hash>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
read -r -a targets <<<"${TARGETS:-fuzz_blk_chain fuzz_blk_queue fuzz_pci fuzz_config}"

CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DNVMEVM_FUZZ=ON -DBUILD_TESTING=OFF \
  -DNVMEVM_STATIC=OFF -DNVMEVM_WERROR=ON >/dev/null
# Two jobs: the machines this project runs on have two cores.
ninja -C "$build_dir" -j "${JOBS:-2}" "${targets[@]}"

mkdir -p "$build_dir/artifacts" "$build_dir/logs"
failed=()
for target in "${targets[@]}"; do
  corpus=$build_dir/corpus/$target
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  log=$build_dir/logs/$target.log
  echo "== $target: ${seconds}s"
  # One process (no -jobs/-workers); niced, for the other work on the machine.
  status=0
  nice -n "${NICE:-19}" "$build_dir/fuzz/$target" "$corpus" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build_dir/artifacts/$target-" >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units' "$log" || true
  echo "corpus: $(find "$corpus" -type f | wc -l) inputs"
  if ((status != 0)) || compgen -G "$build_dir/artifacts/$target-*" >/dev/null; then
    echo "$target: FINDING (exit status $status), log: $log" >&2
    tail -n 60 "$log" >&2
    ls "$build_dir/artifacts/$target-"* >&2 2>/dev/null || true
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no findings (${#targets[@]} targets, ${seconds}s each)"
