#include "storage/bounce_pool.h"

#include <bit>
#include <stdexcept>

namespace nvmevm {

BouncePool::BouncePool(size_t slot_bytes, unsigned slots) : slot_bytes_(slot_bytes), slots_(slots) {
    if (slot_bytes == 0 || slot_bytes % 4096 != 0 || slots == 0 || slots > kMaxSlots)
        throw std::invalid_argument("bounce pool: slots must be 1..32 multiples of 4096 bytes");
    memory_ = Mapping::anonymous(slot_bytes * slots);
    free_mask_ = slots == 32 ? ~uint32_t{0} : (uint32_t{1} << slots) - 1;
}

uint8_t* BouncePool::take() noexcept {
    if (free_mask_ == 0) return nullptr;
    const auto index = static_cast<unsigned>(std::countr_zero(free_mask_));
    free_mask_ &= ~(uint32_t{1} << index);
    return static_cast<uint8_t*>(memory_.get()) + size_t{index} * slot_bytes_;
}

void BouncePool::give_back(uint8_t* slot) noexcept {
    const auto* base = static_cast<uint8_t*>(memory_.get());
    if (slot < base || slot >= base + slot_bytes_ * slots_) return;
    const auto index = static_cast<unsigned>(static_cast<size_t>(slot - base) / slot_bytes_);
    free_mask_ |= uint32_t{1} << index;
}

unsigned BouncePool::in_use() const noexcept {
    return slots_ - static_cast<unsigned>(std::popcount(free_mask_));
}

}  // namespace nvmevm
