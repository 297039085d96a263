// One io_uring per vCPU thread: it carries both the multishot polls on the ioeventfds of the
// virtqueues that vCPU owns and the block I/O of those queues. The ring is created without
// SQPOLL (no kernel thread of ours) and without COOP_TASKRUN / DEFER_TASKRUN: with plain task
// work, a completion (a guest kick seen by a poll, or finished I/O) sets TIF_NOTIFY_SIGNAL on
// the owning thread and IPIs it, so a running KVM_RUN returns EINTR at once and the CQE is
// already in the CQ ring when it does (scripts/probe-uring-taskrun.c measures all three).
//
// user_data carries one of three things (see RingData below):
//   0                     an operation nobody waits for (ignored by reap)
//   even, non-zero        an IoCompletion* (its vtable pointer makes it at least 8-aligned)
//   odd                   a tag: (tag << 1) | 1, handed to the caller's tag handler by reap;
//                         the multishot polls use tags (e.g. the queue index)
//
// Single-threaded by design: every member function must be called on the owning thread.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "foundation/guest_memory.h"
#include "foundation/unique_fd.h"

namespace nvmevm {

// What an operation reports to when it ends. The device derives its per-request state from it.
// complete() runs on the ring's thread from inside IoRing::reap(), never from the call that
// started the operation, and exactly once per started operation.
class IoCompletion {
  public:
    // `result`: bytes transferred (>= 0) or -errno, exactly as the kernel reported it.
    virtual void complete(int32_t result) noexcept = 0;

  protected:
    IoCompletion() = default;
    IoCompletion(const IoCompletion&) = default;
    IoCompletion& operator=(const IoCompletion&) = default;
    ~IoCompletion() = default;

  private:
    friend class IoRing;
    // The intrusive list of completions posted without the kernel (IoRing::post): no allocation.
    IoCompletion* next_posted_ = nullptr;
    int32_t posted_result_ = 0;
};

// The user_data encoding (documented at the top of this file).
struct RingData {
    static constexpr uint64_t kIgnore = 0;
    [[nodiscard]] static uint64_t of(IoCompletion* done) noexcept {
        return reinterpret_cast<uintptr_t>(done);
    }
    [[nodiscard]] static constexpr uint64_t of_tag(uint32_t tag) noexcept {
        return (uint64_t{tag} << 1) | 1;
    }
    [[nodiscard]] static constexpr bool is_tag(uint64_t data) noexcept { return (data & 1) != 0; }
    [[nodiscard]] static constexpr uint32_t tag(uint64_t data) noexcept {
        return static_cast<uint32_t>(data >> 1);
    }
};

// What a ring may do once it is enabled (IORING_REGISTER_RESTRICTIONS, Linux 5.10): its SQE
// opcodes, SQE flags and io_uring_register operations. A ring made with IORING_SETUP_R_DISABLED
// does nothing until enabled, and after that the kernel refuses anything else with EACCES, so a
// compromised process cannot use a ring made before its seccomp filter to open files or sockets
// (io_uring's operations never pass through seccomp).
struct RingRestrictions {
    std::vector<uint8_t> sqe_ops;       // IORING_OP_*
    std::vector<uint8_t> register_ops;  // IORING_REGISTER_* allowed after enabling
    uint8_t sqe_flags = 0;              // IOSQE_* allowed
};

class IoRing {
  public:
    // Guest RAM is offered to io_uring as fixed buffers in chunks of this size (more for guests
    // above 16 GiB: the kernel takes at most kMaxFixedBuffers of them, and half is kept spare).
    static constexpr uint64_t kFixedBufferChunk = uint64_t{2} << 20;
    static constexpr uint64_t kMaxFixedBuffers = 16384;             // IORING_MAX_REG_BUFFERS
    static constexpr uint64_t kMaxFixedBuffer = uint64_t{1} << 30;  // the kernel's cap on one

    // `entries` SQ entries (rounded up to a power of two by the kernel), a CQ twice as large:
    // with every request in flight plus a poll CQE per queue there is room before overflow.
    // `flags`: further IORING_SETUP_* flags; NVMe passthrough needs SQE128 | CQE32 (liburing
    // then hands out 128-byte SQEs and walks 32-byte CQEs by itself). Throws std::system_error.
    explicit IoRing(unsigned entries = 256, unsigned flags = 0);
    ~IoRing();
    IoRing(const IoRing&) = delete;
    IoRing& operator=(const IoRing&) = delete;

    // ---- setup (throws std::system_error) ----

