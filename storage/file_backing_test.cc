#include "storage/file_backing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

#include "foundation/test_kernel_version.h"
#include "foundation/unique_fd.h"
#include "storage/test_files.h"

namespace nvmevm {
namespace {

using testing::kernel_at_least;

using testing::options;
using testing::ScratchFile;

TEST(FileBacking, CapacityAndDefaultsOfAFile) {
    ScratchFile file("/tmp", 1 << 20);
    const auto backing = FileBacking::open(options(file.path()));
    EXPECT_EQ(backing->capacity(), 1u << 20);
    EXPECT_FALSE(backing->read_only());
    EXPECT_FALSE(backing->is_block_device());
    EXPECT_TRUE(backing->direct());  // /tmp is on a disk with O_DIRECT
    EXPECT_GE(backing->logical_block_size(), 512u);
    EXPECT_GE(backing->dio_offset_align(), 1u);
    EXPECT_LE(backing->serial().size(), 20u);
    EXPECT_EQ(backing->serial(), serial_from_path(file.path()));
    EXPECT_NE(fcntl(backing->fd(), F_GETFL) & O_DIRECT, 0);
}

TEST(FileBacking, BufferedWhenAskedTo) {
    ScratchFile file("/tmp", 4096);
    const auto backing = FileBacking::open(options(file.path(), false, false));
    EXPECT_FALSE(backing->direct());
    EXPECT_EQ(fcntl(backing->fd(), F_GETFL) & O_DIRECT, 0);
    EXPECT_EQ(backing->dio_mem_align(), 1u);
}

TEST(FileBacking, ReadOnlyOpensReadOnlyAndOffersNoWrites) {
    ScratchFile file("/tmp", 4096);
    const auto backing = FileBacking::open(options(file.path(), true));
    EXPECT_TRUE(backing->read_only());
    EXPECT_EQ(fcntl(backing->fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
    EXPECT_FALSE(backing->supports_discard());
    EXPECT_FALSE(backing->supports_write_zeroes());
    EXPECT_EQ(backing->discard_sync(0, 4096), -EOPNOTSUPP);
}

TEST(FileBacking, RefusesWhatItCannotOpen) {
    EXPECT_THROW((void)FileBacking::open(options("/nonexistent/nvmevm-disk.img")),
                 std::system_error);
    // A directory is neither a file nor a block device.
    EXPECT_THROW((void)FileBacking::open(options("/tmp", true)), std::system_error);
    // A character device neither.
    EXPECT_THROW((void)FileBacking::open(options("/dev/null", false, false)), std::system_error);
}

TEST(FileBacking, RefusesWritableOpenOfAReadOnlyFile) {
    if (::geteuid() == 0) {
        // root ignores permission bits; an immutable file (chattr +i) is what root cannot open
        // for writing. ext4, xfs, btrfs and tmpfs (since 6.0) all have the attribute.
        ScratchFile file("/tmp", 4096);
        const std::string cmd = "chattr +i " + file.path();
        ASSERT_EQ(std::system(cmd.c_str()), 0)
            << cmd << " failed: needs chattr (e2fsprogs) and a /tmp with the immutable attribute";
        EXPECT_THROW((void)FileBacking::open(options(file.path())), std::system_error);
        EXPECT_NO_THROW((void)FileBacking::open(options(file.path(), true)));
        const std::string undo = "chattr -i " + file.path();
        EXPECT_EQ(std::system(undo.c_str()), 0);
        return;
    }
    ScratchFile file("/tmp", 4096);
    ASSERT_EQ(::chmod(file.path().c_str(), 0444), 0);
    EXPECT_THROW((void)FileBacking::open(options(file.path())), std::system_error);
}

// Whether `path` opens with O_DIRECT, asked of the kernel here rather than of FileBacking.
bool opens_with_o_direct(const std::string& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    return fd.valid();
}

TEST(FileBacking, TmpfsTakesODirectAndPunchesHolesForWriteZeroes) {
    ScratchFile file("/dev/shm", 1 << 16);
    const auto backing = FileBacking::open(options(file.path()));
    // tmpfs has O_DIRECT since Linux 6.6, and the backing uses it wherever the kernel has it.
    const bool kernel_takes_direct = opens_with_o_direct(file.path());
    if (kernel_at_least(6, 6)) {
        EXPECT_TRUE(kernel_takes_direct) << "tmpfs refused O_DIRECT on Linux 6.6+";
    }
    EXPECT_EQ(backing->direct(), kernel_takes_direct);
    EXPECT_EQ((::fcntl(backing->fd(), F_GETFL) & O_DIRECT) != 0, kernel_takes_direct);
    // tmpfs has no FALLOC_FL_ZERO_RANGE, so a punched hole (which reads back as zeroes) serves
    // write zeroes.
    EXPECT_TRUE(backing->supports_discard());
    EXPECT_EQ(backing->zero_method(), ZeroMethod::punch_hole);
    EXPECT_EQ(backing->capacity(), 1u << 16);  // the probes past the end changed nothing
}

TEST(FileBacking, SyncDiscardAndWriteZeroesReadBackAsZeroes) {
    for (const char* dir : {"/tmp", "/dev/shm"}) {
        ScratchFile file(dir, 1 << 16, 0xab);
        const auto backing = FileBacking::open(options(file.path()));
        ASSERT_TRUE(backing->supports_discard()) << dir;
        ASSERT_TRUE(backing->supports_write_zeroes()) << dir;
        EXPECT_EQ(backing->discard_sync(4096, 4096), 0);
        EXPECT_EQ(backing->write_zeroes_sync(3 * 4096, 8192), 0);
        EXPECT_EQ(backing->flush_sync(), 0);
        const auto data = file.read(0, 1 << 16);
        ASSERT_EQ(data.size(), 1u << 16);
        for (size_t i = 0; i < data.size(); ++i) {
            const bool zeroed = (i >= 4096 && i < 8192) || (i >= 3 * 4096 && i < 5 * 4096);
            ASSERT_EQ(data[i], zeroed ? 0 : 0xab) << dir << " byte " << i;
        }
        EXPECT_EQ(backing->capacity(), 1u << 16);
    }
}

}  // namespace
}  // namespace nvmevm
