#include "vmm/seccomp.h"

#include <asm/unistd.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/nvme_ioctl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace nvmevm {
namespace {

// Exit codes of a child that did not die; each names what happened instead.
constexpr int kInstallFailed = 120;
constexpr int kCallReturned = 121;  // the refused call came back (with a result or an error)

// Runs `body` in a child process under the filter `install` puts in place; returns the child's
// wait status, and what the child wrote to stderr in `err` when given. The child leaves with
// _exit, never through exit(): under ASan/LSan the atexit handlers would make calls the filter
// refuses.
template <typename Install, typename Body>
int run_in_child(Install install, Body body, std::string* err = nullptr) {
    int pipe_fds[2] = {-1, -1};
    if (err != nullptr && ::pipe(pipe_fds) != 0) ADD_FAILURE() << "pipe";
    const pid_t child = fork();
    if (child == 0) {
        if (err != nullptr) ::dup2(pipe_fds[1], STDERR_FILENO);
        // A core file per refused call is only clutter.
        const rlimit no_core{0, 0};
        (void)setrlimit(RLIMIT_CORE, &no_core);
        try {
            install();
        } catch (...) {
            _exit(kInstallFailed);
        }
        body();
        _exit(0);
    }
    if (err != nullptr) {
        ::close(pipe_fds[1]);
        char buffer[512];
        ssize_t n = 0;
        while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0)
            err->append(buffer, static_cast<size_t>(n));
        ::close(pipe_fds[0]);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child) ADD_FAILURE() << "fork/waitpid failed";
    return status;
}

// nvmevm's filter exactly as vmm/machine.cc installs it.
template <typename Body>
int run_filtered(Body body, std::string* err = nullptr) {
    return run_in_child([] { install_seccomp_filter(); }, body, err);
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    }
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    return "wait status " + std::to_string(status);
}

// A refused call traps (SECCOMP_RET_TRAP); nvmevm's SIGSYS handler logs it and exits with
// kSeccompViolationExit. The call itself never ran.
::testing::AssertionResult StoppedByTheFilter(int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == kSeccompViolationExit)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << describe_status(status) << ", not exit " << kSeccompViolationExit;
}

::testing::AssertionResult ExitedCleanly(int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << describe_status(status);
}

// i386 getpid is 20, the number of x86-64 writev, which the list allows: a filter that forgot
// to check the architecture would let it through as "writev".
constexpr long kI386Getpid = 20;
static_assert(SYS_writev == kI386Getpid);

// ---- the program, executed ----

// Classic BPF as seccomp runs it (Documentation/networking/filter.rst, "BPF engine and
// instruction set"), for the instructions a seccomp program may use that ours does; anything
// else is nullopt, so that a program changed beyond them fails the tests instead of passing
// them by accident.
std::optional<uint32_t> run_program(const std::vector<sock_filter>& program,
                                    const seccomp_data& data) {
    uint32_t a = 0;
    for (size_t pc = 0; pc < program.size(); ++pc) {
        const sock_filter& insn = program[pc];
        switch (insn.code) {
            case BPF_LD | BPF_W | BPF_ABS:
                if (insn.k % 4 != 0 || insn.k + 4 > sizeof(data)) return std::nullopt;
                std::memcpy(&a, reinterpret_cast<const uint8_t*>(&data) + insn.k, 4);
                break;
            case BPF_JMP | BPF_JEQ | BPF_K:
                pc += a == insn.k ? insn.jt : insn.jf;
                break;
            case BPF_JMP | BPF_JGE | BPF_K:
                pc += a >= insn.k ? insn.jt : insn.jf;
                break;
            case BPF_JMP | BPF_JGT | BPF_K:
                pc += a > insn.k ? insn.jt : insn.jf;
                break;
            case BPF_JMP | BPF_JSET | BPF_K:
                pc += (a & insn.k) != 0 ? insn.jt : insn.jf;
                break;
            case BPF_JMP | BPF_JA:
                pc += insn.k;
                break;
            case BPF_RET | BPF_K:
                return insn.k;
            default:
                return std::nullopt;
        }
    }
    return std::nullopt;  // ran off the end: the kernel refuses such a program
}

