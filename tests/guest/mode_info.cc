// `info`: what the VMM passed in hvm_start_info, memory map included (checks the PVH loader).
#include "modes.h"
#include "serial.h"

namespace guest {
namespace {

void field(const char* name, uint64_t value) {
    put_line_start("info: ");
    put_str(name);
    put_char('=');
    put_hex(value);
    put_char('\n');
}

}  // namespace

void mode_info(const Context& context) {
    const HvmStartInfo& info = *context.start_info;
    field("start_info", reinterpret_cast<uintptr_t>(&info));
    field("version", info.version);
    field("flags", info.flags);
    field("nr_modules", info.nr_modules);
    field("cmdline_paddr", info.cmdline_paddr);
    field("rsdp_paddr", info.rsdp_paddr);
    put_line_start("info: cmdline=\"");
    put_str(start_info_cmdline(info));
    put_str("\"\n");
    uint32_t entries = 0;
    const HvmMemmapEntry* map = start_info_memmap(info, &entries);
    field("memmap_entries", entries);
    for (uint32_t i = 0; i < entries; ++i) {
        put_line_start("info: memmap ");
        put_str("addr=");
        put_hex(map[i].addr);
        put_str(" size=");
        put_hex(map[i].size);
        put_str(" type=");
        put_dec(map[i].type);
        put_char('\n');
    }
}

}  // namespace guest
