#include "vmm/seccomp.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace nvmevm {
namespace {

// Why each is needed, after setup:
constexpr int kAllowed[] = {
    SYS_ioctl,              // KVM_RUN, KVM_SIGNAL_MSI, KVM_IRQ_LINE, KVM_IOEVENTFD (BAR moves)
    SYS_io_uring_enter,     // submitting I/O and doorbell polls
    SYS_io_uring_register,  // guest RAM as fixed buffers on the first request; file slots
    SYS_read,               // /proc/self/status at exit
    SYS_write,              // console, log lines, doorbell eventfds (MMIO-exit path)
    SYS_writev,             // stdio
    SYS_openat,             // /proc/self/status at exit (peak RSS)
    SYS_close,
    SYS_fstat,
    SYS_newfstatat,
    SYS_lseek,   // stdio
    SYS_preadv,  // reads and writes of memory-backed drives (tmpfs), done inline
    SYS_pwritev,
    SYS_fsync,
    SYS_fdatasync,  // flush at stop; synchronous flush fallback
    SYS_fallocate,  // synchronous discard / write-zeroes fallback
    SYS_futex,      // mutexes, condition variables, thread join
    SYS_mmap,
    SYS_munmap,
    SYS_mremap,
    SYS_madvise,
    SYS_brk,
    SYS_mprotect,  // malloc
    SYS_mincore,   // guest RAM residency at exit
    // A SIGBUS outside a guarded copy restores the default action (vmm/guarded_copy.cc).
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_rt_sigtimedwait,
    SYS_sigaltstack,
    SYS_tgkill,
    SYS_getpid,
    SYS_gettid,  // kicking vCPU threads out of KVM_RUN
    SYS_clock_gettime,
    SYS_clock_nanosleep,
    SYS_nanosleep,
    SYS_sched_yield,
    SYS_exit,
    SYS_exit_group,
    SYS_rseq,
    SYS_set_robust_list,  // thread start (glibc)
    SYS_restart_syscall,
};

// Offsets into struct seccomp_data.
constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);

sock_filter statement(uint16_t code, uint32_t k) {
    return sock_filter{code, 0, 0, k};
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t if_true, uint8_t if_false) {
    return sock_filter{code, if_true, if_false, k};
}

}  // namespace

std::span<const int> seccomp_allowed_syscalls() {
    return kAllowed;
}

std::vector<sock_filter> seccomp_program(std::span<const int> allowed) {
    // Each comparison jumps at most past the ones after it and the KILL: an 8-bit offset.
    if (allowed.size() > UINT8_MAX) throw std::length_error("seccomp: allow-list too long");
    std::vector<sock_filter> program;
    // Another architecture's system call numbers mean other calls: refuse them all.
    program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
    program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
    program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
    // x32 system calls (bit 30) are not ours either.
    program.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x4000'0000, 0, 1));
    program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    const auto count = static_cast<uint8_t>(allowed.size());
    for (uint8_t i = 0; i < count; ++i) {
        // Jump to the ALLOW at the end: past the remaining comparisons and the KILL.
        const auto to_allow = static_cast<uint8_t>(count - i);
        program.push_back(
            jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(allowed[i]), to_allow, 0));
    }
    program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    return program;
}

void install_seccomp_program(std::span<const sock_filter> program) {
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(program.size());
    // The kernel copies the program; it only reads through this pointer.
    fprog.filter = const_cast<sock_filter*>(program.data());
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        throw std::system_error(errno, std::generic_category(), "PR_SET_NO_NEW_PRIVS");
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0)
        throw std::system_error(errno, std::generic_category(), "seccomp");
}

void install_seccomp_filter() {
    install_seccomp_program(seccomp_program(kAllowed));
}

}  // namespace nvmevm
