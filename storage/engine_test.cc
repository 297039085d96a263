#include "storage/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "foundation/guest_memory.h"
#include "foundation/mapping.h"
#include "storage/bounce.h"
#include "storage/file_backing.h"
#include "storage/memory_image.h"
#include "storage/null_backing.h"
#include "storage/test_files.h"
#include "storage/uring_engine.h"

namespace nvmevm {
namespace {

using testing::Done;
using testing::options;
using testing::reap_all;
using testing::reap_one;
using testing::ScratchFile;

constexpr uint64_t kGuestRam = 4 << 20;

// Guest RAM (page-aligned, as O_DIRECT wants) registered with a ring, and one engine.
struct Rig {
    Mapping backing = Mapping::anonymous(kGuestRam);
    GuestMemory memory = GuestMemory::wrap({static_cast<uint8_t*>(backing.get()), kGuestRam});
    IoRing ring;
    std::shared_ptr<const Backing> backend;
    std::unique_ptr<BlockEngine> engine;

    // The engine is the one the backing makes (uring for a file, null for NullBacking).
    explicit Rig(std::shared_ptr<const Backing> b, unsigned entries = 64)
        : ring(entries), backend(std::move(b)) {
        // A guest that has touched all of its RAM: every chunk can be registered.
        std::memset(backing.get(), 0, kGuestRam);
        ring.register_guest_memory(memory);
        engine = backend->make_engine(ring);
    }
    [[nodiscard]] const FileBacking& file() const {
        return dynamic_cast<const FileBacking&>(*backend);
    }
    uint8_t* ram(uint64_t offset) { return static_cast<uint8_t*>(backing.get()) + offset; }

