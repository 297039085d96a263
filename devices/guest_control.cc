#include "devices/guest_control.h"

#include "devices/platform_ports.h"

namespace nvmevm {

void GuestControl::read(uint64_t, std::span<uint8_t> data) {
    for (auto& byte : data) byte = 0;
}

void GuestControl::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty() || data.size() > 4) return;
    const auto value = static_cast<uint32_t>(load_le(data));
    if (offset == ports::kGuestExitStatusOffset) {
        // The low byte is the status, whatever the width: `outb` and `outl` both work.
        const auto status = static_cast<uint8_t>(value & 0xff);
        control_.request_stop(VmOutcome{VmEnd::guest_status, status, "guest wrote exit status"});
        return;
    }
    if (offset == ports::kGuestBootMarkOffset) {
        const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now() - process_start_);
        {
            std::lock_guard lock(mutex_);
            if (!first_mark_) first_mark_ = BootMark{value, elapsed};
        }
        logf_limited(log_limit_, LogLevel::info, "boot mark %u at %.3f ms", value,
                     static_cast<double>(elapsed.count()) / 1e6);
    }
    // Other offsets are reserved: ignored.
}

std::optional<BootMark> GuestControl::first_boot_mark() const {
    std::lock_guard lock(mutex_);
    return first_mark_;
}

}  // namespace nvmevm
