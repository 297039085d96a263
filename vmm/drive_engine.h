// Which engine serves a drive, and the one place that makes it: the machine's choice from the
// drive's config (vmm/block_devices.cc), made here so that nothing below the machine knows the
// concrete engines (storage/ has the interface and the generic engines, nvme/ the passthrough
// engine, virtio/ only asks for a BlockEngineMaker).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "storage/engine.h"

namespace nvmevm {

class BlockBackend;

enum class BlockEngineKind : uint8_t {
    uring,  // io_uring on the backing file or block device (the default)
    null,   // no storage: completes at once, reads return zeroes (measures the VMM alone)
    nvme,   // NVMe passthrough (URING_CMD on /dev/ngXnY): nvme/engine.h
};

[[nodiscard]] std::string_view to_string(BlockEngineKind kind);
// "uring", "null", "nvme"; false when unknown.
[[nodiscard]] bool parse_block_engine_kind(std::string_view text, BlockEngineKind& out);

// One engine per (drive, vCPU ring). The backend and the ring must outlive it, and it must be
// destroyed only when none of its requests is in flight. Throws std::system_error (EINVAL: the
// kind does not fit the backing; the nvme kind needs open_nvme_backend's backing and a ring
// with SQE128 | CQE32).
[[nodiscard]] std::unique_ptr<BlockEngine> make_block_engine(BlockEngineKind kind,
                                                             const BlockBackend& backend,
                                                             IoRing& ring);

// make_block_engine(kind, backend, ring) for each ring a device asks for.
[[nodiscard]] BlockEngineMaker block_engine_maker(BlockEngineKind kind,
                                                  const BlockBackend& backend);

}  // namespace nvmevm