    int32_t run(const BlockIo& io) {
        Done done;
        engine->submit(io, &done);
        EXPECT_GE(ring.submit(), 0);
        EXPECT_TRUE(reap_one(ring, done));
        return done.result;
    }
    int32_t rw(BlockOp op, uint64_t offset, std::vector<iovec> segments) {
        return run(op == BlockOp::read ? BlockIo::read(offset, segments)
                                       : BlockIo::write(offset, segments));
    }
};

class UringEngine : public ::testing::TestWithParam<const char*> {};

TEST_P(UringEngine, FixedWriteThenFixedRead) {
    ScratchFile file(GetParam(), 1 << 20);
    Rig rig(FileBacking::open(options(file.path())));
    std::memset(rig.ram(0), 0x5a, 8192);
    ASSERT_EQ(rig.ring.fixed_buffer_index(rig.ram(0), 8192), 0);  // takes the _FIXED path
    EXPECT_EQ(rig.rw(BlockOp::write, 65536, {{rig.ram(0), 8192}}), 8192);
    EXPECT_EQ(file.read(65536, 8192), std::vector<uint8_t>(8192, 0x5a));
    std::memset(rig.ram(1 << 20), 0, 8192);
    EXPECT_EQ(rig.rw(BlockOp::read, 65536, {{rig.ram(1 << 20), 8192}}), 8192);
    EXPECT_EQ(std::memcmp(rig.ram(0), rig.ram(1 << 20), 8192), 0);
}

TEST_P(UringEngine, VectoredWriteThenReadWithOtherSegments) {
    ScratchFile file(GetParam(), 1 << 20);
    Rig rig(FileBacking::open(options(file.path())));
    for (int i = 0; i < 3 * 4096; ++i) rig.ram(0)[i] = static_cast<uint8_t>(i * 7);
    // Three segments out of order in guest RAM: WRITEV.
    std::vector<iovec> out = {{rig.ram(8192), 4096}, {rig.ram(0), 4096}, {rig.ram(4096), 4096}};
    EXPECT_EQ(rig.rw(BlockOp::write, 4096, out), 3 * 4096);
    std::vector<iovec> in = {{rig.ram(1 << 20), 8192}, {rig.ram(2 << 20), 4096}};
    EXPECT_EQ(rig.rw(BlockOp::read, 4096, in), 3 * 4096);
    EXPECT_EQ(std::memcmp(rig.ram(1 << 20), rig.ram(8192), 4096), 0);
    EXPECT_EQ(std::memcmp(rig.ram((1 << 20) + 4096), rig.ram(0), 4096), 0);
    EXPECT_EQ(std::memcmp(rig.ram(2 << 20), rig.ram(4096), 4096), 0);
}

TEST_P(UringEngine, BufferNotInGuestRamUsesVectoredIo) {
    ScratchFile file(GetParam(), 1 << 16, 0x11);
    Rig rig(FileBacking::open(options(file.path())));
    Mapping other = Mapping::anonymous(4096);
    EXPECT_EQ(rig.ring.fixed_buffer_index(other.get(), 4096), -1);
    EXPECT_EQ(rig.rw(BlockOp::read, 0, {{other.get(), 4096}}), 4096);
    EXPECT_EQ(static_cast<uint8_t*>(other.get())[4095], 0x11);
}

TEST_P(UringEngine, DiscardAndWriteZeroesReadBackAsZeroesAndFlushSucceeds) {
    ScratchFile file(GetParam(), 1 << 16, 0xcd);
    Rig rig(FileBacking::open(options(file.path())));
    EXPECT_EQ(rig.run(BlockIo::discard(0, 8192)), 0);
    EXPECT_EQ(rig.run(BlockIo::write_zeroes(16384, 4096)), 0);
    EXPECT_EQ(rig.run(BlockIo::flush()), 0);
    EXPECT_EQ(rig.rw(BlockOp::read, 0, {{rig.ram(0), 1 << 16}}), 1 << 16);
    for (size_t i = 0; i < (1 << 16); ++i) {
        const bool zeroed = i < 8192 || (i >= 16384 && i < 20480);
        ASSERT_EQ(rig.ram(0)[i], zeroed ? 0 : 0xcd) << "byte " << i;
    }
    EXPECT_EQ(rig.file().capacity(), 1u << 16);
}

TEST_P(UringEngine, ReadOnlyBackingAnswersWritesWithErofs) {
    ScratchFile file(GetParam(), 1 << 16, 0x22);
    Rig rig(FileBacking::open(options(file.path(), true)));
    EXPECT_EQ(rig.rw(BlockOp::write, 0, {{rig.ram(0), 4096}}), -EROFS);
    EXPECT_EQ(rig.run(BlockIo::discard(0, 4096)), -EROFS);
    EXPECT_EQ(rig.run(BlockIo::write_zeroes(0, 4096)), -EROFS);
    EXPECT_EQ(rig.rw(BlockOp::read, 0, {{rig.ram(0), 4096}}), 4096);
    EXPECT_EQ(rig.ram(0)[0], 0x22);
}

TEST_P(UringEngine, AThousandWritesThroughA32EntryRing) {
    constexpr int kOps = 1000;
    ScratchFile file(GetParam(), kOps * 4096ull);
    Rig rig(FileBacking::open(options(file.path())), 32);
    std::vector<Done> done(kOps);
    std::vector<iovec> segments(kOps);
    for (int i = 0; i < kOps; ++i) {
        uint8_t* buf = rig.ram(static_cast<uint64_t>(i % 1000) * 4096);
        std::memset(buf, i & 0xff, 4096);
        segments[i] = {buf, 4096};
        rig.engine->submit(BlockIo::write(static_cast<uint64_t>(i) * 4096, {&segments[i], 1}),
                           &done[i]);
    }
    ASSERT_GE(rig.ring.submit(), 0);
    ASSERT_TRUE(reap_all(rig.ring, done));
    for (const Done& d : done) {
        EXPECT_EQ(d.calls, 1);
        EXPECT_EQ(d.result, 4096);
    }
    EXPECT_EQ(file.read(999 * 4096, 4096), std::vector<uint8_t>(4096, 999 & 0xff));
    EXPECT_EQ(file.read(500 * 4096, 4096), std::vector<uint8_t>(4096, 500 & 0xff));
}

INSTANTIATE_TEST_SUITE_P(Dirs, UringEngine, ::testing::Values("/tmp", "/dev/shm"),
                         [](const auto& param_info) {
                             return std::string(param_info.param) == "/tmp" ? "disk" : "tmpfs";
                         });

TEST(NullEngine, ReadsZeroesAndCompletesThroughReap) {
    Rig rig(NullBacking::make(1 << 30));
    std::memset(rig.ram(0), 0xff, 8192);
    std::vector<iovec> segments = {{rig.ram(0), 4096}, {rig.ram(4096), 4096}};
    Done done;
    rig.engine->submit(BlockIo::read(0, segments), &done);
    EXPECT_EQ(done.calls, 0);  // never inline
    EXPECT_EQ(rig.ring.queued_sqes(), 0u);
    EXPECT_EQ(rig.ring.reap(), 1u);
    EXPECT_EQ(done.calls, 1);
    EXPECT_EQ(done.result, 8192);
    EXPECT_EQ(std::vector<uint8_t>(rig.ram(0), rig.ram(8192)), std::vector<uint8_t>(8192, 0));
    EXPECT_EQ(rig.rw(BlockOp::write, 0, {{rig.ram(0), 512}}), 512);
    EXPECT_EQ(rig.run(BlockIo::flush()), 0);
    EXPECT_EQ(rig.run(BlockIo::discard(0, 4096)), 0);
}

// The names of the kernel's io_uring workers serving thread `tid`: "iou-wrk-<tid>".
int count_io_workers_of(pid_t tid) {
    const std::string want = "iou-wrk-" + std::to_string(tid);
    int count = 0;
    DIR* dir = ::opendir("/proc/self/task");
    if (dir == nullptr) return -1;
    while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
        std::string name;
        std::getline(comm, name);
        if (name == want.substr(0, 15)) ++count;  // comm is cut at 15 bytes
    }
    ::closedir(dir);
    return count;
}

// Runs `ops` requests on a fresh thread (so that any io_uring worker is that thread's) at queue
// depth `depth`, and reports how many iou-wrk threads that thread had at the end.
int workers_after_io(std::shared_ptr<const Backing> backend, BlockOp op, int ops, int depth) {
    int workers = -1;
    std::thread runner([&] {
        Rig rig(std::move(backend));
        std::vector<Done> done(static_cast<size_t>(depth));
        std::vector<iovec> segments(static_cast<size_t>(depth));
        for (int round = 0; round < ops / depth; ++round) {
            for (int i = 0; i < depth; ++i) {
                done[i] = Done{};
                segments[i] = {rig.ram(static_cast<uint64_t>(i) * 4096), 4096};
                const uint64_t block = static_cast<uint64_t>(round * depth + i) % 256;
                const std::span<const iovec> one(&segments[i], 1);
                rig.engine->submit(op == BlockOp::read    ? BlockIo::read(block * 4096, one)
                                   : op == BlockOp::write ? BlockIo::write(block * 4096, one)
                                                          : BlockIo::flush(),
                                   &done[i]);
            }
            if (rig.ring.submit() < 0 || !reap_all(rig.ring, done)) return;
        }
        workers = count_io_workers_of(static_cast<pid_t>(::syscall(SYS_gettid)));
    });
    runner.join();
    return workers;
}

TEST(UringEngineMemoryBacked, TmpfsReadsAndWritesAreDoneInlineWithoutAWorker) {
    ScratchFile file("/dev/shm", 1 << 20);
    Rig rig(FileBacking::open(options(file.path())));
    ASSERT_TRUE(rig.file().memory_backed());
    std::memset(rig.ram(0), 0x3c, 4096);
    Done wrote;
    const std::vector<iovec> data{{rig.ram(0), 4096}};
    rig.engine->submit(BlockIo::write(8192, data), &wrote);
    // Done on this thread: no SQE for the kernel, the completion already posted.
    EXPECT_EQ(rig.ring.queued_sqes(), 0u);
    EXPECT_TRUE(rig.ring.has_posted());
    EXPECT_TRUE(reap_one(rig.ring, wrote));
    EXPECT_EQ(wrote.result, 4096);
    EXPECT_EQ(file.read(8192, 4096), std::vector<uint8_t>(4096, 0x3c));
    std::memset(rig.ram(65536), 0, 4096);
    EXPECT_EQ(rig.rw(BlockOp::read, 8192, {{rig.ram(65536), 2048}, {rig.ram(69632), 2048}}), 4096);
    EXPECT_EQ(std::memcmp(rig.ram(65536), rig.ram(0), 2048), 0);
    EXPECT_EQ(std::memcmp(rig.ram(69632), rig.ram(2048), 2048), 0);
    // Past the end of the file: a short read, as from io_uring.
    EXPECT_EQ(rig.rw(BlockOp::read, (1 << 20) - 512, {{rig.ram(0), 4096}}), 512);
}

// Whether `dir` is on a tmpfs. /var/tmp, the tests' disk-backed folder, is one on some
// machines (a systemd tmp.mount for it, a container's tmpfs): then no disk is at hand.
bool is_tmpfs(const char* dir) {
    struct statfs fs {};
    return ::statfs(dir, &fs) == 0 && fs.f_type == static_cast<decltype(fs.f_type)>(TMPFS_MAGIC);
}

TEST(UringEngineMemoryBacked, OnlyMemoryFilesystemsCount) {
    ScratchFile shm("/dev/shm", 4096);
    EXPECT_TRUE(FileBacking::open(options(shm.path()))->memory_backed());
    if (is_tmpfs("/var/tmp")) GTEST_SKIP() << "/var/tmp is a tmpfs here: no disk-backed file";
    ScratchFile disk("/var/tmp", 4096);
    EXPECT_FALSE(FileBacking::open(options(disk.path()))->memory_backed());
}

TEST(UringEngineBounce, BuffersODirectWouldRefuseGoThroughAnAlignedCopy) {
    if (is_tmpfs("/var/tmp")) GTEST_SKIP() << "/var/tmp is a tmpfs here: no disk-backed file";
    ScratchFile file("/var/tmp", 1 << 20, 0x10);
    Rig rig(FileBacking::open(options(file.path())));
    // Every disk filesystem (ext4, xfs, btrfs) takes O_DIRECT.
    ASSERT_TRUE(rig.file().direct()) << "no O_DIRECT on /var/tmp, a disk filesystem";
    // Odd addresses, and segments shorter than a block: O_DIRECT says EINVAL to both.
    std::memset(rig.ram(1), 0x6d, 512);
    const std::vector<iovec> odd{{rig.ram(1), 512}};
    const BlockIo odd_write = BlockIo::write(4096, odd);
    EXPECT_TRUE(needs_bounce_buffer(rig.file(), odd_write));
    EXPECT_EQ(rig.run(odd_write), 512);
    EXPECT_EQ(file.read(4096, 512), std::vector<uint8_t>(512, 0x6d));
    const std::vector<iovec> halves{{rig.ram(8195), 256}, {rig.ram(12288), 256}};
    EXPECT_TRUE(needs_bounce_buffer(rig.file(), BlockIo::read(4096, halves)));
    EXPECT_EQ(rig.rw(BlockOp::read, 4096, halves), 512);
    EXPECT_EQ(std::vector<uint8_t>(rig.ram(8195), rig.ram(8195 + 256)),
              std::vector<uint8_t>(256, 0x6d));
    EXPECT_EQ(std::vector<uint8_t>(rig.ram(12288), rig.ram(12288 + 256)),
              std::vector<uint8_t>(256, 0x6d));
    // Aligned requests keep the io_uring path; a misaligned offset or length is not the
    // buffer's fault, and the backing answers it.
    EXPECT_FALSE(needs_bounce_buffer(rig.file(),
                                     BlockIo::read(4096, std::vector<iovec>{{rig.ram(0), 4096}})));
    EXPECT_FALSE(needs_bounce_buffer(rig.file(),
                                     BlockIo::read(4097, std::vector<iovec>{{rig.ram(1), 512}})));
    EXPECT_FALSE(needs_bounce_buffer(rig.file(),
                                     BlockIo::read(4096, std::vector<iovec>{{rig.ram(1), 100}})));
}

// A bounced request larger than the engine's one bounce slot goes through it a slot at a time:
// the memory a guest can make nvmevm use for this is bounded whatever the request's size.
TEST(UringEngineBounce, ARequestLargerThanTheSlotGoesASlotAtATime) {
    if (is_tmpfs("/var/tmp")) GTEST_SKIP() << "/var/tmp is a tmpfs here: no disk-backed file";
    ScratchFile file("/var/tmp", 1 << 20, 0x10);
    Rig rig(FileBacking::open(options(file.path())));
    ASSERT_TRUE(rig.file().direct()) << "no O_DIRECT on /var/tmp, a disk filesystem";
    const size_t bytes = 2 * BouncePool::kDefaultSlotBytes + 3 * 4096;  // three chunks
    for (size_t i = 0; i < bytes; ++i) rig.ram(1)[i] = static_cast<uint8_t>(i * 31 + 7);
    const std::vector<iovec> odd{{rig.ram(1), bytes}};  // an odd address: bounced
    ASSERT_TRUE(needs_bounce_buffer(rig.file(), BlockIo::write(8192, odd)));
    EXPECT_EQ(rig.rw(BlockOp::write, 8192, odd), static_cast<int32_t>(bytes));
    const std::vector<uint8_t> on_disk = file.read(8192, bytes);
    EXPECT_TRUE(std::equal(on_disk.begin(), on_disk.end(), rig.ram(1)));
    const std::vector<iovec> back{{rig.ram(2 << 20) + 3, bytes}};
    EXPECT_EQ(rig.rw(BlockOp::read, 8192, back), static_cast<int32_t>(bytes));
    EXPECT_EQ(std::memcmp(rig.ram(2 << 20) + 3, rig.ram(1), bytes), 0);
}

// Bytes tmpfs holds for the file (its allocated pages), as stat reports them.
uint64_t allocated_bytes(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return ~0ull;
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

// A file of `size` bytes on /dev/shm that is all hole: no page allocated.
std::string sparse_shm_file(uint64_t size) {
    char path[] = "/dev/shm/nvmevm-blk-sparse.XXXXXX";
    UniqueFd fd(::mkstemp(path));
    if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) std::abort();
    return path;
}

TEST(UringEngineMemoryImage, ADenseFileIsMappedAndCopiedBothWays) {
    ScratchFile file("/dev/shm", 1 << 20, 0x21);
    Rig rig(FileBacking::open(options(file.path())));
    const MemoryImage* image = rig.file().memory_image();
    ASSERT_NE(image, nullptr);
    EXPECT_FALSE(image->may_have_holes());
    std::memset(rig.ram(0), 0x5e, 8192);
    const std::vector<iovec> two{{rig.ram(0), 4096}, {rig.ram(8192), 4096}};
    std::memset(rig.ram(8192), 0x5f, 4096);
    // Straight through the mapping, as the engine does it: no system call to fall back on.
    EXPECT_EQ(image->copy(BlockIo::write(65536, two)), 8192);
    EXPECT_EQ(file.read(65536, 4096), std::vector<uint8_t>(4096, 0x5e));
    EXPECT_EQ(file.read(69632, 4096), std::vector<uint8_t>(4096, 0x5f));
    const std::vector<iovec> into{{rig.ram(1 << 20), 8192}};
    EXPECT_EQ(image->copy(BlockIo::read(61440, into)), 8192);
    EXPECT_EQ(std::vector<uint8_t>(rig.ram(1 << 20), rig.ram(1 << 20) + 4096),
              std::vector<uint8_t>(4096, 0x21));
    EXPECT_EQ(rig.ram(1 << 20)[4096], 0x5e);
    // Past the end: left to preadv, which reads short.
    EXPECT_FALSE(image->copy(BlockIo::read((1 << 20) - 512, into)).has_value());
    EXPECT_EQ(rig.rw(BlockOp::read, (1 << 20) - 512, {{rig.ram(0), 4096}}), 512);
}

// Page faults this thread has taken so far.
long minor_faults_of_this_thread() {
    struct rusage usage {};
    ::getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_minflt;
}

TEST(UringEngineMemoryImage, WritesMapTheirNeighboursAndDoNotFaultOncePerPage) {
    constexpr uint64_t kFile = 4 << 20;
    constexpr uint64_t kPages = kFile / 4096;
    ScratchFile file("/dev/shm", kFile, 0x31);
    Rig rig(FileBacking::open(options(file.path())));
    const MemoryImage* image = rig.file().memory_image();
    ASSERT_NE(image, nullptr);
    std::memset(rig.ram(0), 0x7a, 4096);
    const std::vector<iovec> page{{rig.ram(0), 4096}};
    // Every page of a mapping no one has touched yet, once each.
    const long before = minor_faults_of_this_thread();
    for (uint64_t index = 0; index < kPages; ++index)
        ASSERT_EQ(image->copy(BlockIo::write(index * 4096, page)), 4096);
    const long faults = minor_faults_of_this_thread() - before;
    // memcpy alone takes one write fault per page (1,024 here); read first, each read fault maps
    // the pages around it as well (64 KiB by default: 64 faults).
    EXPECT_LT(faults, static_cast<long>(kPages / 4)) << faults << " page faults";
    EXPECT_EQ(file.read(kFile - 4096, 4096), std::vector<uint8_t>(4096, 0x7a));
}

TEST(UringEngineMemoryImage, ReadsOfASparseFileLeaveItsHolesUnallocated) {
    const std::string path = sparse_shm_file(1 << 20);
    Rig rig(FileBacking::open(options(path)));
    ASSERT_NE(rig.file().memory_image(), nullptr);
    EXPECT_TRUE(rig.file().memory_image()->may_have_holes());
    std::memset(rig.ram(0), 0xee, 65536);
    EXPECT_EQ(rig.rw(BlockOp::read, 0, {{rig.ram(0), 65536}}), 65536);
    EXPECT_EQ(std::vector<uint8_t>(rig.ram(0), rig.ram(65536)), std::vector<uint8_t>(65536, 0));
    // Through the mapping each page read would have been allocated.
    EXPECT_EQ(allocated_bytes(path), 0u);
    // Writes still go through the mapping and fill what they write, no more.
    EXPECT_EQ(rig.rw(BlockOp::write, 8192, {{rig.ram(0), 4096}}), 4096);
    EXPECT_EQ(allocated_bytes(path), 4096u);
    ::unlink(path.c_str());
}

TEST(UringEngineMemoryImage, DiscardAndZeroingPunchHolesThatLaterReadsLeaveAlone) {
    for (const BlockOp op : {BlockOp::discard, BlockOp::write_zeroes}) {
        ScratchFile file("/dev/shm", 1 << 20, 0x42);
        Rig rig(FileBacking::open(options(file.path())));
        ASSERT_FALSE(rig.file().memory_image()->may_have_holes());
        const BlockIo punch =
            op == BlockOp::discard ? BlockIo::discard(0, 262144) : BlockIo::write_zeroes(0, 262144);
        ASSERT_EQ(rig.run(punch), 0);
        EXPECT_TRUE(rig.file().memory_image()->may_have_holes());
        const uint64_t after_punch = allocated_bytes(file.path());
        EXPECT_EQ(after_punch, (1u << 20) - 262144);
        EXPECT_EQ(rig.rw(BlockOp::read, 0, {{rig.ram(0), 262144}}), 262144);
        EXPECT_EQ(std::vector<uint8_t>(rig.ram(0), rig.ram(262144)),
                  std::vector<uint8_t>(262144, 0));
        EXPECT_EQ(allocated_bytes(file.path()), after_punch);
    }
}

TEST(UringEngineMemoryImage, AFileTruncatedUnderTheDriveReadsShortInsteadOfKillingNvmevm) {
    ScratchFile file("/dev/shm", 1 << 20, 0x42);
    Rig rig(FileBacking::open(options(file.path())));
    ASSERT_NE(rig.file().memory_image(), nullptr);
    ASSERT_EQ(::truncate(file.path().c_str(), 0), 0);  // someone else shrinks the file
    // The mapping faults (SIGBUS), and preadv answers: end of file.
    EXPECT_EQ(rig.rw(BlockOp::read, 4096, {{rig.ram(0), 4096}}), 0);
    std::memset(rig.ram(0), 0x77, 4096);
    EXPECT_EQ(rig.rw(BlockOp::write, 4096, {{rig.ram(0), 4096}}), 4096);
    EXPECT_EQ(file.read(4096, 4096), std::vector<uint8_t>(4096, 0x77));
}

// A tmpfs of 64 KiB mounted for one test (needs root).
class SmallTmpfs {
  public:
    SmallTmpfs() {
        char dir[] = "/tmp/nvmevm-small-tmpfs.XXXXXX";
        if (::mkdtemp(dir) == nullptr) return;
        dir_ = dir;
        mounted_ = ::mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") == 0;
    }
    ~SmallTmpfs() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
        if (!dir_.empty()) ::rmdir(dir_.c_str());
    }
    SmallTmpfs(const SmallTmpfs&) = delete;
    SmallTmpfs& operator=(const SmallTmpfs&) = delete;
    [[nodiscard]] bool mounted() const { return mounted_; }
    [[nodiscard]] const std::string& dir() const { return dir_; }

