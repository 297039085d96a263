// BlkQueue itself (virtio/blk_queue.h): chains made available in a TestVirtqueue come back
// through the used ring once each, with the used length and status byte the spec gives them,
// whatever order the engine completes them in; a chain that cannot be answered comes back with
// length 0; a reset drops what was in flight. The engine is a fake that holds its requests
// until the test completes them, so completion order and results are the test's choice.
#include "virtio/blk_queue.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "virtio/test_virtqueue.h"

namespace nvmevm {
namespace {

using testing::TestVirtqueue;

// Keeps every request until complete_next() / complete_all(): the engine contract lets the
// completion come any time later on the owner thread.
class HeldEngine final : public BlockEngine {
  public:
    struct Held {
        BlockIo io;
        IoCompletion* done;
    };

    void submit(const BlockIo& io, IoCompletion* done) noexcept override {
        held.push_back({io, done});
    }
    // What a working engine returns for `io`: the bytes moved for reads and writes, 0 otherwise.
    static int32_t success(const BlockIo& io) {
        size_t bytes = 0;
        for (const iovec& v : io.segments) bytes += v.iov_len;
        return static_cast<int32_t>(bytes);
    }
    // Completes the request at `index` in the held list with `result` (success when omitted).
    void complete(size_t index, std::optional<int32_t> result = std::nullopt) {
        const Held request = held.at(index);
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(index));
        request.done->complete(result.value_or(success(request.io)));
    }
    // Completes everything, oldest first, including what completions submit (DISCARD ranges).
    void complete_all() {
        while (!held.empty()) complete(0);
    }

    std::deque<Held> held;
};

class RecordingInterrupt final : public VirtioInterrupt {
  public:
    void signal_queue(uint16_t queue) override { queue_signals.push_back(queue); }
    void signal_config() override { ++config_signals; }
    void mark_needs_reset() override { ++needs_reset; }
    std::vector<uint16_t> queue_signals;
    unsigned config_signals = 0;
    unsigned needs_reset = 0;
};

constexpr uint8_t kUnwritten = 0xEE;  // a status byte the device has not touched
constexpr uint32_t kUnknownType = 77;

class BlkQueueTest : public ::testing::Test {
  protected:
    BlkQueueTest() {
        drive_.name = "test";
        drive_.geometry.capacity_sectors = 1024;  // 512 KiB
        drive_.geometry.discard = true;
        drive_.geometry.max_discard_sectors = 1024;
        drive_.geometry.max_discard_seg = 4;
        std::memcpy(drive_.id.data(), "blk-queue-test-id", 17);
        queue_.attach_engine(engine_);
    }
    void SetUp() override { ASSERT_TRUE(queue_.activate(q_.config(), interrupt_)); }
    void TearDown() override {
        // Every popped chain was answered or, after a reset, let go: none was dropped owed.
        EXPECT_EQ(ChainToken::leaks(), leaks_at_start_);
    }

    struct Chain {
        uint16_t head;
        uint64_t status;  // guest address of the status byte
        uint64_t data;    // guest address of the data buffer (0: none)
    };
    // header / data / status over three descriptors, made available.
    Chain add_request(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable) {
        const uint64_t header = q_.alloc(sizeof(VirtioBlkReqHeader));
        q_.write_obj(header, VirtioBlkReqHeader{type, 0, sector});
        const uint64_t data = data_len != 0 ? q_.alloc(data_len) : 0;
        const uint64_t status = q_.alloc(1);
        q_.ram()[status] = kUnwritten;
        std::vector<TestVirtqueue::Buffer> buffers{{header, 16, false}};
        if (data_len != 0) buffers.push_back({data, data_len, data_writable});
        buffers.push_back({status, 1, true});
        return {q_.add_chain(buffers), status, data};
    }
    Chain add_read(uint64_t sector, uint32_t len) {
        return add_request(VIRTIO_BLK_T_IN, sector, len, true);
    }
    Chain add_write(uint64_t sector, uint32_t len) {
        return add_request(VIRTIO_BLK_T_OUT, sector, len, false);
    }

