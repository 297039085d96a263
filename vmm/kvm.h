// Thin RAII wrappers over the KVM API: the system handle (/dev/kvm) and a VM. Setup errors are
// std::system_error naming the ioctl; the hot path (KVM_RUN) lives in vmm/vcpu.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "foundation/guest_memory.h"
#include "foundation/unique_fd.h"

namespace nvmevm {

// Calls ioctl and throws std::system_error("what: ...") on failure; returns the result.
int checked_ioctl(int fd, unsigned long request, const void* arg, const char* what);
inline int checked_ioctl(int fd, unsigned long request, unsigned long arg, const char* what) {
    return checked_ioctl(fd, request, reinterpret_cast<const void*>(arg), what);
}

// The message of a failed open of the KVM device: errno's text, then what to check (the kvm
// module, the device's group and mode) and that the nested lab runs nvmevm without host KVM
// (scripts/lab-run.sh, scripts/lab-command.sh; docs/lab.md). Permission errors name the group
// first, a missing device the module.
[[nodiscard]] std::string kvm_open_error(const char* device, int error);

class KvmSystem {
  public:
    static constexpr const char* kDevice = "/dev/kvm";
    // Opens `device` and checks the API version and every capability nvmevm relies on. Throws
    // std::runtime_error with kvm_open_error's message when the device cannot be opened,
    // std::system_error when an ioctl fails.
    explicit KvmSystem(const char* device = kDevice);

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
    [[nodiscard]] int max_vcpus() const { return max_vcpus_; }
    [[nodiscard]] bool has(int capability) const;
    // The CPUID entries KVM can offer a guest on this host (queried once, then cached).
    [[nodiscard]] const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }

  private:
    UniqueFd fd_;
    size_t vcpu_mmap_size_ = 0;
    int max_vcpus_ = 0;
    std::vector<kvm_cpuid_entry2> cpuid_;
};

class KvmVm {
  public:
    // Creates a VM with the in-kernel interrupt controllers (PIC, IOAPIC, LAPICs) and PIT, and
    // maps every region of `memory` into it.
    KvmVm(const KvmSystem& kvm, const GuestMemory& memory);

    [[nodiscard]] int fd() const { return fd_.get(); }
    // Drives an interrupt controller input pin (ISA IRQs reach both PIC and IOAPIC).
    void set_irq_line(uint32_t irq, bool level) const;

    // Injects an MSI (address/data as the guest programmed them in an MSI-X table entry).
    // Returns false when KVM refused it (the guest's address/data were nonsense).
    [[nodiscard]] bool signal_msi(uint64_t address, uint32_t data) const noexcept;

    // Binds `eventfd` to guest writes of `length` bytes (0: any length) at MMIO `address`: such
    // a write signals the eventfd inside KVM, with no exit to userspace. Throws on failure.
    void add_mmio_eventfd(uint64_t address, uint32_t length, int eventfd) const;
    // Undoes add_mmio_eventfd (before the BAR moves); failures are logged, not thrown.
    void remove_mmio_eventfd(uint64_t address, uint32_t length, int eventfd) const noexcept;

  private:
    UniqueFd fd_;
};

}  // namespace nvmevm