    // Offers guest RAM as fixed buffers, in chunks, without pinning anything yet: an empty
    // (sparse) buffer table, one slot per chunk. fixed_buffer_index fills a chunk's slot when a
    // request needs it, with the run of already-resident pages around the request, so
    // registration never makes guest RAM resident that the guest has not touched (registering
    // all of it at once made a 1 GiB guest resident in full, and took 5.3 s, at its first
    // request). Without CAP_IPC_LOCK, registered pages count against RLIMIT_MEMLOCK; when that
    // runs out, the rest stays vectored. Throws std::system_error where the kernel has no
    // sparse buffer tables (Linux < 5.19): the caller goes on without fixed buffers. `chunk`
    // exists for tests.
    void register_guest_memory(const GuestMemory& memory, uint64_t chunk = kFixedBufferChunk);
    // For a ring made with IORING_SETUP_R_DISABLED: registers `allowed` and enables the ring.
    // Registrations made before (files, the async eventfd) stay. Throws std::system_error.
    void restrict_and_enable(const RingRestrictions& allowed);
    [[nodiscard]] bool disabled() const noexcept { return disabled_; }
    // Creates a sparse table of `slots` registered files (once per ring).
    void register_file_table(unsigned slots);
    // Puts `fd` in a free slot of the table (created with 16 slots if there is none yet) and
    // returns the slot, which replaces the fd in SQEs flagged IOSQE_FIXED_FILE.
    [[nodiscard]] unsigned add_file(int fd);
    // Empties a slot. Operations still in flight on it keep their file reference.
    void remove_file(unsigned slot);
    // Arms a multishot poll for POLLIN on `fd` (an eventfd). Every wakeup yields a CQE with
    // user_data RingData::of_tag(tag); reap() re-arms the poll when the kernel ends it (a CQE
    // without IORING_CQE_F_MORE). Nobody needs to read() the eventfd: each eventfd_signal()
    // wakes the poll again whatever the counter holds. Submitted by the next submit().
    void poll_multishot(int fd, uint32_t tag);

    // Makes completions posted by io_uring's kernel workers (io-wq: fsync, fallocate, buffered
    // or tmpfs I/O the kernel cannot do inline) interrupt this thread like the others. Without
    // this, such a CQE is posted from the worker with no task work for the submitter (seen on
    // Linux 6.1), and a vCPU thread in KVM_RUN would not look until its next exit: the guest's
    // FLUSH would hang. An eventfd registered for async completions only
    // (IORING_REGISTER_EVENTFD_ASYNC) is polled on this same ring; that poll's completion is
    // ordinary task work, which ends KVM_RUN, and is not itself async, so it does not re-fire.
    // Queues a timeout of `ns` nanoseconds whose expiry comes back through reap's on_tag as
    // `tag` (res -ETIME). Like every completion it ends KVM_RUN through task work. `repeat`:
    // it fires every `ns` until cancel_timeout (IORING_TIMEOUT_MULTISHOT, Linux 6.4; older
    // kernels answer -EINVAL). The kernel copies the timespec (which lives here) when the SQE
    // is submitted: submit() before arming another one. Several may be pending at once.
    void arm_timeout(uint64_t ns, uint32_t tag, bool repeat = false) noexcept;
    // A one-shot timeout that fires at `deadline_ns` on CLOCK_MONOTONIC (IORING_TIMEOUT_ABS), or
    // at once when that is past. Same rules as arm_timeout.
    void arm_timeout_at(uint64_t deadline_ns, uint32_t tag) noexcept;
    // Cancels the timeout tagged `tag` (its last CQE: -ECANCELED); the cancel's own CQE comes
    // back as `cancel_tag`.
    void cancel_timeout(uint32_t tag, uint32_t cancel_tag) noexcept;

    // Setup (any thread): creates and registers the eventfd. Then, on the owning thread, arm
    // it with poll_multishot(async_completion_eventfd(), tag).
    void register_async_completion_eventfd();
    [[nodiscard]] int async_completion_eventfd() const { return async_eventfd_.get(); }

    // ---- hot path (noexcept, error codes) ----

    // A zeroed SQE to fill, or nullptr if the SQ is full even after submitting what is queued
    // (only when the kernel refuses the submission: then the error is in `last_submit_error`).
    [[nodiscard]] io_uring_sqe* get_sqe() noexcept;
    // A pure timeout of `ns` (relative, or absolute with IORING_TIMEOUT_ABS) tagged `tag`.
    void queue_timeout(uint64_t ns, uint32_t tag, unsigned flags) noexcept;
    // Submits the queued SQEs in one io_uring_enter; no syscall when nothing is queued.
    // Returns the number submitted or -errno.
    [[nodiscard]] int submit() noexcept;
    [[nodiscard]] unsigned queued_sqes() const noexcept { return io_uring_sq_ready(&ring_); }
    // CQEs waiting to be reaped (a read of the CQ ring's head and tail; no syscall).
    [[nodiscard]] bool completions_ready() const noexcept { return io_uring_cq_ready(&ring_) != 0; }
    // For another thread (the main thread's stall check): the CQ head (CQEs consumed so far, as
    // a wrapping count) and whether CQEs are waiting, read with atomic loads.
    struct CqLook {
        uint32_t head = 0;
        bool waiting = false;
    };
    [[nodiscard]] CqLook look_at_cq() const noexcept;

