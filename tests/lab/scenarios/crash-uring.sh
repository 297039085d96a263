# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# Crash consistency with the io_uring engine: the drive is L1's /dev/vda (ext4 the host made).
# nvmevm is SIGKILLed LAB_CC_KILLS times (default 4) while L2 writes and fsyncs files; after each
# kill, e2fsck -fn must be clean and every file L2 reported fsynced intact. The whole design:
# tests/lab/crash-consistency.sh; docs/robustness.md "Crash consistency".
cc_engine=uring
# shellcheck source=tests/lab/crash-consistency.sh
source "$lab_src/crash-consistency.sh"
