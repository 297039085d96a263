// CLOCK_MONOTONIC in nanoseconds: the clock of io_uring's absolute timeouts (IoRing::
// arm_timeout_at) and of the drives' rate limiters.
#pragma once

#include <time.h>

#include <cstdint>

namespace nvmevm {

[[nodiscard]] inline uint64_t monotonic_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace nvmevm
