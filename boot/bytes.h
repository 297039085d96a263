// Bounds- and overflow-checked access to untrusted byte images (kernel files, initrds). Every
// offset and size a loader reads from a file goes through these, so a malformed header ends
// in a BootError instead of an out-of-bounds read or a wrapped sum.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace nvmevm::bytes {

static_assert(std::endian::native == std::endian::little,
              "boot structures are little-endian and read by memcpy");

// a + b, or nothing when it does not fit in 64 bits.
[[nodiscard]] inline std::optional<uint64_t> add(uint64_t a, uint64_t b) {
    uint64_t sum;
    if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
    return sum;
}

// a * b, or nothing when it does not fit in 64 bits.
[[nodiscard]] inline std::optional<uint64_t> mul(uint64_t a, uint64_t b) {
    uint64_t product;
    if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
    return product;
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes.
[[nodiscard]] inline bool in_bounds(uint64_t size, uint64_t offset, uint64_t length) {
    return offset <= size && length <= size - offset;
}

// `value` rounded up to `alignment` (a power of two), or nothing on overflow.
[[nodiscard]] inline std::optional<uint64_t> align_up(uint64_t value, uint64_t alignment) {
    auto bumped = add(value, alignment - 1);
    if (!bumped) return std::nullopt;
    return *bumped & ~(alignment - 1);
}

[[nodiscard]] constexpr uint64_t align_down(uint64_t value, uint64_t alignment) {
    return value & ~(alignment - 1);
}

// The bytes [offset, offset + length) of `data`, or nothing when any of them is outside.
[[nodiscard]] inline std::optional<std::span<const uint8_t>> sub(std::span<const uint8_t> data,
                                                                 uint64_t offset, uint64_t length) {
    if (!in_bounds(data.size(), offset, length)) return std::nullopt;
    return data.subspan(static_cast<size_t>(offset), static_cast<size_t>(length));
}

// A trivially copyable object stored at `offset`, or nothing when it does not fit.
template <typename T>
[[nodiscard]] std::optional<T> load(std::span<const uint8_t> data, uint64_t offset) {
    static_assert(std::is_trivially_copyable_v<T>);
    auto range = sub(data, offset, sizeof(T));
    if (!range) return std::nullopt;
    T value;
    std::memcpy(&value, range->data(), sizeof(T));
    return value;
}

// The raw bytes of a trivially copyable object, for GuestMemory::write and table assembly.
template <typename T>
[[nodiscard]] std::span<const uint8_t> of(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return {reinterpret_cast<const uint8_t*>(&value), sizeof(T)};
}

}  // namespace nvmevm::bytes