constexpr pid_t kPid = 4242;

const std::vector<sock_filter>& nvmevm_program() {
    static const std::vector<sock_filter> program =
        seccomp_program(seccomp_rules(kPid), SECCOMP_RET_TRAP);
    return program;
}

// The program's verdict on a call, by name (for readable failures).
std::string verdict(const std::vector<sock_filter>& program, int nr,
                    const std::vector<uint64_t>& args = {}, uint32_t arch = AUDIT_ARCH_X86_64) {
    seccomp_data data{};
    data.nr = nr;
    data.arch = arch;
    size_t i = 0;
    for (uint64_t arg : args) data.args[i++] = arg;
    const std::optional<uint32_t> action = run_program(program, data);
    if (!action) return "not a program this test can run";
    if (*action == SECCOMP_RET_ALLOW) return "allow";
    if (*action == SECCOMP_RET_TRAP) return "refuse";
    if (*action == (SECCOMP_RET_ERRNO | EPERM)) return "probe";
    return "action " + std::to_string(*action);
}

TEST(SeccompProgram, AllowsExactlyTheListedX8664Calls) {
    const auto allowed = seccomp_allowed_syscalls();
    // Every x86-64 number there is (the table ends below 512) and some past it, with arguments
    // that every condition accepts (ioctl: KVM_RUN; tgkill: our own process).
    for (int nr = 0; nr < 1024; ++nr) {
        const bool listed = std::find(allowed.begin(), allowed.end(), nr) != allowed.end();
        const std::vector<uint64_t> args =
            nr == SYS_ioctl    ? std::vector<uint64_t>{3, KVM_RUN, 0}
            : nr == SYS_tgkill ? std::vector<uint64_t>{kPid, 7, SIGUSR1}
                               : std::vector<uint64_t>{0, 0, PROT_READ | PROT_WRITE};
        const std::string expected = listed ? "allow" : nr == SYS_getcpu ? "probe" : "refuse";
        EXPECT_EQ(verdict(nvmevm_program(), nr, args), expected) << "x86-64 system call " << nr;
    }
}

TEST(SeccompProgram, NothingThatOpensExecutesOrEscapesIsListed) {
    const auto allowed = seccomp_allowed_syscalls();
    for (int forbidden : {SYS_open,
                          SYS_openat,
                          SYS_openat2,
                          SYS_creat,
                          SYS_socket,
                          SYS_execve,
                          SYS_execveat,
                          SYS_fork,
                          SYS_vfork,
                          SYS_clone,
                          SYS_clone3,
                          SYS_unshare,
                          SYS_setns,
                          SYS_ptrace,
                          SYS_process_vm_readv,
                          SYS_process_vm_writev,
                          SYS_mount,
                          SYS_umount2,
                          SYS_pivot_root,
                          SYS_chroot,
                          SYS_kill,
                          SYS_tkill,
                          SYS_rt_sigqueueinfo,
                          SYS_rt_tgsigqueueinfo,
                          SYS_pkey_mprotect,
                          SYS_io_uring_setup,
                          SYS_memfd_create,
                          SYS_setuid,
                          SYS_setresuid,
                          SYS_prctl,
                          SYS_bpf,
                          SYS_userfaultfd,
                          SYS_perf_event_open,
                          SYS_init_module,
                          SYS_finit_module,
                          SYS_kexec_load}) {
        EXPECT_EQ(std::count(allowed.begin(), allowed.end(), forbidden), 0) << forbidden;
    }
}

