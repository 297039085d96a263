#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include "foundation/log.h"
#include "vmm/kvm_abi.h"

namespace nvmevm {
namespace {

// Addresses KVM needs for its own use on Intel (real-mode TSS and identity map); placed just
// below the BIOS area at the top of the 32-bit space, where nothing else lives.
constexpr uint64_t kTssAddress = 0xfffb'd000;
constexpr uint64_t kIdentityMapAddress = 0xfffb'c000;

struct RequiredCap {
    int cap;
    const char* name;
};
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "USER_MEMORY"},
    {KVM_CAP_IRQCHIP, "IRQCHIP"},
    {KVM_CAP_PIT2, "PIT2"},
    {KVM_CAP_IOEVENTFD, "IOEVENTFD"},
    {KVM_CAP_IRQFD, "IRQFD"},
    {KVM_CAP_EXT_CPUID, "EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
    {KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR"},
};

}  // namespace

std::string kvm_open_error(const char* device, int error) {
    const std::string module =
        "Is the kvm module loaded (lsmod | grep kvm; modprobe kvm_intel or kvm_amd), with "
        "virtualization on (a firmware setting; nested virtualization inside a VM)?";
    const std::string group = std::string("May this user read and write ") + device + " (ls -l " +
                              device + ": usually mode 0660, group kvm; usermod -aG kvm USER)?";
    const bool denied = error == EACCES || error == EPERM;
    return std::string("open ") + device + ": " + std::strerror(error) + ". " +
           (denied ? group + " " + module : module + " " + group) +
           " Without KVM on this host, scripts/lab-run.sh and scripts/lab-command.sh run "
           "nvmevm in the nested lab (docs/lab.md).";
}

int checked_ioctl(int fd, unsigned long request, const void* arg, const char* what) {
    int rc = ::ioctl(fd, request, arg);
    if (rc < 0) throw std::system_error(errno, std::generic_category(), what);
    return rc;
}

KvmSystem::KvmSystem(const char* device) {
    fd_ = UniqueFd(::open(device, O_RDWR | O_CLOEXEC));
    if (!fd_) {
        const int error = errno;
        throw std::runtime_error(kvm_open_error(device, error));
    }
    if (int version = checked_ioctl(fd(), KVM_GET_API_VERSION, 0ul, "KVM_GET_API_VERSION");
        version != KVM_API_VERSION)
        throw std::runtime_error("/dev/kvm: unsupported API version " + std::to_string(version));
    for (const RequiredCap& required : kRequiredCaps) {
        if (!has(required.cap))
            throw std::runtime_error(std::string("/dev/kvm lacks KVM_CAP_") + required.name);
    }
    vcpu_mmap_size_ = static_cast<size_t>(
        checked_ioctl(fd(), KVM_GET_VCPU_MMAP_SIZE, 0ul, "KVM_GET_VCPU_MMAP_SIZE"));
    max_vcpus_ = ::ioctl(fd(), KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max_vcpus_ <= 0) max_vcpus_ = ::ioctl(fd(), KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);

    // KVM_GET_SUPPORTED_CPUID fails with E2BIG while the buffer is too small; grow until it fits.
    for (size_t capacity = 256; capacity <= 4096; capacity *= 2) {
        kvm_abi::FlexBuffer<kvm_cpuid_entry2> cpuid(capacity);
        if (::ioctl(fd(), kvm_abi::kGetSupportedCpuid, cpuid.data()) == 0) {
            auto used = cpuid.used();
            cpuid_.assign(used.begin(), used.end());
            return;
        }
        if (errno != E2BIG)
            throw std::system_error(errno, std::generic_category(), "KVM_GET_SUPPORTED_CPUID");
    }
    throw std::runtime_error("KVM_GET_SUPPORTED_CPUID: too many entries");
}

bool KvmSystem::has(int capability) const {
    return ::ioctl(fd(), KVM_CHECK_EXTENSION, capability) > 0;
}

KvmVm::KvmVm(const KvmSystem& kvm, const GuestMemory& memory) {
    fd_ = UniqueFd(checked_ioctl(kvm.fd(), KVM_CREATE_VM, 0ul, "KVM_CREATE_VM"));
    checked_ioctl(fd(), KVM_SET_TSS_ADDR, kTssAddress, "KVM_SET_TSS_ADDR");
    uint64_t identity_map = kIdentityMapAddress;
    if (kvm.has(KVM_CAP_SET_IDENTITY_MAP_ADDR))
        checked_ioctl(fd(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map, "KVM_SET_IDENTITY_MAP_ADDR");

    uint32_t slot = 0;
    for (const GuestRegion& region : memory.regions()) {
        kvm_userspace_memory_region r{};
        r.slot = slot++;
        r.guest_phys_addr = region.guest_base;
        r.memory_size = region.size;
        r.userspace_addr = reinterpret_cast<uint64_t>(region.host_base);
        checked_ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r, "KVM_SET_USER_MEMORY_REGION");
    }

    // The interrupt controllers and PIT after the memory: each of these ioctls waits for an
    // SRCU grace period in the kernel, and measured here they return sooner in this order.
    checked_ioctl(fd(), KVM_CREATE_IRQCHIP, 0ul, "KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    checked_ioctl(fd(), KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
}

void KvmVm::set_irq_line(uint32_t irq, bool level) const {
    kvm_irq_level line{};
    line.irq = irq;
    line.level = level ? 1 : 0;
    // Cannot fail for a valid pin once the irqchip exists; a failure would be a VMM bug, and
    // throwing from a device callback on a vCPU thread would be worse than a lost edge.
    (void)::ioctl(fd(), KVM_IRQ_LINE, &line);
}

}  // namespace nvmevm

namespace nvmevm {

bool KvmVm::signal_msi(uint64_t address, uint32_t data) const noexcept {
    kvm_msi msi{};
    msi.address_lo = static_cast<uint32_t>(address);
    msi.address_hi = static_cast<uint32_t>(address >> 32);
    msi.data = data;
    // KVM returns >0 when delivered, 0 when the guest blocked it, <0 on a bad message.
    return ::ioctl(fd(), KVM_SIGNAL_MSI, &msi) >= 0;
}

namespace {
kvm_ioeventfd mmio_eventfd(uint64_t address, uint32_t length, int eventfd) {
    kvm_ioeventfd io{};
    io.addr = address;
    io.len = length;
    io.fd = eventfd;
    return io;
}
}  // namespace

void KvmVm::add_mmio_eventfd(uint64_t address, uint32_t length, int eventfd) const {
    const kvm_ioeventfd io = mmio_eventfd(address, length, eventfd);
    checked_ioctl(fd(), KVM_IOEVENTFD, &io, "KVM_IOEVENTFD");
}

void KvmVm::remove_mmio_eventfd(uint64_t address, uint32_t length, int eventfd) const noexcept {
    kvm_ioeventfd io = mmio_eventfd(address, length, eventfd);
    io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
    // The guest moves BARs as often as it likes: each move unbinds the doorbells.
    static RateLimiter log_limit;
    if (::ioctl(fd(), KVM_IOEVENTFD, &io) < 0)
        logf_limited(log_limit, LogLevel::warn, "KVM_IOEVENTFD deassign at 0x%llx failed",
                     static_cast<unsigned long long>(address));
}

}  // namespace nvmevm
