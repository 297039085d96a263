#include "nvme/backing.h"

#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <string>
#include <system_error>

#include "foundation/log.h"
#include "nvme/commands.h"
#include "nvme/device_path.h"
#include "nvme/engine.h"

namespace nvmevm {
namespace {

[[noreturn]] void fail(int error, const std::string& what) {
    throw std::system_error(error, std::system_category(), what);
}

}  // namespace

std::shared_ptr<NvmeBacking> NvmeBacking::open(const BackingOptions& options) {
    const std::optional<std::string> generic = nvme_generic_path(options.path);
    if (!generic)
        fail(EINVAL, options.path +
                         ": not an NVMe namespace (engine \"nvme\" takes /dev/ngXnY or "
                         "/dev/nvmeXnY)");
    // Passthrough writes need the device open for writing even though the kernel checks
    // permissions per command; a read-only drive opens it read-only and never writes.
    UniqueFd fd(::open(generic->c_str(), (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!fd) fail(errno, "open " + *generic + " (the NVMe generic device of " + options.path + ")");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail(errno, "fstat " + *generic);
    if (!S_ISCHR(st.st_mode)) fail(EINVAL, *generic + " is not a character device");

    NvmeNamespaceInfo info = identify_namespace(fd.get(), *generic);
    BackingTraits traits;
    traits.path = *generic;
    traits.capacity = info.format.lba_count << info.format.lba_shift;
    traits.logical_block_size = info.format.lba_size();
    traits.read_only = options.read_only;
    traits.discard = info.deallocate && !options.read_only;
    traits.write_zeroes = info.write_zeroes && !options.read_only;
    traits.needs_flush = info.volatile_write_cache;
    traits.serial = !options.serial.empty() ? options.serial.substr(0, 20)
                    : !info.serial.empty()  ? info.serial.substr(0, 20)
                                            : serial_from_path(options.path);
    // log-rule: setup (namespace discovery)
    logf(LogLevel::info,
         "%s: NVMe namespace %u of \"%s\" (SN %s): %llu LBAs of %u bytes, max transfer %u "
         "bytes (%u pages), VWC %s, Write Zeroes %s, Deallocate %s",
         generic->c_str(), info.format.nsid, info.model.c_str(), info.serial.c_str(),
         static_cast<unsigned long long>(info.format.lba_count), info.format.lba_size(),
         info.max_transfer_bytes, info.max_pages, info.volatile_write_cache ? "yes" : "no",
         info.write_zeroes ? "yes" : "no", info.deallocate ? "yes" : "no");
    return std::make_shared<NvmeBacking>(std::move(traits), std::move(fd), std::move(info));
}

NvmeBacking::NvmeBacking(BackingTraits traits, UniqueFd fd, NvmeNamespaceInfo info)
    : Backing(std::move(traits)), fd_(std::move(fd)), ns_(std::move(info)) {}

int NvmeBacking::flush_sync() const noexcept {
    if (!needs_flush()) return 0;
    const nvme::Command flush = nvme::build_flush(ns_.info.format);
    nvme_passthru_cmd cmd{};
    nvme::copy_to_kernel(flush, cmd);
    // 0, an NVMe status (> 0: the command failed on the device), or -1 with errno.
    const int rc = ::ioctl(fd_.get(), NVME_IOCTL_IO_CMD, &cmd);
    return rc == 0 ? 0 : rc > 0 ? -EIO : -errno;
}

int NvmeBacking::discard_sync(uint64_t, uint64_t) const noexcept {
    return -EOPNOTSUPP;
}

int NvmeBacking::write_zeroes_sync(uint64_t, uint64_t) const noexcept {
    return -EOPNOTSUPP;
}

std::unique_ptr<BlockEngine> NvmeBacking::make_engine(IoRing& ring) const {
    return std::make_unique<NvmeBlockEngine>(
        std::static_pointer_cast<const NvmeBacking>(shared_from_this()), ring);
}

}  // namespace nvmevm
