#include "boot/memory_map.h"

#include <algorithm>
#include <array>

#include "boot/layout.h"

namespace nvmevm {
namespace {

struct Range {
    uint64_t begin;
    uint64_t end;  // exclusive
    MemoryType type;
};

// The PC address ranges that are not plain RAM even where guest RAM backs them, in order.
constexpr std::array<Range, 3> kLowLayout = {{
    {0, layout::kEbdaStart, MemoryType::ram},
    {layout::kEbdaStart, layout::kBiosStart, MemoryType::reserved},
    {layout::kAcpiTables, layout::kHighMemory, MemoryType::reserved},
}};

void add_clipped(std::vector<MemoryMapEntry>& map, const GuestRegion& region, Range range) {
    const uint64_t region_end = region.guest_base + region.size;
    const uint64_t begin = std::max(region.guest_base, range.begin);
    const uint64_t end = std::min(region_end, range.end);
    if (begin < end) map.push_back({begin, end - begin, range.type});
}

}  // namespace

std::vector<MemoryMapEntry> build_memory_map(const GuestMemory& memory) {
    std::vector<MemoryMapEntry> map;
    for (const GuestRegion& region : memory.regions()) {
        for (const Range& range : kLowLayout) add_clipped(map, region, range);
        add_clipped(map, region, {layout::kHighMemory, UINT64_MAX, MemoryType::ram});
    }
    std::sort(map.begin(), map.end(),
              [](const MemoryMapEntry& a, const MemoryMapEntry& b) { return a.addr < b.addr; });
    return map;
}

uint64_t low_ram_end(const GuestMemory& memory) {
    for (const GuestRegion& region : memory.regions()) {
        if (region.guest_base == 0) return region.size;
    }
    return 0;
}

}  // namespace nvmevm
