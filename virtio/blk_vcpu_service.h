// What one vCPU thread does for virtio-blk (docs/architecture.md, "One request"): it owns one
// io_uring that carries both the polls on the doorbell eventfds of the queues it owns and the
// block I/O of those queues, and one engine per drive on that ring. Every time KVM_RUN returns
// it reaps completions, drains its queues, submits everything in one io_uring_enter, and
// interrupts the guest once per batch.
//
// Drives with `poll = true` (NVMe passthrough only) have their engines on a second ring, made
// with IORING_SETUP_IOPOLL: such a ring cannot carry the doorbell polls (or any other
// non-pollable request), and its completions reach the CQ only when this thread asks the kernel
// to poll for them. service() does that on every pass while polled commands are in flight, and a
// short timeout on the main ring (kPollTickNs) keeps KVM_RUN from lasting longer than that
// meanwhile (docs/nvme.md, "Polled completions").
#pragma once

#include <memory>
#include <vector>

#include "foundation/deadline_timer.h"
#include "foundation/io_ring.h"
#include "foundation/ring_timer.h"
#include "foundation/vcpu_work.h"
#include "storage/engine.h"
#include "virtio/blk_device.h"

namespace nvmevm {

class BlkVcpuService final : public VcpuWork {
  public:
    // `memory` is registered with the ring as fixed buffers when the first request arrives
    // (registration pins guest RAM, so a VM that never does I/O does not pay for it).
    // `ring_flags`: IORING_SETUP_* flags for the ring (SQE128 | CQE32 when an NVMe passthrough
    // drive is served here).
    // `poll_ring_flags`: when not 0, the flags of the second ring for polled drives
    // (IORING_SETUP_IOPOLL is added), made now.
    BlkVcpuService(const GuestMemory& memory, unsigned ring_entries, unsigned ring_flags = 0,
                   unsigned poll_ring_flags = 0);
    // Detaches its engines from the queues it served (the devices may live on).
    ~BlkVcpuService() override;
    BlkVcpuService(const BlkVcpuService&) = delete;
    BlkVcpuService& operator=(const BlkVcpuService&) = delete;

    // Setup, before the vCPU thread starts: this thread serves `queue` of `device`, with the
    // engine the device's backing makes for this thread's ring (one per device; on the polled
    // ring when `polled`). The service shares ownership of the device, whose queues it drains.
    // Throws std::system_error (EINVAL: `polled` without a polled ring; what make_engine throws).
    void add_queue(const std::shared_ptr<VirtioBlk>& device, uint16_t queue, bool polled = false);
    [[nodiscard]] bool empty() const { return queues_.empty(); }

    // Gives the rings their restrictions and enables them (made with IORING_SETUP_R_DISABLED:
    // foundation/io_ring.h): after this, each ring takes only the opcodes, flags and register
    // operations its role uses. At setup, after the last add_queue; start() does it otherwise.
    // Throws std::system_error (a kernel without ring restrictions: Linux < 5.10).
    void seal();
    // What a vCPU's main ring (or its polled ring) may do once sealed: exactly the operations
    // the engines, the doorbell polls and the timers use, on registered files. Guest RAM is
    // registered lazily (first request) and files go at teardown: those register operations stay.
    [[nodiscard]] static const RingRestrictions& restrictions(bool polled);

    void start() override;
    void service() noexcept override;
    [[nodiscard]] bool busy() const noexcept override;
    [[nodiscard]] bool completions_stuck(uint32_t& mark) const noexcept override;
    [[nodiscard]] bool pending() const noexcept override {
        return ring_.completions_ready() || ring_.has_posted() ||
               (poll_ring_ && (poll_ring_->completions_ready() || poll_ring_->has_posted()));
    }

    // The period of the main ring's timeout while polled commands are in flight: the longest a
    // vCPU stays in KVM_RUN before this thread polls again.
    static constexpr uint64_t kPollTickNs = 20'000;

  private:
    // Raw pointers for the hot path: engines_ holds the devices.
    struct Owned {
        VirtioBlk* device;
        BlkQueue* queue;
        int eventfd;
        bool polled;
    };
    void register_buffers_once() noexcept;
    [[nodiscard]] bool polled_busy() const noexcept;
    unsigned reap_polled() noexcept;
    void arm_timers_if_busy() noexcept;
    // Arms throttle_wake_ for the earliest time a throttled queue may go on; sets throttled_.
    void arm_throttle_wake() noexcept;

    const GuestMemory& memory_;
    IoRing ring_;
    std::unique_ptr<IoRing> poll_ring_;  // IORING_SETUP_IOPOLL; null without polled drives
    std::vector<Owned> queues_;
    std::vector<std::pair<std::shared_ptr<VirtioBlk>, std::unique_ptr<BlockEngine>>> engines_;

    RingTimer watchdog_;           // 2 ms while anything is in flight
    RingTimer poll_tick_;          // kPollTickNs while polled commands are in flight
    DeadlineTimer throttle_wake_;  // when a queue held back by a rate limit may go on
    bool has_limits_ = false;      // a drive served here has I/O limits
    bool throttled_ = false;       // a queue served here is held back by its drive's limit
    bool buffers_registered_ = false;
    bool buffers_failed_ = false;
};

}  // namespace nvmevm
