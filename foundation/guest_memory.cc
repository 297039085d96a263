#include "foundation/guest_memory.h"

#include <algorithm>

namespace nvmevm {

GuestMemory::GuestMemory(uint64_t size) {
    mapping_ = Mapping::anonymous(size);
    backing_base_ = static_cast<uint8_t*>(mapping_.get());
    total_size_ = size;
    const uint64_t low = std::min(size, kMmioHoleStart);
    regions_.push_back({0, low, backing_base_});
    if (size > low) regions_.push_back({kMmioHoleEnd, size - low, backing_base_ + low});
}

GuestMemory GuestMemory::wrap(std::span<uint8_t> memory) {
    GuestMemory mem;
    mem.backing_base_ = memory.data();
    mem.total_size_ = memory.size();
    mem.regions_.push_back({0, memory.size(), memory.data()});
    return mem;
}

std::optional<std::span<uint8_t>> GuestMemory::slice(GuestAddress gpa, uint64_t len) const {
    for (const GuestRegion& region : regions_) {
        if (gpa.value < region.guest_base) continue;
        const uint64_t offset = gpa.value - region.guest_base;
        // Written so that neither side can overflow: offset <= size, then len <= size - offset.
        if (offset > region.size || len > region.size - offset) continue;
        return std::span<uint8_t>(region.host_base + offset, static_cast<size_t>(len));
    }
    return std::nullopt;
}

bool GuestMemory::read(GuestAddress gpa, std::span<uint8_t> out) const {
    auto range = slice(gpa, out.size());
    if (!range) return false;
    std::memcpy(out.data(), range->data(), out.size());
    return true;
}

bool GuestMemory::write(GuestAddress gpa, std::span<const uint8_t> in) const {
    auto range = slice(gpa, in.size());
    if (!range) return false;
    std::memcpy(range->data(), in.data(), in.size());
    return true;
}

}  // namespace nvmevm
