#include "boot/initrd.h"

#include <algorithm>
#include <string>

#include "boot/bytes.h"
#include "boot/format.h"
#include "boot/kernel_image.h"
#include "boot/memory_map.h"

namespace nvmevm {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t k4GiB = 1ull << 32;  // ramdisk_image and hvm_modlist_entry users are 32-bit

}  // namespace

InitrdPlacement place_initrd(const GuestMemory& memory, uint64_t size, uint64_t kernel_end,
                             uint64_t addr_max) {
    const uint64_t limit_by_kernel = bytes::add(addr_max, 1).value_or(UINT64_MAX);
    const uint64_t limit = std::min({low_ram_end(memory), limit_by_kernel, k4GiB});
    const uint64_t floor = bytes::align_up(kernel_end, kPageSize).value_or(UINT64_MAX);
    const uint64_t room = limit > floor ? limit - floor : 0;
    if (size > limit || bytes::align_down(limit - size, kPageSize) < floor) {
        throw BootError("initrd does not fit: it is " + std::to_string(size) +
                        " bytes, but between the kernel's end at " + hex(floor) +
                        " and the initrd limit " + hex(limit) + " there are only " +
                        std::to_string(room) + " bytes (give the VM more memory)");
    }
    return {bytes::align_down(limit - size, kPageSize), size};
}

InitrdPlacement load_initrd(const GuestMemory& memory, std::span<const uint8_t> initrd,
                            uint64_t kernel_end, uint64_t addr_max) {
    if (initrd.empty()) return {0, 0};
    const InitrdPlacement placement = place_initrd(memory, initrd.size(), kernel_end, addr_max);
    if (!memory.write(GuestAddress{placement.addr}, initrd)) {
        throw BootError("initrd at " + hex(placement.addr) + " is outside guest RAM");
    }
    return placement;
}

}  // namespace nvmevm