  private:
    std::string dir_;
    bool mounted_ = false;
};

TEST(UringEngineMemoryImage, WritingIntoAFullTmpfsIsEnospcNotACrash) {
    SmallTmpfs tmpfs;
    ASSERT_TRUE(tmpfs.mounted()) << "cannot mount a tmpfs of 64 KiB: needs root (CI runs as root)";
    const std::string path = tmpfs.dir() + "/drive";
    {
        UniqueFd fd(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd.valid());
        ASSERT_EQ(::ftruncate(fd.get(), 1 << 20), 0);  // 1 MiB of holes on 64 KiB of tmpfs
    }
    Rig rig(FileBacking::open(options(path)));
    ASSERT_NE(rig.file().memory_image(), nullptr);
    std::memset(rig.ram(0), 0x3a, 4096);
    int32_t result = 0;
    uint64_t written = 0;
    for (uint64_t offset = 0; offset < (1 << 20) && result >= 0; offset += 4096) {
        result = rig.rw(BlockOp::write, offset, {{rig.ram(0), 4096}});
        if (result == 4096) written += 4096;
    }
    // The mapped write faulted when tmpfs ran out, and pwritev said why.
    EXPECT_EQ(result, -ENOSPC);
    EXPECT_GT(written, 0u);
    EXPECT_LE(written, 65536u);
    ::unlink(path.c_str());
}

