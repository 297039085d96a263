#include "nvme/iopoll_safety.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

TEST(NvmeIopollSafety, RefusedBeforeLinux66) {
    for (const char* release : {"6.1.0-56-cloud-amd64", "6.5.13", "5.19.0", "4.19.0-27-amd64"}) {
        const auto refusal = nvme_iopoll_refusal(release);
        ASSERT_TRUE(refusal.has_value()) << release;
        EXPECT_NE(refusal->find("nvme_ns_chr_uring_cmd_iopoll"), std::string::npos);
    }
    EXPECT_NE(nvme_iopoll_refusal("6.1.0-56-cloud-amd64")->find("Linux 6.1 "), std::string::npos);
}

TEST(NvmeIopollSafety, AllowedFromLinux66) {
    for (const char* release : {"6.6.0", "6.6", "6.18.0-1-amd64", "6.10.5", "7.0.0"})
        EXPECT_FALSE(nvme_iopoll_refusal(release).has_value()) << release;
}

TEST(NvmeIopollSafety, AnUnreadableReleaseIsRefused) {
    for (const char* release : {"", "linux", "6", "6.", "x.y"})
        EXPECT_TRUE(nvme_iopoll_refusal(release).has_value()) << release;
}

}  // namespace
}  // namespace nvmevm
