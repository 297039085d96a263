#include "foundation/io_ring.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "foundation/mapping.h"
#include "foundation/unique_fd.h"

namespace nvmevm {
namespace {

// Records what reap delivered to it.
struct Recorder final : IoCompletion {
    std::vector<int32_t>* log = nullptr;
    int32_t id = 0;
    int calls = 0;
    int32_t result = 0;
    void complete(int32_t res) noexcept override {
        ++calls;
        result = res;
        if (log != nullptr) log->push_back(id);
    }
};

TEST(IoRing, SubmitWithNothingQueuedIsANoOp) {
    IoRing ring(8);
    EXPECT_EQ(ring.queued_sqes(), 0u);
    EXPECT_EQ(ring.submit(), 0);
    EXPECT_EQ(ring.reap(), 0u);
}

TEST(IoRing, UserDataEncoding) {
    EXPECT_TRUE(RingData::is_tag(RingData::of_tag(0)));
    EXPECT_EQ(RingData::tag(RingData::of_tag(0xffff'ffffu)), 0xffff'ffffu);
    Recorder r;
    EXPECT_FALSE(RingData::is_tag(RingData::of(&r)));
    EXPECT_NE(RingData::of(&r), RingData::kIgnore);
}

TEST(IoRing, NopCompletesThroughItsCompletionObject) {
    IoRing ring(8);
    Recorder r;
    io_uring_sqe* sqe = ring.get_sqe();
    ASSERT_NE(sqe, nullptr);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, RingData::of(&r));
    EXPECT_EQ(ring.submit(), 1);
    ASSERT_EQ(ring.wait(1), 0);
    EXPECT_EQ(ring.reap(), 1u);
    EXPECT_EQ(r.calls, 1);
    EXPECT_EQ(r.result, 0);
}

TEST(IoRing, PostedCompletionsArriveInOrderAndThosePostedByACallbackNextTime) {
    IoRing ring(8);
    std::vector<int32_t> log;
    Recorder a, b, c;
    a.log = b.log = c.log = &log;
    a.id = 1;
    b.id = 2;
    c.id = 3;
    // chain's completion posts c: delivered by the next reap(), so that a completion that starts
    // a request completing at once cannot keep one reap() going forever.
    struct Chain final : IoCompletion {
        IoRing* ring;
        Recorder* next;
        void complete(int32_t) noexcept override { ring->post(next, 42); }
    } chain;
    chain.ring = &ring;
    chain.next = &c;
    ring.post(&a, 10);
    ring.post(&b, -5);
    ring.post(&chain, 0);
    EXPECT_TRUE(ring.has_posted());
    EXPECT_EQ(ring.reap(), 3u);
    EXPECT_EQ(log, (std::vector<int32_t>{1, 2}));
    EXPECT_TRUE(ring.has_posted());
    EXPECT_EQ(ring.reap(), 1u);
    EXPECT_EQ(log, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(a.result, 10);
    EXPECT_EQ(b.result, -5);
    EXPECT_EQ(c.result, 42);
    EXPECT_FALSE(ring.has_posted());
}

TEST(IoRing, MultishotPollYieldsACqePerEventfdWrite) {
    IoRing ring(8);
    UniqueFd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    ASSERT_TRUE(efd.valid());
    ring.poll_multishot(efd.get(), 7);
    ASSERT_EQ(ring.submit(), 1);
    int kicks = 0;
    for (int i = 0; i < 5; ++i) {
        const uint64_t one = 1;
        ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
        ASSERT_EQ(ring.wait(1), 0);
        // The eventfd is never read: each write still wakes the poll.
        ring.reap([&](uint32_t tag, int32_t res) {
            EXPECT_EQ(tag, 7u);
            EXPECT_GT(res, 0);  // the poll mask
            ++kicks;
        });
    }
    EXPECT_EQ(kicks, 5);
    EXPECT_EQ(ring.queued_sqes(), 0u);  // still armed: nothing had to be re-armed
}

TEST(IoRing, AMultishotPollEndedByCqOverflowIsRearmed) {
    IoRing ring(4);  // CQ of 8
    UniqueFd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    ASSERT_TRUE(efd.valid());
    ring.poll_multishot(efd.get(), 3);
    ASSERT_EQ(ring.submit(), 1);
    const uint64_t one = 1;
    // More wakeups than the CQ holds, none reaped: the kernel ends the multishot poll.
    for (int i = 0; i < 20; ++i) ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
    int kicks = 0;
    ring.reap([&](uint32_t, int32_t) { ++kicks; });
    EXPECT_GT(kicks, 0);
    EXPECT_EQ(ring.queued_sqes(), 1u);  // the re-armed poll
    ASSERT_EQ(ring.submit(), 1);
    kicks = 0;
    ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
    ASSERT_EQ(ring.wait(1), 0);
    ring.reap([&](uint32_t tag, int32_t) {
        EXPECT_EQ(tag, 3u);
        ++kicks;
    });
    // Arming a poll on an eventfd whose counter is non-zero fires at once, so a kick that came
    // between the end of the old poll and the re-arm is not lost: one or two CQEs.
    EXPECT_GE(kicks, 1);
}

TEST(IoRing, MoreOperationsThanSqEntriesAreAllSubmittedAndCompleted) {
    IoRing ring(32);
    constexpr int kOps = 1000;
    std::vector<Recorder> done(kOps);
    for (auto& r : done) {
        io_uring_sqe* sqe = ring.get_sqe();  // submits by itself whenever the SQ fills
        ASSERT_NE(sqe, nullptr);
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, RingData::of(&r));
    }
    ASSERT_GE(ring.submit(), 0);
    unsigned reaped = 0;
    while (reaped < kOps) {
        // 1000 completions with a 64-entry CQ: the rest waits in the kernel's overflow list,
        // which reap() flushes.
        reaped += ring.reap();
        if (reaped < kOps) {
            ASSERT_EQ(ring.wait(1), 0);
        }
    }
    EXPECT_EQ(reaped, static_cast<unsigned>(kOps));
    for (const auto& r : done) EXPECT_EQ(r.calls, 1);
}

TEST(IoRing, GuestMemoryIsRegisteredInChunksAndLookedUp) {
    constexpr uint64_t kMiB = 1 << 20;
    Mapping backing = Mapping::anonymous(3 * kMiB);
    auto* base = static_cast<uint8_t*>(backing.get());
    std::memset(base, 0, 3 * kMiB);  // a guest that has touched all of its RAM
    GuestMemory memory = GuestMemory::wrap({base, 3 * kMiB});
    IoRing ring(8);
    ring.register_guest_memory(memory, kMiB);
    EXPECT_EQ(ring.registered_fixed_buffers(), 0u);  // nothing before a request needs it
    EXPECT_EQ(ring.fixed_buffer_index(base, 4096), 0);
    EXPECT_EQ(ring.fixed_buffer_index(base + kMiB, kMiB), 1);
    EXPECT_EQ(ring.fixed_buffer_index(base + 2 * kMiB + 100, 10), 2);
    EXPECT_EQ(ring.registered_fixed_buffers(), 3u);
    // Straddling two chunks, or outside guest RAM: no fixed buffer.
    EXPECT_EQ(ring.fixed_buffer_index(base + kMiB - 1, 2), -1);
    EXPECT_EQ(ring.fixed_buffer_index(base - 1, 1), -1);
    EXPECT_EQ(ring.fixed_buffer_index(base + 3 * kMiB, 1), -1);
}

size_t resident_pages(const uint8_t* base, uint64_t size) {
    std::vector<unsigned char> pages(size / 4096);
    if (::mincore(const_cast<uint8_t*>(base), size, pages.data()) != 0) return ~size_t{0};
    return static_cast<size_t>(
        std::count_if(pages.begin(), pages.end(), [](unsigned char p) { return (p & 1) != 0; }));
}

// Registering (pinning) a page allocates it. A slot holds only pages the guest has touched (the
// resident run around the request), so guest RAM it never touched stays unallocated.
TEST(IoRing, FixedBuffersNeverMakeUntouchedGuestRamResident) {
    constexpr uint64_t kMiB = 1 << 20;
    Mapping backing = Mapping::anonymous(8 * kMiB);
    auto* base = static_cast<uint8_t*>(backing.get());
    GuestMemory memory = GuestMemory::wrap({base, 8 * kMiB});
    IoRing ring(8);
    ring.register_guest_memory(memory, kMiB);
    std::memset(base + kMiB, 1, kMiB);             // chunk 1: all touched
    std::memset(base + 3 * kMiB + 8192, 1, 8192);  // chunk 3: two pages
    for (int use = 0; use < 100; ++use) {
        EXPECT_EQ(ring.fixed_buffer_index(base, 4096), -1);                    // untouched
        EXPECT_EQ(ring.fixed_buffer_index(base + 3 * kMiB, 4096), -1);         // untouched
        EXPECT_EQ(ring.fixed_buffer_index(base + 3 * kMiB + 4096, 8192), -1);  // half touched
    }
    EXPECT_EQ(ring.fixed_buffer_index(base + kMiB, 4096), 1);
    EXPECT_EQ(ring.fixed_buffer_index(base + 2 * kMiB - 4096, 4096), 1);  // the same run
    EXPECT_EQ(ring.registered_fixed_buffers(), 1u);
    EXPECT_EQ(resident_pages(base, 8 * kMiB), kMiB / 4096 + 2);
    // The touched pages of chunk 3 are registered as they are, at a later look (backoff).
    int index = -1;
    for (int use = 0; use < 300 && index < 0; ++use)
        index = ring.fixed_buffer_index(base + 3 * kMiB + 8192, 8192);
    EXPECT_EQ(index, 3);
    EXPECT_EQ(resident_pages(base, 8 * kMiB), kMiB / 4096 + 2);
    // Once the guest has touched more of chunk 3, the slot grows to the new run.
    std::memset(base + 3 * kMiB, 2, kMiB);
    index = -1;
    for (int use = 0; use < 3000 && index < 0; ++use)
        index = ring.fixed_buffer_index(base + 3 * kMiB + 65536, 4096);
    EXPECT_EQ(index, 3);
    EXPECT_EQ(ring.fixed_buffer_index(base + 3 * kMiB + 8192, 8192), 3);  // still covered
}

TEST(IoRing, FileSlotsAreReused) {
    IoRing ring(8);
    UniqueFd a(::eventfd(0, EFD_CLOEXEC)), b(::eventfd(0, EFD_CLOEXEC));
    const unsigned sa = ring.add_file(a.get());
    const unsigned sb = ring.add_file(b.get());
    EXPECT_NE(sa, sb);
    ring.remove_file(sa);
    EXPECT_EQ(ring.add_file(b.get()), sa);
}

// poll = true drives: a ring made with IORING_SETUP_IOPOLL says so, and one pass of polling with
// nothing in flight returns at once, with nothing to reap.
TEST(IoRing, PolledRingPollsWithoutBlocking) {
    IoRing polled(8, IORING_SETUP_IOPOLL);
    EXPECT_TRUE(polled.polled());
    EXPECT_EQ(polled.poll_completions(), 0);
    EXPECT_FALSE(polled.completions_ready());
    EXPECT_EQ(polled.reap(), 0u);
    const IoRing plain(8);
    EXPECT_FALSE(plain.polled());
}

// A restricted ring takes its listed opcodes, and the kernel answers anything else with EACCES:
// a ring made before the seccomp filter cannot be used to open files or sockets.
TEST(IoRing, ARestrictedRingRefusesEveryOtherOperation) {
    IoRing ring(8, IORING_SETUP_R_DISABLED);
    ASSERT_TRUE(ring.disabled());
    const UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    const unsigned slot = ring.add_file(efd.get());  // before enabling: registrations stay
    ring.restrict_and_enable(
        {{IORING_OP_NOP, IORING_OP_READV}, {IORING_REGISTER_FILES_UPDATE}, IOSQE_FIXED_FILE});
    EXPECT_FALSE(ring.disabled());
    const auto run = [&ring](auto prepare) {
        Recorder r;
        io_uring_sqe* sqe = ring.get_sqe();
        if (sqe == nullptr) return -1000;
        prepare(sqe);
        io_uring_sqe_set_data64(sqe, RingData::of(&r));
        if (ring.submit() < 0 || ring.wait(1) != 0) return -1001;
        ring.reap();
        return r.calls == 1 ? r.result : -1002;
    };
    EXPECT_EQ(run([](io_uring_sqe* sqe) { io_uring_prep_nop(sqe); }), 0);
    EXPECT_EQ(run([](io_uring_sqe* sqe) {
                  io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
              }),
              -EACCES);
    EXPECT_EQ(run([](io_uring_sqe* sqe) { io_uring_prep_socket(sqe, AF_UNIX, SOCK_STREAM, 0, 0); }),
              -EACCES);
    // An allowed opcode with a flag outside the list: refused too.
    EXPECT_EQ(run([](io_uring_sqe* sqe) {
                  io_uring_prep_nop(sqe);
                  sqe->flags |= IOSQE_IO_DRAIN;
              }),
              -EACCES);
    // The fixed file is usable: a readv of the eventfd through its slot.
    ASSERT_EQ(::eventfd_write(efd.get(), 5), 0);
    uint64_t value = 0;
    iovec iov{&value, sizeof value};
    EXPECT_EQ(run([&](io_uring_sqe* sqe) {
                  io_uring_prep_readv(sqe, static_cast<int>(slot), &iov, 1, 0);
                  sqe->flags |= IOSQE_FIXED_FILE;
              }),
              static_cast<int32_t>(sizeof value));
    EXPECT_EQ(value, 5u);
    // Register operations outside the list are refused as well; the listed one works.
    EXPECT_THROW(ring.register_file_table(4), std::system_error);
    EXPECT_NO_THROW(ring.remove_file(slot));
}

TEST(IoRing, OnlyADisabledRingCanBeRestricted) {
    IoRing ring(8);
    EXPECT_THROW(ring.restrict_and_enable({{IORING_OP_NOP}, {}, 0}), std::system_error);
}

}  // namespace
}  // namespace nvmevm
