// The storage behind a virtio-blk drive: a regular file or a block device (or nothing, for the
// null engine), opened once and shared by every vCPU thread's engine. It answers what the
// device must advertise (capacity, block size, read-only, discard, write zeroes, serial) and
// offers the synchronous forms of the rare operations. The hot path lives in the engines.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "foundation/unique_fd.h"

namespace nvmevm {

struct BlockBackendOptions {
    std::string path;
    bool read_only = false;
    // O_DIRECT (no host page cache: the guest has its own) where the backing accepts it; a
    // backing that refuses it (EINVAL at open) is used buffered, with a log line.
    bool direct = true;
    // The GET_ID string; empty: derived from the path (see serial_from_path).
    std::string serial;
};

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

struct NvmeNamespace;  // nvme/namespace.h: what the NVMe passthrough engine needs
class MemoryImage;     // virtio/blk_memory_image.h: a memory-backed file, mapped

// What a passthrough backing (the NVMe engine's) tells the device; it learned it itself.
struct PassthroughTraits {
    uint64_t capacity = 0;  // bytes
    uint32_t logical_block_size = 512;
    bool read_only = false;
    bool discard = false;
    bool write_zeroes = false;
    bool volatile_write_cache = true;
    uint32_t nvme_nsid = 0;  // flush_sync issues an NVMe Flush to this namespace (not fdatasync)
    std::string serial;
};

class BlockBackend {
  public:
    // Opens the backing and learns what it can do. Throws std::system_error.
    static BlockBackend open(const BlockBackendOptions& options);
    // A backing with no storage for the null engine: `capacity` bytes that read as zeroes.
    static BlockBackend null(uint64_t capacity, std::string serial = "nvmevm-null");
    // A backing whose engine issues its own commands (NVMe passthrough on `fd`): discard and
    // write zeroes are the engine's, not fallocate's; `nvme` is kept for that engine.
    static BlockBackend passthrough(UniqueFd fd, std::string path, const PassthroughTraits& traits,
                                    std::shared_ptr<const NvmeNamespace> nvme);

    BlockBackend(BlockBackend&&) = default;
    BlockBackend& operator=(BlockBackend&&) = default;

    [[nodiscard]] int fd() const { return fd_.get(); }  // -1 for the null backing
    [[nodiscard]] bool is_null() const { return !fd_.valid(); }
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] uint64_t capacity() const { return capacity_; }  // bytes
    [[nodiscard]] bool read_only() const { return read_only_; }
    [[nodiscard]] bool is_block_device() const { return block_device_; }
    [[nodiscard]] bool direct() const { return direct_; }
    // The file lives in memory (tmpfs, ramfs): its reads and writes are memory copies that never
    // wait for a device. io_uring cannot do them without blocking and hands each one to a kernel
    // worker (iou-wrk), whose completion costs the vCPU a second exit; the uring engine does
    // them inline instead (virtio/blk_engine_uring.h).
    [[nodiscard]] bool memory_backed() const { return memory_backed_; }
    // A memory-backed file mapped into nvmevm, for copies without a system call; null for
    // every other backing, and where the file could not be mapped.
    [[nodiscard]] const MemoryImage* memory_image() const { return memory_image_.get(); }
    // The smallest unit the backing reads and writes (512 or 4096); the device advertises it
    // as blk_size so that the guest's requests are aligned for O_DIRECT.
    [[nodiscard]] uint32_t logical_block_size() const { return logical_block_size_; }
    // O_DIRECT alignment of memory buffers and of file offsets/lengths (1 when buffered).
    [[nodiscard]] uint32_t dio_mem_align() const { return dio_mem_align_; }
    [[nodiscard]] uint32_t dio_offset_align() const { return dio_offset_align_; }
    [[nodiscard]] DiscardMethod discard_method() const { return discard_; }
    [[nodiscard]] ZeroMethod zero_method() const { return zero_; }
    [[nodiscard]] bool supports_discard() const {
        return discard_ != DiscardMethod::none || passthrough_discard_;
    }
    [[nodiscard]] bool supports_write_zeroes() const {
        return zero_ != ZeroMethod::none || passthrough_zeroes_;
    }
    // False when writes are stable as soon as they complete (an NVMe namespace without a
    // volatile write cache): the device then need not offer VIRTIO_BLK_F_FLUSH.
    [[nodiscard]] bool needs_flush() const { return volatile_write_cache_; }
    // The NVMe namespace of a passthrough backing; null for every other backing.
    [[nodiscard]] const NvmeNamespace* nvme_namespace() const { return nvme_.get(); }
    // At most 20 bytes (VIRTIO_BLK_ID_BYTES), ASCII.
    [[nodiscard]] const std::string& serial() const { return serial_; }

    // Synchronous forms (setup, tests, and the engines' fallbacks). 0 or -errno.
    [[nodiscard]] int flush_sync() const noexcept;
    [[nodiscard]] int discard_sync(uint64_t offset, uint64_t length) const noexcept;
    [[nodiscard]] int write_zeroes_sync(uint64_t offset, uint64_t length) const noexcept;
    // Holes are about to be punched (discard, zeroing on tmpfs): see MemoryImage::note_holes.
    void note_holes() const noexcept;

  private:
    BlockBackend() = default;
    void learn_file_limits(const std::string& path);
    void learn_block_device_limits();

    UniqueFd fd_;
    std::string path_;
    uint64_t capacity_ = 0;
    bool read_only_ = false;
    bool block_device_ = false;
    bool memory_backed_ = false;
    std::shared_ptr<const MemoryImage> memory_image_;
    bool direct_ = false;
    uint32_t logical_block_size_ = 512;
    uint32_t dio_mem_align_ = 1;
    uint32_t dio_offset_align_ = 1;
    DiscardMethod discard_ = DiscardMethod::none;
    ZeroMethod zero_ = ZeroMethod::none;
    bool passthrough_discard_ = false;
    bool passthrough_zeroes_ = false;
    bool volatile_write_cache_ = true;
    uint32_t nvme_nsid_ = 0;
    std::shared_ptr<const NvmeNamespace> nvme_;
    std::string serial_;
};

// A serial derived from a path when none is configured: the last 20 bytes of the path's file
// name, non-printable bytes replaced by '_' (the guest shows it in /sys/block/vdX/serial).
[[nodiscard]] std::string serial_from_path(const std::string& path);

}  // namespace nvmevm
