#include "boot/pvh_elf.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "boot/bytes.h"
#include "boot/cmdline.h"
#include "boot/format.h"
#include "boot/initrd.h"
#include "boot/layout.h"
#include "boot/memory_map.h"
#include "boot/pvh_start_info.h"

namespace nvmevm {
namespace {

constexpr uint64_t k4GiB = 1ull << 32;
constexpr std::string_view kXenNoteName = "Xen";

std::optional<uint64_t> find_pvh_entry(std::span<const uint8_t> image, const ElfImage& elf) {
    for (const ElfSegment& s : elf.segments) {
        if (s.type != PT_NOTE) continue;
        for (const ElfNote& note : elf_notes(image, s)) {
            if (note.name != kXenNoteName || note.type != pvh::kElfNotePhys32Entry) continue;
            // Linux emits the address as _ASM_PTR (8 bytes in a 64-bit vmlinux), others as
            // a 32-bit word; it is a 32-bit physical address either way.
            if (note.desc.size() == 4) return bytes::load<uint32_t>(note.desc, 0);
            if (note.desc.size() == 8) return bytes::load<uint64_t>(note.desc, 0);
            throw BootError("not a kernel: malformed ELF: PVH entry note has " +
                            std::to_string(note.desc.size()) + " bytes, expected 4 or 8");
        }
    }
    return std::nullopt;
}

std::vector<pvh::MemmapEntry> pvh_memmap(const GuestMemory& memory) {
    std::vector<pvh::MemmapEntry> out;
    for (const MemoryMapEntry& e : build_memory_map(memory)) {
        out.push_back({e.addr, e.size, static_cast<uint32_t>(e.type), 0});
    }
    return out;
}

void must(bool ok, const std::string& what, uint64_t addr) {
    if (!ok) throw BootError("guest RAM too small for the " + what + " at " + hex(addr));
}

}  // namespace

PvhElf parse_pvh_elf(std::span<const uint8_t> image) {
    PvhElf pvh{};
    pvh.elf = parse_elf(image);
    const auto entry = find_pvh_entry(image, pvh.elf);
    if (!entry) {
        throw BootError("not a kernel: ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    }
    pvh.entry = *entry;

    bool entry_loaded = false;
    size_t loads = 0;
    for (const ElfSegment& s : pvh.elf.segments) {
        if (s.type != PT_LOAD || s.memsz == 0) continue;
        ++loads;
        const uint64_t end = s.paddr + s.memsz;  // checked by parse_elf
        // Below 1 MiB live nvmevm's boot structures (zero page, command line, page tables,
        // ACPI tables): a segment there would overwrite them or be overwritten.
        if (s.paddr < layout::kHighMemory) {
            throw BootError("unsupported kernel: ELF segment at " + hex(s.paddr) +
                            " lies below 1 MiB, where nvmevm keeps its boot data");
        }
        if (end > k4GiB) {
            throw BootError("unsupported kernel: ELF segment [" + hex(s.paddr) + ", " + hex(end) +
                            ") reaches above 4 GiB");
        }
        pvh.load_end = std::max(pvh.load_end, end);
        entry_loaded = entry_loaded || (pvh.entry >= s.paddr && pvh.entry < end);
    }
    if (loads == 0) throw BootError("not a kernel: ELF has no loadable segment");
    if (!entry_loaded) {
        throw BootError("not a kernel: PVH entry point " + hex(pvh.entry) +
                        " is outside every loadable segment");
    }
    return pvh;
}

EntryState load_pvh_elf(const GuestMemory& memory, const BootInputs& inputs) {
    const PvhElf pvh = parse_pvh_elf(inputs.kernel);
    for (const ElfSegment& s : pvh.elf.segments) {
        if (s.type != PT_LOAD || s.memsz == 0) continue;
        const auto target = memory.slice(GuestAddress{s.paddr}, s.memsz);
        if (!target) {
            throw BootError("guest RAM too small for the kernel: its segment [" + hex(s.paddr) +
                            ", " + hex(s.paddr + s.memsz) + ") is not RAM (low RAM ends at " +
                            hex(low_ram_end(memory)) + ")");
        }
        // p_memsz beyond p_filesz is the bss: zero it, the guest RAM may be reused.
        std::memcpy(target->data(), inputs.kernel.data() + s.offset, s.filesz);
        std::memset(target->data() + s.filesz, 0, s.memsz - s.filesz);
    }

    pvh::StartInfo info{};
    info.magic = pvh::kStartInfoMagic;
    info.version = pvh::kStartInfoVersion;
    info.cmdline_paddr = write_cmdline(memory, inputs.cmdline, layout::kCmdlineMax - 1);
    info.rsdp_paddr = inputs.acpi_rsdp;

    const InitrdPlacement initrd =
        load_initrd(memory, inputs.initrd, pvh.load_end, kPvhInitrdAddrMax);
    if (initrd.size != 0) {
        // Linux takes module 0 as its initrd (arch/x86/platform/pvh/enlighten.c).
        const pvh::ModlistEntry module{initrd.addr, initrd.size, 0, 0};
        must(memory.write_obj(GuestAddress{layout::kPvhModules}, module), "PVH module list",
             layout::kPvhModules);
        info.nr_modules = 1;
        info.modlist_paddr = layout::kPvhModules;
    }

    const std::vector<pvh::MemmapEntry> map = pvh_memmap(memory);
    const std::span<const uint8_t> map_bytes(reinterpret_cast<const uint8_t*>(map.data()),
                                             map.size() * sizeof(pvh::MemmapEntry));
    // The memory map must not run into the command line that follows it.
    if (layout::kPvhMemmap + map_bytes.size() > layout::kCmdline) {
        throw BootError("too many memory map entries for the PVH memory map area");
    }
    must(memory.write(GuestAddress{layout::kPvhMemmap}, map_bytes), "PVH memory map",
         layout::kPvhMemmap);
    info.memmap_paddr = layout::kPvhMemmap;
    info.memmap_entries = static_cast<uint32_t>(map.size());

    must(memory.write_obj(GuestAddress{layout::kZeroPage}, info), "hvm_start_info",
         layout::kZeroPage);
    EntryState entry{};
    entry.mode = EntryState::Mode::protected_32;
    entry.rip = pvh.entry;
    entry.rbx = layout::kZeroPage;
    entry.rsp = layout::kBootStack;
    return entry;
}

}  // namespace nvmevm
