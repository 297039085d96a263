#include "foundation/log.h"

#include <cstdarg>
#include <cstdio>
#include <string>

namespace nvmevm {
namespace {

std::atomic<LogLevel> g_level{LogLevel::warn};

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::error:
            return "error";
        case LogLevel::warn:
            return "warn";
        case LogLevel::info:
            return "info";
        case LogLevel::debug:
            return "debug";
    }
    return "?";
}

void vlog(LogLevel level, const char* suffix, const char* format, va_list args) {
    char message[1024];
    std::vsnprintf(message, sizeof message, format, args);
    // One fprintf per line so that lines from several vCPU threads do not interleave.
    std::fprintf(stderr, "nvmevm: %s: %s%s\n", level_name(level), message, suffix);
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

void set_log_level(LogLevel level) {
    g_level.store(level, std::memory_order_relaxed);
}
LogLevel log_level() {
    return g_level.load(std::memory_order_relaxed);
}

bool parse_log_level(std::string_view text, LogLevel& out) {
    for (LogLevel level : {LogLevel::error, LogLevel::warn, LogLevel::info, LogLevel::debug}) {
        if (text == level_name(level)) {
            out = level;
            return true;
        }
    }
    return false;
}

void logf(LogLevel level, const char* format, ...) {
    if (!log_enabled(level)) return;
    va_list args;
    va_start(args, format);
    vlog(level, "", format, args);
    va_end(args);
}

bool RateLimiter::allow(uint64_t& dropped) {
    const int64_t now = now_ns();
    int64_t start = window_start_ns_.load(std::memory_order_relaxed);
    if (now - start >= std::chrono::nanoseconds(period_).count() &&
        window_start_ns_.compare_exchange_strong(start, now, std::memory_order_relaxed)) {
        in_window_.store(0, std::memory_order_relaxed);
    }
    if (in_window_.fetch_add(1, std::memory_order_relaxed) >= burst_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    dropped = dropped_.exchange(0, std::memory_order_relaxed);
    return true;
}

void logf_limited(RateLimiter& limiter, LogLevel level, const char* format, ...) {
    if (!log_enabled(level)) return;
    uint64_t dropped = 0;
    if (!limiter.allow(dropped)) return;
    std::string suffix;
    if (dropped != 0) suffix = " (" + std::to_string(dropped) + " similar messages suppressed)";
    va_list args;
    va_start(args, format);
    vlog(level, suffix.c_str(), format, args);
    va_end(args);
}

}  // namespace nvmevm
