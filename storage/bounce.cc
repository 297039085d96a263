#include "storage/bounce.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "storage/file_backing.h"

namespace nvmevm {
namespace {

bool aligned(uint64_t value, uint32_t alignment) {
    return alignment <= 1 || value % alignment == 0;
}

struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
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

int32_t transfer_through_bounce_buffer(const FileBacking& backing, const BlockIo& io) noexcept {
    size_t total = 0;
    for (const iovec& segment : io.segments) total += segment.iov_len;
    const size_t alignment = std::max<size_t>({backing.dio_mem_align(), sizeof(void*), 1});
    void* raw = nullptr;
    if (total == 0 || ::posix_memalign(&raw, alignment, total) != 0) return -ENOMEM;
    const std::unique_ptr<uint8_t, FreeDeleter> buffer(static_cast<uint8_t*>(raw));
    const iovec whole{buffer.get(), total};
    if (io.op == BlockOp::write) {
        uint8_t* to = buffer.get();
        for (const iovec& segment : io.segments) {
            std::memcpy(to, segment.iov_base, segment.iov_len);
            to += segment.iov_len;
        }
        return transfer_synchronously(backing.fd(), true, {&whole, 1}, io.offset);
    }
    const int32_t n = transfer_synchronously(backing.fd(), false, {&whole, 1}, io.offset);
    if (n < 0) return n;
    const uint8_t* from = buffer.get();
    size_t left = static_cast<size_t>(n);
    for (const iovec& segment : io.segments) {
        const size_t part = std::min(left, segment.iov_len);
        std::memcpy(segment.iov_base, from, part);
        from += part;
        left -= part;
    }
    return n;
}

}  // namespace nvmevm
