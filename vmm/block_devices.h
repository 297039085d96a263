// The machine's virtio-blk drives: for each [[drive]], its backing store, the virtio-blk device,
// its virtio-pci transport on the PCI bus (BAR placed as firmware would, doorbells bound to
// ioeventfds), and the queues handed to the vCPU threads: queue i belongs to vCPU i mod N.
#pragma once

#include <memory>
#include <vector>

#include "devices/io_bus.h"
#include "devices/pci_bar_mapping.h"
#include "devices/pci_host.h"
#include "storage/backing.h"
#include "virtio/blk_device.h"
#include "virtio/blk_vcpu_service.h"
#include "virtio/msix.h"
#include "virtio/pci_transport.h"
#include "vmm/drive_engine.h"
#include "vmm/kvm.h"
#include "vmm/vm_config.h"

namespace nvmevm {

// MSI-X messages delivered with KVM_SIGNAL_MSI, from the thread that completes the request: the
// vector of queue i targets vCPU i, which is usually this very thread's vCPU.
class KvmMsiSink final : public MsiSink {
  public:
    explicit KvmMsiSink(const KvmVm& vm) : vm_(vm) {}
    void deliver(uint64_t address, uint32_t data) override;

  private:
    const KvmVm& vm_;
    RateLimiter log_limit_;
};

class BlockDevices {
  public:
    // Opens every drive and puts it on the PCI bus. Throws std::system_error / runtime_error.
    BlockDevices(const VmConfig& config, const GuestMemory& memory, const KvmVm& vm, PciHost& pci,
                 IoBus& mmio);
    // Unbinds the doorbells and clears the BAR callbacks: the transports live on in the PCI
    // host (Platform outlives this), and their callbacks point here.
    ~BlockDevices();
    BlockDevices(const BlockDevices&) = delete;
    BlockDevices& operator=(const BlockDevices&) = delete;

    // The work of vCPU `index` (null when it owns no queue).
    [[nodiscard]] VcpuWork* vcpu_work(uint32_t index);

    // After the vCPUs stopped: makes every completed write durable (fdatasync), so that a
    // graceful stop (SIGTERM, SIGINT, guest power-off) loses nothing the guest wrote, flushed
    // or not.
    void flush_all() const;

    struct Totals {
        uint64_t requests = 0;
        uint64_t interrupts = 0;
        uint64_t errors = 0;
        uint64_t throttled = 0;           // times a drive's rate limit held a queue back
        uint64_t read_modify_writes = 0;  // requests served by 512-byte emulation (bounced)
    };
    [[nodiscard]] Totals totals() const;
    // The capacity of the largest writable drive on a regular file (0: none), for RLIMIT_FSIZE.
    [[nodiscard]] uint64_t largest_writable_file() const;
    // Whether a drive uses NVMe passthrough (engine nvme).
    [[nodiscard]] bool has_passthrough() const;

  private:
    struct Drive {
        std::string id;
        DriveEngine engine = DriveEngine::uring;  // as resolved
        std::shared_ptr<const Backing> backing;   // shared with the device and its engines
        std::shared_ptr<VirtioBlk> device;
        std::shared_ptr<VirtioPciTransport> transport;
        // BAR 0 on the MMIO bus: where it is decoded now (nowhere while the guest leaves it
        // on another device's range).
        std::unique_ptr<PciBarMapping> bar;
    };
    void add_drives(const VmConfig& config, const GuestMemory& memory, PciHost& pci);
    // Leaves nothing in the PCI host or KVM that points at this object.
    void unplug() noexcept;
    void on_bar_change(Drive& drive, const PciBarChange& change);
    void bind_doorbells(Drive& drive, uint64_t bar, bool bind);

    const KvmVm& vm_;
    IoBus& mmio_;
    std::shared_ptr<KvmMsiSink> msi_;  // shared with the transports
    std::vector<std::unique_ptr<Drive>> drives_;
    std::vector<std::unique_ptr<BlkVcpuService>> services_;
    RateLimiter log_limit_;  // lines a guest's BAR moves can cause
};

}  // namespace nvmevm
