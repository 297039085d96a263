#include "storage/null_engine.h"

#include <cerrno>
#include <cstring>

namespace nvmevm {

NullBlockEngine::NullBlockEngine(IoRing& ring, bool read_only)
    : ring_(ring), read_only_(read_only) {}

void NullBlockEngine::submit(const BlockIo& io, IoCompletion* done) noexcept {
    uint64_t bytes = 0;
    switch (io.op) {
        case BlockOp::read:
            for (const iovec& segment : io.segments) {
                std::memset(segment.iov_base, 0, segment.iov_len);
                bytes += segment.iov_len;
            }
            break;
        case BlockOp::write:
            if (read_only_) return ring_.post(done, -EROFS);
            for (const iovec& segment : io.segments) bytes += segment.iov_len;
            break;
        case BlockOp::discard:
        case BlockOp::write_zeroes:
            if (read_only_) return ring_.post(done, -EROFS);
            break;
        case BlockOp::flush:
            break;
    }
    // Requests are bounded by the device (seg_max * size_max) far below 2 GiB.
    ring_.post(done, static_cast<int32_t>(bytes));
}

}  // namespace nvmevm
