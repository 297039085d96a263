#include "vmm/confinement.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace nvmevm {
namespace {

// Runs `body` in a child, which reports through its exit code (0: as expected).
template <typename Body>
int in_child(Body body) {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(body());
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// Without root, automatic mode says why it did not sandbox, and "on" is an error, never a
// silent downgrade.
TEST(Confinement, WithoutRootTheSandboxIsSkippedOrRefusedNeverHalfDone) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
    EXPECT_EQ(in_child([] {
                  if (::setresuid(65534, 65534, 65534) != 0) return 1;
                  ConfinementPlan plan;
                  const ConfinementReport report = confine_process(plan);
                  if (report.sandboxed) return 2;
                  if (report.skipped_because != "not started as root") return 3;
                  return 0;
              }),
              0);
    EXPECT_EQ(in_child([] {
                  if (::setresuid(65534, 65534, 65534) != 0) return 1;
                  ConfinementPlan plan;
                  plan.sandbox.mode = SandboxMode::on;
                  try {
                      (void)confine_process(plan);
                  } catch (const ConfinementError& e) {
                      return std::strstr(e.what(), "needs root") != nullptr ? 0 : 4;
                  }
                  return 5;
              }),
              0);
}

TEST(Confinement, AsRootTheProcessEndsInAnEmptyRootAsAnotherUser) {
    if (::geteuid() != 0) GTEST_SKIP() << "the escape probe covers this in the lab";
    EXPECT_EQ(in_child([] {
                  ConfinementPlan plan;
                  plan.sandbox.mode = SandboxMode::on;
                  plan.sandbox.uid = 4242;
                  plan.sandbox.gid = 4343;
                  const ConfinementReport report = confine_process(plan);
                  if (!report.sandboxed) return 1;
                  if (::getuid() != 4242 || ::geteuid() != 4242 || ::getgid() != 4343) return 2;
                  if (::access("/etc", F_OK) == 0 || ::access("/proc/self", F_OK) == 0) return 3;
                  if (::setuid(0) == 0) return 4;
                  return 0;
              }),
              0);
}

}  // namespace
}  // namespace nvmevm
