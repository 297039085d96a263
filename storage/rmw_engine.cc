#include "storage/rmw_engine.h"

#include <sys/uio.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <utility>

#include "storage/bounce.h"

namespace nvmevm {

enum class RmwKind : uint8_t {
    whole_write,     // aligned write or write zeroes: only the block locks
    partial_read,    // through the bounce buffer
    partial_write,   // read-modify-write (or only a bounced whole-block write)
    partial_zeroes,  // read-modify-write of zeroes at the ends, write zeroes in between
    flush,           // waits for earlier read-modify-writes
};

enum class RmwStage : uint8_t { idle, passthrough, read, head_read, tail_read, write, zero_middle };

struct ReadModifyWriteEngine::Op final : IoCompletion {
    ReadModifyWriteEngine* engine = nullptr;
    BlockIo io;  // the caller's request; its segments stay valid until `done` completes
    IoCompletion* done = nullptr;
    RmwKind kind = RmwKind::flush;
    RmwStage stage = RmwStage::idle;
    uint64_t start = 0;  // the guest's byte range [start, stop)
    uint64_t stop = 0;
    uint64_t first = 0;  // the whole blocks around it [first, end)
    uint64_t end = 0;
    uint64_t cursor = 0;  // the chunk being done: [cursor, chunk_end)
    uint64_t chunk_end = 0;
    bool partial = false;  // old data must be read (the range does not cover its blocks)
    std::optional<BlockRangeLocks::Held> held;
    uint64_t barrier = 0;  // flush: the lock sequence at its arrival
    uint8_t* bounce = nullptr;
    iovec inner_segment{};
    Op* next = nullptr;  // in the waiting list or the free list

