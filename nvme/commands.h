// NVMe I/O commands for the passthrough engine, built as plain data (no I/O here, so every field
// is unit-tested): what goes into the kernel's struct nvme_uring_cmd for one virtio-blk request
// or one piece of it. References are to the NVMe NVM Command Set Specification 1.0 ("NVM")
// and the NVMe Base Specification 2.0 ("Base").
//
// Virtio speaks in 512-byte sectors; a namespace in logical blocks (LBAs) of 2^lba_shift bytes.
// A range that is not a whole number of LBAs cannot be expressed and is refused (never rounded:
// rounding a write would change bytes the guest did not ask to change).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvmevm::nvme {

// NVM 1.0, 7 "I/O Commands for the NVM Command Set" (Flush: Base 7.1).
enum class Opcode : uint8_t {
    flush = 0x00,
    write = 0x01,
    read = 0x02,
    write_zeroes = 0x08,
    dataset_management = 0x09,
};

// What the builders need to know about the namespace.
struct Format {
    uint32_t nsid = 1;
    uint32_t lba_shift = 9;  // log2 of the LBA data size: 9 (512 B) or 12 (4 KiB)
    uint64_t lba_count = 0;  // NSZE: the namespace's size in LBAs
    [[nodiscard]] uint32_t lba_size() const { return uint32_t{1} << lba_shift; }
};

// One command: the fields of struct nvme_uring_cmd that the passthrough engine sets. `addr` and
// `data_len` are the data buffer and its length in bytes, or, for vectored commands
// (NVME_URING_CMD_IO_VEC), an iovec array and its element count.
struct Command {
    uint8_t opcode = 0;
    uint32_t nsid = 0;
    uint64_t addr = 0;
    uint32_t data_len = 0;
    uint32_t cdw10 = 0, cdw11 = 0, cdw12 = 0, cdw13 = 0, cdw14 = 0, cdw15 = 0;
};

// `cmd` into the kernel's struct for it, which names these fields alike whichever way the
// command goes: struct nvme_uring_cmd (io_uring passthrough, the engine) or struct
// nvme_passthru_cmd (the synchronous NVME_IOCTL_IO_CMD, the flush at stop).
template <typename KernelCommand>
void copy_to_kernel(const Command& cmd, KernelCommand& out) {
    out.opcode = cmd.opcode;
    out.nsid = cmd.nsid;
    out.addr = cmd.addr;
    out.data_len = cmd.data_len;
    out.cdw10 = cmd.cdw10;
    out.cdw11 = cmd.cdw11;
    out.cdw12 = cmd.cdw12;
    out.cdw13 = cmd.cdw13;
    out.cdw14 = cmd.cdw14;
    out.cdw15 = cmd.cdw15;
}

// NVM 1.0, Figure 40 "Dataset Management - Range Definition": 16 bytes, little-endian.
struct DsmRange {
    uint32_t context_attributes;
    uint32_t length;  // in LBAs, 1-based (unlike the 0-based NLB of Read/Write)
    uint64_t slba;
};
static_assert(sizeof(DsmRange) == 16);

// The most LBAs one Read / Write / Write Zeroes can name: NLB is a 16-bit, 0-based field.
inline constexpr uint64_t kMaxLbasPerCommand = uint64_t{1} << 16;
// Write Zeroes CDW12 bit 25: Deallocate (NVM 1.0, Figure 64).
inline constexpr uint32_t kWriteZeroesDeac = uint32_t{1} << 25;
// Dataset Management CDW11 bit 2: Attribute - Deallocate (NVM 1.0, Figure 39).
inline constexpr uint32_t kDsmAttributeDeallocate = uint32_t{1} << 2;

enum class BuildError : uint8_t {
    none,
    misaligned,    // offset or length is not a whole number of LBAs
    out_of_range,  // the range runs past the end of the namespace
    too_large,     // more LBAs than the command can name
    empty,         // zero LBAs: NVMe has no empty Read/Write/Write Zeroes
};
[[nodiscard]] const char* describe(BuildError error);

// Read (0x02) or Write (0x01) of `length` bytes at byte `offset` of the namespace.
// CDW10/11 = SLBA, CDW12 bits 15:0 = NLB - 1; CDW13-15 zero (no FUA, no protection info).
[[nodiscard]] BuildError build_read_write(const Format& format, bool write, uint64_t offset,
                                          uint64_t length, uint64_t addr, uint32_t data_len,
                                          Command& out);
// Flush (0x00) of the namespace's volatile write cache.
[[nodiscard]] Command build_flush(const Format& format);
// Write Zeroes (0x08): CDW10/11 SLBA, CDW12 NLB - 1 and, with `deallocate`, DEAC.
[[nodiscard]] BuildError build_write_zeroes(const Format& format, uint64_t offset, uint64_t length,
                                            bool deallocate, Command& out);
// Fills `range` for a deallocate of [offset, offset + length), and builds the Dataset Management
// (0x09) command naming that one range (CDW10 NR = 0: one range, 0-based; CDW11 AD); `addr` is
// where `range` lives while the command runs.
[[nodiscard]] BuildError build_deallocate(const Format& format, uint64_t offset, uint64_t length,
                                          DsmRange& range, uint64_t addr, Command& out);

// How a data transfer larger than one command may carry is cut into commands.
struct ChunkLimits {
    uint32_t max_bytes = 0;  // MDTS and the kernel's max_hw_sectors; a multiple of the LBA size
    // Pages the kernel may map for one command (its max_segments): every iovec costs the pages
    // it touches, the worst case when guest RAM is not physically contiguous on the host.
    uint32_t max_pages = 0;
    uint32_t lba_size = 512;
};
inline constexpr size_t kMaxChunkSegments = 128;

// Where the next chunk starts within a request's segments.
struct ChunkCursor {
    size_t segment = 0;
    size_t offset = 0;  // bytes into that segment
};

// Takes the next chunk of `segments` from `cursor` into `out` (at most out.size() iovecs):
// whole LBAs only, at most `limits.max_bytes` and `limits.max_pages`. Advances the cursor and
// returns the chunk's byte count: 0 when nothing is left, or when the rest cannot form a whole
// LBA within the limits (the caller then fails the request).
[[nodiscard]] size_t next_chunk(std::span<const iovec> segments, ChunkCursor& cursor,
                                const ChunkLimits& limits, std::span<iovec> out, size_t& out_count);

// The outcome of a passthrough command as io_uring reports it: cqe->res is -errno when the
// kernel failed it, 0 on success, and otherwise the NVMe status field (Base 4.6.1, the CQE's
// DW3 bits 31:17 without the phase tag): SC in bits 7:0, SCT in 10:8, CRD, More, DNR above.
[[nodiscard]] inline uint8_t status_code(int32_t status) {
    return static_cast<uint8_t>(status & 0xff);
}
[[nodiscard]] inline uint8_t status_code_type(int32_t status) {
    return static_cast<uint8_t>((status >> 8) & 0x7);
}
// -errno for a positive NVMe status: -EOPNOTSUPP for Invalid Command Opcode and Invalid Field
// in Command (the device answers VIRTIO_BLK_S_UNSUPP for that), -EIO for everything else.
[[nodiscard]] int32_t status_to_errno(int32_t status);

}  // namespace nvmevm::nvme