    // Completes `done` with `result` without the kernel: delivered by the next reap(), in post
    // order, after the CQEs. Lets an engine that finishes at once (null, synchronous fallbacks)
    // use the same completion path as real I/O.
    void post(IoCompletion* done, int32_t result) noexcept;
    [[nodiscard]] bool has_posted() const noexcept { return posted_head_ != nullptr; }

    // Delivers what has completed, without a syscall in the common case: CQEs are read straight
    // from the CQ ring (the kernel posts them via task work when the thread leaves a syscall:
    // KVM_RUN, or any other one, so check completions_ready() before re-entering) until it is
    // empty, then the completions posted so far. IoCompletion targets get complete(res); tags go
    // to `on_tag(uint32_t tag, int32_t res)`. A completion posted from inside a callback is left
    // for the next call (check has_posted() before blocking in KVM_RUN). Must not be called from
    // inside a callback. Returns the number delivered.
    template <typename OnTag>
    unsigned reap(OnTag&& on_tag) noexcept {
        return reap_impl(
            [](void* ctx, uint32_t tag, int32_t res) noexcept {
                (*static_cast<std::remove_reference_t<OnTag>*>(ctx))(tag, res);
            },
            &on_tag);
    }
    unsigned reap() noexcept {
        return reap_impl([](void*, uint32_t, int32_t) noexcept {}, nullptr);
    }

    // For a ring made with IORING_SETUP_IOPOLL: one non-blocking pass of the kernel's polling
    // for completions (io_uring_enter with GETEVENTS and min_complete 0). Commands found done get
    // their CQEs in the CQ ring, for reap(); on such a ring nothing else puts them there.
    // Returns 0 or -errno. One syscall.
    [[nodiscard]] int poll_completions() noexcept;
    [[nodiscard]] bool polled() const noexcept { return (ring_.flags & IORING_SETUP_IOPOLL) != 0; }

    // Submits what is queued and blocks until at least `min_complete` CQEs are there (tests,
    // benchmarks, shutdown; the vCPU loop waits in KVM_RUN instead). Returns 0 or -errno.
    [[nodiscard]] int wait(unsigned min_complete) noexcept;

    // Maps [host, host + len) to the fixed buffer holding all of it: its index, or -1 when the
    // range is not inside one chunk of guest RAM, or not registered (then use the vectored ops).
    // A range outside its chunk's registered pages has the slot refilled, when every page of it
    // is resident, with the resident run around it (one mincore; while that fails, or for ranges
    // outside a registered run, looked at again after 2, 4, 8, ... such requests).
    [[nodiscard]] int fixed_buffer_index(const void* host, size_t len) noexcept;
    // Fixed buffers registered so far (tests, logs).
    [[nodiscard]] size_t registered_fixed_buffers() const noexcept;

    [[nodiscard]] int ring_fd() const noexcept { return ring_.ring_fd; }
    [[nodiscard]] unsigned setup_flags() const noexcept { return ring_.flags; }
    [[nodiscard]] int last_submit_error() const noexcept { return last_submit_error_; }

  private:
    bool disabled_ = false;  // made with IORING_SETUP_R_DISABLED and not enabled yet
    using TagThunk = void (*)(void* ctx, uint32_t tag, int32_t res) noexcept;
    unsigned reap_impl(TagThunk thunk, void* ctx) noexcept;
    void rearm_poll(uint32_t tag) noexcept;

    struct Chunk {  // one slot of the buffer table, sorted by host address
        uint8_t* host;
        uint64_t size;
        // What the slot holds: the resident pages around the requests that wanted it (empty:
        // nothing registered yet).
        uint8_t* pinned = nullptr;
        uint64_t pinned_size = 0;
        bool refused = false;   // the kernel said no: vectored for good
        uint32_t uses = 0;      // requests that found their range not registered
        uint32_t next_try = 1;  // the use count at which residency is looked at again
    };
    [[nodiscard]] bool try_register(Chunk& chunk, unsigned index, const uint8_t* p,
                                    size_t len) noexcept;
    struct Poll {
        int fd;
        uint32_t tag;
    };

    __kernel_timespec timeout_{};
    UniqueFd async_eventfd_;  // closed after ~IoRing has exited the ring
    mutable io_uring ring_{};
    std::vector<Chunk> chunks_;
    std::vector<unsigned char> residency_;  // mincore's answer for one chunk, reused
    uint64_t page_size_ = 4096;
    bool registration_refused_ = false;  // RLIMIT_MEMLOCK ran out: register nothing more
    std::vector<Poll> polls_;
    std::vector<bool> file_slots_;  // true: slot in use
    IoCompletion* posted_head_ = nullptr;
    IoCompletion* posted_tail_ = nullptr;
    int last_submit_error_ = 0;
};

}  // namespace nvmevm
