// A virtio-blk request, parsed from a descriptor chain (virtio 1.2, 5.2.6 "Device Operation").
//
// BlkRequest::parse is the one place where the guest-supplied fields of a request are checked:
// header placement, request type, the status byte's placement, data direction, sector
// arithmetic against the capacity, discard / write-zeroes ranges. It reads guest memory but
// writes none. Its outcome is either a request for the engine (data buffers already resolved to
// host memory through GuestMemory::slice) or an answer to give the driver at once.
//
//   struct virtio_blk_req {
//       le32 type; le32 reserved; le64 sector;   // device-readable, 16 bytes
//       u8 data[];                               // readable for OUT, writable for IN / GET_ID
//       u8 status;                               // device-writable, the chain's last byte
//   };
//
// Descriptor boundaries carry no meaning (2.7.4.1: "The device MUST NOT make assumptions about
// the particular arrangement of descriptors"): the header may span descriptors, data may share a
// descriptor with the header or with the status byte.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>

#include "foundation/guest_memory.h"
#include "virtio/blk_defs.h"
#include "virtio/descriptor_chain.h"
#include "virtio/fixed_vector.h"

namespace nvmevm {

// The most ranges one DISCARD / WRITE_ZEROES request may carry. max_discard_seg and
// max_write_zeroes_seg must be advertised no higher.
inline constexpr uint32_t kMaxBlkRanges = 32;

// What the device advertises: the limits requests are checked against.
struct BlkGeometry {
    uint64_t capacity_sectors = 0;  // must be <= UINT64_MAX / 512 (bytes fit in 64 bits)
    bool read_only = false;         // VIRTIO_BLK_F_RO offered
    bool discard = false;           // VIRTIO_BLK_F_DISCARD offered
    bool write_zeroes = false;      // VIRTIO_BLK_F_WRITE_ZEROES offered
    uint32_t max_discard_sectors = 0;
    uint32_t max_discard_seg = 1;  // clamped to kMaxBlkRanges
    uint32_t max_write_zeroes_sectors = 0;
    uint32_t max_write_zeroes_seg = 1;  // clamped to kMaxBlkRanges
    // The backing's unit in sectors (a power of two): reads, writes and ranges whose sector or
    // length is not a multiple of it are refused (virtio/blk_block_size.h). 1 unless the drive
    // presents a smaller block than its backing has.
    uint32_t alignment_sectors = 1;
};

enum class BlkRequestType : uint8_t { read, write, flush, get_id, discard, write_zeroes };

// One DISCARD / WRITE_ZEROES range, copied out of guest memory and checked.
struct BlkRange {
    uint64_t sector;
    uint32_t num_sectors;
    bool unmap;  // WRITE_ZEROES may deallocate (VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
};

// An answer the device gives without doing I/O (or after it).
struct BlkAnswer {
    // Where the status byte goes; null when the chain is unanswerable (its layout cannot be
    // trusted): it is returned with used length 0 and nothing is written.
    uint8_t* status = nullptr;
    uint8_t status_value = VIRTIO_BLK_S_OK;
    uint32_t used_len = 0;
    const char* reason = "";  // static text, for a rate-limited log line
    // The refusal follows from the drive's configuration rather than a broken driver (a
    // misaligned request under logical_block_size): worth a warning, not an info line.
    bool warn = false;
    uint64_t sector = 0, sectors = 0;  // with `warn`: the range refused, for the log line

    // Writes the status byte (if any); returns the used length for SplitQueue::push_used.
    [[nodiscard]] uint32_t deliver() const {
        if (status != nullptr) *status = status_value;
        return used_len;
    }
};

class BlkRequest;

struct [[nodiscard]] BlkParseResult {
    bool execute = false;  // true: the request is ready for the engine
    BlkAnswer answer;      // when !execute: give this answer now
};

class BlkRequest {
  public:
    // Parses `chain` into `out` (reused between requests: it is a few KiB, with no heap).
    static BlkParseResult parse(const DescriptorChain& chain, const GuestMemory& memory,
                                const BlkGeometry& geometry, BlkRequest& out);

    [[nodiscard]] BlkRequestType type() const { return type_; }
    // read / write: the first sector, and its byte offset on the disk (cannot overflow).
    [[nodiscard]] uint64_t sector() const { return sector_; }
    [[nodiscard]] uint64_t offset() const { return sector_ << kVirtioBlkSectorShift; }
    // read / write / get_id: the data buffers as host memory, and the guest address of each
    // (for fixed-buffer I/O on registered guest RAM), and their total length.
    [[nodiscard]] std::span<const iovec> iovecs() const { return iovecs_.span(); }
    [[nodiscard]] std::span<const GuestAddress> guest_addresses() const {
        return guest_addresses_.span();
    }
    [[nodiscard]] uint32_t data_len() const { return data_len_; }
    // discard / write_zeroes: the ranges.
    [[nodiscard]] std::span<const BlkRange> ranges() const { return ranges_.span(); }
    [[nodiscard]] GuestAddress status_address() const { return status_address_; }

    // Finishes the request: writes `status` into the status byte and returns the used length.
    // For a successful read it is the data plus the status byte; otherwise the status byte only
    // (2.7.8.2 lets the used length underestimate, never overestimate, what was written).
    [[nodiscard]] uint32_t complete(uint8_t status) const;
    // Answers GET_ID without an engine: copies up to 20 bytes of `id` (the device ID string,
    // NUL-padded, not NUL-terminated when 20 bytes long) into the buffer, writes OK, returns
    // the used length.
    [[nodiscard]] uint32_t complete_get_id(
        const std::array<uint8_t, VIRTIO_BLK_ID_BYTES>& id) const;

  private:
    void clear();

    BlkRequestType type_ = BlkRequestType::flush;
    uint64_t sector_ = 0;
    uint32_t data_len_ = 0;
    uint8_t* status_ = nullptr;
    GuestAddress status_address_;
    FixedVector<iovec, kMaxChainSegments> iovecs_;
    FixedVector<GuestAddress, kMaxChainSegments> guest_addresses_;
    FixedVector<BlkRange, kMaxBlkRanges> ranges_;
};

// The status byte for an engine's result: OK for a success, UNSUPP for -EOPNOTSUPP (the
// backing cannot do it: a filesystem without hole punching, an NVMe "invalid opcode/field"),
// IOERR for every other error.
[[nodiscard]] uint8_t blk_status_for_result(int32_t result);

}  // namespace nvmevm
