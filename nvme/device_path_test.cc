#include "nvme/device_path.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

TEST(NvmeDevicePath, GenericSibling) {
    EXPECT_EQ(nvme_generic_path("/dev/nvme0n1"), "/dev/ng0n1");
    EXPECT_EQ(nvme_generic_path("/dev/nvme12n34"), "/dev/ng12n34");
    EXPECT_EQ(nvme_generic_path("/dev/ng0n1"), "/dev/ng0n1");
    EXPECT_EQ(nvme_generic_path("ng3n2"), "ng3n2");
    EXPECT_EQ(nvme_generic_path("/dev/nvme0n1p1"), std::nullopt);  // a partition
    EXPECT_EQ(nvme_generic_path("/dev/nvme0"), std::nullopt);      // the controller
    EXPECT_EQ(nvme_generic_path("/dev/nvme0c0n1"), std::nullopt);  // a multipath path
    EXPECT_EQ(nvme_generic_path("/dev/vda"), std::nullopt);
    EXPECT_EQ(nvme_generic_path("/images/disk.img"), std::nullopt);
    EXPECT_EQ(nvme_generic_path("/dev/ng0n"), std::nullopt);
}

TEST(NvmeDevicePath, BlockName) {
    EXPECT_EQ(nvme_block_name("/dev/ng0n1"), "nvme0n1");
    EXPECT_EQ(nvme_block_name("/dev/nvme0n1"), "");
    EXPECT_FALSE(is_nvme_namespace("/dev/null"));
    EXPECT_FALSE(is_nvme_namespace("/dev/ng999n999"));
}

}  // namespace
}  // namespace nvmevm
