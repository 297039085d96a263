// The NVMe passthrough engine: every block request becomes one or more NVMe I/O commands,
// issued with IORING_OP_URING_CMD (NVME_URING_CMD_IO / _IO_VEC) on the namespace's generic
// character device, on the vCPU thread's own ring. No block layer above the NVMe driver, no
// page cache, and no kernel worker thread: the NVMe driver queues the command without blocking.
//
//   read / write   Read (0x02) / Write (0x01); a single segment inside a registered guest-RAM
//                  buffer goes with IORING_URING_CMD_FIXED (no page pinning per request), others
//                  vectored. A request larger than the namespace's transfer limit is cut into
//                  commands issued one after the other.
//   flush          Flush (0x00)
//   discard        Dataset Management (0x09), Attribute Deallocate, one range
//   write_zeroes   Write Zeroes (0x08), in pieces of at most 65536 LBAs
//
// The ring must have 128-byte SQEs and 32-byte CQEs (IORING_SETUP_SQE128 | CQE32): the NVMe
// command lives in the SQE's second half.
#pragma once

#include <memory>
#include <vector>

#include "foundation/log.h"
#include "nvme/backing.h"
#include "nvme/commands.h"
#include "nvme/namespace.h"
#include "storage/engine.h"

namespace nvmevm {

class NvmeBlockEngine final : public BlockEngine {
  public:
    // Made by NvmeBacking::make_engine; shares ownership of `backing`. Registers its fd in the
    // ring's file table. Throws std::system_error (EINVAL: a ring without SQE128 | CQE32).
    NvmeBlockEngine(std::shared_ptr<const NvmeBacking> backing, IoRing& ring);
    ~NvmeBlockEngine() override;
    NvmeBlockEngine(const NvmeBlockEngine&) = delete;
    NvmeBlockEngine& operator=(const NvmeBlockEngine&) = delete;

    void submit(const BlockIo& io, IoCompletion* done) noexcept override;

  private:
    // One block request while its commands run; reused through a free list.
    struct Request final : IoCompletion {
        NvmeBlockEngine* engine = nullptr;
        IoCompletion* done = nullptr;
        BlockIo io;
        uint64_t total = 0;     // bytes of data (read / write) or of the range
        uint64_t position = 0;  // bytes of the request done so far
        nvme::Command cmd;      // the command in flight (kept to re-issue it without FIXED)
        nvme::ChunkCursor cursor;
        uint32_t chunk_bytes = 0;  // of the command in flight
        bool fixed = false;        // the command in flight used a fixed buffer
        iovec chunk[nvme::kMaxChunkSegments];
        size_t chunk_count = 0;
        alignas(64) nvme::DsmRange range{};
        void complete(int32_t result) noexcept override { engine->on_complete(*this, result); }
    };

    [[nodiscard]] Request* take_request() noexcept;
    void finish(Request& request, int32_t result) noexcept;
    void on_complete(Request& request, int32_t result) noexcept;
    // Issues the next command of `request`: 1 when one was queued, 0 when none is left, -errno
    // when it cannot be issued.
    [[nodiscard]] int32_t issue_next(Request& request) noexcept;
    [[nodiscard]] int32_t issue_data(Request& request) noexcept;
    [[nodiscard]] int32_t issue_range(Request& request) noexcept;
    [[nodiscard]] int32_t queue_command(Request& request, const nvme::Command& cmd, bool vectored,
                                        int fixed_buffer) noexcept;

    std::shared_ptr<const NvmeBacking> backing_;  // keeps ns_ alive
    const NvmeNamespace& ns_;
    IoRing& ring_;
    unsigned slot_;
    nvme::ChunkLimits limits_;
    bool fixed_ok_ = true;  // cleared when the kernel refuses IORING_URING_CMD_FIXED
    std::vector<std::unique_ptr<Request>> requests_;
    std::vector<Request*> free_;
    RateLimiter log_limit_;
};

}  // namespace nvmevm
