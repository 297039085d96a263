#include "storage/backing.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "foundation/log.h"
#include "storage/memory_image.h"
#include "storage/uring_discard_cmd.h"

namespace nvmevm {
namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::system_category(), what);
}

// Does this kernel take BLOCK_URING_CMD_DISCARD on this block device? Asked with a zero-length
// range, which a kernel that knows the command rejects as invalid (-EINVAL) after checking the
// device, while one without it answers -EOPNOTSUPP. A throwaway ring: this runs once per drive.
bool block_uring_discard_works(int fd) {
    io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) < 0) return false;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) {
        io_uring_queue_exit(&ring);
        return false;
    }
    prep_block_discard(sqe, fd, 0, 0);
    io_uring_cqe* cqe = nullptr;
    int res = -EOPNOTSUPP;
    if (io_uring_submit_and_wait(&ring, 1) >= 1 && io_uring_peek_cqe(&ring, &cqe) == 0)
        res = cqe->res;
    io_uring_queue_exit(&ring);
    return res == -EINVAL || res == 0;
}

}  // namespace

std::string serial_from_path(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (name.size() > 20) name = name.substr(name.size() - 20);
    for (char& c : name)
        if (c < 0x20 || c > 0x7e) c = '_';
    return name;
}

BlockBackend BlockBackend::null(uint64_t capacity, std::string serial) {
    BlockBackend backend;
    backend.path_ = "null";
    backend.capacity_ = capacity;
    backend.discard_ = DiscardMethod::punch_hole;  // nothing to do, so everything is supported
    backend.zero_ = ZeroMethod::zero_range;
    if (serial.size() > 20) serial.resize(20);
    backend.serial_ = std::move(serial);
    return backend;
}

BlockBackend BlockBackend::passthrough(UniqueFd fd, std::string path,
                                       const PassthroughTraits& traits,
                                       std::shared_ptr<const NvmeNamespace> nvme) {
    BlockBackend backend;
    backend.fd_ = std::move(fd);
    backend.path_ = std::move(path);
    backend.capacity_ = traits.capacity;
    backend.logical_block_size_ = traits.logical_block_size;
    backend.read_only_ = traits.read_only;
    backend.passthrough_discard_ = traits.discard;
    backend.passthrough_zeroes_ = traits.write_zeroes;
    backend.volatile_write_cache_ = traits.volatile_write_cache;
    backend.nvme_nsid_ = traits.nvme_nsid;
    backend.serial_ = traits.serial.substr(0, 20);
    backend.nvme_ = std::move(nvme);
    return backend;
}

BlockBackend BlockBackend::open(const BlockBackendOptions& options) {
    BlockBackend backend;
    backend.path_ = options.path;
    backend.read_only_ = options.read_only;
    const int access = options.read_only ? O_RDONLY : O_RDWR;
    const int base_flags = access | O_CLOEXEC;
    if (options.direct) {
        backend.fd_.reset(::open(options.path.c_str(), base_flags | O_DIRECT));
        if (backend.fd_.valid()) {
            backend.direct_ = true;
        } else if (errno == EINVAL) {
            // The filesystem has no direct I/O (tmpfs before 6.6, some FUSE mounts).
            logf(LogLevel::info, "%s: no O_DIRECT on this filesystem, using the page cache",
                 options.path.c_str());
        } else {
            throw_errno(errno, "open " + options.path);
        }
    }
    if (!backend.fd_.valid()) {
        backend.fd_.reset(::open(options.path.c_str(), base_flags));
        if (!backend.fd_.valid()) throw_errno(errno, "open " + options.path);
    }
    struct stat st {};
    if (::fstat(backend.fd_.get(), &st) != 0) throw_errno(errno, "fstat " + options.path);
    if (S_ISBLK(st.st_mode)) {
        backend.block_device_ = true;
        backend.learn_block_device_limits();
    } else if (S_ISREG(st.st_mode)) {
        backend.capacity_ = static_cast<uint64_t>(st.st_size);
        struct statfs fs {};
        backend.memory_backed_ = ::fstatfs(backend.fd_.get(), &fs) == 0 &&
                                 (fs.f_type == static_cast<decltype(fs.f_type)>(TMPFS_MAGIC) ||
                                  fs.f_type == static_cast<decltype(fs.f_type)>(RAMFS_MAGIC));
        backend.learn_file_limits(options.path);
        if (backend.memory_backed_) {
            // Fewer allocated blocks than bytes: the file has holes (st_blocks counts 512-byte
            // units of the pages tmpfs holds for it).
            const bool sparse = static_cast<uint64_t>(st.st_blocks) * 512 < backend.capacity_;
            backend.memory_image_ =
                MemoryImage::map(backend.fd_.get(), backend.capacity_, !backend.read_only_, sparse);
        }
    } else {
        throw_errno(EINVAL, options.path + ": neither a regular file nor a block device");
    }
    backend.serial_ =
        options.serial.empty() ? serial_from_path(options.path) : options.serial.substr(0, 20);
    return backend;
}

