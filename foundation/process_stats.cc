#include "foundation/process_stats.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

namespace nvmevm {
namespace {
const auto g_start = std::chrono::steady_clock::now();
}

std::chrono::steady_clock::time_point process_start_time() {
    return g_start;
}

double ms_since_start(std::chrono::steady_clock::time_point when) {
    return std::chrono::duration<double, std::milli>(when - g_start).count();
}

uint64_t peak_rss_kib() {
    // getrusage, not /proc/self/status: it runs under the seccomp filter, which opens nothing.
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) != 0 || usage.ru_maxrss < 0) return 0;
    return static_cast<uint64_t>(usage.ru_maxrss);
}

uint64_t resident_kib(std::span<uint8_t> range) {
    if (range.empty()) return 0;
    const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t pages = (range.size() + page - 1) / page;
    uint64_t resident = 0;
    // In chunks, so that a large guest does not need a large vector here.
    std::vector<unsigned char> flags(std::min<size_t>(pages, 65536));
    for (size_t first = 0; first < pages; first += flags.size()) {
        const size_t count = std::min(flags.size(), pages - first);
        if (::mincore(range.data() + first * page, count * page, flags.data()) != 0) return 0;
        for (size_t i = 0; i < count; ++i) resident += flags[i] & 1;
    }
    return resident * page / 1024;
}

}  // namespace nvmevm
