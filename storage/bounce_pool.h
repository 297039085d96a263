// Bounded, aligned memory for data that cannot go between guest RAM and the backing directly:
// the blocks a read-modify-write reads and writes back (storage/rmw_engine.h), and the buffers
// O_DIRECT refuses (storage/bounce.h). One pool per engine, that is per drive and vCPU thread:
// `slots` buffers of `slot_bytes` each, reserved at setup in one anonymous mapping (no mmap or
// malloc on the I/O path, and pages the guest never makes us touch are never resident). A
// request larger than a slot is moved a slot at a time; a request that finds every slot taken
// waits for one. So a hostile guest's large or many requests cost at most slots x slot_bytes
// per engine, never more.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foundation/mapping.h"

namespace nvmevm {

class BouncePool {
  public:
    static constexpr size_t kDefaultSlotBytes = size_t{128} << 10;
    static constexpr unsigned kDefaultSlots = 8;
    static constexpr unsigned kMaxSlots = 32;

    // `slot_bytes`: a multiple of 4096 (every block size and O_DIRECT alignment divides it).
    // Throws std::system_error (mmap), std::invalid_argument (sizes).
    explicit BouncePool(size_t slot_bytes = kDefaultSlotBytes, unsigned slots = kDefaultSlots);

    // A free slot (slot_bytes() bytes, 4096-aligned), or nullptr when all are taken.
    [[nodiscard]] uint8_t* take() noexcept;
    // Returns a slot from take().
    void give_back(uint8_t* slot) noexcept;

    [[nodiscard]] size_t slot_bytes() const noexcept { return slot_bytes_; }
    [[nodiscard]] unsigned slots() const noexcept { return slots_; }
    [[nodiscard]] unsigned in_use() const noexcept;

  private:
    size_t slot_bytes_;
    unsigned slots_;
    Mapping memory_;
    uint32_t free_mask_;  // bit i set: slot i is free
};

}  // namespace nvmevm
