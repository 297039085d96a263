#include "vmm/seccomp.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace nvmevm {
namespace {

// Runs `body` in a child process under the filter; returns the child's wait status.
template <typename Body>
int run_filtered(Body body) {
    const pid_t child = fork();
    if (child == 0) {
        install_seccomp_filter();
        body();
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return status;
}

TEST(Seccomp, AllowedCallsWork) {
    const int status = run_filtered([] {
        char byte = 'x';
        if (write(STDOUT_FILENO, &byte, 0) != 0) _exit(3);
        if (getpid() <= 0) _exit(4);
    });
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Seccomp, ASyscallOutsideTheListKillsTheProcess) {
    const int status = run_filtered([] { (void)socket(AF_INET, SOCK_STREAM, 0); });
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST(Seccomp, ProcessCreationAndExecAreNotAllowed) {
    const auto allowed = seccomp_allowed_syscalls();
    for (int forbidden : {SYS_execve, SYS_fork, SYS_clone, SYS_socket, SYS_ptrace, SYS_open}) {
        EXPECT_EQ(std::count(allowed.begin(), allowed.end(), forbidden), 0) << forbidden;
    }
}

}  // namespace
}  // namespace nvmevm
