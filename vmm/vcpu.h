// One virtual CPU: its KVM fd and kvm_run page, its architectural setup, and the loop that
// runs it on its own thread and dispatches exits to the I/O buses.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "boot/kernel_image.h"
#include "devices/io_bus.h"
#include "devices/vm_control.h"
#include "foundation/mapping.h"
#include "foundation/vcpu_work.h"
#include "vmm/kvm.h"

namespace nvmevm {

// The signal that kicks a vCPU thread out of KVM_RUN. Its handler does nothing: the point is
// that KVM_RUN returns EINTR.
inline constexpr int kVcpuKickSignal = SIGUSR1;
void install_vcpu_kick_handler();

class Vcpu {
  public:
    Vcpu(const KvmSystem& kvm, const KvmVm& vm, uint32_t index, uint32_t vcpu_count);
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    [[nodiscard]] uint32_t index() const { return index_; }

    // Boot vCPU only: registers for the kernel's entry point.
    void set_entry(const EntryState& entry);

    // Runs the vCPU on the calling thread until `stopping` is set. Guest-caused ends (crash,
    // system events) and KVM failures are reported through `control`. `work` (may be null) is
    // serviced after every return from KVM_RUN.
    void run(IoBus& pio, IoBus& mmio, VmControl& control, const std::atomic<bool>& stopping,
             VcpuWork* work);

    // From any thread: makes KVM_RUN return as soon as possible (or not enter at all).
    void kick();

    // How often KVM_RUN returned, by cause. Written by the vCPU thread; read after it ended.
    struct Counters {
        uint64_t runs = 0;         // KVM_RUN calls
        uint64_t interrupted = 0;  // returned EINTR: a signal or io_uring task work
        uint64_t port_io = 0;      // KVM_EXIT_IO
        uint64_t mmio = 0;         // KVM_EXIT_MMIO
    };
    [[nodiscard]] const Counters& counters() const { return counters_; }

  private:
    void configure_msrs();
    void configure_fpu();
    void configure_lapic();
    [[nodiscard]] bool handle_exit(IoBus& pio, IoBus& mmio, VmControl& control);
    void handle_port_io(IoBus& pio);
    void handle_mmio(IoBus& mmio);
    [[nodiscard]] std::string describe_registers() const;

    uint32_t index_;
    UniqueFd fd_;
    Mapping run_mapping_;
    kvm_run* run_ = nullptr;
    std::atomic<pthread_t> thread_{};
    std::atomic<bool> running_on_thread_{false};
    Counters counters_;
};

}  // namespace nvmevm
