// The shared "is the VM still running, and how did it end" state. Devices and vCPU threads
// report an end through request_stop (the first report wins); every vCPU is then kicked out of
// KVM_RUN and the main thread, waiting in sigwaitinfo, is woken.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>

#include "devices/vm_control.h"

namespace nvmevm {

// Sent to the main thread when the VM ends; blocked everywhere and taken with sigwaitinfo.
inline constexpr int kVmEndedSignal = SIGUSR2;

class VmRunState final : public VmControl {
  public:
    explicit VmRunState(pthread_t main_thread) : main_thread_(main_thread) {}

    void request_stop(VmOutcome outcome) override;
    // Called once per request, after the outcome is recorded: kicks the vCPUs.
    void set_kicker(std::function<void()> kick_all) { kick_all_ = std::move(kick_all); }

    [[nodiscard]] const std::atomic<bool>& stopping() const { return stopping_; }
    [[nodiscard]] std::optional<VmOutcome> outcome() const;

  private:
    pthread_t main_thread_;
    std::function<void()> kick_all_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::optional<VmOutcome> outcome_;
};

}  // namespace nvmevm