TEST(SeccompProgram, IoctlOnlyForTheRequestsNvmevmMakes) {
    const auto& program = nvmevm_program();
    for (uint64_t request : {uint64_t{KVM_RUN}, uint64_t{KVM_IRQ_LINE}, uint64_t{KVM_SIGNAL_MSI},
                             uint64_t{KVM_IOEVENTFD}, uint64_t{KVM_GET_REGS}, uint64_t{BLKDISCARD},
                             uint64_t{NVME_IOCTL_IO_CMD}, uint64_t{TCGETS}})
        EXPECT_EQ(verdict(program, SYS_ioctl, {3, request, 0}), "allow") << std::hex << request;
    for (uint64_t request :
         {uint64_t{TIOCSTI}, uint64_t{KVM_CREATE_VM}, uint64_t{KVM_SET_USER_MEMORY_REGION},
          uint64_t{KVM_SET_REGS}, uint64_t{BLKROSET}, uint64_t{FIONBIO}, uint64_t{0}})
        EXPECT_EQ(verdict(program, SYS_ioctl, {3, request, 0}), "refuse") << std::hex << request;
    // The kernel takes the request as 32 bits: high bits change nothing, either way.
    EXPECT_EQ(verdict(program, SYS_ioctl, {3, (uint64_t{1} << 32) | KVM_RUN, 0}), "allow");
    EXPECT_EQ(verdict(program, SYS_ioctl, {3, (uint64_t{1} << 32) | TIOCSTI, 0}), "refuse");
}

TEST(SeccompProgram, NoExecutableMemory) {
    const auto& program = nvmevm_program();
    for (int nr : {SYS_mmap, SYS_mprotect}) {
        EXPECT_EQ(verdict(program, nr, {0, 4096, PROT_READ | PROT_WRITE}), "allow") << nr;
        EXPECT_EQ(verdict(program, nr, {0, 4096, PROT_NONE}), "allow") << nr;
        EXPECT_EQ(verdict(program, nr, {0, 4096, PROT_READ | PROT_EXEC}), "refuse") << nr;
        EXPECT_EQ(verdict(program, nr, {0, 4096, PROT_EXEC}), "refuse") << nr;
        // Bits above 32 in prot: refused rather than argued about.
        EXPECT_EQ(verdict(program, nr, {0, 4096, (uint64_t{1} << 40) | PROT_READ}), "refuse") << nr;
    }
}

TEST(SeccompProgram, SignalsOnlyToItsOwnThreads) {
    const auto& program = nvmevm_program();
    EXPECT_EQ(verdict(program, SYS_tgkill, {kPid, 99, SIGUSR1}), "allow");
    EXPECT_EQ(verdict(program, SYS_tgkill, {kPid + 1, 99, SIGUSR1}), "refuse");
    EXPECT_EQ(verdict(program, SYS_tgkill, {(uint64_t{1} << 32) | kPid, 99, SIGUSR1}), "refuse");
    EXPECT_EQ(verdict(program, SYS_kill, {kPid, SIGKILL}), "refuse");
}

TEST(SeccompProgram, RefusesAnotherArchitecturesNumbers) {
    const auto& program = nvmevm_program();
    // i386 getpid carries the number of x86-64 writev, which is allowed: only the architecture
    // check tells them apart.
    EXPECT_EQ(verdict(program, SYS_writev), "allow");
    EXPECT_EQ(verdict(program, kI386Getpid, {}, AUDIT_ARCH_I386), "refuse");
    for (int nr : seccomp_allowed_syscalls()) {
        EXPECT_EQ(verdict(program, nr, {}, AUDIT_ARCH_I386), "refuse") << "i386 " << nr;
        EXPECT_EQ(verdict(program, nr, {}, AUDIT_ARCH_AARCH64), "refuse") << "aarch64 " << nr;
    }
}

TEST(SeccompProgram, RefusesX32NumbersEvenWhenTheRulesNameThem) {
    // The real rules compare whole numbers, so an x32 call (bit 30 set) never matches them; the
    // guard matters for rules that would match one.
    const int x32_getpid = static_cast<int>(__X32_SYSCALL_BIT | SYS_getpid);
    const SeccompRule rules[] = {{SYS_getpid, {}}, {x32_getpid, {}}};
    const std::vector<sock_filter> program = seccomp_program(rules, SECCOMP_RET_TRAP);
    EXPECT_EQ(verdict(program, SYS_getpid), "allow");
    EXPECT_EQ(verdict(program, x32_getpid), "refuse");
}

