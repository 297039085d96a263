#include "foundation/io_ring.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace nvmevm {
namespace {

[[noreturn]] void throw_errno(int negative_errno, const char* what) {
    throw std::system_error(-negative_errno, std::system_category(), what);
}

}  // namespace

IoRing::IoRing(unsigned entries, unsigned flags) {
    io_uring_params params{};
    // No SQPOLL: it would add a kernel thread per ring. No COOP_TASKRUN / DEFER_TASKRUN: both
    // stop a completion from ending KVM_RUN (the first sends no IPI, so a vCPU in the guest only
    // notices at its next exit; the second posts CQEs only inside io_uring_enter).
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | flags;
    params.cq_entries = 2 * entries;
    const int rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc < 0) throw_errno(rc, "io_uring_queue_init");
    disabled_ = (flags & IORING_SETUP_R_DISABLED) != 0;
}

void IoRing::restrict_and_enable(const RingRestrictions& allowed) {
    if (!disabled_) throw std::system_error(EINVAL, std::system_category(), "ring not disabled");
    std::vector<io_uring_restriction> list;
    for (uint8_t op : allowed.sqe_ops) {
        io_uring_restriction r{};
        r.opcode = IORING_RESTRICTION_SQE_OP;
        r.sqe_op = op;
        list.push_back(r);
    }
    for (uint8_t op : allowed.register_ops) {
        io_uring_restriction r{};
        r.opcode = IORING_RESTRICTION_REGISTER_OP;
        r.register_op = op;
        list.push_back(r);
    }
    io_uring_restriction flags{};
    flags.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    flags.sqe_flags = allowed.sqe_flags;
    list.push_back(flags);
    // The system call itself: Debian 12's liburing 2.3 declares io_uring_register_restrictions
    // and io_uring_enable_rings but its shared library does not export them.
    if (::syscall(SYS_io_uring_register, ring_.ring_fd, IORING_REGISTER_RESTRICTIONS, list.data(),
                  static_cast<unsigned>(list.size())) < 0)
        throw std::system_error(errno, std::system_category(), "IORING_REGISTER_RESTRICTIONS");
    if (::syscall(SYS_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
        0)
        throw std::system_error(errno, std::system_category(), "IORING_REGISTER_ENABLE_RINGS");
    disabled_ = false;
}

IoRing::~IoRing() {
    // Closing the ring cancels what is still in flight; guest RAM and files stay valid until
    // the kernel has let go of them (the exit waits for cancellation).
    io_uring_queue_exit(&ring_);
}

void IoRing::register_guest_memory(const GuestMemory& memory, uint64_t chunk) {
    if (!chunks_.empty()) throw std::system_error(EEXIST, std::system_category(), "fixed buffers");
    if (chunk == 0) chunk = kFixedBufferChunk;
    uint64_t total = 0;
    for (const GuestRegion& region : memory.regions()) total += region.size;
    while (chunk < kMaxFixedBuffer && (total + chunk - 1) / chunk > kMaxFixedBuffers / 2)
        chunk *= 2;
    std::vector<Chunk> chunks;
    for (const GuestRegion& region : memory.regions()) {
        for (uint64_t done = 0; done < region.size; done += chunk)
            chunks.push_back({region.host_base + done, std::min(chunk, region.size - done)});
    }
    std::sort(chunks.begin(), chunks.end(),
              [](const Chunk& x, const Chunk& y) { return x.host < y.host; });
    const int rc = io_uring_register_buffers_sparse(&ring_, static_cast<unsigned>(chunks.size()));
    if (rc < 0) throw_errno(rc, "io_uring_register_buffers_sparse (guest RAM)");
    page_size_ = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    residency_.resize((chunk + page_size_ - 1) / page_size_);
    chunks_ = std::move(chunks);
}

size_t IoRing::registered_fixed_buffers() const noexcept {
    return static_cast<size_t>(std::count_if(chunks_.begin(), chunks_.end(),
                                             [](const Chunk& c) { return c.pinned_size != 0; }));
}

// Pinning a page the guest never touched would allocate it: a slot holds only resident pages,
// the run of them around the request that asked. A chunk whose pages are not all there is
// looked at again after twice as many requests, so buffers the guest keeps using are registered
// soon after it has touched them, and cold ones cost a mincore now and then. Refilling a slot
// while requests use its old buffer is safe: io_uring keeps that buffer until they complete.
bool IoRing::try_register(Chunk& chunk, unsigned index, const uint8_t* p, size_t len) noexcept {
    if (registration_refused_ || len == 0) return false;
    if (++chunk.uses < chunk.next_try) return false;
    chunk.next_try = chunk.next_try < (1u << 30) ? chunk.next_try * 2 : chunk.next_try;
    if (::mincore(chunk.host, chunk.size, residency_.data()) != 0) return false;
    const auto pages = static_cast<size_t>((chunk.size + page_size_ - 1) / page_size_);
    const auto resident = [&](size_t page) { return (residency_[page] & 1) != 0; };
    const auto first = static_cast<size_t>(static_cast<uint64_t>(p - chunk.host) / page_size_);
    const auto last =
        static_cast<size_t>(static_cast<uint64_t>(p + len - 1 - chunk.host) / page_size_);
    for (size_t page = first; page <= last; ++page)
        if (!resident(page)) return false;
    size_t begin = first;
    while (begin > 0 && resident(begin - 1)) --begin;
    size_t end = last + 1;
    while (end < pages && resident(end)) ++end;
    uint8_t* const run = chunk.host + begin * page_size_;
    const uint64_t run_size = std::min<uint64_t>(end * page_size_, chunk.size) - begin * page_size_;
    iovec buffer{run, run_size};
    __u64 tag = 0;
    const int rc = io_uring_register_buffers_update_tag(&ring_, index, &buffer, &tag, 1);
    if (rc < 0) {
        chunk.refused = true;
        if (rc == -ENOMEM) registration_refused_ = true;
        return false;
    }
    chunk.pinned = run;
    chunk.pinned_size = run_size;
    return true;
}

void IoRing::register_file_table(unsigned slots) {
    if (!file_slots_.empty()) throw std::system_error(EEXIST, std::system_category(), "files");
    const int rc = io_uring_register_files_sparse(&ring_, slots);
    if (rc < 0) throw_errno(rc, "io_uring_register_files_sparse");
    file_slots_.assign(slots, false);
}

unsigned IoRing::add_file(int fd) {
    if (file_slots_.empty()) register_file_table(16);
    const auto it = std::find(file_slots_.begin(), file_slots_.end(), false);
    if (it == file_slots_.end())
        throw std::system_error(ENFILE, std::system_category(), "registered file table full");
    const auto slot = static_cast<unsigned>(it - file_slots_.begin());
    const int rc = io_uring_register_files_update(&ring_, slot, &fd, 1);
    if (rc < 0) throw_errno(rc, "io_uring_register_files_update");
    *it = true;
    return slot;
}

void IoRing::remove_file(unsigned slot) {
    if (slot >= file_slots_.size() || !file_slots_[slot]) return;
    int empty = -1;
    const int rc = io_uring_register_files_update(&ring_, slot, &empty, 1);
    if (rc < 0) throw_errno(rc, "io_uring_register_files_update (remove)");
    file_slots_[slot] = false;
}

void IoRing::poll_multishot(int fd, uint32_t tag) {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) throw_errno(last_submit_error_, "io_uring poll_multishot");
    io_uring_prep_poll_multishot(sqe, fd, POLLIN);
    io_uring_sqe_set_data64(sqe, RingData::of_tag(tag));
    polls_.push_back({fd, tag});
}

