// The storage behind a virtio-blk drive, as the device and the machine see it: what the device
// must advertise (capacity, block size, read-only, discard, write zeroes, whether FLUSH means
// anything, serial), the synchronous forms of the rare operations (setup, the flush at stop,
// tests), and the engine that does the hot path on a vCPU thread's ring.
//
// One class per kind of backing, each able to make its own engine (as Cloud Hypervisor's block
// crate does with AsyncDiskFile): NullBacking (storage/null_backing.h), FileBacking for regular
// files and block devices, memory-backed files included (storage/file_backing.h), and
// NvmeBacking for NVMe passthrough (nvme/backing.h). Which kind a drive gets is the machine's
// choice (vmm/drive_engine.h); the virtio device knows only this interface.
//
// Ownership: a backing is made by its kind's factory as a shared_ptr, and whoever uses it holds
// one (the device, every engine made from it), so that none outlives it whatever the order of
// their destruction. What the device advertises is plain data (BackingTraits) held here, so that
// reading it is no virtual call; the engines reach their own kind directly, without one either.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "foundation/io_ring.h"

namespace nvmevm {

class BlockEngine;

// How a drive's path is opened (file, block device, NVMe namespace).
struct BackingOptions {
    std::string path;
    bool read_only = false;
    // O_DIRECT (no host page cache: the guest has its own) where the backing accepts it; a
    // backing that refuses it (EINVAL at open) is used buffered, with a log line.
    bool direct = true;
    // The GET_ID string; empty: derived from the path (see serial_from_path) or the device.
    std::string serial;
};

// What the device advertises for a backing. The kinds learn it when they open.
struct BackingTraits {
    std::string path;       // for log lines ("null" for a null backing without one)
    uint64_t capacity = 0;  // bytes
    // The smallest unit the backing reads and writes (512 or 4096); the device advertises it
    // as blk_size so that the guest's requests are aligned for O_DIRECT.
    uint32_t logical_block_size = 512;
    bool read_only = false;
    bool discard = false;
    bool write_zeroes = false;
    // False when writes are stable as soon as they complete (an NVMe namespace without a
    // volatile write cache): the device then need not offer VIRTIO_BLK_F_FLUSH.
    bool needs_flush = true;
    std::string serial;  // at most 20 bytes (VIRTIO_BLK_ID_BYTES), ASCII
};

class Backing : public std::enable_shared_from_this<Backing> {
  public:
    virtual ~Backing() = default;
    Backing(const Backing&) = delete;
    Backing& operator=(const Backing&) = delete;

    [[nodiscard]] const BackingTraits& traits() const { return traits_; }
    [[nodiscard]] const std::string& path() const { return traits_.path; }
    [[nodiscard]] uint64_t capacity() const { return traits_.capacity; }
    [[nodiscard]] uint32_t logical_block_size() const { return traits_.logical_block_size; }
    [[nodiscard]] bool read_only() const { return traits_.read_only; }
    [[nodiscard]] bool supports_discard() const { return traits_.discard; }
    [[nodiscard]] bool supports_write_zeroes() const { return traits_.write_zeroes; }
    [[nodiscard]] bool needs_flush() const { return traits_.needs_flush; }
    [[nodiscard]] const std::string& serial() const { return traits_.serial; }

    // Synchronous forms (setup, the flush at stop, tests). 0 or -errno.
    [[nodiscard]] virtual int flush_sync() const noexcept = 0;
    [[nodiscard]] virtual int discard_sync(uint64_t offset, uint64_t length) const noexcept = 0;
    [[nodiscard]] virtual int write_zeroes_sync(uint64_t offset,
                                                uint64_t length) const noexcept = 0;

    // The engine that serves this backing on `ring` (one per drive and vCPU ring); it shares
    // ownership of the backing. The ring must outlive it, and it must be destroyed only when
    // none of its requests is in flight. The backing must be owned by a shared_ptr (the
    // factories make it so). Throws std::system_error (a ring the engine cannot use).
    [[nodiscard]] virtual std::unique_ptr<BlockEngine> make_engine(IoRing& ring) const = 0;

  protected:
    explicit Backing(BackingTraits traits) : traits_(std::move(traits)) {}

  private:
    BackingTraits traits_;
};

// A serial derived from a path when none is configured: the last 20 bytes of the path's file
// name, non-printable bytes replaced by '_' (the guest shows it in /sys/block/vdX/serial).
[[nodiscard]] std::string serial_from_path(const std::string& path);

}  // namespace nvmevm
