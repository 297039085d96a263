// An NVMe namespace as a drive's backing, for the passthrough engine (nvme/engine.h), which it
// makes: its generic character device (/dev/ngXnY) opened once, what Identify told us, and the
// per-drive command counters. A generic device has no fdatasync, so the synchronous flush is
// an NVMe Flush command (nvme/commands.h) sent with NVME_IOCTL_IO_CMD.
#pragma once

#include <memory>

#include "foundation/unique_fd.h"
#include "nvme/namespace.h"
#include "storage/backing.h"

namespace nvmevm {

class NvmeBacking final : public Backing {
  public:
    // Opens the namespace behind `options.path` (its generic device) and identifies it.
    // O_DIRECT does not apply (passthrough has no page cache). Throws std::system_error with a
    // message that says what is missing.
    [[nodiscard]] static std::shared_ptr<NvmeBacking> open(const BackingOptions& options);
    // Use open().
    NvmeBacking(BackingTraits traits, UniqueFd fd, NvmeNamespaceInfo info);

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] const NvmeNamespace& ns() const { return ns_; }

    // Backing. Flush: an NVMe Flush, or nothing without a volatile write cache. Discard and
    // write zeroes have no synchronous form here (-EOPNOTSUPP): the engine issues them as
    // commands, and nothing at setup or stop needs them.
    [[nodiscard]] int flush_sync() const noexcept override;
    [[nodiscard]] int discard_sync(uint64_t offset, uint64_t length) const noexcept override;
    [[nodiscard]] int write_zeroes_sync(uint64_t offset, uint64_t length) const noexcept override;
    // An NvmeBlockEngine on `ring`, which must have SQE128 | CQE32 (EINVAL otherwise).
    [[nodiscard]] std::unique_ptr<BlockEngine> make_engine(IoRing& ring) const override;

  private:
    UniqueFd fd_;
    NvmeNamespace ns_;
};

}  // namespace nvmevm
