#include "vmm/vm_run_state.h"

namespace nvmevm {

void VmRunState::request_stop(VmOutcome outcome) {
    {
        std::lock_guard lock(mutex_);
        if (outcome_) return;  // the first end is the real one; later ones are its echoes
        outcome_ = std::move(outcome);
        stopping_.store(true, std::memory_order_release);
    }
    if (kick_all_) kick_all_();
    pthread_kill(main_thread_, kVmEndedSignal);
}

std::optional<VmOutcome> VmRunState::outcome() const {
    std::lock_guard lock(mutex_);
    return outcome_;
}

}  // namespace nvmevm
