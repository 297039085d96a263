// The seccomp-bpf allow-list every nvmevm thread runs under once the VM is built: only the
// system calls the running VMM makes (KVM ioctls, io_uring, eventfd writes, console output,
// signals between its own threads, memory for request slots) are allowed; anything else kills
// the process (SIGSYS), so a compromised vCPU thread cannot open files, sockets or processes.
// `--no-seccomp` (or `[machine] seccomp = false`) turns it off for debugging.
#pragma once

#include <span>

namespace nvmevm {

// The system calls allowed after setup (x86-64 numbers).
[[nodiscard]] std::span<const int> seccomp_allowed_syscalls();

// Installs the filter on every thread of the process (SECCOMP_FILTER_FLAG_TSYNC); threads created
// later inherit it. Throws std::system_error when the kernel refuses.
void install_seccomp_filter();

}  // namespace nvmevm
