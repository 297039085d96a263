#include "storage/memory_image.h"

#include <sys/mman.h>

#include <limits>

#include "foundation/guarded_copy.h"

namespace nvmevm {

std::unique_ptr<MemoryImage> MemoryImage::map(int fd, uint64_t size, bool writable, bool sparse) {
    if (size == 0 || size > std::numeric_limits<size_t>::max()) return nullptr;
    const auto bytes = static_cast<size_t>(size);
    void* addr =
        ::mmap(nullptr, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) return nullptr;
    // A core dump of nvmevm should not carry the guest's whole disk.
    ::madvise(addr, bytes, MADV_DONTDUMP);
    install_guarded_copy_handler();
    return std::unique_ptr<MemoryImage>(new MemoryImage(Mapping(addr, bytes), writable, sparse));
}

std::optional<int32_t> MemoryImage::copy(const BlockIo& io) const noexcept {
    const bool write = io.op == BlockOp::write;
    if (write ? !writable_ : may_have_holes()) return std::nullopt;
    const size_t size = mapping_.size();
    uint64_t end = io.offset;
    for (const iovec& segment : io.segments) {
        if (end > size || segment.iov_len > size - end) return std::nullopt;
        end += segment.iov_len;
    }
    if (end - io.offset > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
        return std::nullopt;
    auto* file = static_cast<uint8_t*>(mapping_.get()) + io.offset;
    for (const iovec& segment : io.segments) {
        const bool copied =
            write ? guarded_copy_to_file_mapping(file, segment.iov_base, segment.iov_len)
                  : guarded_copy(segment.iov_base, file, segment.iov_len);
        if (!copied) return std::nullopt;
        file += segment.iov_len;
    }
    return static_cast<int32_t>(end - io.offset);
}

}  // namespace nvmevm
