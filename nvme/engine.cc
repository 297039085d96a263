#include "nvme/engine.h"

#include <linux/nvme_ioctl.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

namespace nvmevm {
namespace {

constexpr uint32_t kRequired = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
// Dataset Management carries a 32-bit 1-based LBA count per range; the device's discard limit
// (2 GiB) is far below it, so one range per command serves every request.
constexpr uint64_t kMaxDeallocateLbas = UINT32_MAX;

const char* op_name(BlockOp op) {
    switch (op) {
        case BlockOp::read:
            return "read";
        case BlockOp::write:
            return "write";
        case BlockOp::flush:
            return "flush";
        case BlockOp::discard:
            return "discard";
        case BlockOp::write_zeroes:
            return "write zeroes";
    }
    return "?";
}

}  // namespace

NvmeBlockEngine::NvmeBlockEngine(std::shared_ptr<const NvmeBacking> backing, IoRing& ring)
    : backing_(std::move(backing)), ns_(backing_->ns()), ring_(ring), slot_(0) {
    if ((ring.setup_flags() & kRequired) != kRequired)
        throw std::system_error(EINVAL, std::system_category(),
                                "engine \"nvme\" needs an io_uring with SQE128 and CQE32");
    limits_.max_bytes = ns_.info.max_transfer_bytes;
    limits_.max_pages = ns_.info.max_pages;
    limits_.lba_size = ns_.info.format.lba_size();
    slot_ = ring.add_file(backing_->fd());
}

NvmeBlockEngine::~NvmeBlockEngine() {
    try {
        ring_.remove_file(slot_);
    } catch (const std::system_error&) {
        // The slot stays taken until the ring closes.
    }
}

NvmeBlockEngine::Request* NvmeBlockEngine::take_request() noexcept {
    if (!free_.empty()) {
        Request* request = free_.back();
        free_.pop_back();
        return request;
    }
    // Grows with the depth the guest really uses, then stays: no allocation in steady state.
    auto request = std::unique_ptr<Request>(new (std::nothrow) Request);
    if (!request) return nullptr;
    try {
        requests_.push_back(std::move(request));
        free_.reserve(requests_.size());
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
    requests_.back()->engine = this;
    return requests_.back().get();
}

void NvmeBlockEngine::submit(const BlockIo& io, IoCompletion* done) noexcept {
    if (io.op != BlockOp::read && io.op != BlockOp::flush && backing_->read_only())
        return ring_.post(done, -EROFS);
    Request* request = take_request();
    if (request == nullptr) return ring_.post(done, -ENOMEM);
    request->done = done;
    request->io = io;
    request->position = 0;
    request->cursor = {};
    request->chunk_bytes = 0;
    request->fixed = false;
    request->total = io.length;
    if (io.op == BlockOp::read || io.op == BlockOp::write) {
        request->total = 0;
        for (const iovec& segment : io.segments) request->total += segment.iov_len;
    }
    const int32_t rc = issue_next(*request);
    // Nothing issued (an error, or nothing to do): the answer still travels through reap().
    if (rc != 1) ring_.post(request, rc);
}

int32_t NvmeBlockEngine::issue_next(Request& request) noexcept {
    switch (request.io.op) {
        case BlockOp::read:
        case BlockOp::write:
            return issue_data(request);
        case BlockOp::flush:
            if (request.position != 0) return 0;
            request.chunk_bytes = 1;  // one command, then done
            request.total = 1;
            ns_.counters.flush.fetch_add(1, std::memory_order_relaxed);
            return queue_command(request, nvme::build_flush(ns_.info.format), false, -1);
        case BlockOp::discard:
        case BlockOp::write_zeroes:
            return issue_range(request);
    }
    return -EINVAL;
}

int32_t NvmeBlockEngine::issue_data(Request& request) noexcept {
    if (request.position == request.total) return 0;
    const bool write = request.io.op == BlockOp::write;
    const size_t bytes = nvme::next_chunk(request.io.segments, request.cursor, limits_,
                                          request.chunk, request.chunk_count);
    nvme::Command cmd;
    nvme::BuildError error = nvme::BuildError::misaligned;
    int fixed = -1;
    if (bytes != 0) {
        const bool single = request.chunk_count == 1;
        if (single && fixed_ok_)
            fixed = ring_.fixed_buffer_index(request.chunk[0].iov_base, request.chunk[0].iov_len);
        const uint64_t addr = single ? reinterpret_cast<uintptr_t>(request.chunk[0].iov_base)
                                     : reinterpret_cast<uintptr_t>(request.chunk);
        const auto data_len = static_cast<uint32_t>(single ? bytes : request.chunk_count);
        error = nvme::build_read_write(ns_.info.format, write, request.io.offset + request.position,
                                       bytes, addr, data_len, cmd);
    }
    if (error != nvme::BuildError::none) {
        logf_limited(log_limit_, LogLevel::warn, "nvme %s: %s of %llu bytes at byte %llu: %s",
                     ns_.info.generic_path.c_str(), op_name(request.io.op),
                     static_cast<unsigned long long>(request.total),
                     static_cast<unsigned long long>(request.io.offset), nvme::describe(error));
        return -EINVAL;
    }
    request.chunk_bytes = static_cast<uint32_t>(bytes);
    (write ? ns_.counters.write : ns_.counters.read).fetch_add(1, std::memory_order_relaxed);
    return queue_command(request, cmd, request.chunk_count != 1, fixed);
}

int32_t NvmeBlockEngine::issue_range(Request& request) noexcept {
    if (request.position == request.total) return 0;
    const nvme::Format& format = ns_.info.format;
    const bool discard = request.io.op == BlockOp::discard;
    const uint64_t max_bytes = (discard ? kMaxDeallocateLbas : nvme::kMaxLbasPerCommand)
                               << format.lba_shift;
    const uint64_t left = request.total - request.position;
    const uint64_t bytes = left < max_bytes ? left : max_bytes;
    const uint64_t offset = request.io.offset + request.position;
    nvme::Command cmd;
    // Write Zeroes with Deallocate only where the guest allowed unmapping (virtio's UNMAP flag):
    // a deallocated range reads back as zeroes on a namespace that reports it (DLFEAT).
    const nvme::BuildError error =
        discard ? nvme::build_deallocate(format, offset, bytes, request.range,
                                         reinterpret_cast<uintptr_t>(&request.range), cmd)
                : nvme::build_write_zeroes(format, offset, bytes, request.io.may_unmap, cmd);
    if (error != nvme::BuildError::none) {
        logf_limited(log_limit_, LogLevel::warn, "nvme %s: %s of %llu bytes at byte %llu: %s",
                     ns_.info.generic_path.c_str(), op_name(request.io.op),
                     static_cast<unsigned long long>(bytes),
                     static_cast<unsigned long long>(offset), nvme::describe(error));
        return -EINVAL;
    }
    request.chunk_bytes = static_cast<uint32_t>(bytes);
    (discard ? ns_.counters.dsm : ns_.counters.write_zeroes)
        .fetch_add(1, std::memory_order_relaxed);
    return queue_command(request, cmd, false, -1);
}

int32_t NvmeBlockEngine::queue_command(Request& request, const nvme::Command& cmd, bool vectored,
                                       int fixed_buffer) noexcept {
    io_uring_sqe* sqe = ring_.get_sqe();
    if (sqe == nullptr) return ring_.last_submit_error() < 0 ? ring_.last_submit_error() : -EBUSY;
    std::memset(sqe, 0, 2 * sizeof(*sqe));  // a 128-byte SQE: the command is in its second half
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = static_cast<int>(slot_);
    sqe->flags = IOSQE_FIXED_FILE;
    sqe->cmd_op = vectored ? NVME_URING_CMD_IO_VEC : NVME_URING_CMD_IO;
    if (fixed_buffer >= 0) {
        sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
        sqe->buf_index = static_cast<uint16_t>(fixed_buffer);
    }
    nvme::copy_to_kernel(cmd, *reinterpret_cast<nvme_uring_cmd*>(sqe->cmd));
    io_uring_sqe_set_data64(sqe, RingData::of(&request));
    if (ring_.polled()) ns_.counters.polled.fetch_add(1, std::memory_order_relaxed);
    request.cmd = cmd;
    request.fixed = fixed_buffer >= 0;
    return 1;
}

void NvmeBlockEngine::on_complete(Request& request, int32_t result) noexcept {
    if (result < 0 && request.fixed &&
        (result == -EINVAL || result == -EOPNOTSUPP || result == -EFAULT)) {
        // A kernel without fixed-buffer passthrough refuses the flag: go on without it, for
        // this command and every later one. Commands already in flight with the flag come back
        // refused too: each is resent (not only the first), or all but one would fail.
        if (fixed_ok_) {
            fixed_ok_ = false;
            // Linux 6.1 refuses it with EINVAL for guest RAM registered as one large buffer (its
            // bvec check counts every page left in the buffer); later kernels take it.
            // log-rule: once per engine (fixed_ok_)
            logf(LogLevel::info,
                 "nvme %s: fixed-buffer passthrough refused by this kernel (%s); using "
                 "unregistered buffers",
                 ns_.info.generic_path.c_str(), std::strerror(-result));
        }
        const int32_t rc = queue_command(request, request.cmd, false, -1);
        if (rc == 1) return;
        result = rc;
    }
    if (result > 0) {
        ns_.counters.errors.fetch_add(1, std::memory_order_relaxed);
        logf_limited(log_limit_, LogLevel::warn,
                     "nvme %s: %s (opcode 0x%02x) at byte %llu failed: NVMe status 0x%x (SCT %u "
                     "SC 0x%02x)",
                     ns_.info.generic_path.c_str(), op_name(request.io.op), request.cmd.opcode,
                     static_cast<unsigned long long>(request.io.offset + request.position),
                     static_cast<unsigned>(result), nvme::status_code_type(result),
                     nvme::status_code(result));
        return finish(request, nvme::status_to_errno(result));
    }
    if (result < 0) {
        if (request.chunk_bytes != 0) ns_.counters.errors.fetch_add(1, std::memory_order_relaxed);
        return finish(request, result);
    }
    request.position += request.chunk_bytes;
    request.chunk_bytes = 0;
    const int32_t rc = issue_next(request);
    if (rc == 1) return;
    if (rc < 0) return finish(request, rc);
    const bool data = request.io.op == BlockOp::read || request.io.op == BlockOp::write;
    // Requests are bounded by the device (seg_max * page) far below 2 GiB.
    finish(request, data ? static_cast<int32_t>(request.total) : 0);
}

void NvmeBlockEngine::finish(Request& request, int32_t result) noexcept {
    IoCompletion* done = request.done;
    request.done = nullptr;
    // Back on the free list first: the completion may submit the next request at once.
    free_.push_back(&request);
    done->complete(result);
}

}  // namespace nvmevm
