// virtio-blk definitions (virtio 1.2, section 5.2 "Block Device"): feature bits, the device
// configuration layout, request header, request types and status values. Written from the
// specification, not taken from <linux/virtio_blk.h>, for the reasons given in virtio_defs.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "virtio/virtio_defs.h"

namespace nvmevm {

// 5.2.1 Device ID.
inline constexpr uint32_t VIRTIO_ID_BLOCK = 2;

// 5.2.3 Feature bits (bit numbers).
inline constexpr unsigned VIRTIO_BLK_F_SIZE_MAX = 1;  // size_max: max bytes in one segment
inline constexpr unsigned VIRTIO_BLK_F_SEG_MAX = 2;   // seg_max: max segments in a request
inline constexpr unsigned VIRTIO_BLK_F_GEOMETRY = 4;
inline constexpr unsigned VIRTIO_BLK_F_RO = 5;
inline constexpr unsigned VIRTIO_BLK_F_BLK_SIZE = 6;
inline constexpr unsigned VIRTIO_BLK_F_FLUSH = 9;
inline constexpr unsigned VIRTIO_BLK_F_TOPOLOGY = 10;
inline constexpr unsigned VIRTIO_BLK_F_CONFIG_WCE = 11;
inline constexpr unsigned VIRTIO_BLK_F_MQ = 12;
inline constexpr unsigned VIRTIO_BLK_F_DISCARD = 13;
inline constexpr unsigned VIRTIO_BLK_F_WRITE_ZEROES = 14;
inline constexpr unsigned VIRTIO_BLK_F_LIFETIME = 15;
inline constexpr unsigned VIRTIO_BLK_F_SECURE_ERASE = 16;
inline constexpr unsigned VIRTIO_BLK_F_ZONED = 17;

// 5.2.4 Device configuration layout. Every field is little-endian; the layout has no implicit
// padding (checked below), so the struct can be served byte for byte from the config window.
struct VirtioBlkConfig {
    uint64_t capacity;  // in 512-byte sectors, whatever blk_size says
    uint32_t size_max;
    uint32_t seg_max;
    struct {
        uint16_t cylinders;
        uint8_t heads;
        uint8_t sectors;
    } geometry;
    uint32_t blk_size;
    struct {
        uint8_t physical_block_exp;  // # of logical blocks per physical block (log2)
        uint8_t alignment_offset;    // offset of first aligned logical block
        uint16_t min_io_size;        // suggested minimum I/O size in blocks
        uint32_t opt_io_size;        // optimal (suggested maximum) I/O size in blocks
    } topology;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
    uint32_t max_secure_erase_sectors;
    uint32_t max_secure_erase_seg;
    uint32_t secure_erase_sector_alignment;
    struct {
        uint32_t zone_sectors;
        uint32_t max_open_zones;
        uint32_t max_active_zones;
        uint32_t max_append_sectors;
        uint32_t write_granularity;
        uint8_t model;
        uint8_t unused2[3];
    } zoned;
};
static_assert(offsetof(VirtioBlkConfig, capacity) == 0);
static_assert(offsetof(VirtioBlkConfig, size_max) == 8);
static_assert(offsetof(VirtioBlkConfig, seg_max) == 12);
static_assert(offsetof(VirtioBlkConfig, geometry) == 16);
static_assert(offsetof(VirtioBlkConfig, blk_size) == 20);
static_assert(offsetof(VirtioBlkConfig, topology) == 24);
static_assert(offsetof(VirtioBlkConfig, writeback) == 32);
static_assert(offsetof(VirtioBlkConfig, num_queues) == 34);
static_assert(offsetof(VirtioBlkConfig, max_discard_sectors) == 36);
static_assert(offsetof(VirtioBlkConfig, max_discard_seg) == 40);
static_assert(offsetof(VirtioBlkConfig, discard_sector_alignment) == 44);
static_assert(offsetof(VirtioBlkConfig, max_write_zeroes_sectors) == 48);
static_assert(offsetof(VirtioBlkConfig, max_write_zeroes_seg) == 52);
static_assert(offsetof(VirtioBlkConfig, write_zeroes_may_unmap) == 56);
static_assert(offsetof(VirtioBlkConfig, max_secure_erase_sectors) == 60);
static_assert(offsetof(VirtioBlkConfig, max_secure_erase_seg) == 64);
static_assert(offsetof(VirtioBlkConfig, secure_erase_sector_alignment) == 68);
static_assert(offsetof(VirtioBlkConfig, zoned) == 72);
static_assert(sizeof(VirtioBlkConfig) == 96);

// 5.2.6 struct virtio_blk_req: the device-readable header that starts every request.
struct VirtioBlkReqHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(VirtioBlkReqHeader) == 16);

// 5.2.6 request types.
inline constexpr uint32_t VIRTIO_BLK_T_IN = 0;
inline constexpr uint32_t VIRTIO_BLK_T_OUT = 1;
inline constexpr uint32_t VIRTIO_BLK_T_FLUSH = 4;
inline constexpr uint32_t VIRTIO_BLK_T_GET_ID = 8;
inline constexpr uint32_t VIRTIO_BLK_T_GET_LIFETIME = 10;
inline constexpr uint32_t VIRTIO_BLK_T_DISCARD = 11;
inline constexpr uint32_t VIRTIO_BLK_T_WRITE_ZEROES = 13;
inline constexpr uint32_t VIRTIO_BLK_T_SECURE_ERASE = 14;

// 5.2.6 status values (the last byte of every request).
inline constexpr uint8_t VIRTIO_BLK_S_OK = 0;
inline constexpr uint8_t VIRTIO_BLK_S_IOERR = 1;
inline constexpr uint8_t VIRTIO_BLK_S_UNSUPP = 2;

// 5.2.6 struct virtio_blk_discard_write_zeroes: one range of a DISCARD / WRITE_ZEROES request.
struct VirtioBlkDiscardWriteZeroes {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;  // bit 0: unmap (WRITE_ZEROES only); the other 31 bits are reserved
};
static_assert(sizeof(VirtioBlkDiscardWriteZeroes) == 16);
inline constexpr uint32_t VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

// "The sector number indicates the offset (multiplied by 512) where the read or write is to
// occur." Sectors are always 512 bytes on the wire, whatever blk_size advertises.
inline constexpr uint64_t kVirtioBlkSectorSize = 512;
inline constexpr unsigned kVirtioBlkSectorShift = 9;
// GET_ID: the device ID string is at most 20 bytes, NUL-padded.
inline constexpr uint32_t VIRTIO_BLK_ID_BYTES = 20;

}  // namespace nvmevm
