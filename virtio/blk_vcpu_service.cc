#include "virtio/blk_vcpu_service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <system_error>

#include "foundation/log.h"
#include "storage/rmw_engine.h"

namespace nvmevm {
namespace {
// Rounds of reap/drain/submit per service() before interrupting the guest: enough for inline
// completions (O_DIRECT on a fast device, the null engine) to be returned in the same exit,
// bounded so that a busy queue cannot keep the vCPU out of the guest.
constexpr unsigned kMaxRounds = 8;
// The reap tag of the async-completion eventfd poll; queue doorbells use the queue's position.
constexpr uint32_t kAsyncCompletionTag = 0x7fff'ffff;
// The reap tags of the watchdog timeout and of its cancellation, and its period.
constexpr uint32_t kWatchdogTag = 0x7fff'fffe;
constexpr uint32_t kWatchdogCancelTag = 0x7fff'fffc;
constexpr uint64_t kWatchdogNs = 2'000'000;
// The reap tags of the polling tick (kPollTickNs) and of its cancellation.
constexpr uint32_t kPollTickTag = 0x7fff'fffd;
constexpr uint32_t kPollTickCancelTag = 0x7fff'fffb;
// The reap tag of the rate limit's wake-up (DeadlineTimer).
constexpr uint32_t kThrottleWakeTag = 0x7fff'fffa;
// Every timer tag is at least this; doorbell tags (queue positions) are far below it.
constexpr uint32_t kLowestTimerTag = kThrottleWakeTag;
}  // namespace

const RingRestrictions& BlkVcpuService::restrictions(bool polled) {
    static const RingRestrictions main_ring{
        {IORING_OP_POLL_ADD, IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE, IORING_OP_READV,
         IORING_OP_WRITEV, IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_FSYNC,
         IORING_OP_FALLOCATE, IORING_OP_URING_CMD},
        {IORING_REGISTER_BUFFERS2, IORING_REGISTER_BUFFERS_UPDATE, IORING_REGISTER_FILES_UPDATE},
        IOSQE_FIXED_FILE};
    static const RingRestrictions polled_ring{
        {IORING_OP_URING_CMD},
        {IORING_REGISTER_BUFFERS2, IORING_REGISTER_BUFFERS_UPDATE, IORING_REGISTER_FILES_UPDATE},
        IOSQE_FIXED_FILE};
    return polled ? polled_ring : main_ring;
}

BlkVcpuService::BlkVcpuService(const GuestMemory& memory, unsigned ring_entries,
                               unsigned ring_flags, unsigned poll_ring_flags)
    : memory_(memory),
      ring_(ring_entries, ring_flags | IORING_SETUP_R_DISABLED),
      watchdog_(ring_, kWatchdogNs, kWatchdogTag, kWatchdogCancelTag),
      poll_tick_(ring_, kPollTickNs, kPollTickTag, kPollTickCancelTag),
      throttle_wake_(ring_, kThrottleWakeTag) {
    if (poll_ring_flags != 0)
        poll_ring_ = std::make_unique<IoRing>(
            ring_entries, poll_ring_flags | IORING_SETUP_IOPOLL | IORING_SETUP_R_DISABLED);
    // FLUSH (fsync), DISCARD (fallocate) and I/O the kernel cannot do inline complete on an
    // io_uring worker: make those completions end KVM_RUN too (foundation/io_ring.h).
    try {
        ring_.register_async_completion_eventfd();
    } catch (const std::exception& e) {
        // log-rule: setup, once per vCPU thread
        logf(LogLevel::error,
             "io_uring: cannot watch worker completions (%s): a FLUSH may wait "
             "for the vCPU's next exit",
             e.what());
    }
}

BlkVcpuService::~BlkVcpuService() {
    // The queues outlive this service when something else holds their device (the PCI host):
    // they must not keep pointing at the engines destroyed with it.
    for (Owned& owned : queues_) owned.queue->detach_engine();
}

void BlkVcpuService::add_queue(const std::shared_ptr<VirtioBlk>& device, uint16_t queue,
                               bool polled) {
    if (polled && !poll_ring_)
        throw std::system_error(EINVAL, std::system_category(),
                                "polled drive without a polled ring");
    BlockEngine* engine = nullptr;
    for (auto& [owner, existing] : engines_)
        if (owner == device) engine = existing.get();
    if (engine == nullptr) {
        IoRing& io_ring = polled ? *poll_ring_ : ring_;
        std::unique_ptr<BlockEngine> made = device->backing()->make_engine(io_ring);
        // A drive presenting sectors smaller than its backing's blocks: the read-modify-write
        // engine in front, its retry timer on the main ring (an IOPOLL ring cannot carry one).
        if (device->block_sizes().emulated()) {
            ReadModifyWriteEngine::Options options;
            options.block = device->block_sizes().backing;
            options.counters = device->rmw_counters();
            made = std::make_unique<ReadModifyWriteEngine>(std::move(made), io_ring, ring_,
                                                           device->rmw_locks(), options);
        }
        engines_.emplace_back(device, std::move(made));
        engine = engines_.back().second.get();
    }
    BlkQueue& q = device->queue(queue);
    q.attach_engine(*engine);
    has_limits_ = has_limits_ || q.rate_limited();
    // The doorbell poll stays on the main ring even for a polled drive: an IOPOLL ring cannot
    // carry it.
    queues_.push_back({device.get(), &q, device->queue_eventfd(queue), polled});
}

void BlkVcpuService::seal() {
    if (ring_.disabled()) ring_.restrict_and_enable(restrictions(false));
    if (poll_ring_ && poll_ring_->disabled()) poll_ring_->restrict_and_enable(restrictions(true));
}

void BlkVcpuService::start() {
    // The machine seals every ring at setup (BlockDevices); a service used on its own (tests)
    // is sealed here, before its first submission.
    try {
        seal();
    } catch (const std::exception& e) {
        // log-rule: start, once per vCPU thread
        logf(LogLevel::error, "io_uring: cannot restrict this vCPU's ring: %s", e.what());
    }
    // The polls must be submitted by this thread: io_uring runs a request's task work on the
    // task that submitted it, and that is what interrupts this thread's KVM_RUN.
    for (uint32_t i = 0; i < queues_.size(); ++i) ring_.poll_multishot(queues_[i].eventfd, i);
    if (ring_.async_completion_eventfd() >= 0)
        ring_.poll_multishot(ring_.async_completion_eventfd(), kAsyncCompletionTag);
    // log-rule: start, once per vCPU thread
    if (ring_.submit() < 0) logf(LogLevel::error, "io_uring: arming doorbell polls failed");
}

void BlkVcpuService::register_buffers_once() noexcept {
    if (buffers_registered_ || buffers_failed_) return;
    try {
        ring_.register_guest_memory(memory_);
        if (poll_ring_) poll_ring_->register_guest_memory(memory_);
        buffers_registered_ = true;
    } catch (const std::exception& e) {
        // Vectored I/O still works, one page pin per request more.
        buffers_failed_ = true;
        // log-rule: once per vCPU thread (buffers_failed_)
        logf(LogLevel::warn,
             "io_uring: guest RAM not registered as fixed buffers (%s); using "
             "vectored I/O",
             e.what());
    }
}

// While requests are in flight, a 2 ms io_uring timeout stays queued on this ring. A completion
// normally ends KVM_RUN by itself (task work), but its task work can run while this thread is
// out of KVM_RUN (on the return from an interrupt between the last look at the CQ and KVM_RUN),
// and then nothing stops the next KVM_RUN: a guest that polls would wait forever. The timeout's
// own completion ends KVM_RUN at the latest 2 ms later (it repeats where the kernel allows it:
// foundation/ring_timer.h). It is a request on the same ring, not a signal: signals interfere with
// io_uring's worker creation on Linux 6.1 (ECANCELED writes).
//
// Polled commands need more: no completion of theirs ends KVM_RUN (with the NVMe driver's poll
// queues, nothing interrupts anyone; the command is done when someone polls). While one is in
// flight a second timeout, kPollTickNs, brings this thread out of KVM_RUN to poll. Each tick
// costs a vCPU exit and the poll; it runs only while polled commands are out.
//
// A queue held back by its drive's rate limit has nothing in flight to end KVM_RUN for it: a
// one-shot timeout at the time its tokens arrive does (throttle_wake_). Its expiry can be lost to
// the same race as any completion's, so the watchdog runs while a queue is throttled too: at
// worst a throttled request starts 2 ms late, and the tokens it waited for are still there.
void BlkVcpuService::arm_timers_if_busy() noexcept {
    if (has_limits_) arm_throttle_wake();
    watchdog_.arm_if(throttled_ || busy());
    poll_tick_.arm_if(polled_busy());
}

void BlkVcpuService::arm_throttle_wake() noexcept {
    uint64_t earliest = UINT64_MAX;
    for (const Owned& owned : queues_)
        if (const uint64_t until = owned.queue->throttled_until_ns(); until != 0)
            earliest = std::min(earliest, until);
    throttled_ = earliest != UINT64_MAX;
    if (throttled_) throttle_wake_.arm_by(earliest);
}

bool BlkVcpuService::completions_stuck(uint32_t& mark) const noexcept {
    const IoRing::CqLook look = ring_.look_at_cq();
    const bool stuck = look.waiting && look.head == mark;
    mark = look.head;
    return stuck;
}

bool BlkVcpuService::busy() const noexcept {
    for (const Owned& owned : queues_)
        if (owned.queue->busy()) return true;
    return false;
}

bool BlkVcpuService::polled_busy() const noexcept {
    if (!poll_ring_) return false;
    for (const Owned& owned : queues_)
        if (owned.polled && owned.queue->busy()) return true;
    return false;
}

// One pass of the kernel's polling on the polled ring (a syscall, only while polled commands
// are in flight), then whatever it found and whatever the engines posted.
unsigned BlkVcpuService::reap_polled() noexcept {
    if (!poll_ring_) return 0;
    if (polled_busy()) (void)poll_ring_->poll_completions();
    return poll_ring_->reap();
}

void BlkVcpuService::service() noexcept {
    if (queues_.empty()) return;
    for (unsigned round = 0; round < kMaxRounds; ++round) {
        // Kick CQEs carry nothing we need: every owned queue is drained below anyway.
        unsigned progress = ring_.reap([this](uint32_t tag, int32_t res) noexcept {
            // Most tagged CQEs are doorbell kicks: one comparison lets them by. Only a timer's
            // own asks whether it is still needed.
            if (tag < kLowestTimerTag) return;
            if (watchdog_.owns(tag))
                (void)watchdog_.on_completion(tag, res, throttled_ || busy());
            else if (throttle_wake_.owns(tag))
                (void)throttle_wake_.on_completion(tag);
            else if (poll_tick_.owns(tag))
                (void)poll_tick_.on_completion(tag, res, polled_busy());
        });
        progress += reap_polled();
        for (Owned& owned : queues_) {
            const unsigned taken = owned.queue->drain();
            if (taken != 0 && !buffers_registered_) register_buffers_once();
            progress += taken;
        }
        if (ring_.queued_sqes() != 0) (void)ring_.submit();
        if (poll_ring_ && poll_ring_->queued_sqes() != 0) (void)poll_ring_->submit();
        if (progress != 0 || ring_.has_posted() || (poll_ring_ && poll_ring_->has_posted()))
            continue;
        bool more = false;
        for (Owned& owned : queues_) more = owned.queue->finish_batch() || more;
        // A completion can land while this thread is out of KVM_RUN: the task work then runs
        // on the return of whatever syscall we make (here: KVM_SIGNAL_MSI in finish_batch) and
        // clears the flag that would have made the next KVM_RUN return at once. Look at the CQ
        // once more, or that completion waits for the vCPU's next exit, which a halted guest
        // never makes (found with the guest's `blk irq`, 1 run in 10).
        if (!more && !pending()) {
            arm_timers_if_busy();
            return;
        }
    }
    arm_timers_if_busy();
    // Out of rounds with work left: publish what is done, and have the queue's own doorbell
    // bring this thread back right after the guest had a turn (its poll fires, the task work
    // interrupts KVM_RUN). Returning without that would strand chains that the driver added
    // while kicks were suppressed.
    for (Owned& owned : queues_) {
        if (owned.queue->finish_batch()) {
            const uint64_t one = 1;
            (void)!::write(owned.eventfd, &one, sizeof one);
        }
    }
}

}  // namespace nvmevm
