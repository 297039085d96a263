// One descriptor chain, walked from its head index (virtio 1.2, 2.7.5 "The Virtqueue Descriptor
// Table" and 2.7.5.3 "Indirect Descriptors") and flattened into a list of guest buffers.
//
// Everything in the descriptor table is guest-written and may change under us, so the walk
// copies each descriptor once and checks the copy: indices in range, a bounded number of steps
// (a looping chain ends), the indirect-descriptor rules, device-readable before device-writable,
// and bounded sizes. The result is guest addresses only; turning them into host memory is the
// request parser's job, through GuestMemory::slice.
//
// Errors are values. Some leave the chain's shape intact (too many segments, too many bytes):
// the device can still find the status byte and answer IOERR. The others mean the chain's
// layout cannot be trusted: the device returns it with used length 0 and writes nothing.
#pragma once

#include <cstdint>
#include <span>

#include "foundation/guest_memory.h"
#include "virtio/chain_token.h"
#include "virtio/fixed_vector.h"

namespace nvmevm {

// The most segments a chain may have. virtio-blk advertises seg_max = kMaxDataSegments data
// segments, plus one header and one status descriptor. A longer chain is walked to the end (to
// find its last descriptor) but is refused with ChainError::too_many_segments.
inline constexpr uint32_t kMaxDataSegments = 128;
inline constexpr uint32_t kMaxChainSegments = kMaxDataSegments + 2;
// The most bytes all descriptors of one chain may describe together. The spec's own limit is
// "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total" (2.7.5.2); ours is
// lower so that one request always fits a single io_uring read/write (the kernel caps those at
// MAX_RW_COUNT, just under 2 GiB) and sector arithmetic has ample headroom. 256 MiB is far above
// anything Linux sends (its default max_sectors_kb is 1280) and above size_max * seg_max as the
// device must advertise it.
inline constexpr uint64_t kMaxChainBytes = 256ull << 20;
// The largest indirect table we accept, in descriptors: our largest queue size. Linux sizes its
// indirect tables by the request's segment count (at most seg_max + 2), far below this.
inline constexpr uint32_t kMaxIndirectDescriptors = 1024;

// One buffer of a chain, in guest terms.
struct ChainSegment {
    GuestAddress addr;
    uint32_t len;
    bool device_writable;
};

enum class ChainError : uint8_t {
    ok = 0,
    // The chain's shape is known; the device answers with an error status.
    too_many_segments,
    too_many_bytes,
    // The chain cannot be trusted: returned with used length 0, nothing written.
    next_out_of_range,
    chain_too_long,
    indirect_not_negotiated,
    nested_indirect,
    indirect_with_next,
    indirect_bad_length,
    indirect_too_large,
    indirect_outside_ram,
    address_wraps,
    readable_after_writable,
};

// A short, static description (for rate-limited logs and test failure messages).
[[nodiscard]] const char* describe(ChainError error);
// True when the chain was walked to its end and only exceeded our limits, so that its last
// descriptor (where the status byte lives) is trustworthy.
[[nodiscard]] constexpr bool chain_shape_known(ChainError error) {
    return error == ChainError::ok || error == ChainError::too_many_segments ||
           error == ChainError::too_many_bytes;
}

// Where a walk reads its descriptors from, as the queue knows it.
struct ChainSource {
    std::span<const uint8_t> desc_table;  // host view of the whole descriptor table
    uint16_t queue_size = 0;              // entries in desc_table
    bool indirect_negotiated = false;     // VIRTIO_F_INDIRECT_DESC
};

class DescriptorChain {
  public:
    DescriptorChain() = default;
    DescriptorChain(DescriptorChain&&) = default;
    DescriptorChain& operator=(DescriptorChain&&) = default;

    // Walks the chain that starts at `head` (already checked to be < queue_size) into `out`,
    // replacing what `out` held. Indirect tables are located through `memory`. Returns the error
    // that is also stored in out.error().
    [[nodiscard]] static ChainError walk(const ChainSource& source, const GuestMemory& memory,
                                         uint16_t head, DescriptorChain& out);

    [[nodiscard]] uint16_t head() const { return head_; }
    [[nodiscard]] ChainError error() const { return error_; }
    [[nodiscard]] bool ok() const { return error_ == ChainError::ok; }

    // The buffers in chain order: device-readable ones first, then device-writable ones.
    // Incomplete when error() != ok.
    [[nodiscard]] std::span<const ChainSegment> segments() const { return segments_.span(); }
    [[nodiscard]] std::span<const ChainSegment> readable() const {
        return segments().first(readable_count_);
    }
    [[nodiscard]] std::span<const ChainSegment> writable() const {
        return segments().subspan(readable_count_);
    }
    // The chain's final descriptor, kept even when the segment list overflowed; valid when
    // chain_shape_known(error()) and descriptor_count() > 0.
    [[nodiscard]] const ChainSegment& last() const { return last_; }
    // Buffer descriptors walked (indirect-table descriptors themselves not counted).
    [[nodiscard]] uint32_t descriptor_count() const { return descriptor_count_; }
    [[nodiscard]] uint64_t total_bytes() const { return total_bytes_; }

    // The debt this chain carries; SplitQueue::push_used takes it.
    [[nodiscard]] ChainToken& token() { return token_; }

  private:
    friend class SplitQueue;

    ChainToken token_;
    uint16_t head_ = 0;
    ChainError error_ = ChainError::ok;
    uint32_t readable_count_ = 0;
    uint32_t descriptor_count_ = 0;
    uint64_t total_bytes_ = 0;
    ChainSegment last_{};
    FixedVector<ChainSegment, kMaxChainSegments> segments_;
};

}  // namespace nvmevm
