// Guest RAM and the one checked path from a guest physical address and a length to host
// memory. Nothing else in nvmevm does arithmetic on guest addresses: every device, loader and
// queue asks GuestMemory for a span covering the whole [address, address + length) range and
// gets nothing when any byte of it is outside RAM or the sum overflows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "foundation/mapping.h"

namespace nvmevm {

// A guest physical address. A distinct type so that it cannot be mixed up with a host pointer
// or a length by accident.
struct GuestAddress {
    uint64_t value = 0;
    constexpr auto operator<=>(const GuestAddress&) const = default;
};

// One contiguous piece of guest RAM as the guest sees it.
struct GuestRegion {
    uint64_t guest_base;
    uint64_t size;
    uint8_t* host_base;
};

// x86 layout: RAM from 0 up to the 32-bit MMIO hole, the rest above 4 GiB.
inline constexpr uint64_t kMmioHoleStart = 0xC000'0000;  // 3 GiB: PCI BARs, IOAPIC, LAPIC
inline constexpr uint64_t kMmioHoleEnd = 0x1'0000'0000;  // 4 GiB

class GuestMemory {
  public:
    // Allocates `size` bytes of guest RAM laid out around the MMIO hole.
    explicit GuestMemory(uint64_t size);
    // For tests and fuzzers: wraps caller-owned memory as one region at guest address 0.
    static GuestMemory wrap(std::span<uint8_t> memory);

    GuestMemory(GuestMemory&&) = default;
    GuestMemory& operator=(GuestMemory&&) = default;

    [[nodiscard]] uint64_t size() const { return total_size_; }
    [[nodiscard]] const std::vector<GuestRegion>& regions() const { return regions_; }
    // The host mapping that backs all regions (guest RAM registration with io_uring).
    [[nodiscard]] std::span<uint8_t> host_backing() const { return {backing_base_, total_size_}; }

    // The whole range, or nothing if any part of [gpa, gpa + len) is not RAM or it wraps.
    // A zero-length range is valid when gpa lies inside (or at the end of) a region.
    [[nodiscard]] std::optional<std::span<uint8_t>> slice(GuestAddress gpa, uint64_t len) const;

    [[nodiscard]] bool contains(GuestAddress gpa, uint64_t len) const {
        return slice(gpa, len).has_value();
    }

    // Copies between guest RAM and host buffers; false (and nothing copied) when out of range.
    [[nodiscard]] bool read(GuestAddress gpa, std::span<uint8_t> out) const;
    [[nodiscard]] bool write(GuestAddress gpa, std::span<const uint8_t> in) const;

    template <typename T>
    [[nodiscard]] std::optional<T> read_obj(GuestAddress gpa) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        if (!read(gpa, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T))))
            return std::nullopt;
        return value;
    }
    template <typename T>
    [[nodiscard]] bool write_obj(GuestAddress gpa, const T& value) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(gpa, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
    }

  private:
    GuestMemory() = default;
    Mapping mapping_;
    uint8_t* backing_base_ = nullptr;
    uint64_t total_size_ = 0;
    std::vector<GuestRegion> regions_;
};

}  // namespace nvmevm
