// Guarded copies (foundation/guarded_copy.h) under nvmevm's seccomp filter (vmm/seccomp.h):
// a test of the two together, so it lives with the higher of the two.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>

#include "foundation/guarded_copy.h"
#include "foundation/test_shm_file.h"
#include "vmm/seccomp.h"

namespace nvmevm {
namespace {

using testing::MappedShmFile;

// nvmevm copies under its seccomp filter: the guarded path must need no system call, and an
// unguarded fault must still end the process with SIGBUS (not SIGSYS from the handler).
TEST(GuardedCopy, WorksUnderTheSeccompFilter) {
    install_guarded_copy_handler();
    MappedShmFile file;
    file.shrink_to_nothing();
    const pid_t child = ::fork();
    if (child == 0) {
        install_seccomp_filter();
        uint8_t byte = 0;
        if (guarded_copy(&byte, file.bytes(), 1)) _exit(3);
        volatile uint8_t* page = file.bytes();
        page[0] = 1;
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), SIGBUS);
}

}  // namespace
}  // namespace nvmevm
