// Generic virtio definitions (virtio 1.2, section 2.7 "Split Virtqueues" and section 6
// "Reserved Feature Bits"): descriptor flags, ring layouts and the feature bits every device
// shares. Written from the specification rather than taken from <linux/virtio_*.h>, so that
// nvmevm does not depend on the host's kernel headers (and their legacy "vring" naming). The
// names are the spec's own, so that a comment quoting the spec and the code that enforces it
// use the same words. The flip side is that these names would collide with the kernel's macros:
// a translation unit must include one or the other, never both (checked below).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#if defined(VIRTIO_F_VERSION_1) || defined(VIRTIO_RING_F_EVENT_IDX) || defined(VIRTIO_BLK_T_IN)
#error "virtio/virtio_defs.h and <linux/virtio_*.h> define the same names; include only one"
#endif

namespace nvmevm {

// Everything in a virtqueue is little-endian (2.4 "... little-endian ..."); nvmevm runs on
// x86-64 and reads the rings in place, without byte swapping.
static_assert(std::endian::native == std::endian::little, "virtio rings are little-endian");

// 2.7.5 struct virtq_desc: flags.
inline constexpr uint16_t VIRTQ_DESC_F_NEXT = 1;      // "continuing via the next field"
inline constexpr uint16_t VIRTQ_DESC_F_WRITE = 2;     // "device write-only"
inline constexpr uint16_t VIRTQ_DESC_F_INDIRECT = 4;  // "contains a list of buffer descriptors"

// 2.7.6 struct virtq_avail: flags.
inline constexpr uint16_t VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
// 2.7.8 struct virtq_used: flags.
inline constexpr uint16_t VIRTQ_USED_F_NO_NOTIFY = 1;

// 6 "Reserved Feature Bits" (bit numbers, not masks).
inline constexpr unsigned VIRTIO_F_INDIRECT_DESC = 28;
inline constexpr unsigned VIRTIO_F_EVENT_IDX = 29;
inline constexpr unsigned VIRTIO_F_VERSION_1 = 32;
inline constexpr unsigned VIRTIO_F_ACCESS_PLATFORM = 33;
inline constexpr unsigned VIRTIO_F_RING_PACKED = 34;
inline constexpr unsigned VIRTIO_F_IN_ORDER = 35;
inline constexpr unsigned VIRTIO_F_ORDER_PLATFORM = 36;
inline constexpr unsigned VIRTIO_F_SR_IOV = 37;
inline constexpr unsigned VIRTIO_F_NOTIFICATION_DATA = 38;
inline constexpr unsigned VIRTIO_F_NOTIF_CONFIG_DATA = 39;
inline constexpr unsigned VIRTIO_F_RING_RESET = 40;

[[nodiscard]] constexpr uint64_t feature_bit(unsigned bit) {
    return uint64_t{1} << bit;
}

// 2.7.5 struct virtq_desc, 16 bytes. Only ever copied out of guest memory (never referenced in
// place), so that the guest cannot change a field between our check and our use of it.
struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);
static_assert(offsetof(VirtqDesc, len) == 8);
static_assert(offsetof(VirtqDesc, flags) == 12);
static_assert(offsetof(VirtqDesc, next) == 14);

// 2.7.8 struct virtq_used_elem, 8 bytes. "le32 is used here for ids for padding reasons."
struct VirtqUsedElem {
    uint32_t id;
    uint32_t len;
};
static_assert(sizeof(VirtqUsedElem) == 8);

// 2.7 "The memory alignment and size requirements, in bytes, of each part of the virtqueue":
//   Descriptor Table  alignment 16  size 16*(Queue Size)
//   Available Ring    alignment  2  size 6+2*(Queue Size)
//   Used Ring         alignment  4  size 6+8*(Queue Size)
// The sizes include used_event / avail_event, which exist only with VIRTIO_F_EVENT_IDX; we
// require the full size either way (a driver allocates it regardless, and it keeps one layout).
inline constexpr uint64_t kDescTableAlign = 16;
inline constexpr uint64_t kAvailRingAlign = 2;
inline constexpr uint64_t kUsedRingAlign = 4;
[[nodiscard]] constexpr uint64_t desc_table_bytes(uint16_t size) {
    return 16ull * size;
}
[[nodiscard]] constexpr uint64_t avail_ring_bytes(uint16_t size) {
    return 6 + 2ull * size;
}
[[nodiscard]] constexpr uint64_t used_ring_bytes(uint16_t size) {
    return 6 + 8ull * size;
}

// Field offsets inside the rings (2.7.6 struct virtq_avail, 2.7.8 struct virtq_used).
inline constexpr uint64_t kAvailFlagsOffset = 0;
inline constexpr uint64_t kAvailIdxOffset = 2;
inline constexpr uint64_t kAvailRingOffset = 4;
[[nodiscard]] constexpr uint64_t used_event_offset(uint16_t size) {
    return 4 + 2ull * size;
}
inline constexpr uint64_t kUsedFlagsOffset = 0;
inline constexpr uint64_t kUsedIdxOffset = 2;
inline constexpr uint64_t kUsedRingOffset = 4;
[[nodiscard]] constexpr uint64_t avail_event_offset(uint16_t size) {
    return 4 + 8ull * size;
}

// The event-index test shared by both directions (2.7.7.2 and 2.7.10.1): after moving an index
// from `old_idx` to `new_idx`, a notification is due when the other side's event index lies in
// [old_idx, new_idx), i.e. "the idx field ... was equal to used_event" for one of the entries
// just written. All arithmetic is modulo 2^16, as the indices are free-running u16 counters.
[[nodiscard]] constexpr bool vring_need_event(uint16_t event_idx, uint16_t new_idx,
                                              uint16_t old_idx) {
    return static_cast<uint16_t>(new_idx - event_idx - 1) <
           static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace nvmevm
