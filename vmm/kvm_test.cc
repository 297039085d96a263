// What nvmevm says when it cannot open KVM: what to check, and where it runs without it.
#include "vmm/kvm.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace nvmevm {
namespace {

std::string open_error(const char* device) {
    try {
        KvmSystem system(device);
    } catch (const std::exception& e) {
        return e.what();
    }
    ADD_FAILURE() << device << " opened";
    return "";
}

#define EXPECT_CONTAINS(text, part)                            \
    EXPECT_NE(std::string(text).find(part), std::string::npos) \
        << "  message: " << (text) << "\n  lacks:   " << (part)

// On a machine without /dev/kvm, `nvmevm run` ends with this message.
TEST(KvmSystemTest, MissingDeviceSaysWhatToCheck) {
    const std::string message = open_error("/nonexistent/kvm");
    EXPECT_CONTAINS(message, "open /nonexistent/kvm: No such file or directory");
    EXPECT_CONTAINS(message, "kvm module");
    EXPECT_CONTAINS(message, "group kvm");
    EXPECT_CONTAINS(message, "scripts/lab-run.sh");
    EXPECT_CONTAINS(message, "scripts/lab-command.sh");
}

TEST(KvmSystemTest, PermissionDeniedPointsAtTheGroupFirst) {
    const std::string message = kvm_open_error("/dev/kvm", EACCES);
    EXPECT_CONTAINS(message, "open /dev/kvm: Permission denied");
    EXPECT_LT(message.find("group kvm"), message.find("kvm module"));
    EXPECT_CONTAINS(message, "scripts/lab-command.sh");
}

}  // namespace
}  // namespace nvmevm
