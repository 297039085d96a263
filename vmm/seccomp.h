// The seccomp-bpf allow-list every nvmevm thread runs under once the VM is built: only the
// system calls the running VMM makes (KVM ioctls, io_uring, eventfd writes, console output,
// signals between its own threads, memory for request slots) are allowed; anything else kills
// the process (SIGSYS), so a compromised vCPU thread cannot open files, sockets or processes.
// `--no-seccomp` (or `[machine] seccomp = false`) turns it off for debugging.
#pragma once

#include <linux/filter.h>

#include <span>
#include <vector>

namespace nvmevm {

// The system calls allowed after setup (x86-64 numbers).
[[nodiscard]] std::span<const int> seccomp_allowed_syscalls();

// The BPF program for an allow-list of x86-64 numbers: another architecture's calls and x32
// calls are killed before the list is consulted. Separate from the installation so that tests
// can execute the program, and install it with a list that names an x32 number (the only way
// to see the x32 guard at work: no x32 number equals an entry of the real list). At most 255
// entries (jump offsets are 8 bits); std::length_error beyond.
[[nodiscard]] std::vector<sock_filter> seccomp_program(std::span<const int> allowed);

// Installs `program` on every thread of the process (SECCOMP_FILTER_FLAG_TSYNC); threads created
// later inherit it. Throws std::system_error when the kernel refuses.
void install_seccomp_program(std::span<const sock_filter> program);

// What nvmevm runs under: install_seccomp_program(seccomp_program(seccomp_allowed_syscalls())).
void install_seccomp_filter();

}  // namespace nvmevm
