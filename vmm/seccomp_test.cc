#include "vmm/seccomp.h"

#include <asm/unistd.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
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
// wait status. The child leaves with _exit, never through exit(): under ASan/LSan the atexit
// handlers would make calls the filter kills. Assertions are the parent's.
template <typename Install, typename Body>
int run_in_child(Install install, Body body) {
    const pid_t child = fork();
    if (child == 0) {
        // Every test here ends in a SIGSYS; a core file per test is only clutter (the kernel's
        // core_pattern is often a plain "core" in the working directory).
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
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child) ADD_FAILURE() << "fork/waitpid failed";
    return status;
}

// nvmevm's filter exactly as vmm/machine.cc installs it.
template <typename Body>
int run_filtered(Body body) {
    return run_in_child([] { install_seccomp_filter(); }, body);
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    }
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    return "wait status " + std::to_string(status);
}

// SECCOMP_RET_KILL_PROCESS: "the process terminates as though killed by a SIGSYS signal"
// (seccomp(2)); the filter's every refusal is that action, so a refused call shows as SIGSYS.
::testing::AssertionResult KilledByTheFilter(int status) {
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << describe_status(status) << ", not by SIGSYS";
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

// The program's verdict on a call, by name (for readable failures).
std::string verdict(const std::vector<sock_filter>& program, int nr,
                    uint32_t arch = AUDIT_ARCH_X86_64) {
    seccomp_data data{};
    data.nr = nr;
    data.arch = arch;
    const std::optional<uint32_t> action = run_program(program, data);
    if (!action) return "not a program this test can run";
    if (*action == SECCOMP_RET_ALLOW) return "allow";
    if (*action == SECCOMP_RET_KILL_PROCESS) return "kill process";
    return "action " + std::to_string(*action);
}

TEST(SeccompProgram, AllowsExactlyTheListedX8664Calls) {
    const std::vector<sock_filter> program = seccomp_program(seccomp_allowed_syscalls());
    const auto allowed = seccomp_allowed_syscalls();
    // Every x86-64 number there is (the table ends below 512) and some past it.
    for (int nr = 0; nr < 1024; ++nr) {
        const bool listed = std::find(allowed.begin(), allowed.end(), nr) != allowed.end();
        EXPECT_EQ(verdict(program, nr), listed ? "allow" : "kill process")
            << "x86-64 system call " << nr;
    }
}

TEST(SeccompProgram, RefusesAnotherArchitecturesNumbers) {
    const std::vector<sock_filter> program = seccomp_program(seccomp_allowed_syscalls());
    // i386 getpid carries the number of x86-64 writev, which is allowed: only the architecture
    // check tells them apart.
    EXPECT_EQ(verdict(program, SYS_writev), "allow");
    EXPECT_EQ(verdict(program, kI386Getpid, AUDIT_ARCH_I386), "kill process");
    for (int nr : seccomp_allowed_syscalls()) {
        EXPECT_EQ(verdict(program, nr, AUDIT_ARCH_I386), "kill process") << "i386 " << nr;
        EXPECT_EQ(verdict(program, nr, AUDIT_ARCH_AARCH64), "kill process") << "aarch64 " << nr;
    }
}

TEST(SeccompProgram, RefusesX32NumbersEvenWhenTheListNamesThem) {
    // The real list compares whole numbers, so an x32 call (bit 30 set) never matches it; the
    // guard matters for a list that would match one. Such a list shows the guard at work.
    const int x32_getpid = static_cast<int>(__X32_SYSCALL_BIT | SYS_getpid);
    const int list[] = {SYS_getpid, x32_getpid};
    const std::vector<sock_filter> program = seccomp_program(list);
    EXPECT_EQ(verdict(program, SYS_getpid), "allow");
    EXPECT_EQ(verdict(program, x32_getpid), "kill process");
}

TEST(SeccompProgram, AListTooLongForItsJumpsIsRefused) {
    const std::vector<int> list(256, SYS_getpid);
    EXPECT_THROW((void)seccomp_program(list), std::length_error);
    EXPECT_NO_THROW((void)seccomp_program(std::span(list).first(255)));
}

// ---- the filter, installed in a child process ----

TEST(Seccomp, AllowedCallsWork) {
    const int status = run_filtered([] {
        char byte = 'x';
        if (write(STDOUT_FILENO, &byte, 0) != 0) _exit(3);
        if (getpid() <= 0) _exit(4);
        if (syscall(SYS_gettid) <= 0) _exit(5);
        timespec now{};
        if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) _exit(6);
    });
    EXPECT_TRUE(ExitedCleanly(status));
}

TEST(Seccomp, ASyscallOutsideTheListKillsTheProcess) {
    const int status = run_filtered([] {
        (void)socket(AF_INET, SOCK_STREAM, 0);
        _exit(kCallReturned);
    });
    EXPECT_TRUE(KilledByTheFilter(status));
}

