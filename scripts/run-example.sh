#!/usr/bin/env bash
# The README's first command: install what is needed, build, and boot the default example
# (the test guest, which prints over the serial console and ends the VM with the status it
# chose). nvmevm's exit code is the script's: 16 + the guest's status (docs/exit-codes.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/nvmevm run --config "${1:-examples/hello.toml}"
