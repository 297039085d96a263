#!/usr/bin/env bash
# Every log line a guest can cause goes through a rate limiter (docs/robustness.md, "Log lines a
# guest can cause"): in the code a guest's actions reach at run time, a plain logf() is allowed
# only with a `// log-rule: <why it cannot repeat>` comment on the line before (setup, once per
# thread, at stop); everything else uses logf_limited().
#   scripts/check-guest-logs.sh [REPO]
set -euo pipefail
repo=${1:-$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$repo"
shopt -s nullglob
files=(devices/*.cc virtio/*.cc storage/*.cc nvme/*.cc vmm/block_devices.cc vmm/vcpu.cc vmm/kvm.cc)
bad=0
for f in "${files[@]}"; do
  [[ $f == *_test.cc ]] && continue
  out=$(awk '/(^|[^_a-z])logf\(/ && prev !~ /\/\/ log-rule: / { printf "%s:%d: %s\n", FILENAME, FNR, $0 }
             { prev = $0 }' "$f")
  if [[ -n $out ]]; then
    echo "$out"
    bad=1
  fi
done
if ((bad)); then
  echo "check-guest-logs: plain logf() where a guest may repeat it: use logf_limited(), or say" \
    "why it cannot repeat with a '// log-rule: ...' line above it" >&2
  exit 1
fi
