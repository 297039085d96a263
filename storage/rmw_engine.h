// Small sectors on a backing with larger blocks: a drive presenting 512-byte sectors
// (`logical_block_size = 512`) on a 4 KiB-LBA NVMe namespace, or on a file or block device whose
// O_DIRECT alignment is 4 KiB, gets requests the backing cannot take: a 1 KiB ext4 superblock
// read, a GPT written for 512-byte sectors. This engine sits in front of the backing's own engine
// and serves them as a disk with 512-byte emulation does (and as QEMU does):
//   reads       the whole blocks around the request into a bounce buffer, then the guest's part
//               copied out
//   writes      the partial head and tail blocks read, the guest's sectors merged in, whole
//               blocks written from the bounce buffer
//   write zeroes  the same with zeroes for the partial head and tail blocks; the whole blocks in
//               between as a write zeroes of the backing
//   discard     shrunk to the whole blocks inside it (a discard is a hint; sectors of a block
//               that is partly discarded keep their data)
// Requests already aligned to the backing's block go straight to the backing's engine: reads and
// discards untouched, writes after taking their blocks in the drive's BlockRangeLocks (see there
// for why) and giving them back when they complete.
//
// Order and durability: a write holds its blocks from before its read to after its write, so
// read-modify-writes to one block from two queues (two vCPU threads) never undo each other. A
// FLUSH waits until every read-modify-write that took its blocks before the flush arrived has
// written, on every queue of the drive, then flushes the backing.
//
// Memory: at most one BouncePool per engine (slots x slot_bytes); a request larger than a slot is
// done a slot at a time, and one that finds no slot free waits for one. Waiting requests sit in a
// list here, never more than the requests the queues have in flight; they are retried when an
// operation of this engine ends, and by a short timer on `timer_ring` while any waits (a block
// held by another thread is given back there, and that thread cannot wake this one's ring).
#pragma once

#include <linux/time_types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "storage/block_range_locks.h"
#include "storage/bounce_pool.h"
#include "storage/engine.h"

namespace nvmevm {

// What the engines of a drive did, for its stats (any thread reads them).
struct ReadModifyWriteCounters {
    std::atomic<uint64_t> partial_reads{0};
    std::atomic<uint64_t> partial_writes{0};  // writes and write zeroes merged with old data
    std::atomic<uint64_t> bounced{0};         // whole-block requests whose segments needed it
    std::atomic<uint64_t> waits{0};           // times a request found its blocks or the pool busy
};

class ReadModifyWriteEngine final : public BlockEngine {
  public:
    struct Options {
        uint32_t block = 4096;  // the backing's unit: a power of two, at most the slot size
        size_t slot_bytes = BouncePool::kDefaultSlotBytes;
        unsigned slots = BouncePool::kDefaultSlots;
        uint64_t retry_ns = 50'000;  // how soon a waiting request looks again
        // The drive's counters, shared by its engines (must outlive this one); null: its own.
        ReadModifyWriteCounters* counters = nullptr;
    };

    // `inner`: the backing's engine on `io_ring`; `timer_ring`: the ring of the same thread that
    // carries the retry timer (the main ring when `io_ring` is an IOPOLL ring, which cannot), not
    // reaped after this engine is destroyed. `locks`: the drive's, shared by its engines.
    // Throws std::system_error (the bounce memory), std::invalid_argument (options).
    ReadModifyWriteEngine(std::unique_ptr<BlockEngine> inner, IoRing& io_ring, IoRing& timer_ring,
                          std::shared_ptr<BlockRangeLocks> locks, Options options);
    ~ReadModifyWriteEngine() override;
    ReadModifyWriteEngine(const ReadModifyWriteEngine&) = delete;
    ReadModifyWriteEngine& operator=(const ReadModifyWriteEngine&) = delete;

    void submit(const BlockIo& io, IoCompletion* done) noexcept override;

    [[nodiscard]] const ReadModifyWriteCounters& counters() const noexcept { return *counters_; }
    [[nodiscard]] unsigned waiting() const noexcept { return waiting_count_; }

  private:
    struct Op;
    class RetryTimer final : public IoCompletion {
      public:
        explicit RetryTimer(ReadModifyWriteEngine& engine) : engine_(engine) {}
        void complete(int32_t result) noexcept override;

      private:
        ReadModifyWriteEngine& engine_;
    };

    [[nodiscard]] Op* acquire_op() noexcept;
    void release_op(Op& op) noexcept;
    [[nodiscard]] bool try_begin(Op& op) noexcept;
    void run_chunk(Op& op) noexcept;
    void issue_read(Op& op, uint64_t from, uint64_t to) noexcept;
    void merge_and_write(Op& op) noexcept;
    void on_step(Op& op, int32_t result) noexcept;
    void finish(Op& op, int32_t result) noexcept;
    void wait(Op& op) noexcept;
    void retry_waiting() noexcept;
    void arm_retry() noexcept;

    std::unique_ptr<BlockEngine> inner_;
    IoRing& io_ring_;
    IoRing& timer_ring_;
    std::shared_ptr<BlockRangeLocks> locks_;
    Options options_;
    BouncePool pool_;
    ReadModifyWriteCounters own_counters_;
    ReadModifyWriteCounters* counters_;
    std::vector<std::unique_ptr<Op>> ops_;  // every Op made; reused through free_
    Op* free_ = nullptr;
    Op* waiting_head_ = nullptr;
    Op* waiting_tail_ = nullptr;
    unsigned waiting_count_ = 0;
    RetryTimer retry_{*this};
    bool retry_armed_ = false;
    __kernel_timespec retry_time_{};
};

}  // namespace nvmevm
