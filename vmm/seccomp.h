// The seccomp-bpf filter every nvmevm thread runs under from before the first KVM_RUN of any
// vCPU (docs/security.md): only the system calls the running VMM makes are allowed, several of
// them only with the arguments it uses:
//   ioctl            only the request numbers it makes after setup (KVM_RUN, interrupts,
//                    BAR moves, register dumps, BLKDISCARD, NVMe passthrough, TCGETS for stdio)
//   mmap, mprotect   never with PROT_EXEC: no new code can be mapped
//   tgkill           only to threads of its own process
// Every file and device it needs is opened during setup: no open, socket, exec, clone, ptrace,
// process_vm_*, mount or namespace call is allowed at all. A refused call stops the process with
// exit code kSeccompViolationExit and one log line naming the call (SECCOMP_RET_TRAP and a SIGSYS
// handler; the call itself never runs). `--no-seccomp` turns it off for debugging.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

namespace nvmevm {

// The exit code of a process stopped by the filter (docs/exit-codes.md).
inline constexpr int kSeccompViolationExit = 6;

// One condition on a system call's argument (x86-64: seccomp_data.args[arg]).
struct SeccompArgCheck {
    enum class Kind : uint8_t {
        low_in_set,  // the low 32 bits are one of `values` (ioctl's request is 32 bits)
        equals,      // all 64 bits equal values[0]
        bits_clear,  // (arg & values[0]) == 0, and the high 32 bits are 0
    };
    uint8_t arg = 0;
    Kind kind = Kind::equals;
    std::vector<uint32_t> values;  // 32-bit values (equals: the low word; the high word is 0)
};

// A system call the filter allows when every check holds.
struct SeccompRule {
    int nr = 0;
    std::vector<SeccompArgCheck> checks;
};

// nvmevm's rules after setup, for the process `pid` (tgkill's target group).
[[nodiscard]] std::vector<SeccompRule> seccomp_rules(pid_t pid);
// The numbers those rules allow, with or without conditions (tests, docs).
[[nodiscard]] std::vector<int> seccomp_allowed_syscalls();

// The BPF program for `rules`: another architecture's calls and x32 calls are refused first; a
// call no rule allows, or whose arguments fail its rule's checks, gets `refusal` (nvmevm's:
// SECCOMP_RET_TRAP). Separate from the installation so that tests can execute the program.
// std::length_error for a rule whose checks do not fit 8-bit jumps.
[[nodiscard]] std::vector<sock_filter> seccomp_program(std::span<const SeccompRule> rules,
                                                       uint32_t refusal);

// Installs the SIGSYS handler that logs a refused call and exits with kSeccompViolationExit,
// then `program` on every thread of the process (PR_SET_NO_NEW_PRIVS, SECCOMP_FILTER_FLAG_TSYNC);
// threads created later inherit it. Throws std::system_error when the kernel refuses.
void install_seccomp_program(std::span<const sock_filter> program);

// What nvmevm runs under: the program for seccomp_rules(getpid()), SECCOMP_RET_TRAP.
void install_seccomp_filter();

// Whether the calling thread runs under a filter seccomp_program made. Every such program
// answers getcpu(2) (which nvmevm never calls: glibc's sched_getcpu uses the vDSO) with EPERM
// instead of refusing it, so a thread can ask without being stopped. A vCPU thread asks just
// before its first KVM_RUN (vmm/machine.cc).
[[nodiscard]] bool seccomp_filter_active() noexcept;

}  // namespace nvmevm