    void complete(int32_t result) noexcept override { engine->on_step(*this, result); }
};

namespace {

uint64_t data_bytes(std::span<const iovec> segments) {
    uint64_t total = 0;
    for (const iovec& segment : segments) total += segment.iov_len;
    return total;
}

bool segments_whole(std::span<const iovec> segments, uint32_t block) {
    for (const iovec& segment : segments)
        if (segment.iov_len % block != 0) return false;
    return true;
}

}  // namespace

ReadModifyWriteEngine::ReadModifyWriteEngine(std::unique_ptr<BlockEngine> inner, IoRing& io_ring,
                                             IoRing& timer_ring,
                                             std::shared_ptr<BlockRangeLocks> locks,
                                             Options options)
    : inner_(std::move(inner)),
      io_ring_(io_ring),
      timer_ring_(timer_ring),
      locks_(std::move(locks)),
      options_(options),
      pool_(options.slot_bytes, options.slots),
      counters_(options.counters != nullptr ? options.counters : &own_counters_) {
    if (!std::has_single_bit(options.block) || options.block < 512 ||
        options.slot_bytes % options.block != 0 || !inner_ || !locks_)
        throw std::invalid_argument("read-modify-write engine: bad block size or parts");
    retry_time_.tv_sec = static_cast<int64_t>(options.retry_ns / 1'000'000'000);
    retry_time_.tv_nsec = static_cast<long long>(options.retry_ns % 1'000'000'000);
}

ReadModifyWriteEngine::~ReadModifyWriteEngine() = default;

ReadModifyWriteEngine::Op* ReadModifyWriteEngine::acquire_op() noexcept {
    if (free_ == nullptr) {
        try {
            ops_.push_back(std::make_unique<Op>());
        } catch (const std::bad_alloc&) {
            return nullptr;
        }
        ops_.back()->engine = this;
        return ops_.back().get();
    }
    Op* op = std::exchange(free_, free_->next);
    return op;
}

void ReadModifyWriteEngine::release_op(Op& op) noexcept {
    op.held.reset();
    op.bounce = nullptr;
    op.stage = RmwStage::idle;
    op.done = nullptr;
    op.next = free_;
    free_ = &op;
}

void ReadModifyWriteEngine::submit(const BlockIo& io, IoCompletion* done) noexcept {
    const uint64_t block = options_.block;
    const uint64_t mask = block - 1;
    RmwKind kind = RmwKind::flush;
    uint64_t start = io.offset;
    uint64_t stop = io.offset;
    bool partial = false;
    switch (io.op) {
        case BlockOp::read:
        case BlockOp::write: {
            stop = start + data_bytes(io.segments);
            partial = ((start | stop) & mask) != 0;
            const bool bounce = partial || !segments_whole(io.segments, options_.block);
            if (io.op == BlockOp::read) {
                if (!bounce) return inner_->submit(io, done);
                kind = RmwKind::partial_read;
            } else {
                kind = bounce ? RmwKind::partial_write : RmwKind::whole_write;
            }
            break;
        }
        case BlockOp::write_zeroes:
            stop = start + io.length;
            partial = ((start | stop) & mask) != 0;
            kind = partial ? RmwKind::partial_zeroes : RmwKind::whole_write;
            break;
        case BlockOp::discard: {
            const uint64_t inside_first = (start + mask) & ~mask;
            const uint64_t inside_end = (start + io.length) & ~mask;
            if (inside_first >= inside_end) return io_ring_.post(done, 0);
            return inner_->submit(BlockIo::discard(inside_first, inside_end - inside_first), done);
        }
        case BlockOp::flush:
            break;
    }
    Op* op = acquire_op();
    if (op == nullptr) return io_ring_.post(done, -ENOMEM);
    op->io = io;
    op->done = done;
    op->kind = kind;
    op->start = start;
    op->stop = stop;
    op->first = start & ~mask;
    op->end = (stop + mask) & ~mask;
    op->cursor = op->first;
    op->partial = partial;
    if (kind == RmwKind::flush) op->barrier = locks_->next_sequence();
    if (!try_begin(*op)) wait(*op);
}

bool ReadModifyWriteEngine::try_begin(Op& op) noexcept {
    if (op.kind == RmwKind::flush) {
        if (locks_->partial_held_before(op.barrier)) return false;
        op.stage = RmwStage::passthrough;
        inner_->submit(BlockIo::flush(), &op);
        return true;
    }
    const bool locking = op.kind != RmwKind::partial_read;
    if (locking && !op.held) {
        op.held = locks_->try_lock(op.first / options_.block, op.end / options_.block, op.partial);
        if (!op.held) return false;
    }
    if (op.kind == RmwKind::whole_write) {
        op.stage = RmwStage::passthrough;
        inner_->submit(op.io, &op);
        return true;
    }
    op.bounce = pool_.take();
    if (op.bounce == nullptr) {
        // Give the blocks back while waiting: a slot comes back only when another operation
        // of this engine ends, and other threads' writes need not wait for that.
        if (op.held) locks_->unlock(*op.held);
        op.held.reset();
        return false;
    }
    std::atomic<uint64_t>& counter = op.kind == RmwKind::partial_read ? counters_->partial_reads
                                     : op.partial                     ? counters_->partial_writes
                                                                      : counters_->bounced;
    counter.fetch_add(1, std::memory_order_relaxed);
    run_chunk(op);
    return true;
}

void ReadModifyWriteEngine::issue_read(Op& op, uint64_t from, uint64_t to) noexcept {
    op.inner_segment = iovec{op.bounce + (from - op.cursor), static_cast<size_t>(to - from)};
    inner_->submit(BlockIo::read(from, {&op.inner_segment, 1}), &op);
}

// The next chunk of a bounced request: at most a slot, whole blocks.
void ReadModifyWriteEngine::run_chunk(Op& op) noexcept {
    const uint64_t block = options_.block;
    switch (op.kind) {
        case RmwKind::partial_read:
            op.chunk_end = std::min<uint64_t>(op.end, op.cursor + pool_.slot_bytes());
            op.stage = RmwStage::read;
            return issue_read(op, op.cursor, op.chunk_end);
        case RmwKind::partial_write:
            op.chunk_end = std::min<uint64_t>(op.end, op.cursor + pool_.slot_bytes());
            break;
        case RmwKind::partial_zeroes:
            if (op.cursor < op.start || op.cursor + block > op.stop) {
                op.chunk_end = op.cursor + block;  // a partial block at either end
            } else {
                // The whole blocks in between: the backing's own write zeroes.
                op.chunk_end = op.stop & ~uint64_t{block - 1};
                op.stage = RmwStage::zero_middle;
                return inner_->submit(
                    BlockIo::write_zeroes(op.cursor, op.chunk_end - op.cursor, op.io.may_unmap),
                    &op);
            }
            break;
        case RmwKind::whole_write:
        case RmwKind::flush:
            return;
    }
    if (op.cursor < op.start) {
        op.stage = RmwStage::head_read;
        return issue_read(op, op.cursor, op.cursor + block);
    }
    if (op.chunk_end > op.stop) {
        op.stage = RmwStage::tail_read;
        return issue_read(op, op.chunk_end - block, op.chunk_end);
    }
    merge_and_write(op);
}

void ReadModifyWriteEngine::merge_and_write(Op& op) noexcept {
    const uint64_t from = std::max(op.start, op.cursor);
    const uint64_t to = std::min(op.stop, op.chunk_end);
    uint8_t* at = op.bounce + (from - op.cursor);
    if (op.kind == RmwKind::partial_zeroes)
        std::memset(at, 0, static_cast<size_t>(to - from));
    else
        copy_segments(op.io.segments, from - op.start, at, to - from, true);
    op.stage = RmwStage::write;
    op.inner_segment = iovec{op.bounce, static_cast<size_t>(op.chunk_end - op.cursor)};
    inner_->submit(BlockIo::write(op.cursor, {&op.inner_segment, 1}), &op);
}

void ReadModifyWriteEngine::on_step(Op& op, int32_t result) noexcept {
    const uint64_t block = options_.block;
    const auto expect = [&](uint64_t bytes) {
        return result >= 0 && static_cast<uint64_t>(result) == bytes;
    };
    const int32_t failure = result < 0 ? result : -EIO;  // a short transfer is an error
    switch (op.stage) {
        case RmwStage::passthrough:
            return finish(op, result);
        case RmwStage::read: {
            if (!expect(op.chunk_end - op.cursor)) return finish(op, failure);
            const uint64_t from = std::max(op.start, op.cursor);
            const uint64_t to = std::min(op.stop, op.chunk_end);
            copy_segments(op.io.segments, from - op.start, op.bounce + (from - op.cursor),
                          to - from, false);
            break;
        }
        case RmwStage::head_read:
            if (!expect(block)) return finish(op, failure);
            // A one-block chunk has its tail in the block just read.
            if (op.chunk_end > op.stop && op.chunk_end - block > op.cursor) {
                op.stage = RmwStage::tail_read;
                return issue_read(op, op.chunk_end - block, op.chunk_end);
            }
            return merge_and_write(op);
        case RmwStage::tail_read:
            if (!expect(block)) return finish(op, failure);
            return merge_and_write(op);
        case RmwStage::write:
            if (!expect(op.chunk_end - op.cursor)) return finish(op, failure);
            break;
        case RmwStage::zero_middle:
            if (result < 0) return finish(op, result);
            break;
        case RmwStage::idle:
            return;
    }
    op.cursor = op.chunk_end;
    if (op.cursor < op.end) return run_chunk(op);
    // Reads and writes answer with the bytes the guest asked for, as the backing's engine would.
    const bool data = op.kind == RmwKind::partial_read || op.kind == RmwKind::partial_write;
    finish(op, data ? static_cast<int32_t>(op.stop - op.start) : 0);
}

void ReadModifyWriteEngine::finish(Op& op, int32_t result) noexcept {
    if (op.held) locks_->unlock(*op.held);
    if (op.bounce != nullptr) pool_.give_back(op.bounce);
    IoCompletion* done = op.done;
    release_op(op);
    // What this operation held may let a waiting one go; start those before answering.
    if (waiting_head_ != nullptr) retry_waiting();
    done->complete(result);
}

void ReadModifyWriteEngine::wait(Op& op) noexcept {
    counters_->waits.fetch_add(1, std::memory_order_relaxed);
    op.next = nullptr;
    if (waiting_tail_ != nullptr)
        waiting_tail_->next = &op;
    else
        waiting_head_ = &op;
    waiting_tail_ = &op;
    ++waiting_count_;
    arm_retry();
}

void ReadModifyWriteEngine::retry_waiting() noexcept {
    Op* list = std::exchange(waiting_head_, nullptr);
    waiting_tail_ = nullptr;
    waiting_count_ = 0;
    while (list != nullptr) {
        Op* op = std::exchange(list, list->next);
        if (try_begin(*op)) continue;
        op->next = nullptr;
        if (waiting_tail_ != nullptr)
            waiting_tail_->next = op;
        else
            waiting_head_ = op;
        waiting_tail_ = op;
        ++waiting_count_;
    }
    if (waiting_head_ != nullptr) arm_retry();
}

void ReadModifyWriteEngine::arm_retry() noexcept {
    if (retry_armed_) return;
    io_uring_sqe* sqe = timer_ring_.get_sqe();
    // No SQE (the ring refused a submission): the next operation that ends retries instead.
    if (sqe == nullptr) return;
    io_uring_prep_timeout(sqe, &retry_time_, 0, 0);
    io_uring_sqe_set_data64(sqe, RingData::of(&retry_));
    retry_armed_ = true;
}

void ReadModifyWriteEngine::RetryTimer::complete(int32_t) noexcept {
    engine_.retry_armed_ = false;
    if (engine_.waiting_head_ != nullptr) engine_.retry_waiting();
}

}  // namespace nvmevm
