// A move-only owner of an mmap()ed region (guest RAM, the kvm_run page).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace nvmevm {

class Mapping {
  public:
    Mapping() = default;
    Mapping(void* addr, size_t size) : addr_(addr), size_(size) {}
    Mapping(Mapping&& other) noexcept
        : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    Mapping& operator=(Mapping&& other) noexcept {
        if (this != &other) {
            unmap();
            addr_ = std::exchange(other.addr_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { unmap(); }

    // Anonymous shared memory, reserved but not committed until touched (guest RAM that the
    // guest never uses costs nothing).
    static Mapping anonymous(size_t size);
    // A shared mapping of a file descriptor (the vCPU's kvm_run area).
    static Mapping of_fd(int fd, size_t size);

    [[nodiscard]] void* get() const { return addr_; }
    [[nodiscard]] size_t size() const { return size_; }
    [[nodiscard]] bool valid() const { return addr_ != nullptr; }

  private:
    void unmap() {
        if (addr_ != nullptr) ::munmap(addr_, size_);
        addr_ = nullptr;
        size_ = 0;
    }
    void* addr_ = nullptr;
    size_t size_ = 0;
};

}  // namespace nvmevm
