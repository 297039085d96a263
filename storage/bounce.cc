#include "storage/bounce.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "storage/file_backing.h"

namespace nvmevm {
namespace {

bool aligned(uint64_t value, uint32_t alignment) {
    return alignment <= 1 || value % alignment == 0;
}

struct SlotReturn {
    BouncePool* pool;
    void operator()(uint8_t* slot) const { pool->give_back(slot); }
};

}  // namespace

bool needs_bounce_buffer(const FileBacking& backing, const BlockIo& io) noexcept {
    if (!backing.direct() || (io.op != BlockOp::read && io.op != BlockOp::write)) return false;
    const uint32_t block = backing.dio_offset_align();
    uint64_t total = 0;
    bool misplaced = false;
    for (const iovec& segment : io.segments) {
        total += segment.iov_len;
        misplaced =
            misplaced ||
            !aligned(reinterpret_cast<uintptr_t>(segment.iov_base), backing.dio_mem_align()) ||
            !aligned(segment.iov_len, block);
    }
    return misplaced && aligned(io.offset, block) && aligned(total, block);
}

int32_t transfer_synchronously(int fd, bool write, std::span<const iovec> segments,
                               uint64_t offset) noexcept {
    const int count = static_cast<int>(segments.size());
    const auto at = static_cast<off_t>(offset);
    ssize_t n = 0;
    do {
        n = write ? ::pwritev(fd, segments.data(), count, at)
                  : ::preadv(fd, segments.data(), count, at);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : static_cast<int32_t>(n);
}

void copy_segments(std::span<const iovec> segments, uint64_t skip, uint8_t* buffer, uint64_t n,
                   bool to_buffer) noexcept {
    for (const iovec& segment : segments) {
        if (n == 0) return;
        if (skip >= segment.iov_len) {
            skip -= segment.iov_len;
            continue;
        }
        const size_t part = static_cast<size_t>(std::min<uint64_t>(segment.iov_len - skip, n));
        uint8_t* guest = static_cast<uint8_t*>(segment.iov_base) + skip;
        if (to_buffer)
            std::memcpy(buffer, guest, part);
        else
            std::memcpy(guest, buffer, part);
        buffer += part;
        n -= part;
        skip = 0;
    }
}

int32_t transfer_through_bounce_buffer(const FileBacking& backing, const BlockIo& io,
                                       BouncePool& pool) noexcept {
    uint64_t total = 0;
    for (const iovec& segment : io.segments) total += segment.iov_len;
    uint8_t* slot = pool.take();
    if (slot == nullptr) return -ENOMEM;
    const std::unique_ptr<uint8_t, SlotReturn> held(slot, SlotReturn{&pool});
    const bool write = io.op == BlockOp::write;
    // A slot is a multiple of 4 KiB, so every chunk but the last is whole O_DIRECT blocks, and
    // the last is too (needs_bounce_buffer: the total is).
    uint64_t done = 0;
    while (done < total) {
        const uint64_t n = std::min<uint64_t>(pool.slot_bytes(), total - done);
        if (write) copy_segments(io.segments, done, slot, n, true);
        const iovec chunk{slot, static_cast<size_t>(n)};
        const int32_t moved =
            transfer_synchronously(backing.fd(), write, {&chunk, 1}, io.offset + done);
        if (moved < 0) return moved;
        if (!write) copy_segments(io.segments, done, slot, static_cast<uint64_t>(moved), false);
        done += static_cast<uint64_t>(moved);
        if (static_cast<uint64_t>(moved) < n) break;  // short: the device answers it
    }
    return static_cast<int32_t>(done);
}

}  // namespace nvmevm
