// Work a vCPU thread does besides running its vCPU: the I/O of the virtqueues it owns. The
// vCPU loop calls service() every time KVM_RUN returns, whether for an exit or because its
// io_uring's task work (a guest kick seen by a poll, a finished I/O) interrupted it, so queues
// are drained on every exit and completions are delivered before the vCPU re-enters the guest.
#pragma once

namespace nvmevm {

class VcpuWork {
  public:
    virtual ~VcpuWork() = default;
    // On the vCPU thread, before the first KVM_RUN: arm what must be armed by this thread
    // (io_uring polls deliver their task work to the thread that submitted them).
    virtual void start() = 0;
    // On the vCPU thread, after every return from KVM_RUN. Must not block.
    virtual void service() noexcept = 0;
    // True while I/O is in flight.
    [[nodiscard]] virtual bool busy() const noexcept = 0;
    // True when completions are waiting to be handled (a cheap look at the io_uring CQ ring).
    // The vCPU loop asks right before every KVM_RUN, to make the window in which a completion
    // can slip past it as small as possible.
    [[nodiscard]] virtual bool pending() const noexcept = 0;
    // From another thread (the main thread looks every few milliseconds): true when CQEs have
    // been waiting since the previous call, which left the CQ head in `mark` (start it at 0).
    // Then the vCPU thread missed their wake-up (foundation/ring_timer.h says how that can happen)
    // and is kicked out of KVM_RUN. A false "true" costs one spurious kick.
    [[nodiscard]] virtual bool completions_stuck(uint32_t& mark) const noexcept = 0;
};

}  // namespace nvmevm
