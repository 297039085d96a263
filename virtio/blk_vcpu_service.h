// What one vCPU thread does for virtio-blk (../shared/DESIGN.md, "The I/O path"): it owns one
// io_uring that carries both the polls on the doorbell eventfds of the queues it owns and the
// block I/O of those queues, and one engine per drive on that ring. Every time KVM_RUN returns
// it reaps completions, drains its queues, submits everything in one io_uring_enter, and
// interrupts the guest once per batch.
#pragma once

#include <memory>
#include <vector>

#include "virtio/blk_device.h"
#include "virtio/blk_engine.h"
#include "vmm/io_ring.h"
#include "vmm/vcpu_work.h"

namespace nvmevm {

class BlkVcpuService final : public VcpuWork {
  public:
    // `memory` is registered with the ring as fixed buffers when the first request arrives
    // (registration pins guest RAM, so a VM that never does I/O does not pay for it).
    // `ring_flags`: IORING_SETUP_* flags for the ring (SQE128 | CQE32 when an NVMe passthrough
    // drive is served here).
    BlkVcpuService(const GuestMemory& memory, unsigned ring_entries, unsigned ring_flags = 0);

    // Setup, before the vCPU thread starts: this thread serves `queue` of `device`, with an
    // engine of `kind` (one per device on this ring). Throws std::system_error.
    void add_queue(VirtioBlk& device, uint16_t queue, BlockEngineKind kind);
    [[nodiscard]] bool empty() const { return queues_.empty(); }

    void start() override;
    void service() noexcept override;
    [[nodiscard]] bool busy() const noexcept override;
    [[nodiscard]] bool pending() const noexcept override {
        return ring_.completions_ready() || ring_.has_posted();
    }

  private:
    struct Owned {
        VirtioBlk* device;
        BlkQueue* queue;
        int eventfd;
    };
    void register_buffers_once() noexcept;

    const GuestMemory& memory_;
    IoRing ring_;
    std::vector<Owned> queues_;
    std::vector<std::pair<const VirtioBlk*, std::unique_ptr<BlockEngine>>> engines_;
    void arm_watchdog_if_busy() noexcept;

    bool watchdog_armed_ = false;
    bool buffers_registered_ = false;
    bool buffers_failed_ = false;
};

}  // namespace nvmevm
