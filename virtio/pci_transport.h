// A virtio device on the PCI bus: the modern (virtio 1.x, non-transitional) virtio-pci
// transport with MSI-X (virtio 1.2, 4.1 "Virtio Over PCI Bus"). It is three things:
//  - a PciDevice: the configuration space with the virtio vendor capabilities (common, notify,
//    ISR, device, PCI configuration access) and the MSI-X capability, all pointing into BAR 0;
//  - BAR 0's MMIO window (bar_device()), laid out as virtio/pci_layout.h describes;
//  - the VirtioInterrupt handed to the device on DRIVER_OK: queue i signals the MSI-X vector
//    the driver mapped to it.
//
// There is no INTx: the interrupt pin is 0, so a driver that does not enable MSI-X gets no
// interrupts (the ISR bits are still set, for a driver that polls). Linux's virtio_pci enables
// MSI-X whenever the function has the capability.
//
// The VMM registers bar_device() on its MMIO bus at bar_address() and moves it when the
// guest reprograms the BAR (set_bar_callback); doorbell i lies at notify_offset(i) within the
// BAR, where an ioeventfd can take it. A doorbell write that reaches bar_device() instead calls
// VirtioDevice::notify.
//
// Thread-safety: configuration-space accesses are serialized by the host bridge; BAR accesses
// come from any vCPU thread; signal_queue/signal_config from any thread, without locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "devices/io_bus.h"
#include "devices/pci_config.h"
#include "devices/pci_device.h"
#include "foundation/log.h"
#include "virtio/msix.h"
#include "virtio/pci_common_cfg.h"
#include "virtio/pci_layout.h"
#include "virtio/virtio_device.h"

namespace nvmevm {

class VirtioPciTransport final : public PciDevice,
                                 public VirtioInterrupt,
                                 public std::enable_shared_from_this<VirtioPciTransport> {
  public:
    // The transport shares ownership of the device and of `msi`. Throws std::invalid_argument
    // when the device has no queues or more than virtio_pci::kMaxQueues.
    [[nodiscard]] static std::shared_ptr<VirtioPciTransport> create(
        std::shared_ptr<VirtioDevice> device, std::shared_ptr<MsiSink> msi);
    VirtioPciTransport(std::shared_ptr<VirtioDevice> device,
                       std::shared_ptr<MsiSink> msi);  // use create()
    // Resets the device: its queues hold this transport as their VirtioInterrupt, and the
    // device may outlive it (a vCPU thread's BlkVcpuService shares it).
    ~VirtioPciTransport() override;
    VirtioPciTransport(const VirtioPciTransport&) = delete;
    VirtioPciTransport& operator=(const VirtioPciTransport&) = delete;

    // PciDevice.
    void config_read(uint32_t offset, std::span<uint8_t> data) override;
    void config_write(uint32_t offset, std::span<const uint8_t> data) override;

    // BAR 0. bar_device() keeps the transport alive; its length is bar_size().
    [[nodiscard]] std::shared_ptr<BusDevice> bar_device();
    [[nodiscard]] static constexpr uint64_t bar_size() { return virtio_pci::kBarSize; }
    // Where BAR 0 is decoded now (nullopt: not assigned, or memory decoding is off).
    [[nodiscard]] std::optional<uint64_t> bar_address() const;
    // Called when BAR 0 moves or its decoding is switched (on the thread of the guest's config
    // write, while the host bridge holds its lock). Set before the guest runs.
    void set_bar_callback(PciConfigSpace::BarCallback callback);
    // The doorbell of `queue`, relative to BAR 0; the driver writes 16 bits there.
    [[nodiscard]] static constexpr uint64_t notify_offset(uint16_t queue) {
        return virtio_pci::notify_offset(queue);
    }
    [[nodiscard]] uint16_t queue_count() const { return common_.queue_count(); }

    // BAR accesses (offsets relative to BAR 0, 1 to 8 bytes), for bar_device() and for the PCI
    // configuration access capability.
    void bar_read(uint64_t offset, std::span<uint8_t> data);
    void bar_write(uint64_t offset, std::span<const uint8_t> data);

    // VirtioInterrupt.
    void signal_queue(uint16_t queue) override;
    void signal_config() override;
    // The device hit an error it cannot recover from: sets DEVICE_NEEDS_RESET and notifies the
    // driver. Not from inside VirtioDevice::activate or reset.
    void mark_needs_reset() override;

    // For tests and diagnostics.
    [[nodiscard]] uint8_t device_status() const { return common_.status(); }
    [[nodiscard]] const MsixTable& msix() const { return msix_; }

  private:
    class Bar final : public BusDevice {
      public:
        explicit Bar(VirtioPciTransport& owner) : owner_(owner) {}
        void read(uint64_t offset, std::span<uint8_t> data) override {
            owner_.bar_read(offset, data);
        }
        void write(uint64_t offset, std::span<const uint8_t> data) override {
            owner_.bar_write(offset, data);
        }

      private:
        VirtioPciTransport& owner_;
    };

    void add_capabilities();
    void sync_msix_control();
    // The PCI configuration access window (4.1.4.8): the access its cap.bar, cap.offset and
    // cap.length select, or false when they do not name one inside BAR 0.
    [[nodiscard]] bool pci_cfg_window(uint64_t& offset, size_t& length) const;
    void log_bad_access(const char* what, uint64_t offset, size_t size);

    std::shared_ptr<VirtioDevice> device_;
    std::shared_ptr<MsiSink> msi_;  // msix_ delivers to it
    MsixTable msix_;
    VirtioPciCommonCfg common_;
    PciConfigSpace config_;
    Bar bar_{*this};
    std::atomic<uint8_t> isr_{0};
    uint32_t msix_cap_ = 0;  // offsets of two capabilities in configuration space
    uint32_t pci_cfg_cap_ = 0;
    RateLimiter log_limit_;
};

}  // namespace nvmevm
