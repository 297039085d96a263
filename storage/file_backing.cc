#include "storage/file_backing.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "foundation/log.h"
#include "storage/memory_image.h"
#include "storage/uring_discard_cmd.h"
#include "storage/uring_engine.h"

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

void learn_block_device_limits(int fd, BackingTraits& traits, FileBacking::Limits& limits) {
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) throw_errno(errno, "BLKGETSIZE64 " + traits.path);
    traits.capacity = bytes;
    int lbs = 512;
    if (::ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
        traits.logical_block_size = static_cast<uint32_t>(lbs);
    if (limits.direct) limits.dio_mem_align = limits.dio_offset_align = traits.logical_block_size;
    int ro = 0;
    if (!traits.read_only && ::ioctl(fd, BLKROGET, &ro) == 0 && ro != 0)
        throw_errno(EROFS, traits.path + " is a read-only block device; open it read-only");
    if (traits.read_only) return;
    // fallocate(ZERO_RANGE) on a block device is blkdev_issue_zeroout: always available (the
    // kernel writes zeroes itself when the device has no Write Zeroes command).
    limits.zero = ZeroMethod::zero_range;
    // Discard: only where the device has it (BLKDISCARD fails with EOPNOTSUPP otherwise).
    // An empty discard asks the question without touching data.
    uint64_t range[2] = {0, 0};
    if (::ioctl(fd, BLKDISCARD, range) != 0 && errno == EOPNOTSUPP) return;
    limits.discard =
        block_uring_discard_works(fd) ? DiscardMethod::uring_cmd : DiscardMethod::ioctl;
}

void learn_file_limits(int fd, BackingTraits& traits, FileBacking::Limits& limits) {
    traits.logical_block_size = 512;
    if (limits.direct) {
        // STATX_DIOALIGN (Linux 6.1): what O_DIRECT really needs on this file. Older kernels
        // leave the mask bit clear; 512 is then the safe assumption for offsets, and the
        // device's blk_size keeps the guest aligned.
        struct statx stx {};
        if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
            (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0) {
            limits.dio_mem_align = stx.stx_dio_mem_align;
            limits.dio_offset_align = stx.stx_dio_offset_align;
        } else {
            limits.dio_mem_align = limits.dio_offset_align = 512;
        }
        // The guest must never send a request O_DIRECT would refuse: advertise the offset
        // alignment as the logical block size when it is larger (4 KiB-sector filesystems).
        if (limits.dio_offset_align > traits.logical_block_size)
            traits.logical_block_size = limits.dio_offset_align;
    }
    if (traits.read_only) return;
    // Ask the filesystem about both fallocate modes on the range just past the end of the file,
    // with KEEP_SIZE, so that the file's size and data are untouched: zero the range, then punch
    // it out again (freeing whatever the zeroing allocated).
    const auto probe_at = static_cast<off_t>((traits.capacity + 4095) & ~uint64_t{4095});
    const bool can_zero =
        ::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, probe_at, 4096) == 0;
    const bool can_punch =
        ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, probe_at, 4096) == 0;
    if (can_punch) limits.discard = DiscardMethod::punch_hole;
    // A punched range reads back as zeroes, so it serves write zeroes where ZERO_RANGE is
    // missing (tmpfs).
    if (can_zero)
        limits.zero = ZeroMethod::zero_range;
    else if (can_punch)
        limits.zero = ZeroMethod::punch_hole;
    if (!can_zero && !can_punch)
        // log-rule: setup (open)
        logf(LogLevel::info, "%s: no fallocate support, discard and write zeroes off",
             traits.path.c_str());
}

}  // namespace

std::shared_ptr<FileBacking> FileBacking::open(const BackingOptions& options) {
    BackingTraits traits;
    traits.path = options.path;
    traits.read_only = options.read_only;
    Limits limits;
    UniqueFd fd;
    const int access = options.read_only ? O_RDONLY : O_RDWR;
    const int base_flags = access | O_CLOEXEC;
    if (options.direct) {
        fd.reset(::open(options.path.c_str(), base_flags | O_DIRECT));
        if (fd.valid()) {
            limits.direct = true;
        } else if (errno == EINVAL) {
            // The filesystem has no direct I/O (tmpfs before 6.6, some FUSE mounts).
            // log-rule: setup (open)
            logf(LogLevel::info, "%s: no O_DIRECT on this filesystem, using the page cache",
                 options.path.c_str());
        } else {
            throw_errno(errno, "open " + options.path);
        }
    }
    if (!fd.valid()) {
        fd.reset(::open(options.path.c_str(), base_flags));
        if (!fd.valid()) throw_errno(errno, "open " + options.path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno(errno, "fstat " + options.path);
    std::shared_ptr<const MemoryImage> image;
    if (S_ISBLK(st.st_mode)) {
        limits.block_device = true;
        learn_block_device_limits(fd.get(), traits, limits);
    } else if (S_ISREG(st.st_mode)) {
        traits.capacity = static_cast<uint64_t>(st.st_size);
        struct statfs fs {};
        limits.memory_backed = ::fstatfs(fd.get(), &fs) == 0 &&
                               (fs.f_type == static_cast<decltype(fs.f_type)>(TMPFS_MAGIC) ||
                                fs.f_type == static_cast<decltype(fs.f_type)>(RAMFS_MAGIC));
        learn_file_limits(fd.get(), traits, limits);
        if (limits.memory_backed) {
            // Fewer allocated blocks than bytes: the file has holes (st_blocks counts 512-byte
            // units of the pages tmpfs holds for it).
            const bool sparse = static_cast<uint64_t>(st.st_blocks) * 512 < traits.capacity;
            image = MemoryImage::map(fd.get(), traits.capacity, !traits.read_only, sparse);
        }
    } else {
        throw_errno(EINVAL, options.path + ": neither a regular file nor a block device");
    }
    traits.discard = limits.discard != DiscardMethod::none;
    traits.write_zeroes = limits.zero != ZeroMethod::none;
    traits.serial =
        options.serial.empty() ? serial_from_path(options.path) : options.serial.substr(0, 20);
    return std::make_shared<FileBacking>(std::move(traits), std::move(fd), limits,
                                         std::move(image));
}

FileBacking::FileBacking(BackingTraits traits, UniqueFd fd, const Limits& limits,
                         std::shared_ptr<const MemoryImage> image)
    : Backing(std::move(traits)), fd_(std::move(fd)), limits_(limits), image_(std::move(image)) {}

std::unique_ptr<BlockEngine> FileBacking::make_engine(IoRing& ring) const {
    return std::make_unique<UringBlockEngine>(
        std::static_pointer_cast<const FileBacking>(shared_from_this()), ring);
}

int FileBacking::flush_sync() const noexcept {
    return ::fdatasync(fd_.get()) == 0 ? 0 : -errno;
}

int FileBacking::discard_sync(uint64_t offset, uint64_t length) const noexcept {
    switch (limits_.discard) {
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

int FileBacking::write_zeroes_sync(uint64_t offset, uint64_t length) const noexcept {
    int mode = 0;
    switch (limits_.zero) {
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

void FileBacking::note_holes() const noexcept {
    if (image_) image_->note_holes();
}

}  // namespace nvmevm
