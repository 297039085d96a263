#include "boot/bzimage.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "boot/bytes.h"
#include "boot/cmdline.h"
#include "boot/format.h"
#include "boot/initrd.h"
#include "boot/layout.h"
#include "boot/memory_map.h"

namespace nvmevm {

using namespace linux_boot;

namespace {

constexpr uint64_t k4GiB = 1ull << 32;

std::string protocol_string(uint16_t version) {
    return std::to_string(version >> 8) + "." + std::to_string(version & 0xff);
}

// The end of the fields nvmevm reads (init_size, protocol 2.10+): a 2.12 header is longer.
constexpr uint64_t kRequiredHeaderEnd =
    kSetupHeaderOffset + offsetof(SetupHeader, init_size) + sizeof(uint32_t);

// boot.rst, "init_size": the kernel runs from its "runtime start address", which for a
// relocatable kernel is the load address (raised to pref_address) aligned up to
// kernel_alignment, and needs init_size bytes from there before it looks at the memory map.
uint64_t runtime_start(const SetupHeader& h, uint64_t load_addr) {
    if (!h.relocatable_kernel) return h.pref_address ? h.pref_address : load_addr;
    if (!std::has_single_bit(h.kernel_alignment)) {
        throw BootError("unsupported kernel: bzImage kernel_alignment " + hex(h.kernel_alignment) +
                        " is not a power of two");
    }
    const uint64_t pref_address = h.pref_address;  // a copy: the header is packed
    auto start = bytes::align_up(std::max(load_addr, pref_address), h.kernel_alignment);
    if (!start)
        throw BootError("unsupported kernel: bzImage pref_address " + hex(h.pref_address) +
                        " is out of range");
    return *start;
}

}  // namespace

bool has_bzimage_magic(std::span<const uint8_t> image) {
    return bytes::load<uint32_t>(image, kSetupHeaderOffset + offsetof(SetupHeader, header)) ==
           kHeaderMagic;
}

BzImage parse_bzimage(std::span<const uint8_t> image) {
    if (!has_bzimage_magic(image)) throw BootError("not a kernel: no bzImage \"HdrS\" at 0x202");
    const auto length_byte = bytes::load<uint8_t>(image, kHeaderLengthOffset);
    const uint64_t declared_end = 0x202 + uint64_t{length_byte.value_or(0)};
    if (declared_end > image.size()) {
        throw BootError("not a kernel: truncated bzImage: its setup header ends at " +
                        hex(declared_end) + " but the file has " + std::to_string(image.size()) +
                        " bytes");
    }

    BzImage bz{};
    bz.header_end = std::min(declared_end, kSetupHeaderMaxEnd);
    std::memcpy(&bz.header, image.data() + kSetupHeaderOffset,
                std::min<uint64_t>(bz.header_end - kSetupHeaderOffset, sizeof(SetupHeader)));
    const SetupHeader& h = bz.header;

    if (h.version < kMinProtocol || bz.header_end < kRequiredHeaderEnd) {
        throw BootError("unsupported kernel: bzImage boot protocol " + protocol_string(h.version) +
                        " has no 64-bit entry point; nvmevm needs 2.12 or later");
    }
    if (!(h.xloadflags & kXlfKernel64)) {
        throw BootError("unsupported kernel: bzImage lacks XLF_KERNEL_64 (not a 64-bit kernel)");
    }
    if (!(h.loadflags & kLoadedHigh)) {
        throw BootError("unsupported kernel: bzImage is a zImage (LOADED_HIGH clear)");
    }

    const uint64_t setup_sects = h.setup_sects ? h.setup_sects : kDefaultSetupSects;
    const uint64_t setup_size = (setup_sects + 1) * kSectorSize;
    if (setup_size < bz.header_end || setup_size >= image.size()) {
        throw BootError("not a kernel: truncated bzImage: " + std::to_string(setup_size) +
                        " bytes of setup code but the file has " + std::to_string(image.size()) +
                        " bytes");
    }
    bz.protected_mode = image.subspan(static_cast<size_t>(setup_size));
    bz.load_addr = layout::kHighMemory;
    if (bz.protected_mode.size() > k4GiB - bz.load_addr) {
        throw BootError("unsupported kernel: bzImage is larger than 4 GiB");
    }

    bz.runtime_start = runtime_start(h, bz.load_addr);
    if (bz.runtime_start < bz.load_addr) {
        throw BootError("unsupported kernel: bzImage wants to run at " + hex(bz.runtime_start) +
                        ", inside the boot data below 1 MiB");
    }
    const auto runtime_end = bytes::add(bz.runtime_start, h.init_size);
    if (!runtime_end || *runtime_end > k4GiB) {
        throw BootError("unsupported kernel: bzImage needs init_size " + hex(h.init_size) +
                        " bytes from " + hex(bz.runtime_start) + ", beyond 4 GiB");
    }
    bz.load_end = std::max(bz.load_addr + bz.protected_mode.size(), *runtime_end);
    bz.initrd_addr_max = h.initrd_addr_max ? h.initrd_addr_max : kDefaultInitrdAddrMax;
    return bz;
}

EntryState load_bzimage(const GuestMemory& memory, const BootInputs& inputs) {
    const BzImage bz = parse_bzimage(inputs.kernel);
    if (!memory.contains(GuestAddress{bz.load_addr}, bz.load_end - bz.load_addr)) {
        throw BootError("guest RAM too small for the kernel: it needs [" + hex(bz.load_addr) +
                        ", " + hex(bz.load_end) + ") but low RAM ends at " +
                        hex(low_ram_end(memory)));
    }
    if (!memory.write(GuestAddress{bz.load_addr}, bz.protected_mode)) {
        throw BootError("guest RAM too small for the kernel image");
    }

    const uint64_t cmdline = write_cmdline(memory, inputs.cmdline, bz.header.cmdline_size);
    const InitrdPlacement initrd =
        load_initrd(memory, inputs.initrd, bz.load_end, bz.initrd_addr_max);

    // The zero page starts as zeros plus the image's own setup header (boot.rst, "Details
    // of header fields": the loader copies the header and then fills the fields it owns).
    BootParams params{};
    std::memcpy(reinterpret_cast<uint8_t*>(&params) + kSetupHeaderOffset,
                inputs.kernel.data() + kSetupHeaderOffset, bz.header_end - kSetupHeaderOffset);
    SetupHeader& h = params.hdr;
    h.type_of_loader = kLoaderTypeUndefined;
    h.loadflags = static_cast<uint8_t>(h.loadflags | kCanUseHeap);
    h.heap_end_ptr = kHeapEndPtr;
    h.cmd_line_ptr = static_cast<uint32_t>(cmdline);
    params.ext_cmd_line_ptr = static_cast<uint32_t>(cmdline >> 32);
    h.ramdisk_image = static_cast<uint32_t>(initrd.addr);
    h.ramdisk_size = static_cast<uint32_t>(initrd.size);
    params.ext_ramdisk_image = static_cast<uint32_t>(initrd.addr >> 32);
    params.ext_ramdisk_size = static_cast<uint32_t>(initrd.size >> 32);
    // Older kernels find the RSDP by scanning 0xE0000-0xFFFFF, where nvmevm puts it anyway.
    if (h.version >= kAcpiRsdpProtocol) params.acpi_rsdp_addr = inputs.acpi_rsdp;

    const std::vector<MemoryMapEntry> map = build_memory_map(memory);
    if (map.size() > kE820MaxEntries) throw BootError("too many E820 entries");
    for (size_t i = 0; i < map.size(); ++i) {
        params.e820_table[i] = {map[i].addr, map[i].size, static_cast<uint32_t>(map[i].type)};
    }
    params.e820_entries = static_cast<uint8_t>(map.size());

    if (!memory.write_obj(GuestAddress{layout::kZeroPage}, params)) {
        throw BootError("guest RAM too small for boot_params at " + hex(layout::kZeroPage));
    }
    EntryState entry{};
    entry.mode = EntryState::Mode::long_mode_64;
    entry.rip = bz.load_addr + kEntry64Offset;
    entry.rsi = layout::kZeroPage;
    entry.rsp = layout::kBootStack;
    return entry;
}

}  // namespace nvmevm
