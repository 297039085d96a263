#include "virtio/msix.h"

#include <bit>
#include <stdexcept>

#include "devices/io_bus.h"

namespace nvmevm {
namespace {

// 6.8.2.6: "For proper DWORD alignment, software must always write zeroes to these two bits
// [Message Address 1:0]". We store them as zero whatever is written.
constexpr uint32_t kAddressLowWritable = ~uint32_t{3};

bool dword_or_qword_aligned(uint64_t offset, size_t size) {
    return (size == 4 || size == 8) && offset % size == 0;
}

}  // namespace

MsixTable::MsixTable(uint32_t vectors, MsiSink& sink) : sink_(sink), size_(vectors) {
    if (vectors == 0 || vectors > kMaxVectors)
        throw std::invalid_argument("MSI-X table size must be 1-2048 vectors");
    entries_ = std::make_unique<Entry[]>(size_);
    pending_ = std::make_unique<std::atomic<uint64_t>[]>(pba_words());
    for (uint32_t i = 0; i < pba_words(); ++i) pending_[i].store(0);
}

void MsixTable::read_table(uint64_t offset, std::span<uint8_t> data) const {
    for (auto& byte : data) byte = 0;
    if (!dword_or_qword_aligned(offset, data.size()) || offset >= table_bytes() ||
        data.size() > table_bytes() - offset) {
        return;
    }
    for (size_t i = 0; i < data.size(); i += 4)
        store_le(data.subspan(i, 4), read_dword(offset + i));
}

void MsixTable::write_table(uint64_t offset, std::span<const uint8_t> data) {
    if (!dword_or_qword_aligned(offset, data.size()) || offset >= table_bytes() ||
        data.size() > table_bytes() - offset) {
        log_bad_access("table write", offset, data.size());
        return;
    }
    // A QWORD write is its two DWORDs in address order: at offset 8 the data lands before the
    // Vector Control word can unmask the entry.
    for (size_t i = 0; i < data.size(); i += 4)
        write_dword(offset + i, static_cast<uint32_t>(load_le(data.subspan(i, 4))));
}

void MsixTable::read_pba(uint64_t offset, std::span<uint8_t> data) const {
    for (auto& byte : data) byte = 0;
    if (!dword_or_qword_aligned(offset, data.size()) || offset >= pba_bytes() ||
        data.size() > pba_bytes() - offset) {
        return;
    }
    const uint64_t word = pending_[offset / 8].load();
    const unsigned shift = static_cast<unsigned>(8 * (offset % 8));
    store_le(data, word >> shift);
}

void MsixTable::write_pba(uint64_t offset, std::span<const uint8_t> data) {
    // 6.8.2.10: "Software should never write, and should only read Pending Bits. If software
    // writes to Pending Bits, the result is undefined." Ours: ignored.
    log_bad_access("PBA write", offset, data.size());
}

void MsixTable::set_control(bool enabled, bool function_masked) {
    enabled_.store(enabled);
    function_masked_.store(function_masked);
    if (!enabled || function_masked) return;
    // 6.8.2.3, Function Mask: "If 0, each vector's Mask bit determines whether the vector is
    // masked or not", and 6.8.3.4: "If a masked vector has its Pending bit Set, and the vector
    // is unmasked, the function must schedule sending the associated message". Enabling MSI-X
    // with messages pending behaves the same way.
    for (uint32_t word = 0; word < pba_words(); ++word) {
        uint64_t bits = pending_[word].load();
        while (bits != 0) {
            const auto bit = static_cast<uint32_t>(std::countr_zero(bits));
            bits &= bits - 1;
            deliver_if_pending(word * 64 + bit);
        }
    }
}

bool MsixTable::signal(uint32_t vector) {
    if (vector >= size_ || !enabled_.load()) return false;
    if (!masked(vector)) {
        send(vector);
        return true;
    }
    // 6.8.3.4: "While a vector is masked, the function is prohibited from sending the
    // associated message, and the function must set the associated Pending bit whenever the
    // function would otherwise send the message."
    pending_[vector / 64].fetch_or(uint64_t{1} << (vector % 64));
    // An unmask may have happened between the check above and the store: it could have missed
    // our Pending bit, so look again (it runs the mirror image: clear mask, then check pending).
    deliver_if_pending(vector);
    return true;
}

bool MsixTable::pending(uint32_t vector) const {
    if (vector >= size_) return false;
    return (pending_[vector / 64].load() >> (vector % 64)) & 1;
}

bool MsixTable::vector_masked(uint32_t vector) const {
    if (vector >= size_) return true;
    return entries_[vector].control.load() & kVectorMasked;
}

bool MsixTable::masked(uint32_t vector) const {
    return function_masked_.load() || (entries_[vector].control.load() & kVectorMasked);
}

uint32_t MsixTable::read_dword(uint64_t offset) const {
    const Entry& entry = entries_[offset / kEntryBytes];
    switch (offset % kEntryBytes) {
        case kAddressLow:
            return entry.address_low.load();
        case kAddressHigh:
            return entry.address_high.load();
        case kData:
            return entry.data.load();
        default:
            return entry.control.load();
    }
}

void MsixTable::write_dword(uint64_t offset, uint32_t value) {
    const auto vector = static_cast<uint32_t>(offset / kEntryBytes);
    Entry& entry = entries_[vector];
    switch (offset % kEntryBytes) {
        case kAddressLow:
            entry.address_low.store(value & kAddressLowWritable);
            return;
        case kAddressHigh:
            entry.address_high.store(value);
            return;
        case kData:
            entry.data.store(value);
            return;
        default: {
            // 6.8.2.9: bits 31:1 are reserved (read 0); only the Mask Bit is writable.
            const uint32_t old = entry.control.exchange(value & kVectorMasked);
            if ((old & kVectorMasked) && !(value & kVectorMasked)) deliver_if_pending(vector);
            return;
        }
    }
}

void MsixTable::send(uint32_t vector) {
    const Entry& entry = entries_[vector];
    const uint64_t address = uint64_t{entry.address_high.load()} << 32 | entry.address_low.load();
    sink_.deliver(address, entry.data.load());
}

void MsixTable::deliver_if_pending(uint32_t vector) {
    if (!enabled_.load() || masked(vector)) return;
    const uint64_t bit = uint64_t{1} << (vector % 64);
    if (pending_[vector / 64].fetch_and(~bit) & bit) send(vector);
}

void MsixTable::log_bad_access(const char* what, uint64_t offset, size_t size) {
    logf_limited(log_limit_, LogLevel::warn, "virtio-pci: MSI-X %s of %zu bytes at 0x%llx ignored",
                 what, size, static_cast<unsigned long long>(offset));
}

}  // namespace nvmevm
