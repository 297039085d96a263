// The host side of `nvmevm bench`: the TSC rate the guest needs to turn ticks into time, the
// process's CPU time, the console captured in memory, and the progress line.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "foundation/unique_fd.h"

namespace nvmevm {

// The guest's TSC rate in kHz: KVM_GET_TSC_KHZ on a scratch vCPU (what a guest of this host's
// KVM gets), else the "cpu MHz" of /proc/cpuinfo, else 0 (unknown).
[[nodiscard]] uint64_t probe_tsc_khz();

// CPU time of the whole process so far, every thread (also the ones that have ended), user +
// system, in ns. CLOCK_PROCESS_CPUTIME_ID rather than getrusage: it is the same sum, finer,
// and the seccomp allow-list that still holds after the VM has ended has clock_gettime.
[[nodiscard]] uint64_t process_cpu_ns();

// The guest's console, kept in memory: a memfd that the VM opens by its /proc/self/fd path as
// its console file (so the machine needs no special console kind), read back after the run.
class ConsoleCapture {
  public:
    ConsoleCapture();  // throws std::system_error
    [[nodiscard]] std::string path() const;
    // Everything written so far. Uses only lseek and read: the VM's seccomp filter still
    // holds when this runs.
    [[nodiscard]] std::string contents() const;

  private:
    UniqueFd fd_;
};

// The progress line's sense of time. The real one follows the steady clock; a test drives its
// own, so that the lines it asserts do not depend on how busy the machine is.
class ProgressClock {
  public:
    virtual ~ProgressClock() = default;
    // Blocks until the next second of the run has passed (true) or stop() was called (false).
    [[nodiscard]] virtual bool wait_second() = 0;
    // Ends the current wait_second() and every later one; callable from any thread.
    virtual void stop() = 0;
};

// Whole seconds of the steady clock since construction. Each second is a deadline from the
// start, not a second after the last line, so a slow line does not make the count drift.
class SteadyProgressClock final : public ProgressClock {
  public:
    [[nodiscard]] bool wait_second() override;
    void stop() override;

  private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopped_ = false;
    std::chrono::steady_clock::time_point next_ =
        std::chrono::steady_clock::now() + std::chrono::seconds(1);
};

// Prints "bench: 3/10 s" (or "bench: 3 s" when the length is a count of requests) on `err`
// at every second of `clock` until destroyed. `clock` must outlive the line.
class ProgressLine {
  public:
    ProgressLine(std::ostream& err, uint64_t total_ms, ProgressClock& clock);
    ~ProgressLine();
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

  private:
    void loop(std::ostream& err, uint64_t total_ms);

    ProgressClock& clock_;
    std::thread thread_;
};

}  // namespace nvmevm
