// nvmevm's guest control port (docs/platform.md): how a guest ends the VM with an exit status of
// its choosing, and how it marks "booted" so that benchmarks can measure boot time from the
// host's side. Registered at ports::kGuestControl, length ports::kGuestControlLength.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>

#include "devices/io_bus.h"
#include "devices/vm_control.h"
#include "foundation/log.h"

namespace nvmevm {

struct BootMark {
    uint32_t value = 0;                  // what the guest wrote
    std::chrono::nanoseconds elapsed{};  // since the process start given to GuestControl
};

class GuestControl final : public BusDevice {
  public:
    // `control` must outlive the device; `process_start` is when nvmevm started.
    GuestControl(VmControl& control, std::chrono::steady_clock::time_point process_start)
        : control_(control), process_start_(process_start) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // The first boot mark the guest wrote, if any.
    [[nodiscard]] std::optional<BootMark> first_boot_mark() const;

  private:
    VmControl& control_;
    const std::chrono::steady_clock::time_point process_start_;
    mutable std::mutex mutex_;
    std::optional<BootMark> first_mark_;
    RateLimiter log_limit_;
};

}  // namespace nvmevm
