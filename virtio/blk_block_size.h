// The block size a virtio-blk drive presents to the guest, and what that means for requests.
//
// By default the device presents the backing's own unit (Backing::logical_block_size():
// the LBA size of an NVMe namespace, the logical block or O_DIRECT alignment of a file or block
// device), so the guest never sends a request the backing cannot take. A drive may present a
// smaller unit instead (`logical_block_size = 512` on a 4 KiB namespace, docs/config.md) for a
// guest or a tool that insists on 512-byte sectors: the device then advertises the backing's unit
// as the physical block (TOPOLOGY physical_block_exp, min_io_size), which makes Linux align what
// it can, and serves the requests that are still not aligned to the backing's unit by
// read-modify-write (storage/rmw_engine.h): the drive is then "emulated".
// A larger unit than the backing's (4096 on a 512-byte namespace) is always safe.
#pragma once

#include <cstdint>
#include <optional>

namespace nvmevm {

struct BlkBlockSizes {
    uint32_t logical = 512;          // blk_size: the unit the guest addresses
    uint8_t physical_block_exp = 0;  // TOPOLOGY: log2(logical blocks per physical block)
    uint16_t min_io_size = 1;        // TOPOLOGY: in logical blocks
    uint32_t alignment_sectors = 1;  // every request's sector and length: a multiple of this
    uint32_t backing = 512;          // the backing's own unit (bytes)
    // Requests smaller than the backing's unit are served by read-modify-write.
    [[nodiscard]] bool emulated() const { return physical_block_exp != 0; }
};

// The smallest and largest unit a drive may present (512 B sectors, 4 KiB pages).
inline constexpr uint32_t kMinPresentedBlock = 512;
inline constexpr uint32_t kMaxPresentedBlock = 4096;

// What a drive whose backing works in `backing` bytes presents when asked for `requested`
// (0: the backing's own). nullopt when either is not a power of two between 512 and 4096.
[[nodiscard]] std::optional<BlkBlockSizes> present_block_size(uint32_t backing, uint32_t requested);

}  // namespace nvmevm
