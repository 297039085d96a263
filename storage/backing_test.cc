// The backing interface through its two storage-layer kinds: each makes its own engine, which
// shares ownership of it; a null backing advertises what it is given and does no I/O.
#include "storage/backing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "storage/engine.h"
#include "storage/file_backing.h"
#include "storage/null_backing.h"
#include "storage/test_files.h"

namespace nvmevm {
namespace {

using testing::Done;
using testing::options;
using testing::reap_one;
using testing::ScratchFile;

// One 4 KiB read at `offset` through the engine `backing` makes; the bytes read, or empty.
std::vector<uint8_t> read_through_engine(const std::shared_ptr<const Backing>& backing,
                                         uint64_t offset) {
    IoRing ring(8);
    std::unique_ptr<BlockEngine> engine = backing->make_engine(ring);
    std::vector<uint8_t> data(4096, 0xEE);
    const iovec segment{data.data(), data.size()};
    Done done;
    engine->submit(BlockIo::read(offset, {&segment, 1}), &done);
    if (ring.submit() < 0 || !reap_one(ring, done) || done.result != 4096) return {};
    return data;
}

TEST(NullBacking, NoFileEverythingSupportedNothingDone) {
    const std::shared_ptr<const Backing> backing = NullBacking::make(1 << 30);
    EXPECT_EQ(backing->capacity(), 1u << 30);
    EXPECT_EQ(backing->path(), "null");
    EXPECT_EQ(backing->logical_block_size(), 512u);
    EXPECT_TRUE(backing->supports_discard());
    EXPECT_TRUE(backing->supports_write_zeroes());
    EXPECT_TRUE(backing->needs_flush());
    EXPECT_EQ(backing->flush_sync(), 0);
    EXPECT_EQ(backing->discard_sync(0, 4096), 0);
    EXPECT_EQ(backing->serial(), "nvmevm-null");
    EXPECT_EQ(NullBacking::make(4096, "a-serial-longer-than-twenty")->serial(),
              "a-serial-longer-than");
    EXPECT_EQ(read_through_engine(backing, 8192), std::vector<uint8_t>(4096, 0));
}

// engine = "null" on a file: the device sees the file's shape, and no request reaches the file.
TEST(NullBacking, ShapedLikeAFileReadsZeroes) {
    const ScratchFile file("/tmp", 1 << 20, 0x5a);
    const auto real = FileBacking::open(options(file.path()));
    const std::shared_ptr<const Backing> null = NullBacking::shaped_like(real->traits());
    EXPECT_EQ(null->capacity(), real->capacity());
    EXPECT_EQ(null->logical_block_size(), real->logical_block_size());
    EXPECT_EQ(null->serial(), real->serial());
    EXPECT_EQ(null->path(), file.path());
    EXPECT_EQ(read_through_engine(null, 0), std::vector<uint8_t>(4096, 0));
    EXPECT_EQ(read_through_engine(real, 0), std::vector<uint8_t>(4096, 0x5a));
}

// The engine keeps its backing alive: nothing else needs to.
TEST(FileBacking, ItsEngineSharesOwnership) {
    const ScratchFile file("/tmp", 1 << 20, 0x33);
    IoRing ring(8);
    std::shared_ptr<const Backing> backing = FileBacking::open(options(file.path(), false, false));
    std::unique_ptr<BlockEngine> engine = backing->make_engine(ring);
    const std::weak_ptr<const Backing> watch = backing;
    backing.reset();
    EXPECT_FALSE(watch.expired());
    std::vector<uint8_t> data(4096);
    const iovec segment{data.data(), data.size()};
    Done done;
    engine->submit(BlockIo::read(4096, {&segment, 1}), &done);
    ASSERT_GE(ring.submit(), 0);
    ASSERT_TRUE(reap_one(ring, done));
    EXPECT_EQ(done.result, 4096);
    EXPECT_EQ(data, std::vector<uint8_t>(4096, 0x33));
    engine.reset();
    EXPECT_TRUE(watch.expired());
}

TEST(Backing, SerialFromPath) {
    EXPECT_EQ(serial_from_path("/var/lib/vm/disk.img"), "disk.img");
    EXPECT_EQ(serial_from_path("/images/a-very-long-image-file-name.raw"), "-image-file-name.raw");
    EXPECT_EQ(serial_from_path("/images/a-very-long-image-file-name.raw").size(), 20u);
    EXPECT_EQ(serial_from_path("tab\there"), "tab_here");
}

}  // namespace
}  // namespace nvmevm
