#include "virtio/blk_block_size.h"

#include <algorithm>
#include <bit>

#include "virtio/blk_defs.h"

namespace nvmevm {
namespace {

bool valid(uint32_t size) {
    return std::has_single_bit(size) && size >= kMinPresentedBlock && size <= kMaxPresentedBlock;
}

}  // namespace

std::optional<BlkBlockSizes> present_block_size(uint32_t backing, uint32_t requested) {
    if (requested == 0) requested = backing;
    if (!valid(backing) || !valid(requested)) return std::nullopt;
    BlkBlockSizes sizes;
    sizes.logical = requested;
    sizes.backing = backing;
    // A larger presented unit is a multiple of the backing's anyway; a smaller one is emulated
    // (read-modify-write), so requests need only be whole presented blocks.
    sizes.alignment_sectors = std::min(requested, backing) >> kVirtioBlkSectorShift;
    if (requested < backing) {
        const auto ratio = static_cast<uint16_t>(backing / requested);
        sizes.physical_block_exp = static_cast<uint8_t>(std::countr_zero(ratio));
        sizes.min_io_size = ratio;
    }
    return sizes;
}

}  // namespace nvmevm