void BlockBackend::learn_block_device_limits() {
    const int fd = fd_.get();
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) throw_errno(errno, "BLKGETSIZE64 " + path_);
    capacity_ = bytes;
    int lbs = 512;
    if (::ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
        logical_block_size_ = static_cast<uint32_t>(lbs);
    if (direct_) dio_mem_align_ = dio_offset_align_ = logical_block_size_;
    int ro = 0;
    if (!read_only_ && ::ioctl(fd, BLKROGET, &ro) == 0 && ro != 0)
        throw_errno(EROFS, path_ + " is a read-only block device; open it read-only");
    if (read_only_) return;
    // fallocate(ZERO_RANGE) on a block device is blkdev_issue_zeroout: always available (the
    // kernel writes zeroes itself when the device has no Write Zeroes command).
    zero_ = ZeroMethod::zero_range;
    // Discard: only where the device has it (BLKDISCARD fails with EOPNOTSUPP otherwise).
    // An empty discard asks the question without touching data.
    uint64_t range[2] = {0, 0};
    if (::ioctl(fd, BLKDISCARD, range) != 0 && errno == EOPNOTSUPP) return;
    discard_ = block_uring_discard_works(fd) ? DiscardMethod::uring_cmd : DiscardMethod::ioctl;
}

void BlockBackend::learn_file_limits(const std::string& path) {
    const int fd = fd_.get();
    logical_block_size_ = 512;
    if (direct_) {
        // STATX_DIOALIGN (Linux 6.1): what O_DIRECT really needs on this file. Older kernels
        // leave the mask bit clear; 512 is then the safe assumption for offsets, and the
        // device's blk_size keeps the guest aligned.
        struct statx stx {};
        if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
            (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0) {
            dio_mem_align_ = stx.stx_dio_mem_align;
            dio_offset_align_ = stx.stx_dio_offset_align;
        } else {
            dio_mem_align_ = dio_offset_align_ = 512;
        }
        // The guest must never send a request O_DIRECT would refuse: advertise the offset
        // alignment as the logical block size when it is larger (4 KiB-sector filesystems).
        if (dio_offset_align_ > logical_block_size_) logical_block_size_ = dio_offset_align_;
    }
    if (read_only_) return;
    // Ask the filesystem about both fallocate modes on the range just past the end of the file,
    // with KEEP_SIZE, so that the file's size and data are untouched: zero the range, then punch
    // it out again (freeing whatever the zeroing allocated).
    const auto probe_at = static_cast<off_t>((capacity_ + 4095) & ~uint64_t{4095});
    const bool can_zero =
        ::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, probe_at, 4096) == 0;
    const bool can_punch =
        ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, probe_at, 4096) == 0;
    if (can_punch) discard_ = DiscardMethod::punch_hole;
    // A punched range reads back as zeroes, so it serves write zeroes where ZERO_RANGE is
    // missing (tmpfs).
    if (can_zero)
        zero_ = ZeroMethod::zero_range;
    else if (can_punch)
        zero_ = ZeroMethod::punch_hole;
    if (!can_zero && !can_punch)
        logf(LogLevel::info, "%s: no fallocate support, discard and write zeroes off",
             path.c_str());
}

int BlockBackend::flush_sync() const noexcept {
    if (is_null() || !volatile_write_cache_) return 0;
    if (nvme_) {
        // A generic NVMe device has no fdatasync: send the Flush command itself (opcode 0x00).
        nvme_passthru_cmd cmd{};
        cmd.opcode = 0x00;
        cmd.nsid = nvme_nsid_;
        const int rc = ::ioctl(fd_.get(), NVME_IOCTL_IO_CMD, &cmd);
        return rc == 0 ? 0 : rc > 0 ? -EIO : -errno;
    }
    return ::fdatasync(fd_.get()) == 0 ? 0 : -errno;
}

int BlockBackend::discard_sync(uint64_t offset, uint64_t length) const noexcept {
    if (is_null()) return 0;
    switch (discard_) {
        case DiscardMethod::none:
            return -EOPNOTSUPP;
        case DiscardMethod::punch_hole:
            note_holes();
            return ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                               static_cast<off_t>(offset), static_cast<off_t>(length)) == 0
                       ? 0
                       : -errno;
        case DiscardMethod::uring_cmd:
        case DiscardMethod::ioctl: {
            uint64_t range[2] = {offset, length};
            return ::ioctl(fd_.get(), BLKDISCARD, range) == 0 ? 0 : -errno;
        }
    }
    return -EOPNOTSUPP;
}

int BlockBackend::write_zeroes_sync(uint64_t offset, uint64_t length) const noexcept {
    if (is_null()) return 0;
    int mode = 0;
    switch (zero_) {
        case ZeroMethod::none:
            return -EOPNOTSUPP;
        case ZeroMethod::zero_range:
            mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
            break;
        case ZeroMethod::punch_hole:
            mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
            note_holes();
            break;
    }
    return ::fallocate(fd_.get(), mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0
               ? 0
               : -errno;
}

void BlockBackend::note_holes() const noexcept {
    if (memory_image_) memory_image_->note_holes();
}

}  // namespace nvmevm
