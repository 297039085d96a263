#include "start_info.h"

#include "phys.h"

namespace guest {

const HvmStartInfo* start_info_at(uint64_t paddr) {
    const auto* info = phys_ptr<HvmStartInfo>(paddr);
    if (info == nullptr || info->magic != kHvmStartMagic) {
        return nullptr;
    }
    return info;
}

const char* start_info_cmdline(const HvmStartInfo& info) {
    const char* cmdline = phys_ptr<char>(info.cmdline_paddr, kMaxCmdline);
    if (cmdline == nullptr) {
        return "";
    }
    for (size_t i = 0; i < kMaxCmdline; ++i) {
        if (cmdline[i] == '\0') {
            return cmdline;
        }
    }
    return "";  // not terminated: ignore it rather than read past it
}

const HvmMemmapEntry* start_info_memmap(const HvmStartInfo& info, uint32_t* count) {
    *count = 0;
    constexpr uint32_t kMaxEntries = 1024;
    if (info.version < 1 || info.memmap_entries == 0 || info.memmap_entries > kMaxEntries) {
        return nullptr;
    }
    const auto* map = phys_ptr<HvmMemmapEntry>(
        info.memmap_paddr, uint64_t{info.memmap_entries} * sizeof(HvmMemmapEntry));
    if (map != nullptr) {
        *count = info.memmap_entries;
    }
    return map;
}

}  // namespace guest