TEST(Seccomp, X32NumberedCallKillsTheProcess) {
    // getpid is on the list; with the x32 bit it is another ABI's call. The kernel hands the
    // number to seccomp with the bit set whether or not it runs x32 programs at all.
    const int status = run_filtered([] {
        (void)syscall(__X32_SYSCALL_BIT | SYS_getpid);
        _exit(kCallReturned);
    });
    EXPECT_TRUE(KilledByTheFilter(status));
}

TEST(Seccomp, X32GuardKillsAnX32CallTheListNames) {
    // The real list never names an x32 number (see SeccompProgram.RefusesX32Numbers...), so only
    // a list that does shows the kernel enforcing the guard: nvmevm's own, plus x32 getpid
    // (whatever the runtime calls, sanitizers' included, stays allowed). The plain getpid
    // passes, the x32 one must not.
    const int x32_getpid = static_cast<int>(__X32_SYSCALL_BIT | SYS_getpid);
    std::vector<int> list(seccomp_allowed_syscalls().begin(), seccomp_allowed_syscalls().end());
    list.push_back(x32_getpid);
    const auto install = [&] { install_seccomp_program(seccomp_program(list)); };

    const int plain = run_in_child(install, [] { (void)getpid(); });
    EXPECT_TRUE(ExitedCleanly(plain)) << "the list's own calls must work";

    const int x32 = run_in_child(install, [] {
        (void)syscall(__X32_SYSCALL_BIT | SYS_getpid);
        _exit(kCallReturned);
    });
    EXPECT_TRUE(KilledByTheFilter(x32));
}

// No test makes a foreign-architecture call through the kernel: the development machines'
// kernels have no 32-bit entry point (int $0x80 faults even without a filter), so such a test
// could only skip there. SeccompProgram.RefusesAnotherArchitecturesNumbers executes the
// filter's architecture check on i386 and aarch64 numbers instead.

TEST(Seccomp, ExecveKillsTheProcess) {
    // A path that does not exist: let through, execve would come back with ENOENT and the child
    // would exit with kCallReturned. (An existing program proves nothing: it would die of
    // SIGSYS anyway, at its dynamic loader's first call off the list.) The filter looks at the
    // number only, before the kernel looks at the path.
    char path[] = "/nonexistent/nvmevm-seccomp-test";
    char* const argv[] = {path, nullptr};
    char* const envp[] = {nullptr};
    EXPECT_TRUE(KilledByTheFilter(run_filtered([&] {
        (void)execve(path, argv, envp);
        _exit(kCallReturned);
    }))) << "execve";
    EXPECT_TRUE(KilledByTheFilter(run_filtered([&] {
        (void)syscall(SYS_execveat, AT_FDCWD, path, argv, envp, 0);
        _exit(kCallReturned);
    }))) << "execveat";
}

TEST(Seccomp, NewNamespacesKillTheProcess) {
    // Each way to a new namespace: the child must die at the call, whatever the kernel would
    // have answered (a container may refuse CLONE_NEWUSER itself with EPERM; the filter comes
    // first). A child created anyway leaves through _exit too.
    EXPECT_TRUE(KilledByTheFilter(run_filtered([] {
        (void)unshare(CLONE_NEWUSER);
        _exit(kCallReturned);
    }))) << "unshare(CLONE_NEWUSER)";
    EXPECT_TRUE(KilledByTheFilter(run_filtered([] {
        (void)unshare(CLONE_NEWNS);
        _exit(kCallReturned);
    }))) << "unshare(CLONE_NEWNS)";
    EXPECT_TRUE(KilledByTheFilter(run_filtered([] {
        (void)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
        _exit(kCallReturned);
    }))) << "clone(CLONE_NEWUSER | CLONE_NEWNS)";
    EXPECT_TRUE(KilledByTheFilter(run_filtered([] {
        clone_args args{};
        args.flags = CLONE_NEWUSER | CLONE_NEWNS;
        args.exit_signal = SIGCHLD;
        (void)syscall(SYS_clone3, &args, sizeof(args));
        _exit(kCallReturned);
    }))) << "clone3(CLONE_NEWUSER | CLONE_NEWNS)";
    EXPECT_TRUE(KilledByTheFilter(run_filtered([] {
        (void)syscall(SYS_setns, 0, CLONE_NEWNET);
        _exit(kCallReturned);
    }))) << "setns";
}

TEST(Seccomp, ProcessCreationAndExecAreNotAllowed) {
    const auto allowed = seccomp_allowed_syscalls();
    for (int forbidden : {SYS_execve, SYS_execveat, SYS_fork, SYS_vfork, SYS_clone, SYS_clone3,
                          SYS_unshare, SYS_setns, SYS_socket, SYS_ptrace, SYS_open}) {
        EXPECT_EQ(std::count(allowed.begin(), allowed.end(), forbidden), 0) << forbidden;
    }
}

}  // namespace
}  // namespace nvmevm