// The ids of this process's threads.
std::set<std::string> thread_ids() {
    std::set<std::string> ids;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
        ids.insert(entry.path().filename().string());
    return ids;
}

TEST(IoWorkers, NullEngineStartsNone) {
    // Threads may end meanwhile (an earlier test's idle iou-wrk times out), none may appear.
    const std::set<std::string> before = thread_ids();
    EXPECT_EQ(workers_after_io(NullBacking::make(1 << 20), BlockOp::read, 1024, 32), 0);
    EXPECT_EQ(workers_after_io(NullBacking::make(1 << 20), BlockOp::write, 1024, 1), 0);
    std::vector<std::string> appeared;
    std::ranges::set_difference(thread_ids(), before, std::back_inserter(appeared));
    EXPECT_EQ(appeared, std::vector<std::string>{});
}

const char* op_name(BlockOp op) {
    return op == BlockOp::read ? "reads" : op == BlockOp::write ? "writes" : "flushes";
}

// What the kernel's workers do for nvmevm (virtio/blk_engine_uring.h): reads and writes on tmpfs
// are done inline by nvmevm, so none may start.
TEST(IoWorkers, TmpfsReadsAndWritesStartNone) {
    ScratchFile file("/dev/shm", 1 << 20);
    for (BlockOp op : {BlockOp::read, BlockOp::write})
        EXPECT_EQ(workers_after_io(FileBacking::open(options(file.path())), op, 256, 32), 0)
            << op_name(op);
}

