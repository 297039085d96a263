// Logging to stderr with levels, and a rate limiter for every line a guest can trigger (a
// hostile guest must not be able to flood the host's logs or slow nvmevm down with them).
// printf-style so that the compiler checks every format string (-Wformat).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace nvmevm {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(LogLevel level);
[[nodiscard]] LogLevel log_level();
[[nodiscard]] inline bool log_enabled(LogLevel level) {
    return level <= log_level();
}
// Parses "error", "warn", "info", "debug"; false when unknown.
[[nodiscard]] bool parse_log_level(std::string_view text, LogLevel& out);

void logf(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Allows `burst` lines per `period`, then drops lines until the period ends and reports how
// many were dropped with the next line allowed. Thread-safe and lock-free.
class RateLimiter {
  public:
    explicit RateLimiter(uint32_t burst = 10,
                         std::chrono::milliseconds period = std::chrono::seconds(5))
        : burst_(burst), period_(period) {}
    // True if the caller may log now; `dropped` receives the count suppressed before it.
    [[nodiscard]] bool allow(uint64_t& dropped);

  private:
    uint32_t burst_;
    std::chrono::milliseconds period_;
    std::atomic<int64_t> window_start_ns_{0};
    std::atomic<uint32_t> in_window_{0};
    std::atomic<uint64_t> dropped_{0};
};

// Logs through a rate limiter: for messages a guest can cause.
void logf_limited(RateLimiter& limiter, LogLevel level, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace nvmevm