    // The used ring entries [from, to) as (id, len) pairs, for one comparison with the
    // expected list.
    std::vector<std::pair<uint32_t, uint32_t>> used(uint16_t from, uint16_t to) const {
        std::vector<std::pair<uint32_t, uint32_t>> out;
        for (uint16_t i = from; i != to; ++i)
            out.emplace_back(q_.used_elem(i).id, q_.used_elem(i).len);
        return out;
    }
    uint8_t status_of(const Chain& chain) const { return q_.byte(chain.status); }

    TestVirtqueue q_{32};
    BlkDriveInfo drive_;
    HeldEngine engine_;
    RecordingInterrupt interrupt_;
    BlkQueue queue_{q_.memory(), drive_, 0};
    uint64_t leaks_at_start_ = ChainToken::leaks();
};

using Used = std::vector<std::pair<uint32_t, uint32_t>>;

TEST_F(BlkQueueTest, EveryAvailableRequestIsAnsweredOnceWithItsIdAndStatus) {
    const Chain r1 = add_read(0, 4096), r2 = add_read(8, 512), w1 = add_write(16, 1024);
    const Chain w2 = add_write(1020, 2048);  // sectors 1020..1023: the last ones
    const Chain flush = add_request(VIRTIO_BLK_T_FLUSH, 0, 0, false);
    const Chain get_id = add_request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
    const Chain unknown = add_request(kUnknownType, 0, 0, false);
    const Chain beyond = add_read(1023, 1024);  // sectors 1023..1024: one past capacity
    // Heads in order of the descriptors: three per chain, two without data.
    ASSERT_EQ(std::vector<uint16_t>({r1.head, r2.head, w1.head, w2.head, flush.head, get_id.head,
                                     unknown.head, beyond.head}),
              std::vector<uint16_t>({0, 3, 6, 9, 12, 14, 17, 19}));

    EXPECT_EQ(queue_.drain(), 8u);
    // Reads, writes and the flush went to the engine; GET_ID, the unknown type and the read
    // beyond capacity were answered at once, but the driver sees nothing before finish_batch.
    ASSERT_EQ(engine_.held.size(), 5u);
    EXPECT_TRUE(queue_.busy());
    EXPECT_EQ(q_.used_idx(), 0);

    // The engine completes in an order of its own: flush, w2, r2, w1, r1.
    engine_.complete(4);
    engine_.complete(3);
    engine_.complete(1);
    engine_.complete(1);
    engine_.complete(0);
    EXPECT_FALSE(queue_.busy());
    EXPECT_FALSE(queue_.finish_batch());

    // 2.7.8: len is the bytes written into the device-writable part: data + status for a
    // successful read (5.2.6), the status byte alone for the others, GET_ID's 20 bytes + status.
    ASSERT_EQ(q_.used_idx(), 8);
    EXPECT_EQ(used(0, 8), (Used{{get_id.head, 21},
                                {unknown.head, 1},
                                {beyond.head, 1},
                                {flush.head, 1},
                                {w2.head, 1},
                                {r2.head, 513},
                                {w1.head, 1},
                                {r1.head, 4097}}));
    for (const Chain& ok : {r1, r2, w1, w2, flush, get_id})
        EXPECT_EQ(status_of(ok), VIRTIO_BLK_S_OK);
    EXPECT_EQ(status_of(unknown), VIRTIO_BLK_S_UNSUPP);
    EXPECT_EQ(status_of(beyond), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(std::memcmp(&q_.ram()[get_id.data], "blk-queue-test-id\0\0\0", 20), 0);
    // No EVENT_IDX, flags 0: one interrupt for the batch (2.7.7.2).
    EXPECT_EQ(interrupt_.queue_signals, std::vector<uint16_t>{0});

    // Nothing is answered twice: another pass finds nothing to do and adds no entry.
    EXPECT_EQ(queue_.drain(), 0u);
    EXPECT_FALSE(queue_.finish_batch());
    EXPECT_EQ(q_.used_idx(), 8);
    EXPECT_EQ(queue_.stats().requests.load(), 8u);
    EXPECT_EQ(queue_.stats().errors.load(), 2u);  // the unknown type, the read beyond capacity
    EXPECT_EQ(interrupt_.needs_reset, 0u);
}

TEST_F(BlkQueueTest, EngineErrorsBecomeStatusBytes) {
    const Chain failed = add_read(0, 4096), unsupported = add_write(8, 512);
    const Chain short_read = add_read(16, 1024);
    EXPECT_EQ(queue_.drain(), 3u);
    ASSERT_EQ(engine_.held.size(), 3u);
    engine_.complete(0, -EIO);
    engine_.complete(0, -EOPNOTSUPP);
    engine_.complete(0, 512);  // half of what was asked
    EXPECT_FALSE(queue_.finish_batch());

    // A failed read has written nothing the driver may use: the status byte only.
    ASSERT_EQ(q_.used_idx(), 3);
    EXPECT_EQ(used(0, 3), (Used{{0, 1}, {3, 1}, {6, 1}}));
    EXPECT_EQ(status_of(failed), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(status_of(unsupported), VIRTIO_BLK_S_UNSUPP);
    EXPECT_EQ(status_of(short_read), VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(queue_.stats().errors.load(), 3u);
}

TEST_F(BlkQueueTest, MalformedChainsAreReturnedWithLengthZero) {
    // The last descriptor is device-readable: no status byte to write (5.2.6), nothing to say.
    const uint64_t header = q_.alloc(16), readable_status = q_.alloc(1);
    q_.write_obj(header, VirtioBlkReqHeader{VIRTIO_BLK_T_IN, 0, 0});
    q_.ram()[readable_status] = kUnwritten;
    const uint16_t readable_last = q_.add_chain({{header, 16, false}, {readable_status, 1, false}});
    // A descriptor that chains to itself (2.7.5.3.1: the driver MUST NOT create a loop).
    const uint64_t looped = q_.alloc(1);
    q_.ram()[looped] = kUnwritten;
    q_.set_desc(2, looped, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    q_.make_available(2);
    // A request after them: the queue goes on.
    const uint16_t after_head = 3;
    const uint64_t flush_header = q_.alloc(16), status = q_.alloc(1);
    q_.write_obj(flush_header, VirtioBlkReqHeader{VIRTIO_BLK_T_FLUSH, 0, 0});
    q_.set_desc(3, flush_header, 16, VIRTQ_DESC_F_NEXT, 4);
    q_.set_desc(4, status, 1, VIRTQ_DESC_F_WRITE, 0);
    q_.make_available(after_head);
    ASSERT_EQ(readable_last, 0);

    EXPECT_EQ(queue_.drain(), 3u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());

    ASSERT_EQ(q_.used_idx(), 3);
    EXPECT_EQ(used(0, 3), (Used{{0, 0}, {2, 0}, {3, 1}}));
    EXPECT_EQ(q_.byte(readable_status), kUnwritten);  // never written: it is the driver's
    EXPECT_EQ(q_.byte(looped), kUnwritten);
    EXPECT_EQ(q_.byte(status), VIRTIO_BLK_S_OK);
    EXPECT_FALSE(queue_.broken());
    EXPECT_EQ(interrupt_.needs_reset, 0u);
}

TEST_F(BlkQueueTest, MultiRangeDiscardIsAnsweredOnceAfterItsLastRange) {
    const uint64_t header = q_.alloc(16), ranges = q_.alloc(48), status = q_.alloc(1);
    q_.write_obj(header, VirtioBlkReqHeader{VIRTIO_BLK_T_DISCARD, 0, 0});
    const VirtioBlkDiscardWriteZeroes list[3] = {{0, 8, 0}, {100, 16, 0}, {512, 512, 0}};
    q_.write(ranges, list, sizeof(list));
    const uint16_t head =
        q_.add_chain({{header, 16, false}, {ranges, 48, false}, {status, 1, true}});

    EXPECT_EQ(queue_.drain(), 1u);
    // One range at a time: the next goes to the engine when the one before completes.
    // Byte offsets and lengths: sectors * 512.
    const std::pair<uint64_t, uint64_t> expected[] = {{0, 4096}, {51200, 8192}, {262144, 262144}};
    for (const auto& [offset, length] : expected) {
        ASSERT_EQ(engine_.held.size(), 1u);
        EXPECT_EQ(engine_.held[0].io.op, BlockOp::discard);
        EXPECT_EQ(engine_.held[0].io.offset, offset);
        EXPECT_EQ(engine_.held[0].io.length, length);
        EXPECT_EQ(q_.used_idx(), 0);
        engine_.complete(0);
        (void)queue_.finish_batch();
    }
    EXPECT_TRUE(engine_.held.empty());
    ASSERT_EQ(q_.used_idx(), 1);
    EXPECT_EQ(used(0, 1), (Used{{head, 1}}));
    EXPECT_EQ(q_.byte(status), VIRTIO_BLK_S_OK);
    EXPECT_FALSE(queue_.busy());
}

TEST_F(BlkQueueTest, ResetDropsWhatWasInFlightAndTheNewRingStartsAfresh) {
    const Chain a = add_read(0, 4096), b = add_write(8, 512);
    const Chain answered = add_request(kUnknownType, 0, 0, false);
    EXPECT_EQ(queue_.drain(), 3u);
    ASSERT_EQ(engine_.held.size(), 2u);

    // The driver resets the device with two requests in flight, then sets up its rings again
    // elsewhere (zeroed memory, as a driver allocates it), and makes one new request.
    queue_.reset();
    EXPECT_TRUE(queue_.busy());  // the engine still owns the two requests
    const uint64_t old_used_ring = q_.config().used_ring.value;
    q_.config().avail_ring = GuestAddress{0x9000};
    q_.config().used_ring = GuestAddress{0xB000};
    ASSERT_TRUE(queue_.activate(q_.config(), interrupt_));
    const Chain fresh = add_read(24, 512);

    // The old requests complete into nothing (docs/virtio-blk.md, "Guest input"): no status
    // byte, no used entry in either ring.
    engine_.complete_all();
    EXPECT_FALSE(queue_.busy());
    EXPECT_EQ(status_of(a), kUnwritten);
    EXPECT_EQ(status_of(b), kUnwritten);
    // The one answered at once was pushed before the reset but never published: gone with the
    // ring (2.6.1.1.1: the used state is reset).
    EXPECT_EQ(status_of(answered), VIRTIO_BLK_S_UNSUPP);

    EXPECT_EQ(queue_.drain(), 1u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());
    ASSERT_EQ(q_.used_idx(), 1);  // the new ring's
    EXPECT_EQ(used(0, 1), (Used{{fresh.head, 513}}));
    EXPECT_EQ(status_of(fresh), VIRTIO_BLK_S_OK);
    // Nothing was ever published in the old ring.
    EXPECT_EQ(q_.read_obj<uint16_t>(old_used_ring + kUsedIdxOffset), 0);
    // Four chains popped: one answered in the new ring, three let go by the reset.
    EXPECT_EQ(queue_.stats().requests.load(), 4u);
}

// A reset with a multi-range DISCARD in flight: the range the engine holds completes into
// nothing, and none of the ranges left is issued after the reset (virtio 1.2, 4.1.4.3.1).
TEST_F(BlkQueueTest, AResetIssuesNoRangeLeftOfARequestInFlight) {
    const uint64_t header = q_.alloc(16), ranges = q_.alloc(48), status = q_.alloc(1);
    q_.write_obj(header, VirtioBlkReqHeader{VIRTIO_BLK_T_DISCARD, 0, 0});
    const VirtioBlkDiscardWriteZeroes list[3] = {{0, 8, 0}, {100, 16, 0}, {512, 512, 0}};
    q_.write(ranges, list, sizeof(list));
    q_.ram()[status] = kUnwritten;
    (void)q_.add_chain({{header, 16, false}, {ranges, 48, false}, {status, 1, true}});
    EXPECT_EQ(queue_.drain(), 1u);
    ASSERT_EQ(engine_.held.size(), 1u);

    queue_.reset();
    EXPECT_TRUE(queue_.busy());  // the first range is still the engine's
    engine_.complete(0);
    EXPECT_TRUE(engine_.held.empty());  // the second range was not issued
    EXPECT_FALSE(queue_.busy());
    EXPECT_EQ(q_.byte(status), kUnwritten);
}

// 2.7.13: a driver cannot have more chains outstanding than the queue has descriptors. One that
// re-posts a head before it was used (here 64 times into a queue of size 2) gets
// DEVICE_NEEDS_RESET, and the device holds at most `size` requests for it.
TEST(BlkQueueBound, RePostedHeadsBreakTheQueueAtItsSize) {
    TestVirtqueue q(2);
    BlkDriveInfo drive;
    drive.name = "bound";
    drive.geometry.capacity_sectors = 1024;
    HeldEngine engine;
    RecordingInterrupt interrupt;
    BlkQueue queue(q.memory(), drive, 0);
    queue.attach_engine(engine);
    ASSERT_TRUE(queue.activate(q.config(), interrupt));
    const uint64_t header = q.alloc(16), status = q.alloc(1);
    q.write_obj(header, VirtioBlkReqHeader{VIRTIO_BLK_T_FLUSH, 0, 0});
    const uint16_t head = q.add_chain({{header, 16, false}, {status, 1, true}});
    (void)queue.drain();
    for (int i = 1; i < 64; ++i) {
        q.make_available(head);
        (void)queue.drain();
    }
    EXPECT_EQ(engine.held.size(), 2u);
    EXPECT_TRUE(queue.broken());
    EXPECT_EQ(interrupt.needs_reset, 1u);
    engine.complete_all();
    EXPECT_FALSE(queue.busy());
}

// The owner thread drains a ring it finds corrupt (and so tells the interrupt) while another
// vCPU thread's status write activates the queue again. Under ThreadSanitizer (build-tsan)
// this was a data race on the interrupt pointer, read by drain() after it let go of the lock.
TEST_F(BlkQueueTest, DrainingARingFoundBrokenRacesNoActivation) {
    q_.set_avail_idx(1000);  // far more than a ring ahead: every drain finds it broken
    RecordingInterrupt other;
    std::thread transport([&] {
        for (int i = 0; i < 2000; ++i)
            (void)queue_.activate(q_.config(), i % 2 ? other : interrupt_);
    });
    for (int i = 0; i < 2000; ++i) (void)queue_.drain();
    transport.join();
    SUCCEED() << "ThreadSanitizer reports a race here, if there is one";
}

TEST_F(BlkQueueTest, ACorruptRingIsReportedOnceAndAnswersNothingMore) {
    (void)add_read(0, 512);
    EXPECT_EQ(queue_.drain(), 1u);
    // avail->idx jumps more than a ring ahead (2.7.6.1: the driver never decrements it, and can
    // be at most `size` ahead).
    q_.set_avail_idx(static_cast<uint16_t>(q_.avail_idx() + 33));
    EXPECT_EQ(queue_.drain(), 0u);
    EXPECT_TRUE(queue_.broken());
    EXPECT_EQ(interrupt_.needs_reset, 1u);
    EXPECT_EQ(queue_.drain(), 0u);
    EXPECT_EQ(interrupt_.needs_reset, 1u);  // once, not at every drain
    // The request in flight completes, but a broken ring takes no entries (the token is
    // consumed all the same: nothing leaks).
    engine_.complete_all();
    EXPECT_FALSE(queue_.busy());
    (void)queue_.finish_batch();
    EXPECT_EQ(q_.used_idx(), 0);
}

// Disabled: fails today. A corrupt avail->idx first seen by finish_batch's re-check (the
// queue idle, notifications being re-enabled) stops the SplitQueue, but BlkQueue never sets
// broken() nor calls mark_needs_reset: drain_locked returns at once on queue_.broken() before
// the code that reports it. The driver is never told (2.1.2: the device SHOULD set
// DEVICE_NEEDS_RESET) and the queue is silently dead.
TEST_F(BlkQueueTest, ACorruptIndexFoundByTheReCheckIsReported) {
    (void)add_read(0, 512);
    EXPECT_EQ(queue_.drain(), 1u);
    engine_.complete_all();
    q_.set_avail_idx(static_cast<uint16_t>(q_.avail_idx() + 33));
    EXPECT_TRUE(queue_.finish_batch());  // "more to do": the caller drains, and must learn why
    EXPECT_EQ(q_.used_idx(), 1);
    EXPECT_EQ(queue_.drain(), 0u);
    EXPECT_TRUE(queue_.broken());
    EXPECT_EQ(interrupt_.needs_reset, 1u);
}

}  // namespace
}  // namespace nvmevm

namespace nvmevm {
namespace {

// A drive with I/O limits (docs/rate-limits.md): what the limit holds back stays in the ring,
// unanswered and not popped, until the bucket has tokens again.
class BlkQueueRateLimitTest : public BlkQueueTest {
  protected:
    static constexpr uint64_t kHour = 3600ull * 1'000'000'000;
    // Buckets that do not refill within the test unless it changes them.
    BlkQueueRateLimitTest() {
        drive_.limiter = &limiter_;
        drive_.geometry.write_zeroes = true;
        drive_.geometry.max_write_zeroes_sectors = 1024;
        drive_.geometry.max_write_zeroes_seg = 4;
    }
    // A DISCARD or WRITE_ZEROES of one range of `sectors` from sector 0.
    void add_range_request(uint32_t type, uint32_t sectors) {
        const uint64_t header = q_.alloc(16), range = q_.alloc(16), status = q_.alloc(1);
        q_.write_obj(header, VirtioBlkReqHeader{type, 0, 0});
        const VirtioBlkDiscardWriteZeroes one{0, sectors, 0};
        q_.write(range, &one, sizeof one);
        (void)q_.add_chain({{header, 16, false}, {range, 16, false}, {status, 1, true}});
    }
    IoRateLimiter limiter_{
        IoRateLimits{TokenBucketConfig{2, kHour, 0}, TokenBucketConfig{3 * 4096, kHour, 0}},
        monotonic_ns()};
};

TEST_F(BlkQueueRateLimitTest, RequestsPastTheLimitWaitInTheRing) {
    const Chain r1 = add_read(0, 4096), r2 = add_read(8, 4096), r3 = add_read(16, 4096);
    const uint64_t before = monotonic_ns();
    // Two operations in the bucket: the third request is left where the guest put it.
    EXPECT_EQ(queue_.drain(), 2u);
    EXPECT_EQ(engine_.held.size(), 2u);
    const uint64_t until = queue_.throttled_until_ns();
    // The next operation token is half an hour away (2 per hour).
    EXPECT_GE(until, before + kHour / 2);
    EXPECT_LE(until, monotonic_ns() + kHour / 2);
    EXPECT_EQ(queue_.stats().requests.load(), 2u);
    EXPECT_EQ(limiter_.throttled(), 1u);
    engine_.complete_all();
    // Nothing in flight, but the queue is throttled: the driver is not asked to kick (the
    // owner comes back on its timer), and draining again takes nothing.
    EXPECT_FALSE(queue_.finish_batch());
    EXPECT_EQ(q_.used_flags(), VIRTQ_USED_F_NO_NOTIFY);
    EXPECT_EQ(queue_.drain(), 0u);
    EXPECT_EQ(q_.used_idx(), 2);
    EXPECT_EQ(status_of(r3), kUnwritten);

    // A change of limits takes effect at once: 1000 operations per millisecond.
    limiter_.reconfigure(IoRateLimits{TokenBucketConfig{1000, 1'000'000, 0}, std::nullopt},
                         monotonic_ns());
    const uint64_t changed = monotonic_ns();
    while (monotonic_ns() < changed + 1'000'000) {
    }
    EXPECT_EQ(queue_.drain(), 1u);
    EXPECT_EQ(queue_.throttled_until_ns(), 0u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());
    EXPECT_EQ(used(0, 3), (Used{{r1.head, 4097}, {r2.head, 4097}, {r3.head, 4097}}));
    EXPECT_EQ(q_.used_flags(), 0);  // idle and unthrottled: kicks are wanted again
}

TEST_F(BlkQueueRateLimitTest, BytesAreCountedForReadsAndWrites) {
    // Three 4 KiB pages of bytes and two operations: a flush and GET_ID cost no bytes, and
    // GET_ID, answered by the device itself, no operation either.
    add_request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
    add_request(VIRTIO_BLK_T_FLUSH, 0, 0, false);
    add_write(0, 8192);
    const Chain held_back = add_write(16, 8192);  // 16 KiB in all: more than the 12 KiB
    EXPECT_EQ(queue_.drain(), 3u);
    EXPECT_NE(queue_.throttled_until_ns(), 0u);
    EXPECT_EQ(engine_.held.size(), 2u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());
    EXPECT_EQ(q_.used_idx(), 3);
    EXPECT_EQ(status_of(held_back), kUnwritten);
    // A reset forgets the throttling with the ring; the chain left in it is the driver's again.
    queue_.reset();
    EXPECT_EQ(queue_.throttled_until_ns(), 0u);
}

// WRITE_ZEROES may make the device write every byte of its ranges: it costs them. A DISCARD
// writes nothing and costs no bytes.
TEST_F(BlkQueueRateLimitTest, WriteZeroesCostTheirBytesAndDiscardsNone) {
    add_range_request(VIRTIO_BLK_T_WRITE_ZEROES, 32);  // 16 KiB against a 12 KiB bucket
    add_read(0, 4096);
    EXPECT_EQ(queue_.drain(), 1u);  // the bucket was full: it passes, leaving 4 KiB of debt
    EXPECT_NE(queue_.throttled_until_ns(), 0u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());
}

TEST_F(BlkQueueRateLimitTest, DiscardsCostNoBytes) {
    add_range_request(VIRTIO_BLK_T_DISCARD, 1024);  // 512 KiB
    add_read(0, 4096);
    EXPECT_EQ(queue_.drain(), 2u);
    EXPECT_EQ(queue_.throttled_until_ns(), 0u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());
}

TEST_F(BlkQueueRateLimitTest, ARequestBiggerThanTheBucketPassesWhenItIsFull) {
    // 64 KiB against a 12 KiB bytes bucket: it passes (the bucket is full), and the next one
    // waits for the debt to be repaid.
    add_read(0, 65536);
    add_read(128, 4096);
    EXPECT_EQ(queue_.drain(), 1u);
    EXPECT_NE(queue_.throttled_until_ns(), 0u);
    engine_.complete_all();
    EXPECT_FALSE(queue_.finish_batch());
}

}  // namespace
}  // namespace nvmevm