TEST(SeccompProgram, ARuleTooLongForItsJumpsIsRefused) {
    SeccompRule rule{SYS_ioctl, {{1, SeccompArgCheck::Kind::low_in_set, {}}}};
    rule.checks[0].values.assign(300, 1);
    const SeccompRule rules[] = {rule};
    EXPECT_THROW((void)seccomp_program(rules, SECCOMP_RET_TRAP), std::length_error);
}

// ---- the filter, installed in a child process ----

TEST(Seccomp, AllowedCallsWork) {
    const int status = run_filtered([] {
        char byte = 'x';
        if (write(STDOUT_FILENO, &byte, 0) != 0) _exit(3);
        if (getpid() <= 0) _exit(4);
        if (syscall(SYS_gettid) <= 0) _exit(5);
        timespec now{};
        if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) _exit(6 + 100);
        void* data =
            mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (data == MAP_FAILED) _exit(7);
        // A signal to one of its own threads (itself).
        if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0) != 0) _exit(8);
    });
    EXPECT_TRUE(ExitedCleanly(status));
}

TEST(Seccomp, AThreadCanTellWhetherItIsFiltered) {
    EXPECT_FALSE(seccomp_filter_active());
    EXPECT_TRUE(ExitedCleanly(run_filtered([] {
        if (!seccomp_filter_active()) _exit(3);
    })));
}

TEST(Seccomp, ARefusedCallStopsTheProcessWithItsExitCodeAndALogLine) {
    std::string err;
    const int status = run_filtered(
        [] {
            (void)socket(AF_INET, SOCK_STREAM, 0);
            _exit(kCallReturned);
        },
        &err);
    EXPECT_TRUE(StoppedByTheFilter(status));
    EXPECT_NE(err.find("seccomp: refused system call socket (41)"), std::string::npos) << err;
}

TEST(Seccomp, OpeningAnyFileIsRefused) {
    std::string err;
    EXPECT_TRUE(StoppedByTheFilter(run_filtered(
        [] {
            (void)::open("/etc/hostname", O_RDONLY);
            _exit(kCallReturned);
        },
        &err)));
    EXPECT_NE(err.find("openat"), std::string::npos) << err;
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        (void)::open("/tmp/nvmevm-seccomp-created", O_CREAT | O_WRONLY, 0600);
        _exit(kCallReturned);
    })));
}

TEST(Seccomp, ExecutableMemoryIsRefused) {
    std::string err;
    EXPECT_TRUE(StoppedByTheFilter(run_filtered(
        [] {
            (void)mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            _exit(kCallReturned);
        },
        &err)));
    EXPECT_NE(err.find("mmap (9), prot 0x5"), std::string::npos) << err;
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        void* data =
            mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        (void)mprotect(data, 4096, PROT_READ | PROT_EXEC);
        _exit(kCallReturned);
    })));
}

TEST(Seccomp, IoctlsOutsideTheListAreRefused) {
    std::string err;
    EXPECT_TRUE(StoppedByTheFilter(run_filtered(
        [] {
            char c = 'x';
            (void)ioctl(STDIN_FILENO, TIOCSTI, &c);
            _exit(kCallReturned);
        },
        &err)));
    EXPECT_NE(err.find("ioctl (16), request 0x5412"), std::string::npos) << err;
}

TEST(Seccomp, SignalsToOtherProcessesAreRefused) {
    const pid_t parent = getpid();
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([parent] {
        (void)syscall(SYS_tgkill, parent, parent, 0);
        _exit(kCallReturned);
    })));
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([parent] {
        (void)kill(parent, 0);
        _exit(kCallReturned);
    })));
}

