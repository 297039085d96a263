// Reading a fuzzer's input as a stream of little-endian fields. Past the end every field reads
// as zero (missing bytes are zeroes), so every input decodes to something.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nvmevm::fuzz {

class ByteReader {
  public:
    explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

    template <typename T>
    T take() {
        T value{};
        const size_t n = sizeof(T) < data_.size() ? sizeof(T) : data_.size();
        std::memcpy(&value, data_.data(), n);
        data_ = data_.subspan(n);
        return value;
    }
    // The next `n` bytes (fewer at the end).
    std::span<const uint8_t> take_bytes(size_t n) {
        const std::span<const uint8_t> out = data_.first(n < data_.size() ? n : data_.size());
        data_ = data_.subspan(out.size());
        return out;
    }
    [[nodiscard]] std::span<const uint8_t> rest() const { return data_; }
    [[nodiscard]] bool empty() const { return data_.empty(); }

  private:
    std::span<const uint8_t> data_;
};

}  // namespace nvmevm::fuzz
