#include "virtio/descriptor_chain.h"

#include <cstring>
#include <limits>

#include "virtio/virtio_defs.h"

namespace nvmevm {

namespace {

// Copies descriptor `index` out of a table. The caller guarantees index < table entries.
VirtqDesc load_descriptor(std::span<const uint8_t> table, uint32_t index) {
    VirtqDesc desc;
    std::memcpy(&desc, table.data() + size_t{index} * sizeof(VirtqDesc), sizeof(VirtqDesc));
    return desc;
}

}  // namespace

const char* describe(ChainError error) {
    switch (error) {
        case ChainError::ok:
            return "ok";
        case ChainError::too_many_segments:
            return "more descriptors than the device accepts";
        case ChainError::too_many_bytes:
            return "chain describes more bytes than the device accepts";
        case ChainError::next_out_of_range:
            return "next index outside the descriptor table";
        case ChainError::chain_too_long:
            return "chain longer than its table (a loop)";
        case ChainError::indirect_not_negotiated:
            return "indirect descriptor without INDIRECT_DESC";
        case ChainError::nested_indirect:
            return "indirect descriptor inside an indirect table";
        case ChainError::indirect_with_next:
            return "indirect descriptor with NEXT set";
        case ChainError::indirect_bad_length:
            return "indirect table length 0 or not a multiple of 16";
        case ChainError::indirect_too_large:
            return "indirect table larger than 1024 descriptors";
        case ChainError::indirect_outside_ram:
            return "indirect table outside guest RAM";
        case ChainError::address_wraps:
            return "buffer address + length wraps around";
        case ChainError::readable_after_writable:
            return "device-readable buffer after a writable one";
    }
    return "unknown chain error";
}

ChainError DescriptorChain::walk(const ChainSource& source, const GuestMemory& memory,
                                 uint16_t head, DescriptorChain& out) {
    out.head_ = head;
    out.segments_.clear();
    out.readable_count_ = 0;
    out.descriptor_count_ = 0;
    out.total_bytes_ = 0;
    out.last_ = ChainSegment{};
    auto fail = [&out](ChainError error) {
        out.error_ = error;
        return error;
    };

    std::span<const uint8_t> table = source.desc_table;
    uint32_t entries = source.queue_size;
    // Steps left in the current table. A chain that does not loop visits each entry of a table at
    // most once, so running out of steps means a loop (or a chain longer than the queue, which
    // 2.7.5.3.1 forbids: "A driver MUST NOT create a descriptor chain longer than the Queue Size
    // of the device."). This is the TTL that makes every walk end.
    uint32_t steps_left = entries;
    uint32_t index = head;
    bool in_indirect = false;
    bool seen_writable = false;
    // A limit was exceeded; the walk goes on to find the last descriptor (the status byte).
    ChainError over_limit = ChainError::ok;

    for (;;) {
        if (steps_left == 0) return fail(ChainError::chain_too_long);
        --steps_left;
        const VirtqDesc desc = load_descriptor(table, index);

        if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
            // 2.7.5.3.1: "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag unless the
            // VIRTIO_F_INDIRECT_DESC feature was negotiated."
            if (!source.indirect_negotiated) return fail(ChainError::indirect_not_negotiated);
            // 2.7.5.3.1: "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag within an
            // indirect descriptor (ie. only one table per descriptor)." Refusing is also what
            // keeps the walk bounded: nesting would multiply the step budgets.
            if (in_indirect) return fail(ChainError::nested_indirect);
            // 2.7.5.3.1: "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and
            // VIRTQ_DESC_F_NEXT in flags." The device requirement (2.7.5.3.2) is to "handle the
            // case of zero or more normal chained descriptors followed by a single descriptor
            // with flags&VIRTQ_DESC_F_INDIRECT": the indirect descriptor ends the outer chain,
            // so a NEXT on it has no defined meaning and we refuse the chain.
            if (desc.flags & VIRTQ_DESC_F_NEXT) return fail(ChainError::indirect_with_next);
            // 2.7.5.3: "struct virtq_desc desc[len / 16];" a table holds whole descriptors,
            // and at least one ("The first indirect descriptor is located at start of the
            // indirect descriptor table (index 0)").
            if (desc.len == 0 || desc.len % sizeof(VirtqDesc) != 0) {
                return fail(ChainError::indirect_bad_length);
            }
            if (desc.len / sizeof(VirtqDesc) > kMaxIndirectDescriptors) {
                return fail(ChainError::indirect_too_large);
            }
            // 2.7.5.3.2: "The device MUST ignore the write-only flag (flags&VIRTQ_DESC_F_WRITE)
            // in the descriptor that refers to an indirect table." So it is not looked at.
            //
            // No alignment is required of the table: the spec gives the descriptor table's
            // (16) but none for indirect tables, and Linux allocates them with kmalloc, which
            // only guarantees 8 bytes with slab debugging on. Descriptors are copied out with
            // memcpy, so any alignment is safe.
            auto indirect = memory.slice(GuestAddress{desc.addr}, desc.len);
            if (!indirect) return fail(ChainError::indirect_outside_ram);
            table = *indirect;
            entries = desc.len / static_cast<uint32_t>(sizeof(VirtqDesc));
            steps_left = entries;
            index = 0;
            in_indirect = true;
            continue;
        }

        // [addr, addr + len) must not wrap: GuestMemory::slice would refuse it later anyway,
        // but a wrapping buffer is a malformed chain, not a buffer that happens to miss RAM.
        if (desc.len > std::numeric_limits<uint64_t>::max() - desc.addr) {
            return fail(ChainError::address_wraps);
        }
        const bool writable = (desc.flags & VIRTQ_DESC_F_WRITE) != 0;
        // 2.7.4.2: "The driver MUST place any device-writable descriptor elements after any
        // device-readable descriptor elements."
        if (writable) {
            seen_writable = true;
        } else if (seen_writable) {
            return fail(ChainError::readable_after_writable);
        }

        // Cannot overflow: at most 1024 + 1024 descriptors of at most 4 GiB each.
        out.total_bytes_ += desc.len;
        ++out.descriptor_count_;
        if (out.total_bytes_ > kMaxChainBytes && over_limit == ChainError::ok) {
            over_limit = ChainError::too_many_bytes;
        }
        const ChainSegment segment{GuestAddress{desc.addr}, desc.len, writable};
        out.last_ = segment;
        if (!out.segments_.push_back(segment)) {
            // 2.7.4.1: "The device MAY have a reasonable limit of descriptors it will allow in a
            // chain."
            if (over_limit == ChainError::ok) over_limit = ChainError::too_many_segments;
        } else if (!writable) {
            ++out.readable_count_;
        }

        if (!(desc.flags & VIRTQ_DESC_F_NEXT)) break;
        // The next index must name an entry of the table being walked (the queue's table, or the
        // indirect table: "additional indirect descriptors are chained by next").
        if (desc.next >= entries) return fail(ChainError::next_out_of_range);
        index = desc.next;
    }
    out.error_ = over_limit;
    return over_limit;
}

}  // namespace nvmevm