// Linux 6.4; Debian 12's kernel headers predate it.
#ifndef IORING_TIMEOUT_MULTISHOT
#define IORING_TIMEOUT_MULTISHOT (1U << 6)
#endif

void IoRing::queue_timeout(uint64_t ns, uint32_t tag, unsigned flags) noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    timeout_.tv_sec = static_cast<int64_t>(ns / 1'000'000'000);
    timeout_.tv_nsec = static_cast<long long>(ns % 1'000'000'000);
    // Count 0: a pure timeout, fired by time alone, never by other completions.
    io_uring_prep_timeout(sqe, &timeout_, 0, flags);
    io_uring_sqe_set_data64(sqe, RingData::of_tag(tag));
}

void IoRing::arm_timeout(uint64_t ns, uint32_t tag, bool repeat) noexcept {
    queue_timeout(ns, tag, repeat ? IORING_TIMEOUT_MULTISHOT : 0);
}

void IoRing::arm_timeout_at(uint64_t deadline_ns, uint32_t tag) noexcept {
    queue_timeout(deadline_ns, tag, IORING_TIMEOUT_ABS);
}

void IoRing::cancel_timeout(uint32_t tag, uint32_t cancel_tag) noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_timeout_remove(sqe, RingData::of_tag(tag), 0);
    io_uring_sqe_set_data64(sqe, RingData::of_tag(cancel_tag));
}

IoRing::CqLook IoRing::look_at_cq() const noexcept {
    const uint32_t head = __atomic_load_n(ring_.cq.khead, __ATOMIC_ACQUIRE);
    const uint32_t tail = __atomic_load_n(ring_.cq.ktail, __ATOMIC_ACQUIRE);
    return {head, head != tail};
}

void IoRing::register_async_completion_eventfd() {
    if (async_eventfd_) return;
    UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!efd) throw_errno(-errno, "eventfd");
    if (const int rc = io_uring_register_eventfd_async(&ring_, efd.get()); rc < 0)
        throw_errno(rc, "io_uring_register_eventfd_async");
    async_eventfd_ = std::move(efd);
}

io_uring_sqe* IoRing::get_sqe() noexcept {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
    // The SQ is full: hand what is queued to the kernel and take a fresh entry. Nothing is
    // lost; the kernel consumes every SQE it is given (a bad one still yields its CQE).
    if (submit() < 0) return nullptr;
    return io_uring_get_sqe(&ring_);
}

