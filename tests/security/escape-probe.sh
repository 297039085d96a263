#!/usr/bin/env bash
# Runs the escape probe (tests/security/escape_probe.cc) as root: here when this is root, else
# inside the nested lab's L1 (docs/lab.md), where it is. Never skips.
set -euo pipefail
probe=${1:?usage: escape-probe.sh PATH_TO_nvmevm_escape_probe}
if [[ $(id -u) == 0 ]]; then
  exec "$probe"
fi
repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec "$repo/scripts/lab-command.sh" -- "$probe"
