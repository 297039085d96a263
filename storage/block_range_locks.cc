#include "storage/block_range_locks.h"

namespace nvmevm {

std::optional<BlockRangeLocks::Held> BlockRangeLocks::try_lock(uint64_t first, uint64_t end,
                                                               bool partial) {
    const std::lock_guard lock(mutex_);
    unsigned free_slot = kCapacity;
    for (unsigned i = 0; i < high_water_; ++i) {
        const Entry& entry = entries_[i];
        if (entry.end == 0) {
            if (free_slot == kCapacity) free_slot = i;
            continue;
        }
        if (first < entry.end && entry.first < end) return std::nullopt;
    }
    if (free_slot == kCapacity) {
        if (high_water_ == kCapacity) return std::nullopt;
        free_slot = high_water_++;
    }
    const uint64_t sequence = next_sequence_++;
    entries_[free_slot] = Entry{first, end, sequence, partial};
    return Held{static_cast<uint16_t>(free_slot), sequence};
}

void BlockRangeLocks::unlock(Held held) {
    const std::lock_guard lock(mutex_);
    Entry& entry = entries_[held.slot];
    if (entry.end == 0 || entry.sequence != held.sequence) return;  // not ours: a caller's bug
    entry = Entry{};
    while (high_water_ > 0 && entries_[high_water_ - 1].end == 0) --high_water_;
}

uint64_t BlockRangeLocks::next_sequence() {
    const std::lock_guard lock(mutex_);
    return next_sequence_;
}

bool BlockRangeLocks::partial_held_before(uint64_t sequence) {
    const std::lock_guard lock(mutex_);
    for (unsigned i = 0; i < high_water_; ++i) {
        const Entry& entry = entries_[i];
        if (entry.end != 0 && entry.partial && entry.sequence < sequence) return true;
    }
    return false;
}

unsigned BlockRangeLocks::held() {
    const std::lock_guard lock(mutex_);
    unsigned n = 0;
    for (unsigned i = 0; i < high_water_; ++i) n += entries_[i].end != 0 ? 1 : 0;
    return n;
}

}  // namespace nvmevm
