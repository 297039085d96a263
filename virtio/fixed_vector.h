// A vector with inline, fixed capacity for the per-request hot path: no heap allocation, and
// construction does not touch the storage (an array of GuestAddress would zero every element on
// each construction because of its member initialiser). Only for trivially copyable element
// types, so that copying is a memcpy of the used part and destruction is free.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

namespace nvmevm {

template <typename T, size_t N>
class FixedVector {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

  public:
    FixedVector() = default;
    FixedVector(const FixedVector& other) : size_(other.size_) {
        std::memcpy(storage_, other.storage_, size_ * sizeof(T));
    }
    FixedVector& operator=(const FixedVector& other) {
        if (this != &other) {
            size_ = other.size_;
            std::memcpy(storage_, other.storage_, size_ * sizeof(T));
        }
        return *this;
    }

    static constexpr size_t capacity() { return N; }
    [[nodiscard]] size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }
    [[nodiscard]] bool full() const { return size_ == N; }
    void clear() { size_ = 0; }

    // False (and nothing stored) when full: the caller decides what "too many" means.
    [[nodiscard]] bool push_back(const T& value) {
        if (size_ == N) return false;
        std::construct_at(data() + size_, value);
        ++size_;
        return true;
    }

    [[nodiscard]] T* data() { return std::launder(reinterpret_cast<T*>(storage_)); }
    [[nodiscard]] const T* data() const {
        return std::launder(reinterpret_cast<const T*>(storage_));
    }
    T& operator[](size_t i) { return data()[i]; }
    const T& operator[](size_t i) const { return data()[i]; }
    T& back() { return data()[size_ - 1]; }
    const T& back() const { return data()[size_ - 1]; }
    T* begin() { return data(); }
    T* end() { return data() + size_; }
    const T* begin() const { return data(); }
    const T* end() const { return data() + size_; }
    [[nodiscard]] std::span<T> span() { return {data(), size_}; }
    [[nodiscard]] std::span<const T> span() const { return {data(), size_}; }

  private:
    size_t size_ = 0;
    alignas(T) unsigned char storage_[N * sizeof(T)];
};

}  // namespace nvmevm
