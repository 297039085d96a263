#include "virtio/blk_request.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nvmevm {

namespace {

uint64_t total_len(std::span<const ChainSegment> segments) {
    uint64_t total = 0;
    for (const ChainSegment& s : segments) total += s.len;
    return total;
}

// Copies bytes [offset, offset + out.size()) of the concatenation of `segments` out of guest
// memory, one GuestMemory::read per piece. False when the segments are too short or a piece is
// outside RAM. Copying (rather than reading in place) means the guest cannot change a field
// between our check and our use of it.
bool copy_out(std::span<const ChainSegment> segments, uint64_t offset, std::span<uint8_t> out,
              const GuestMemory& memory) {
    size_t done = 0;
    for (const ChainSegment& s : segments) {
        if (done == out.size()) break;
        if (offset >= s.len) {
            offset -= s.len;
            continue;
        }
        const uint64_t n = std::min<uint64_t>(s.len - offset, out.size() - done);
        if (!memory.read(GuestAddress{s.addr.value + offset}, out.subspan(done, n))) return false;
        done += n;
        offset = 0;
    }
    return done == out.size();
}

// Resolves bytes [offset, offset + len) of the concatenation of `segments` to host memory, one
// iovec per non-empty piece. False when a piece is outside RAM (or, impossibly, when there are
// more pieces than the chain had segments).
bool gather(std::span<const ChainSegment> segments, uint64_t offset, uint64_t len,
            const GuestMemory& memory, FixedVector<iovec, kMaxChainSegments>& iovecs,
            FixedVector<GuestAddress, kMaxChainSegments>& guest_addresses) {
    for (const ChainSegment& s : segments) {
        if (len == 0) break;
        if (offset >= s.len) {
            offset -= s.len;
            continue;
        }
        const uint64_t n = std::min<uint64_t>(s.len - offset, len);
        const GuestAddress gpa{s.addr.value + offset};
        auto host = memory.slice(gpa, n);
        if (!host) return false;
        if (!iovecs.push_back(iovec{host->data(), host->size()})) return false;
        if (!guest_addresses.push_back(gpa)) return false;
        len -= n;
        offset = 0;
    }
    return len == 0;
}

// [sector, sector + sectors) inside a disk of `capacity` sectors, written so nothing overflows.
bool range_fits(uint64_t sector, uint64_t sectors, uint64_t capacity) {
    return sector <= capacity && sectors <= capacity - sector;
}

// Whole units of the backing (BlkGeometry::alignment_sectors, a power of two; 0 is taken as 1).
bool aligned(uint64_t sector, uint64_t sectors, const BlkGeometry& geometry) {
    const uint64_t mask = geometry.alignment_sectors > 1 ? geometry.alignment_sectors - 1 : 0;
    return (sector & mask) == 0 && (sectors & mask) == 0;
}

}  // namespace

void BlkRequest::clear() {
    type_ = BlkRequestType::flush;
    sector_ = 0;
    data_len_ = 0;
    status_ = nullptr;
    status_address_ = GuestAddress{};
    iovecs_.clear();
    guest_addresses_.clear();
    ranges_.clear();
}

