// The io_uring engine: every request becomes one SQE on the vCPU thread's ring, on the backing
// registered as a fixed file (no fd lookup per request).
//   read/write    READ_FIXED/WRITE_FIXED when the data is one segment inside one registered
//                 guest-RAM buffer (no page pinning per request), READV/WRITEV otherwise
//   flush         FSYNC with IORING_FSYNC_DATASYNC (see submit_flush for why no barrier)
//   write_zeroes  FALLOCATE ZERO_RANGE|KEEP_SIZE (PUNCH_HOLE|KEEP_SIZE on tmpfs)
//   discard       files: FALLOCATE PUNCH_HOLE|KEEP_SIZE; block devices: URING_CMD
//                 BLOCK_URING_CMD_DISCARD (Linux >= 6.12), else a synchronous BLKDISCARD on this
//                 thread (a rare request; the guest waits on this one request either way)
//   memory-backed files (tmpfs, ramfs): reads and writes are done inline, with memcpy on the
//                 mapped file (storage/memory_image.h) or else preadv/pwritev, and completed
//                 through IoRing::post. io_uring cannot do them without blocking and hands each
//                 to an iou-wrk thread, whose completion ends KVM_RUN a second time; the copy
//                 itself takes microseconds. Measured on /dev/shm, 1 vCPU, irq: QD1 10k -> 30k
//                 IOPS (2.08 -> 1.02 exits per request), QD32 155k -> 440k with preadv.
//   buffers O_DIRECT refuses (misaligned guest memory, segments shorter than a block): done
//                 inline through an aligned bounce buffer, 128 KiB at a time (storage/bounce.h).
// Kernel workers: reads and writes on O_DIRECT fds of devices that complete without blocking
// stay inline (no iou-wrk). The kernel hands to its iou-wrk threads what would block: buffered
// I/O that misses the page cache, and always FSYNC and FALLOCATE (io_uring
// runs those only from a worker). Those threads are the kernel's and unavoidable there.
#pragma once

#include <memory>

#include "storage/bounce_pool.h"
#include "storage/engine.h"
#include "storage/file_backing.h"

namespace nvmevm {

class UringBlockEngine final : public BlockEngine {
  public:
    // Made by FileBacking::make_engine; shares ownership of `backing`. Registers its fd in the
    // ring's file table. Throws std::system_error.
    UringBlockEngine(std::shared_ptr<const FileBacking> backing, IoRing& ring);
    ~UringBlockEngine() override;
    UringBlockEngine(const UringBlockEngine&) = delete;
    UringBlockEngine& operator=(const UringBlockEngine&) = delete;

    void submit(const BlockIo& io, IoCompletion* done) noexcept override;

  private:
    void submit_rw(const BlockIo& io, IoCompletion* done, bool write) noexcept;
    [[nodiscard]] int32_t copy_by_system_call(const BlockIo& io) const noexcept;
    void submit_flush(IoCompletion* done) noexcept;
    void submit_fallocate(const BlockIo& io, IoCompletion* done, int mode) noexcept;
    void submit_discard(const BlockIo& io, IoCompletion* done) noexcept;
    [[nodiscard]] io_uring_sqe* sqe_for(IoCompletion* done) noexcept;

    // The one pointer the hot path follows, as a reference would be; it also keeps the
    // backing alive as long as this engine.
    std::shared_ptr<const FileBacking> backing_;
    IoRing& ring_;
    unsigned slot_;
    // For buffers O_DIRECT refuses: one slot, used and given back within one submit().
    BouncePool bounce_;
};

}  // namespace nvmevm
