// The one interface between the virtio-blk device and whatever executes its requests. The
// device turns a parsed request into a BlockIo, hands it to the engine of the vCPU thread that
// owns the queue, and learns the outcome through its IoCompletion, delivered by that thread's
// IoRing::reap(). The engine knows nothing of virtio; the device nothing of io_uring. Each kind
// of backing makes its own engine (Backing::make_engine, storage/backing.h).
//
// Contract, the same for every engine:
//   - submit() never completes inline: `done->complete(result)` runs exactly once, later, from
//     IoRing::reap() on the same thread (also for errors found at submission).
//   - result >= 0: success; for reads and writes the bytes transferred (a short transfer is the
//     device's to treat as an error: compare with the request's length); 0 for the others.
//     result < 0: -errno.
//   - segments (and the BlockIo itself) must stay valid until complete() runs: io_uring reads
//     the iovec array when the batch is submitted, which is after submit() returns.
//   - Queued SQEs go to the kernel with the ring's next submit(): the vCPU loop submits once
//     after draining all its queues.
//   - Bounds and read-only checks against the request belong to the device (it answers
//     VIRTIO_BLK_S_IOERR without an engine call); the engines check read-only again and
//     return -EROFS rather than trust that.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>

#include "foundation/io_ring.h"

namespace nvmevm {

enum class BlockOp : uint8_t { read, write, flush, discard, write_zeroes };

struct BlockIo {
    BlockOp op = BlockOp::read;
    uint64_t offset = 0;  // bytes from the start of the disk (read, write, discard, zeroes)
    uint64_t length = 0;  // bytes of the range (discard, write_zeroes); unused otherwise
    // read/write: the data buffers in guest RAM, already translated and checked by the request
    // parser, in order.
    std::span<const iovec> segments;
    // write_zeroes: the driver allows the range to be deallocated (virtio's
    // VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP); the NVMe engine then sets DEAC.
    bool may_unmap = false;

    [[nodiscard]] static BlockIo read(uint64_t offset, std::span<const iovec> segments) {
        return {BlockOp::read, offset, 0, segments};
    }
    [[nodiscard]] static BlockIo write(uint64_t offset, std::span<const iovec> segments) {
        return {BlockOp::write, offset, 0, segments};
    }
    [[nodiscard]] static BlockIo flush() { return {BlockOp::flush, 0, 0, {}}; }
    [[nodiscard]] static BlockIo discard(uint64_t offset, uint64_t length) {
        return {BlockOp::discard, offset, length, {}};
    }
    [[nodiscard]] static BlockIo write_zeroes(uint64_t offset, uint64_t length,
                                              bool may_unmap = false) {
        return {BlockOp::write_zeroes, offset, length, {}, may_unmap};
    }
};

class BlockEngine {
  public:
    virtual ~BlockEngine() = default;
    virtual void submit(const BlockIo& io, IoCompletion* done) noexcept = 0;
};

}  // namespace nvmevm
