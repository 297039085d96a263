// The exit-code contract (docs/exit-codes.md): every outcome's code, and no guest status can
// produce a code that a shell, a wrapper or a scheduler reads as something else.
#include "devices/vm_outcome.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

int code_for_status(int status) {
    return exit_code_for({VmEnd::guest_status, static_cast<uint8_t>(status), ""});
}

TEST(VmOutcomeTest, FixedOutcomesHaveTheirCodes) {
    EXPECT_EQ(exit_code_for({VmEnd::powered_off, 0, ""}), 0);
    EXPECT_EQ(exit_code_for({VmEnd::vmm_error, 0, ""}), 1);
    EXPECT_EQ(exit_code_for({VmEnd::reset, 0, ""}), 3);
    EXPECT_EQ(exit_code_for({VmEnd::guest_crashed, 0, ""}), 4);
    EXPECT_EQ(exit_code_for({VmEnd::stopped, 0, ""}), 5);
}

TEST(VmOutcomeTest, LowGuestStatusesAreSixteenPlusTheStatus) {
    EXPECT_EQ(code_for_status(0), 16);
    EXPECT_EQ(code_for_status(7), 23);
    EXPECT_EQ(code_for_status(106), 122);
}

TEST(VmOutcomeTest, HighGuestStatusesShareOneCode) {
    for (int status = 107; status <= 255; ++status)
        EXPECT_EQ(code_for_status(status), 123) << status;
}

// 124 and 125 are what timeout(1) says about the command it runs (timed out, its own failure;
// docker run's 125 too), 126 and 127 the shell's "not executable" and "not found", 128 + n
// "killed by signal n": no guest status may look like any of them, nor like nvmevm's own codes.
TEST(VmOutcomeTest, NoGuestStatusGivesACodeSomeoneElseUses) {
    for (int status = 0; status <= 255; ++status) {
        const int code = code_for_status(status);
        EXPECT_GE(code, 16) << status;
        EXPECT_LE(code, 123) << status;
    }
}

}  // namespace
}  // namespace nvmevm
