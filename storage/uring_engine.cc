#include "storage/uring_engine.h"

#include <linux/falloc.h>
#include <sys/uio.h>

#include <cerrno>
#include <optional>
#include <system_error>

#include "storage/bounce.h"
#include "storage/memory_image.h"
#include "storage/uring_discard_cmd.h"

namespace nvmevm {

UringBlockEngine::UringBlockEngine(std::shared_ptr<const FileBacking> backing, IoRing& ring)
    : backing_(std::move(backing)),
      ring_(ring),
      slot_(ring.add_file(backing_->fd())),
      bounce_(BouncePool::kDefaultSlotBytes, 1) {}

UringBlockEngine::~UringBlockEngine() {
    try {
        ring_.remove_file(slot_);
    } catch (const std::system_error&) {
        // The slot stays taken until the ring closes: nothing else to do in a destructor.
    }
}

io_uring_sqe* UringBlockEngine::sqe_for(IoCompletion* done) noexcept {
    io_uring_sqe* sqe = ring_.get_sqe();
    // Only a refused submission leaves no SQE; the request is answered with that error rather
    // than dropped.
    if (sqe == nullptr)
        ring_.post(done, ring_.last_submit_error() < 0 ? ring_.last_submit_error() : -EBUSY);
    return sqe;
}

void UringBlockEngine::submit(const BlockIo& io, IoCompletion* done) noexcept {
    if (io.op != BlockOp::read && io.op != BlockOp::flush && backing_->read_only())
        return ring_.post(done, -EROFS);
    if (backing_->memory_backed() && (io.op == BlockOp::read || io.op == BlockOp::write)) {
        if (const MemoryImage* image = backing_->memory_image())
            if (const std::optional<int32_t> copied = image->copy(io))
                return ring_.post(done, *copied);
        return ring_.post(done, copy_by_system_call(io));
    }
    if (needs_bounce_buffer(*backing_, io))
        return ring_.post(done, transfer_through_bounce_buffer(*backing_, io, bounce_));
    switch (io.op) {
        case BlockOp::read:
            return submit_rw(io, done, false);
        case BlockOp::write:
            return submit_rw(io, done, true);
        case BlockOp::flush:
            return submit_flush(done);
        case BlockOp::discard:
            return submit_discard(io, done);
        case BlockOp::write_zeroes:
            switch (backing_->zero_method()) {
                case ZeroMethod::zero_range:
                    return submit_fallocate(io, done, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
                case ZeroMethod::punch_hole:
                    return submit_fallocate(io, done, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
                case ZeroMethod::none:
                    break;
            }
            return ring_.post(done, -EOPNOTSUPP);
    }
    ring_.post(done, -EINVAL);
}

// A memory copy on this thread, as io_uring's worker would do it, without the worker's wake-up
// and the second vCPU exit its completion costs; for what the mapped image leaves (see
// MemoryImage::copy). The byte count or -errno, as a CQE's res.
int32_t UringBlockEngine::copy_by_system_call(const BlockIo& io) const noexcept {
    return transfer_synchronously(backing_->fd(), io.op == BlockOp::write, io.segments, io.offset);
}

void UringBlockEngine::submit_rw(const BlockIo& io, IoCompletion* done, bool write) noexcept {
    io_uring_sqe* sqe = sqe_for(done);
    if (sqe == nullptr) return;
    const int fd = static_cast<int>(slot_);
    const int buffer = io.segments.size() == 1 ? ring_.fixed_buffer_index(io.segments[0].iov_base,
                                                                          io.segments[0].iov_len)
                                               : -1;
    if (buffer >= 0) {
        void* base = io.segments[0].iov_base;
        const auto len = static_cast<unsigned>(io.segments[0].iov_len);
        if (write)
            io_uring_prep_write_fixed(sqe, fd, base, len, io.offset, buffer);
        else
            io_uring_prep_read_fixed(sqe, fd, base, len, io.offset, buffer);
    } else {
        const auto count = static_cast<unsigned>(io.segments.size());
        if (write)
            io_uring_prep_writev(sqe, fd, io.segments.data(), count, io.offset);
        else
            io_uring_prep_readv(sqe, fd, io.segments.data(), count, io.offset);
    }
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    io_uring_sqe_set_data64(sqe, RingData::of(done));
}

// virtio 1.2, 5.2.6.1: "A write becomes stable once it is completed and one or more of the
// following conditions is true: ... 3. a VIRTIO_BLK_T_FLUSH request is sent after the write is
// completed and is completed itself." A FLUSH therefore only answers for writes whose
// completion the guest had seen before it sent the FLUSH; those completed in the kernel before
// this SQE exists, and fdatasync covers every write that has completed when it runs. Writes
// still in flight next to the FLUSH are not covered (the guest did not wait for them), so io_uring
// may reorder freely and no IOSQE_IO_DRAIN/LINK barrier is needed.
void UringBlockEngine::submit_flush(IoCompletion* done) noexcept {
    io_uring_sqe* sqe = sqe_for(done);
    if (sqe == nullptr) return;
    io_uring_prep_fsync(sqe, static_cast<int>(slot_), IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    io_uring_sqe_set_data64(sqe, RingData::of(done));
}

void UringBlockEngine::submit_fallocate(const BlockIo& io, IoCompletion* done, int mode) noexcept {
    io_uring_sqe* sqe = sqe_for(done);
    if (sqe == nullptr) return;
    if ((mode & FALLOC_FL_PUNCH_HOLE) != 0) backing_->note_holes();
    io_uring_prep_fallocate(sqe, static_cast<int>(slot_), mode, static_cast<off_t>(io.offset),
                            static_cast<off_t>(io.length));
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    io_uring_sqe_set_data64(sqe, RingData::of(done));
}

void UringBlockEngine::submit_discard(const BlockIo& io, IoCompletion* done) noexcept {
    switch (backing_->discard_method()) {
        case DiscardMethod::punch_hole:
            return submit_fallocate(io, done, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
        case DiscardMethod::uring_cmd: {
            io_uring_sqe* sqe = sqe_for(done);
            if (sqe == nullptr) return;
            prep_block_discard(sqe, static_cast<int>(slot_), io.offset, io.length);
            io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
            io_uring_sqe_set_data64(sqe, RingData::of(done));
            return;
        }
        case DiscardMethod::ioctl:
            // No asynchronous discard on this kernel: BLKDISCARD here blocks this vCPU for the
            // duration of one (rare) request, instead of adding a thread to the process.
            return ring_.post(done, backing_->discard_sync(io.offset, io.length));
        case DiscardMethod::none:
            break;
    }
    ring_.post(done, -EOPNOTSUPP);
}

}  // namespace nvmevm
