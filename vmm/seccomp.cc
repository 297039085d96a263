#include "vmm/seccomp.h"

#include <linux/audit.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/nvme_ioctl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <system_error>

namespace nvmevm {
namespace {

// The ioctl requests made after setup, and why.
constexpr uint32_t kIoctls[] = {
    KVM_RUN,
    KVM_IRQ_LINE,    // legacy interrupts (UART, ACPI)
    KVM_SIGNAL_MSI,  // virtio-blk's MSI-X interrupts
    KVM_IOEVENTFD,   // a guest moving a BAR moves its doorbells
    KVM_GET_REGS,    // the register dump of a crashed guest
    KVM_GET_SREGS,
    BLKDISCARD,         // the synchronous discard on block devices (no BLOCK_URING_CMD_DISCARD)
    NVME_IOCTL_IO_CMD,  // an NVMe drive's flush at stop
    TCGETS,             // stdio asks whether stdout is a terminal at its first write
};

// Why each is needed, after setup (the rules, below, add conditions to some):
constexpr int kPlainlyAllowed[] = {
    SYS_io_uring_enter,     // submitting I/O and doorbell polls
    SYS_io_uring_register,  // guest RAM as fixed buffers on the first request (ring restrictions
                            // decide which register operations a ring takes: foundation/io_ring.h)
    SYS_read,
    SYS_write,   // console, log lines, doorbell eventfds (MMIO-exit path)
    SYS_writev,  // stdio
    SYS_close,
    SYS_fstat,
    SYS_newfstatat,
    SYS_lseek,   // stdio; the bench's console capture
    SYS_preadv,  // reads and writes of memory-backed drives (tmpfs), done inline
    SYS_pwritev,
    SYS_fsync,
    SYS_fdatasync,  // flush at stop; synchronous flush fallback
    SYS_fallocate,  // synchronous discard / write-zeroes fallback
    SYS_futex,      // mutexes, condition variables, thread join
    SYS_munmap,
    SYS_mremap,  // keeps a mapping's protection: no way to PROT_EXEC
    SYS_madvise,
    SYS_brk,
    SYS_mincore,    // guest RAM residency at exit
    SYS_getrusage,  // peak RSS at exit
    // A SIGBUS outside a guarded copy restores the default action (foundation/guarded_copy.cc).
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_rt_sigtimedwait,
    SYS_sigaltstack,
    SYS_getpid,
    SYS_gettid,  // kicking vCPU threads out of KVM_RUN
    SYS_clock_gettime,
    SYS_clock_nanosleep,
    SYS_nanosleep,
    SYS_sched_yield,
    SYS_exit,
    SYS_exit_group,
    SYS_rseq,
    SYS_set_robust_list,
    SYS_restart_syscall,
};

// Offsets into struct seccomp_data (x86-64 is little-endian: an argument's low word first).
constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr uint32_t arg_low(uint8_t arg) {
    return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8u * arg);
}
constexpr uint32_t arg_high(uint8_t arg) {
    return arg_low(arg) + 4;
}

sock_filter statement(uint16_t code, uint32_t k) {
    return sock_filter{code, 0, 0, k};
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t if_true, uint8_t if_false) {
    return sock_filter{code, if_true, if_false, k};
}

// A rule's block: [check the number] [checks] ALLOW, REFUSE. Jumps inside it are short, and
// the number check skips the whole block; blocks follow each other.
class BlockBuilder {
  public:
    // Appends a conditional jump whose false (or true) branch goes to the block's REFUSE.
    void check(uint16_t code, uint32_t k, bool refuse_when_true) {
        refusals_.push_back(code_.size());
        code_.push_back(jump(code, k, 0, 0));
        refuse_when_true_.push_back(refuse_when_true);
    }
    void load(uint32_t offset) { code_.push_back(statement(BPF_LD | BPF_W | BPF_ABS, offset)); }
    // A jump-if-equal chain over `values`: any match continues past it, none refuses.
    void one_of(const std::vector<uint32_t>& values) {
        const size_t n = values.size();
        for (size_t i = 0; i < n; ++i) {
            // A match jumps past the rest of the chain and the refusal at its end.
            const size_t past = n - i;  // the remaining comparisons after this one, + the JA
            if (past > UINT8_MAX) throw std::length_error("seccomp: check too long");
            code_.push_back(
                jump(BPF_JMP | BPF_JEQ | BPF_K, values[i], static_cast<uint8_t>(past), 0));
        }
        // None matched: to REFUSE.
        refusals_.push_back(code_.size());
        refuse_when_true_.push_back(true);
        code_.push_back(jump(BPF_JMP | BPF_JA, 0, 0, 0));
    }
    // Closes the block: ALLOW then REFUSE, with every pending refusal pointed at the latter.
    std::vector<sock_filter> finish(uint32_t refusal) {
        code_.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        const size_t refuse_at = code_.size();
        code_.push_back(statement(BPF_RET | BPF_K, refusal));
        for (size_t i = 0; i < refusals_.size(); ++i) {
            sock_filter& insn = code_[refusals_[i]];
            const size_t distance = refuse_at - refusals_[i] - 1;
            if (distance > UINT8_MAX) throw std::length_error("seccomp: rule too long");
            if (insn.code == (BPF_JMP | BPF_JA))
                insn.k = static_cast<uint32_t>(distance);
            else if (refuse_when_true_[i])
                insn.jt = static_cast<uint8_t>(distance);
            else
                insn.jf = static_cast<uint8_t>(distance);
        }
        return std::move(code_);
    }