// O_DIRECT reads and writes on a disk file whose blocks are all written (ScratchFile) complete
// without blocking: io_uring issues them inline at any depth, and none may start a worker.
TEST(IoWorkers, ODirectReadsAndWritesOnTheDiskStartNone) {
    ScratchFile file("/tmp", 1 << 20);
    for (BlockOp op : {BlockOp::read, BlockOp::write}) {
        for (int depth : {1, 32}) {
            auto backend = FileBacking::open(options(file.path()));
            ASSERT_TRUE(backend->direct()) << "no O_DIRECT on /tmp";
            EXPECT_EQ(workers_after_io(std::move(backend), op, 256, depth), 0)
                << op_name(op) << " at QD" << depth;
        }
    }
}

// io_uring runs every FSYNC from a worker (it cannot be issued without blocking), on a disk as on
// tmpfs: one flush starts exactly one. (Not a count for a run of flushes: a worker that is
// between two of them, neither idle nor running, makes io_uring start another, 1 or 2 here.)
TEST(IoWorkers, AFlushRunsOnExactlyOneWorker) {
    for (const char* dir : {"/tmp", "/dev/shm"}) {
        ScratchFile file(dir, 1 << 20);
        EXPECT_EQ(workers_after_io(FileBacking::open(options(file.path())), BlockOp::flush, 1, 1),
                  1)
            << dir;
    }
}

