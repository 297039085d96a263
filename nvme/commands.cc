#include "nvme/commands.h"

#include <algorithm>
#include <cerrno>

namespace nvmevm::nvme {
namespace {

constexpr uint64_t kPage = 4096;

// The LBA range of a byte range, checked against the namespace. `max_lbas` bounds the count.
BuildError lba_range(const Format& format, uint64_t offset, uint64_t length, uint64_t max_lbas,
                     uint64_t& slba, uint64_t& nlb) {
    const uint64_t mask = format.lba_size() - 1;
    if ((offset & mask) != 0 || (length & mask) != 0) return BuildError::misaligned;
    slba = offset >> format.lba_shift;
    nlb = length >> format.lba_shift;
    if (nlb == 0) return BuildError::empty;
    if (nlb > max_lbas) return BuildError::too_large;
    if (slba > format.lba_count || nlb > format.lba_count - slba) return BuildError::out_of_range;
    return BuildError::none;
}

void set_slba(Command& cmd, uint64_t slba) {
    cmd.cdw10 = static_cast<uint32_t>(slba);
    cmd.cdw11 = static_cast<uint32_t>(slba >> 32);
}

uint64_t pages_touched(uint64_t address, uint64_t length) {
    if (length == 0) return 0;
    return ((address & (kPage - 1)) + length + kPage - 1) / kPage;
}

}  // namespace

const char* describe(BuildError error) {
    switch (error) {
        case BuildError::none:
            return "ok";
        case BuildError::misaligned:
            return "not a whole number of logical blocks";
        case BuildError::out_of_range:
            return "beyond the end of the namespace";
        case BuildError::too_large:
            return "more logical blocks than one command can carry";
        case BuildError::empty:
            return "no logical blocks";
    }
    return "?";
}

BuildError build_read_write(const Format& format, bool write, uint64_t offset, uint64_t length,
                            uint64_t addr, uint32_t data_len, Command& out) {
    uint64_t slba = 0, nlb = 0;
    const BuildError error = lba_range(format, offset, length, kMaxLbasPerCommand, slba, nlb);
    if (error != BuildError::none) return error;
    out = Command{};
    out.opcode = static_cast<uint8_t>(write ? Opcode::write : Opcode::read);
    out.nsid = format.nsid;
    out.addr = addr;
    out.data_len = data_len;
    set_slba(out, slba);
    out.cdw12 = static_cast<uint32_t>(nlb - 1);  // 0-based
    return BuildError::none;
}

Command build_flush(const Format& format) {
    Command cmd;
    cmd.opcode = static_cast<uint8_t>(Opcode::flush);
    cmd.nsid = format.nsid;
    return cmd;
}

BuildError build_write_zeroes(const Format& format, uint64_t offset, uint64_t length,
                              bool deallocate, Command& out) {
    uint64_t slba = 0, nlb = 0;
    const BuildError error = lba_range(format, offset, length, kMaxLbasPerCommand, slba, nlb);
    if (error != BuildError::none) return error;
    out = Command{};
    out.opcode = static_cast<uint8_t>(Opcode::write_zeroes);
    out.nsid = format.nsid;
    set_slba(out, slba);
    out.cdw12 = static_cast<uint32_t>(nlb - 1) | (deallocate ? kWriteZeroesDeac : 0);
    return BuildError::none;
}

BuildError build_deallocate(const Format& format, uint64_t offset, uint64_t length, DsmRange& range,
                            uint64_t addr, Command& out) {
    uint64_t slba = 0, nlb = 0;
    const BuildError error = lba_range(format, offset, length, UINT32_MAX, slba, nlb);
    if (error != BuildError::none) return error;
    range.context_attributes = 0;
    range.length = static_cast<uint32_t>(nlb);  // 1-based
    range.slba = slba;
    out = Command{};
    out.opcode = static_cast<uint8_t>(Opcode::dataset_management);
    out.nsid = format.nsid;
    out.addr = addr;
    out.data_len = sizeof(DsmRange);
    out.cdw10 = 0;  // NR: number of ranges, 0-based
    out.cdw11 = kDsmAttributeDeallocate;
    return BuildError::none;
}

size_t next_chunk(std::span<const iovec> segments, ChunkCursor& cursor, const ChunkLimits& limits,
                  std::span<iovec> out, size_t& out_count) {
    out_count = 0;
    uint64_t bytes = 0;
    uint64_t pages = 0;
    size_t segment = cursor.segment;
    size_t offset = cursor.offset;
    while (segment < segments.size() && out_count < out.size() && bytes < limits.max_bytes &&
           pages < limits.max_pages) {
        const iovec& whole = segments[segment];
        if (offset >= whole.iov_len) {  // an empty (or finished) segment
            ++segment;
            offset = 0;
            continue;
        }
        const auto address = reinterpret_cast<uintptr_t>(whole.iov_base) + offset;
        uint64_t take = std::min<uint64_t>(whole.iov_len - offset, limits.max_bytes - bytes);
        // Within the page budget: the pages left cover this many bytes from `address`.
        const uint64_t reach = (limits.max_pages - pages) * kPage - (address & (kPage - 1));
        take = std::min(take, reach);
        out[out_count++] = {reinterpret_cast<void*>(address), static_cast<size_t>(take)};
        bytes += take;
        pages += pages_touched(address, take);
        offset += take;
        if (offset == whole.iov_len) {
            ++segment;
            offset = 0;
        }
    }
    // Whole LBAs only: give the tail back to the next chunk.
    uint64_t excess = bytes % limits.lba_size;
    bytes -= excess;
    while (excess != 0 && out_count != 0) {
        iovec& last = out[out_count - 1];
        const uint64_t cut = std::min<uint64_t>(excess, last.iov_len);
        last.iov_len -= cut;
        excess -= cut;
        if (last.iov_len == 0) --out_count;
    }
    // Advance the cursor by exactly the bytes kept.
    uint64_t left = bytes;
    while (left != 0) {
        const uint64_t here =
            std::min<uint64_t>(segments[cursor.segment].iov_len - cursor.offset, left);
        cursor.offset += here;
        left -= here;
        if (cursor.offset == segments[cursor.segment].iov_len) {
            ++cursor.segment;
            cursor.offset = 0;
        }
    }
    while (cursor.segment < segments.size() && segments[cursor.segment].iov_len == 0)
        ++cursor.segment;
    return bytes;
}

int32_t status_to_errno(int32_t status) {
    // Base 2.0, Figure 101 "Generic Command Status Values": 01h Invalid Command Opcode,
    // 02h Invalid Field in Command.
    if (status_code_type(status) == 0 &&
        (status_code(status) == 0x01 || status_code(status) == 0x02))
        return -EOPNOTSUPP;
    return -EIO;
}

}  // namespace nvmevm::nvme