  private:
    std::vector<sock_filter> code_;
    std::vector<size_t> refusals_;
    std::vector<bool> refuse_when_true_;
};

std::vector<sock_filter> rule_block(const SeccompRule& rule, uint32_t refusal) {
    BlockBuilder block;
    for (const SeccompArgCheck& check : rule.checks) {
        switch (check.kind) {
            case SeccompArgCheck::Kind::low_in_set:
                block.load(arg_low(check.arg));
                block.one_of(check.values);
                break;
            case SeccompArgCheck::Kind::equals:
                block.load(arg_high(check.arg));
                block.check(BPF_JMP | BPF_JEQ | BPF_K, 0, false);
                block.load(arg_low(check.arg));
                block.check(BPF_JMP | BPF_JEQ | BPF_K, check.values.at(0), false);
                break;
            case SeccompArgCheck::Kind::bits_clear:
                block.load(arg_high(check.arg));
                block.check(BPF_JMP | BPF_JEQ | BPF_K, 0, false);
                block.load(arg_low(check.arg));
                block.check(BPF_JMP | BPF_JSET | BPF_K, check.values.at(0), true);
                break;
        }
    }
    return block.finish(refusal);
}

// ---- the SIGSYS handler: async-signal-safe, no allocation ----

struct SyscallName {
    int nr;
    const char* name;
};
constexpr SyscallName kNames[] = {
    {SYS_open, "open"},
    {SYS_openat, "openat"},
    {SYS_openat2, "openat2"},
    {SYS_socket, "socket"},
    {SYS_connect, "connect"},
    {SYS_execve, "execve"},
    {SYS_execveat, "execveat"},
    {SYS_clone, "clone"},
    {SYS_clone3, "clone3"},
    {SYS_fork, "fork"},
    {SYS_vfork, "vfork"},
    {SYS_ptrace, "ptrace"},
    {SYS_process_vm_readv, "process_vm_readv"},
    {SYS_process_vm_writev, "process_vm_writev"},
    {SYS_mount, "mount"},
    {SYS_umount2, "umount2"},
    {SYS_unshare, "unshare"},
    {SYS_setns, "setns"},
    {SYS_kill, "kill"},
    {SYS_tgkill, "tgkill"},
    {SYS_tkill, "tkill"},
    {SYS_ioctl, "ioctl"},
    {SYS_mmap, "mmap"},
    {SYS_mprotect, "mprotect"},
    {SYS_pkey_mprotect, "pkey_mprotect"},
    {SYS_setuid, "setuid"},
    {SYS_setresuid, "setresuid"},
    {SYS_prctl, "prctl"},
    {SYS_io_uring_setup, "io_uring_setup"},
    {SYS_memfd_create, "memfd_create"},
    {SYS_fcntl, "fcntl"},
    {SYS_bpf, "bpf"},
};

struct Line {
    char text[256];
    size_t size = 0;
    void add(const char* s) {
        while (*s != '\0' && size < sizeof text) text[size++] = *s++;
    }
    void number(uint64_t value, unsigned base) {
        char digits[24];
        size_t n = 0;
        do {
            digits[n++] = "0123456789abcdef"[value % base];
            value /= base;
        } while (value != 0 && n < sizeof digits);
        while (n > 0 && size < sizeof text) text[size++] = digits[--n];
    }
};

void on_refused_call(int, siginfo_t* info, void* context) {
    const int nr = info->si_syscall;
    const auto* uc = static_cast<const ucontext_t*>(context);
    Line line;
    line.add("nvmevm: error: seccomp: refused system call ");
    const char* name = nullptr;
    for (const SyscallName& known : kNames)
        if (known.nr == nr) name = known.name;
    if (name != nullptr) {
        line.add(name);
        line.add(" (");
        line.number(static_cast<uint64_t>(nr), 10);
        line.add(")");
    } else {
        line.add("number ");
        line.number(static_cast<uint64_t>(nr), 10);
    }
    if (nr == SYS_ioctl) {
        line.add(", request 0x");
        line.number(static_cast<uint64_t>(uc->uc_mcontext.gregs[REG_RSI]) & 0xffff'ffffu, 16);
    } else if (nr == SYS_mmap || nr == SYS_mprotect) {
        line.add(", prot 0x");
        line.number(static_cast<uint64_t>(uc->uc_mcontext.gregs[REG_RDX]), 16);
    }
    line.add("; nvmevm stops (exit code 6)\n");
    size_t done = 0;
    while (done < line.size) {
        const ssize_t n = ::write(STDERR_FILENO, line.text + done, line.size - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    ::_exit(kSeccompViolationExit);
}
static_assert(kSeccompViolationExit == 6, "the handler's message names the code");

}  // namespace

std::vector<SeccompRule> seccomp_rules(pid_t pid) {
    using Kind = SeccompArgCheck::Kind;
    std::vector<SeccompRule> rules;
    rules.push_back({SYS_ioctl, {{1, Kind::low_in_set, {std::begin(kIoctls), std::end(kIoctls)}}}});
    // No executable memory, ever: malloc and the runtime map data only.
    rules.push_back({SYS_mmap, {{2, Kind::bits_clear, {PROT_EXEC}}}});
    rules.push_back({SYS_mprotect, {{2, Kind::bits_clear, {PROT_EXEC}}}});
    // Kicking vCPU threads: signals to this process's own threads only.
    rules.push_back({SYS_tgkill, {{0, Kind::equals, {static_cast<uint32_t>(pid)}}}});
    for (int nr : kPlainlyAllowed) rules.push_back({nr, {}});
    return rules;
}

std::vector<int> seccomp_allowed_syscalls() {
    std::vector<int> numbers;
    for (const SeccompRule& rule : seccomp_rules(1)) numbers.push_back(rule.nr);
    return numbers;
}

std::vector<sock_filter> seccomp_program(std::span<const SeccompRule> rules, uint32_t refusal) {
    std::vector<sock_filter> program;
    // Another architecture's system call numbers mean other calls: refuse them all.
    program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
    program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
    program.push_back(statement(BPF_RET | BPF_K, refusal));
    // x32 system calls (bit 30) are not ours either.
    program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
    program.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x4000'0000, 0, 1));
    program.push_back(statement(BPF_RET | BPF_K, refusal));
    // The probe seccomp_filter_active() makes: EPERM, not a refusal.
    program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_getcpu, 0, 1));
    program.push_back(statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
    for (const SeccompRule& rule : rules) {
        const std::vector<sock_filter> block = rule_block(rule, refusal);
        if (block.size() > UINT8_MAX) throw std::length_error("seccomp: rule too long");
        // Not this call: past the block. The checks load arguments, so the number is loaded
        // again for every rule.
        program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
        program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(rule.nr), 0,
                               static_cast<uint8_t>(block.size())));
        program.insert(program.end(), block.begin(), block.end());
    }
    program.push_back(statement(BPF_RET | BPF_K, refusal));
    if (program.size() > BPF_MAXINSNS) throw std::length_error("seccomp: program too long");
    return program;
}

void install_seccomp_program(std::span<const sock_filter> program) {
    struct sigaction action {};
    action.sa_sigaction = on_refused_call;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGSYS, &action, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "sigaction(SIGSYS)");
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(program.size());
    // The kernel copies the program; it only reads through this pointer.
    fprog.filter = const_cast<sock_filter*>(program.data());
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        throw std::system_error(errno, std::generic_category(), "PR_SET_NO_NEW_PRIVS");
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0)
        throw std::system_error(errno, std::generic_category(), "seccomp");
}

bool seccomp_filter_active() noexcept {
    unsigned cpu = 0;
    return ::syscall(SYS_getcpu, &cpu, nullptr, nullptr) != 0 && errno == EPERM;
}

void install_seccomp_filter() {
    const std::vector<SeccompRule> rules = seccomp_rules(::getpid());
    install_seccomp_program(seccomp_program(rules, SECCOMP_RET_TRAP));
}

}  // namespace nvmevm
