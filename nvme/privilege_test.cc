#include "nvme/privilege.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

TEST(NvmePrivilege, PassthroughNeedsAdminBefore62) {
    EXPECT_TRUE(nvme_passthrough_needs_admin("6.1.0-57-cloud-amd64"));
    EXPECT_TRUE(nvme_passthrough_needs_admin("5.19.0"));
    EXPECT_FALSE(nvme_passthrough_needs_admin("6.2.0"));
    EXPECT_FALSE(nvme_passthrough_needs_admin("6.18.0-1-amd64"));
    EXPECT_FALSE(nvme_passthrough_needs_admin("7.0"));
    EXPECT_TRUE(nvme_passthrough_needs_admin("garbage"));
}

}  // namespace
}  // namespace nvmevm
