// KVM ioctls whose argument ends in a flexible array, declared with the kernel's layout.
//
// linux-libc-dev 6.1 declares those arrays with __DECLARE_FLEX_ARRAY, which in C++ puts a
// one-byte empty struct in front of the array: sizeof(kvm_cpuid2) becomes 12 instead of 8, the
// entries move to offset 12, and the ioctl numbers (which encode the size) change, so KVM
// answers EINVAL. nvmevm uses these mirrors instead; the static_asserts pin the layout.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace nvmevm::kvm_abi {

// struct kvm_cpuid2, kvm_msrs and kvm_irq_routing all start with two u32s: a count and padding
// (kvm_irq_routing: nr and flags).
struct CountHeader {
    uint32_t count;
    uint32_t padding;
};
static_assert(sizeof(CountHeader) == 8);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CountHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CountHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, CountHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, CountHeader);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, CountHeader);

// A header followed by `Entry` records in one zeroed allocation, as those ioctls expect.
template <typename Entry>
class FlexBuffer {
  public:
    explicit FlexBuffer(size_t capacity)
        : capacity_(capacity),
          storage_(std::make_unique<uint64_t[]>(
              (sizeof(CountHeader) + capacity * sizeof(Entry) + 7) / 8)) {
        header().count = static_cast<uint32_t>(capacity);
    }
    [[nodiscard]] CountHeader& header() { return *reinterpret_cast<CountHeader*>(storage_.get()); }
    [[nodiscard]] Entry* entries() {
        return reinterpret_cast<Entry*>(reinterpret_cast<uint8_t*>(storage_.get()) +
                                        sizeof(CountHeader));
    }
    [[nodiscard]] std::span<Entry> used() { return {entries(), header().count}; }
    [[nodiscard]] void* data() { return storage_.get(); }
    [[nodiscard]] size_t capacity() const { return capacity_; }

  private:
    size_t capacity_;
    std::unique_ptr<uint64_t[]> storage_;
};

}  // namespace nvmevm::kvm_abi
