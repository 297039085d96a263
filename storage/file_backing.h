// A regular file or a block device behind a drive, opened once and shared by every vCPU
// thread's io_uring engine (storage/uring_engine.h), which it makes. A file on tmpfs or ramfs
// is the memory-backed variant: the same class, with the file mapped (MemoryImage) so that the
// engine can copy instead of asking io_uring (see memory_backed()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "foundation/unique_fd.h"
#include "storage/backing.h"

namespace nvmevm {

class MemoryImage;  // storage/memory_image.h: a memory-backed file, mapped

// How a range is made to read back as zeroes on this backing.
enum class ZeroMethod : uint8_t {
    none,        // not possible (read-only, or no support)
    zero_range,  // fallocate(FALLOC_FL_ZERO_RANGE | KEEP_SIZE): files and block devices
    punch_hole,  // fallocate(FALLOC_FL_PUNCH_HOLE | KEEP_SIZE): tmpfs has no ZERO_RANGE
};
// How a range is discarded.
enum class DiscardMethod : uint8_t {
    none,
    punch_hole,  // files: fallocate(PUNCH_HOLE | KEEP_SIZE)
    uring_cmd,   // block devices, kernel >= 6.12: IORING_OP_URING_CMD BLOCK_URING_CMD_DISCARD
    ioctl,       // block devices, older kernels: BLKDISCARD, synchronous on the vCPU thread
};

class FileBacking final : public Backing {
  public:
    // What open() learned besides the traits.
    struct Limits {
        bool block_device = false;
        bool memory_backed = false;
        bool direct = false;
        uint32_t dio_mem_align = 1;
        uint32_t dio_offset_align = 1;
        DiscardMethod discard = DiscardMethod::none;
        ZeroMethod zero = ZeroMethod::none;
    };

    // Opens the file or block device and learns what it can do. Throws std::system_error.
    [[nodiscard]] static std::shared_ptr<FileBacking> open(const BackingOptions& options);
    // Use open().
    FileBacking(BackingTraits traits, UniqueFd fd, const Limits& limits,
                std::shared_ptr<const MemoryImage> image);

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] bool is_block_device() const { return limits_.block_device; }
    [[nodiscard]] bool direct() const { return limits_.direct; }
    // The file lives in memory (tmpfs, ramfs): its reads and writes are memory copies that never
    // wait for a device. io_uring cannot do them without blocking and hands each one to a kernel
    // worker (iou-wrk), whose completion costs the vCPU a second exit; the uring engine does
    // them inline instead (storage/uring_engine.h).
    [[nodiscard]] bool memory_backed() const { return limits_.memory_backed; }
    // A memory-backed file mapped into nvmevm, for copies without a system call; null for
    // every other file, and where the file could not be mapped.
    [[nodiscard]] const MemoryImage* memory_image() const { return image_.get(); }
    // O_DIRECT alignment of memory buffers and of file offsets/lengths (1 when buffered).
    [[nodiscard]] uint32_t dio_mem_align() const { return limits_.dio_mem_align; }
    [[nodiscard]] uint32_t dio_offset_align() const { return limits_.dio_offset_align; }
    [[nodiscard]] DiscardMethod discard_method() const { return limits_.discard; }
    [[nodiscard]] ZeroMethod zero_method() const { return limits_.zero; }

    // Backing: fdatasync, fallocate or BLKDISCARD.
    [[nodiscard]] int flush_sync() const noexcept override;
    [[nodiscard]] int discard_sync(uint64_t offset, uint64_t length) const noexcept override;
    [[nodiscard]] int write_zeroes_sync(uint64_t offset, uint64_t length) const noexcept override;
    // A UringBlockEngine on `ring`.
    [[nodiscard]] std::unique_ptr<BlockEngine> make_engine(IoRing& ring) const override;

    // Holes are about to be punched (discard, zeroing on tmpfs): see MemoryImage::note_holes.
    void note_holes() const noexcept;

  private:
    UniqueFd fd_;
    Limits limits_;
    std::shared_ptr<const MemoryImage> image_;
};

}  // namespace nvmevm