TEST(Seccomp, NewRingsAreRefused) {
    // A ring made now would carry no restrictions (foundation/io_ring.h): none may be made.
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        io_uring_params params{};
        (void)syscall(SYS_io_uring_setup, 4, &params);
        _exit(kCallReturned);
    })));
}

TEST(Seccomp, X32NumberedCallIsRefused) {
    // getpid is on the list; with the x32 bit it is another ABI's call. The kernel hands the
    // number to seccomp with the bit set whether or not it runs x32 programs at all.
    const int status = run_filtered([] {
        (void)syscall(__X32_SYSCALL_BIT | SYS_getpid);
        _exit(kCallReturned);
    });
    EXPECT_TRUE(StoppedByTheFilter(status));
}

TEST(Seccomp, X32GuardRefusesAnX32CallTheRulesName) {
    // The real rules never name an x32 number, so only rules that do show the kernel enforcing
    // the guard: nvmevm's own, plus x32 getpid. The plain getpid passes, the x32 one must not.
    const int x32_getpid = static_cast<int>(__X32_SYSCALL_BIT | SYS_getpid);
    std::vector<SeccompRule> rules = seccomp_rules(0);
    const auto install = [&] {
        // tgkill's target must be the child itself.
        rules = seccomp_rules(getpid());
        rules.push_back({x32_getpid, {}});
        install_seccomp_program(seccomp_program(rules, SECCOMP_RET_TRAP));
    };
    const int plain = run_in_child(install, [] { (void)getpid(); });
    EXPECT_TRUE(ExitedCleanly(plain)) << "the rules' own calls must work";
    const int x32 = run_in_child(install, [] {
        (void)syscall(__X32_SYSCALL_BIT | SYS_getpid);
        _exit(kCallReturned);
    });
    EXPECT_TRUE(StoppedByTheFilter(x32));
}

// No test makes a foreign-architecture call through the kernel: the development machines'
// kernels have no 32-bit entry point (int $0x80 faults even without a filter), so such a test
// could only skip there. SeccompProgram.RefusesAnotherArchitecturesNumbers executes the
// filter's architecture check on i386 and aarch64 numbers instead.

TEST(Seccomp, ExecveIsRefused) {
    // A path that does not exist: let through, execve would come back with ENOENT and the child
    // would exit with kCallReturned. The filter looks at the number only.
    char path[] = "/nonexistent/nvmevm-seccomp-test";
    char* const argv[] = {path, nullptr};
    char* const envp[] = {nullptr};
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([&] {
        (void)execve(path, argv, envp);
        _exit(kCallReturned);
    }))) << "execve";
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([&] {
        (void)syscall(SYS_execveat, AT_FDCWD, path, argv, envp, 0);
        _exit(kCallReturned);
    }))) << "execveat";
}

TEST(Seccomp, NewNamespacesAreRefused) {
    // Each way to a new namespace: the child must stop at the call, whatever the kernel would
    // have answered (a container may refuse CLONE_NEWUSER itself with EPERM; the filter comes
    // first). A child created anyway leaves through _exit too.
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        (void)unshare(CLONE_NEWUSER);
        _exit(kCallReturned);
    }))) << "unshare(CLONE_NEWUSER)";
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        (void)unshare(CLONE_NEWNS);
        _exit(kCallReturned);
    }))) << "unshare(CLONE_NEWNS)";
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        (void)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
        _exit(kCallReturned);
    }))) << "clone(CLONE_NEWUSER | CLONE_NEWNS)";
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        clone_args args{};
        args.flags = CLONE_NEWUSER | CLONE_NEWNS;
        args.exit_signal = SIGCHLD;
        (void)syscall(SYS_clone3, &args, sizeof(args));
        _exit(kCallReturned);
    }))) << "clone3(CLONE_NEWUSER | CLONE_NEWNS)";
    EXPECT_TRUE(StoppedByTheFilter(run_filtered([] {
        (void)syscall(SYS_setns, 0, CLONE_NEWNET);
        _exit(kCallReturned);
    }))) << "setns";
}

}  // namespace
}  // namespace nvmevm
