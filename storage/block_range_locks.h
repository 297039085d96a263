// The blocks of one drive that a read-modify-write (storage/rmw_engine.h) is changing, shared by
// every vCPU thread that serves a queue of the drive. A partial-block write reads the block,
// merges the guest's sectors and writes the whole block back: two of them on one block at once
// (two queues writing different 512-byte sectors of one 4 KiB block) would each write back the
// other's old sectors, and a whole-block write landing between the read and the write back would
// be undone. So every write to such a drive holds its blocks here until it has written, and a
// write whose blocks are held waits (in its engine's list, woken by a timer: the holder is on
// another thread, which cannot submit on this thread's ring).
//
// A fixed table, not a map: the number of writes in flight on a drive is bounded by its queues,
// and a full table makes a write wait like a busy block does. Lookups scan the held entries
// (a few dozen at most in practice) under one mutex; only drives that emulate small sectors
// have one.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>

namespace nvmevm {

class BlockRangeLocks {
  public:
    static constexpr unsigned kCapacity = 256;

    // A held range: the index of its entry and the order in which it was taken.
    struct Held {
        uint16_t slot = 0;
        uint64_t sequence = 0;
    };

    // Takes blocks [first, end) (end > first) when no held range overlaps them and an entry is
    // free; `partial`: the write merges old data (a read-modify-write), which a later flush
    // must wait for (wait_for_partial_before).
    [[nodiscard]] std::optional<Held> try_lock(uint64_t first, uint64_t end, bool partial);
    void unlock(Held held);

    // The sequence the next range will get: a flush arriving now must wait for the partial
    // writes taken before it.
    [[nodiscard]] uint64_t next_sequence();
    // True while a partial write taken before `sequence` still holds its blocks.
    [[nodiscard]] bool partial_held_before(uint64_t sequence);

    [[nodiscard]] unsigned held();  // tests

  private:
    struct Entry {
        uint64_t first = 0;
        uint64_t end = 0;  // 0: the entry is free
        uint64_t sequence = 0;
        bool partial = false;
    };
    std::mutex mutex_;
    std::array<Entry, kCapacity> entries_{};
    unsigned high_water_ = 0;  // entries_[high_water_..] are all free
    uint64_t next_sequence_ = 1;
};

}  // namespace nvmevm
