#include "vmm/drive_engine.h"

#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include "foundation/io_ring.h"
#include "storage/backing.h"

namespace nvmevm {
namespace {

TEST(BlockEngineFactory, NvmeNeedsANamespaceAndNullBackingNeedsTheNullEngine) {
    BlockBackend null_backing = BlockBackend::null(4096);
    IoRing ring(8);
    try {
        (void)make_block_engine(BlockEngineKind::nvme, null_backing, ring);
        FAIL() << "nvme engine must not build on a null backing";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("needs an NVMe namespace"), std::string::npos);
    }
    EXPECT_THROW((void)make_block_engine(BlockEngineKind::uring, null_backing, ring),
                 std::system_error);
    BlockEngineKind kind{};
    EXPECT_TRUE(parse_block_engine_kind("null", kind));
    EXPECT_EQ(kind, BlockEngineKind::null);
    EXPECT_FALSE(parse_block_engine_kind("aio", kind));
}

}  // namespace
}  // namespace nvmevm