BlkParseResult BlkRequest::parse(const DescriptorChain& chain, const GuestMemory& memory,
                                 const BlkGeometry& geometry, BlkRequest& out) {
    out.clear();
    auto unanswerable = [](const char* reason) {
        return BlkParseResult{false, BlkAnswer{nullptr, VIRTIO_BLK_S_IOERR, 0, reason}};
    };

    // The status byte first: without it there is no way to answer, only to return the chain.
    if (!chain_shape_known(chain.error())) return unanswerable(describe(chain.error()));
    if (chain.descriptor_count() == 0) return unanswerable("empty chain");
    // 5.2.6: the request ends with "u8 status;", written by the device: the last byte of the
    // last descriptor, which must be device-writable (2.7.5.1: "A device MUST NOT write to a
    // device-readable buffer").
    const ChainSegment& last = chain.last();
    if (!last.device_writable) return unanswerable("last descriptor is device-readable");
    if (last.len == 0) return unanswerable("status descriptor has length 0");
    const GuestAddress status_address{last.addr.value + last.len - 1};  // the walk ruled out wrap
    auto status = memory.slice(status_address, 1);
    if (!status) return unanswerable("status byte outside guest RAM");
    out.status_ = status->data();
    out.status_address_ = status_address;
    auto answer = [&out](uint8_t value, const char* reason) {
        return BlkParseResult{false, BlkAnswer{out.status_, value, 1, reason}};
    };
    if (chain.error() != ChainError::ok) return answer(VIRTIO_BLK_S_IOERR, describe(chain.error()));
    auto misaligned = [&out](const char* reason, uint64_t sector, uint64_t sectors) {
        BlkAnswer refused{out.status_, VIRTIO_BLK_S_IOERR, 1, reason};
        refused.warn = true;
        refused.sector = sector;
        refused.sectors = sectors;
        return BlkParseResult{false, refused};
    };

    // The chain is well-formed (readable buffers, then writable ones ending with the status
    // byte) and within kMaxChainBytes, so these lengths fit in 32 bits.
    const auto readable = chain.readable();
    const auto writable = chain.writable();
    const uint64_t readable_len = total_len(readable);
    const uint64_t writable_len = total_len(writable);  // >= 1: the status byte
    VirtioBlkReqHeader header;
    // 5.2.6: the header (type, reserved, sector) is read by the device: it must lie in the
    // device-readable part.
    if (readable_len < sizeof(header)) {
        return answer(VIRTIO_BLK_S_IOERR, "header missing or not device-readable");
    }
    if (!copy_out(readable, 0, std::span(reinterpret_cast<uint8_t*>(&header), sizeof(header)),
                  memory)) {
        return answer(VIRTIO_BLK_S_IOERR, "header outside guest RAM");
    }
    const uint64_t readable_data = readable_len - sizeof(header);  // after the header
    const uint64_t writable_data = writable_len - 1;               // before the status byte

    switch (header.type) {
        case VIRTIO_BLK_T_IN:
        case VIRTIO_BLK_T_OUT: {
            const bool is_write = header.type == VIRTIO_BLK_T_OUT;
            // 5.2.6.2: "A device MUST set the status byte to VIRTIO_BLK_S_IOERR for a write
            // request if the VIRTIO_BLK_F_RO feature if offered, and MUST NOT write any data."
            if (is_write && geometry.read_only) {
                return answer(VIRTIO_BLK_S_IOERR, "write to a read-only disk");
            }
            // Data flows one way: a read's data is device-writable, a write's device-readable.
            if ((is_write ? writable_data : readable_data) != 0) {
                return answer(VIRTIO_BLK_S_IOERR, "data buffer in the wrong direction");
            }
            const uint64_t len = is_write ? readable_data : writable_data;
            // 5.2.6.1: "The length of data MUST be a multiple of 512 bytes for VIRTIO_BLK_T_IN
            // and VIRTIO_BLK_T_OUT requests."
            if (len % kVirtioBlkSectorSize != 0) {
                return answer(VIRTIO_BLK_S_IOERR, "data length not a multiple of 512");
            }
            // 5.2.6.1: "A driver MUST NOT submit a request which would cause a read or write
            // beyond capacity." Checked without forming sector * 512 or sector + count, either
            // of which a hostile sector (say 2^63) would overflow.
            if (!range_fits(header.sector, len >> kVirtioBlkSectorShift,
                            geometry.capacity_sectors)) {
                return answer(VIRTIO_BLK_S_IOERR, "request beyond capacity");
            }
            if (!aligned(header.sector, len >> kVirtioBlkSectorShift, geometry)) {
                return misaligned("read / write not aligned to the backing's logical block",
                                  header.sector, len >> kVirtioBlkSectorShift);
            }
            out.type_ = is_write ? BlkRequestType::write : BlkRequestType::read;
            out.sector_ = header.sector;
            out.data_len_ = static_cast<uint32_t>(len);
            if (len == 0) return answer(VIRTIO_BLK_S_OK, "empty transfer");
            const bool mapped =
                is_write ? gather(readable, sizeof(header), len, memory, out.iovecs_,
                                  out.guest_addresses_)
                         : gather(writable, 0, len, memory, out.iovecs_, out.guest_addresses_);
            if (!mapped) return answer(VIRTIO_BLK_S_IOERR, "data buffer outside guest RAM");
            return BlkParseResult{true, {}};
        }

        case VIRTIO_BLK_T_FLUSH:
            // 5.2.6: the sector "is unused and set to 0 for commands other than read or write".
            // A flush carries no data; stray data does no harm and is ignored, not refused.
            out.type_ = BlkRequestType::flush;
            return BlkParseResult{true, {}};

        case VIRTIO_BLK_T_GET_ID: {
            if (readable_data != 0) {
                return answer(VIRTIO_BLK_S_IOERR, "data buffer in the wrong direction");
            }
            if (writable_data == 0) return answer(VIRTIO_BLK_S_IOERR, "GET_ID without a buffer");
            const uint64_t len = std::min<uint64_t>(writable_data, VIRTIO_BLK_ID_BYTES);
            if (!gather(writable, 0, len, memory, out.iovecs_, out.guest_addresses_)) {
                return answer(VIRTIO_BLK_S_IOERR, "data buffer outside guest RAM");
            }
            out.type_ = BlkRequestType::get_id;
            out.data_len_ = static_cast<uint32_t>(len);
            return BlkParseResult{true, {}};
        }

        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES: {
            const bool is_discard = header.type == VIRTIO_BLK_T_DISCARD;
            // A command whose feature we did not offer is one we do not support.
            if (!(is_discard ? geometry.discard : geometry.write_zeroes)) {
                return answer(VIRTIO_BLK_S_UNSUPP, "discard / write zeroes not offered");
            }
            // Both change the disk's contents, which a read-only disk refuses like a write.
            if (geometry.read_only) return answer(VIRTIO_BLK_S_IOERR, "change to a read-only disk");
            if (writable_data != 0) {
                return answer(VIRTIO_BLK_S_IOERR, "data buffer in the wrong direction");
            }
            // 5.2.6.1 (driver requirements): the data of DISCARD / WRITE_ZEROES is a whole
            // number of struct virtio_blk_discard_write_zeroes, and there is at least one.
            constexpr uint64_t kRangeSize = sizeof(VirtioBlkDiscardWriteZeroes);
            if (readable_data == 0 || readable_data % kRangeSize != 0) {
                return answer(VIRTIO_BLK_S_IOERR, "range list length not a multiple of 16");
            }
            // The driver may send at most max_discard_seg / max_write_zeroes_seg ranges, each
            // of at most max_discard_sectors / max_write_zeroes_sectors (5.2.4, 5.2.6.1).
            const uint64_t count = readable_data / kRangeSize;
            const uint32_t max_seg =
                std::min(is_discard ? geometry.max_discard_seg : geometry.max_write_zeroes_seg,
                         kMaxBlkRanges);
            const uint32_t max_sectors =
                is_discard ? geometry.max_discard_sectors : geometry.max_write_zeroes_sectors;
            if (count > max_seg) return answer(VIRTIO_BLK_S_IOERR, "too many ranges");
            for (uint64_t i = 0; i < count; ++i) {
                VirtioBlkDiscardWriteZeroes range;
                if (!copy_out(readable, sizeof(header) + i * kRangeSize,
                              std::span(reinterpret_cast<uint8_t*>(&range), sizeof(range)),
                              memory)) {
                    return answer(VIRTIO_BLK_S_IOERR, "range list outside guest RAM");
                }
                // 5.2.6.2: "The device MUST set the status byte to VIRTIO_BLK_S_UNSUPP for
                // discard and write zeroes commands if any unknown flag is set. Furthermore, the
                // device MUST set the status byte to VIRTIO_BLK_S_UNSUPP for discard commands if
                // the unmap flag is set." (1.1 wording; 1.2 adds secure erase to the first.)
                const uint32_t allowed = is_discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
                if ((range.flags & ~allowed) != 0) {
                    return answer(VIRTIO_BLK_S_UNSUPP, "unsupported range flags");
                }
                if (range.num_sectors > max_sectors) {
                    return answer(VIRTIO_BLK_S_IOERR, "range larger than advertised");
                }
                if (!range_fits(range.sector, range.num_sectors, geometry.capacity_sectors)) {
                    return answer(VIRTIO_BLK_S_IOERR, "range beyond capacity");
                }
                if (!aligned(range.sector, range.num_sectors, geometry)) {
                    return misaligned(
                        "discard / write zeroes range not aligned to the backing's logical block",
                        range.sector, range.num_sectors);
                }
                // A range of 0 sectors is valid and has nothing in it: the device answers it
                // (OK) without an engine, so that every engine gives the same status (fallocate
                // refuses a length of 0 with EINVAL, the null and NVMe engines said OK).
                if (range.num_sectors == 0) continue;
                const bool unmap = (range.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0;
                // Cannot fail: count <= kMaxBlkRanges.
                if (!out.ranges_.push_back(BlkRange{range.sector, range.num_sectors, unmap})) {
                    return answer(VIRTIO_BLK_S_IOERR, "too many ranges");
                }
            }
            out.type_ = is_discard ? BlkRequestType::discard : BlkRequestType::write_zeroes;
            return BlkParseResult{true, {}};
        }

        default:
            // Anything else, including types of features we do not offer (GET_LIFETIME,
            // SECURE_ERASE, the zoned commands), gets VIRTIO_BLK_S_UNSUPP.
            return answer(VIRTIO_BLK_S_UNSUPP, "unsupported request type");
    }
}

uint32_t BlkRequest::complete(uint8_t status) const {
    *status_ = status;
    if (status == VIRTIO_BLK_S_OK && type_ == BlkRequestType::read) return data_len_ + 1;
    return 1;
}

uint32_t BlkRequest::complete_get_id(const std::array<uint8_t, VIRTIO_BLK_ID_BYTES>& id) const {
    size_t done = 0;
    for (const iovec& v : iovecs_) {
        const size_t n = std::min(v.iov_len, size_t{data_len_} - done);
        std::memcpy(v.iov_base, id.data() + done, n);
        done += n;
    }
    *status_ = VIRTIO_BLK_S_OK;
    return static_cast<uint32_t>(done) + 1;
}

uint8_t blk_status_for_result(int32_t result) {
    if (result >= 0) return VIRTIO_BLK_S_OK;
    return result == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
}

}  // namespace nvmevm