int IoRing::submit() noexcept {
    if (io_uring_sq_ready(&ring_) == 0) return 0;
    for (;;) {
        const int rc = io_uring_submit(&ring_);
        if (rc >= 0) return rc;
        if (rc == -EINTR) continue;
        last_submit_error_ = rc;
        return rc;
    }
}

void IoRing::post(IoCompletion* done, int32_t result) noexcept {
    done->next_posted_ = nullptr;
    done->posted_result_ = result;
    if (posted_tail_ != nullptr)
        posted_tail_->next_posted_ = done;
    else
        posted_head_ = done;
    posted_tail_ = done;
}

void IoRing::rearm_poll(uint32_t tag) noexcept {
    for (const Poll& poll : polls_) {
        if (poll.tag != tag) continue;
        io_uring_sqe* sqe = get_sqe();
        // Without an SQE the queue would go deaf; only a refused submission gets here, and the
        // next kick is then lost. Nothing better is possible without throwing on the hot path.
        if (sqe == nullptr) return;
        io_uring_prep_poll_multishot(sqe, poll.fd, POLLIN);
        io_uring_sqe_set_data64(sqe, RingData::of_tag(tag));
        return;
    }
}

unsigned IoRing::reap_impl(TagThunk thunk, void* ctx) noexcept {
    struct Event {
        uint64_t data;
        int32_t res;
        uint32_t flags;
    };
    unsigned delivered = 0;
    for (;;) {
        // Copy a batch out and release the CQ slots before running callbacks: a callback may
        // queue new work whose completions then have room.
        Event batch[64];
        unsigned count = 0;
        unsigned head;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            batch[count++] = {cqe->user_data, cqe->res, cqe->flags};
            if (count == std::size(batch)) break;
        }
        io_uring_cq_advance(&ring_, count);
        for (unsigned i = 0; i < count; ++i) {
            const Event& event = batch[i];
            if (RingData::is_tag(event.data)) {
                const uint32_t tag = RingData::tag(event.data);
                // A multishot poll ends without F_MORE (CQ overflow, or the kernel dropping it);
                // a successful end is re-armed, an error (-EBADF, -ECANCELED) is final.
                if ((event.flags & IORING_CQE_F_MORE) == 0 && event.res >= 0) rearm_poll(tag);
                thunk(ctx, tag, event.res);
            } else if (event.data != RingData::kIgnore) {
                reinterpret_cast<IoCompletion*>(event.data)->complete(event.res);
            }
        }
        delivered += count;
        if (count != 0) continue;
        // Overflowed CQEs wait in the kernel until an io_uring_enter flushes them: the only
        // syscall reap makes, and only when the CQ ring was full.
        if (io_uring_cq_has_overflow(&ring_)) {
            (void)io_uring_get_events(&ring_);
            if (io_uring_cq_ready(&ring_) != 0) continue;
        }
        break;
    }
    // Posted completions: only those posted before this point. One a callback posts now waits
    // for the next reap() (has_posted() says so): a completion that starts a new request which
    // completes at once (the null engine) must not keep this call going forever.
    IoCompletion* done = posted_head_;
    posted_head_ = posted_tail_ = nullptr;
    while (done != nullptr) {
        IoCompletion* next = done->next_posted_;
        done->complete(done->posted_result_);
        ++delivered;
        done = next;
    }
    return delivered;
}

int IoRing::poll_completions() noexcept {
    // No retry on EINTR: the caller polls again on its next pass anyway, and a pending signal
    // must get to run its handler first.
    const int rc = io_uring_get_events(&ring_);
    return rc < 0 ? rc : 0;
}

int IoRing::wait(unsigned min_complete) noexcept {
    for (;;) {
        const int rc = io_uring_submit_and_wait(&ring_, min_complete);
        if (rc >= 0) return 0;
        if (rc != -EINTR) return rc;
    }
}

int IoRing::fixed_buffer_index(const void* host, size_t len) noexcept {
    const auto* p = static_cast<const uint8_t*>(host);
    // The last chunk that starts at or below p.
    auto it = std::upper_bound(chunks_.begin(), chunks_.end(), p,
                               [](const uint8_t* value, const Chunk& c) { return value < c.host; });
    if (it == chunks_.begin()) return -1;
    --it;
    // [p, p + len) inside [base, base + size), with no sum that can overflow.
    const auto inside = [p, len](const uint8_t* base, uint64_t size) {
        if (p < base) return false;
        const auto offset = static_cast<uint64_t>(p - base);
        return offset <= size && len <= size - offset;
    };
    if (!inside(it->host, it->size)) return -1;
    const auto index = static_cast<unsigned>(it - chunks_.begin());
    if (it->refused) return -1;
    if (it->pinned_size != 0 && inside(it->pinned, it->pinned_size)) return static_cast<int>(index);
    return try_register(*it, index, p, len) ? static_cast<int>(index) : -1;
}

}  // namespace nvmevm