// A loop device attached to a file for one test (needs root and losetup, which CI has).
class LoopDevice {
  public:
    explicit LoopDevice(const std::string& file) {
        FILE* out = ::popen(("losetup -f --show " + file).c_str(), "r");
        if (out == nullptr) return;
        char line[64] = {};
        const bool got = std::fgets(line, sizeof line, out) != nullptr;
        ::pclose(out);
        if (got && line[0] == '/') path_.assign(line, std::strcspn(line, "\n"));
    }
    ~LoopDevice() {
        if (!path_.empty()) (void)std::system(("losetup -d " + path_).c_str());
    }
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }  // empty: none attached

  private:
    std::string path_;
};

// A loop device stands in for a real disk: capacity from BLKGETSIZE64, discard through
// URING_CMD where the kernel has it (6.12+), write zeroes through FALLOCATE on the device.
TEST(UringEngineBlockDevice, LoopDevice) {
    ASSERT_EQ(::geteuid(), 0u) << "needs root for losetup (CI runs as root)";
    ScratchFile file("/tmp", 4 << 20, 0x77);
    const LoopDevice loop(file.path());
    ASSERT_FALSE(loop.path().empty()) << "losetup -f --show " << file.path() << " failed";
    const char* dev = loop.path().c_str();
    Rig rig(FileBacking::open(options(dev)));
    EXPECT_TRUE(rig.file().is_block_device());
    EXPECT_EQ(rig.file().capacity(), 4u << 20);
    EXPECT_EQ(rig.file().logical_block_size(), 512u);
    EXPECT_EQ(rig.file().zero_method(), ZeroMethod::zero_range);
    std::printf("[ info ] %s: discard via %s\n", dev,
                rig.file().discard_method() == DiscardMethod::uring_cmd ? "URING_CMD"
                : rig.file().discard_method() == DiscardMethod::ioctl   ? "BLKDISCARD"
                                                                        : "nothing");
    ASSERT_TRUE(rig.file().supports_discard());
    std::memset(rig.ram(0), 0x99, 8192);
    EXPECT_EQ(rig.rw(BlockOp::write, 8192, {{rig.ram(0), 8192}}), 8192);
    EXPECT_EQ(rig.run(BlockIo::flush()), 0);
    EXPECT_EQ(rig.run(BlockIo::discard(0, 4096)), 0);
    EXPECT_EQ(rig.run(BlockIo::write_zeroes(8192, 4096)), 0);
    EXPECT_EQ(rig.rw(BlockOp::read, 0, {{rig.ram(1 << 20), 16384}}), 16384);
    const uint8_t* got_data = rig.ram(1 << 20);
    // The loop driver discards by punching a hole in its file: zeroes.
    EXPECT_EQ(got_data[0], 0);
    EXPECT_EQ(got_data[4096], 0x77);
    EXPECT_EQ(got_data[8192], 0);
    EXPECT_EQ(got_data[12288], 0x99);
}

}  // namespace
}  // namespace nvmevm
