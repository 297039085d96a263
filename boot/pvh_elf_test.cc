#include "boot/pvh_elf.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "boot/bzimage.h"
#include "boot/layout.h"
#include "boot/memory_map.h"
#include "boot/pvh_start_info.h"
#include "boot/test_images.h"

namespace nvmevm {
namespace {

// Copies a (possibly misaligned) packed-struct field, so gtest can bind a reference to it.
template <typename T>
T val(T value) {
    return value;
}

using testing::ElfBuilder;
using testing::pvh_note;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kRam = 64 * kMiB;
constexpr uint64_t kText = 0x100'0000;  // 16 MiB, like vmlinux
constexpr uint64_t kEntry = kText + 0x40;

std::vector<uint8_t> text_bytes(size_t n) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i ^ 0xa5);
    return out;
}

// A vmlinux-like ELF: text, data with a bss tail, and a note segment with the PVH note
// between other notes.
ElfBuilder kernel_elf(bool is64 = true, size_t desc_size = 8) {
    ElfBuilder b(is64);
    auto notes = testing::elf_note("GNU", 3, std::vector<uint8_t>(20, 0x11));
    auto pvh = pvh_note(kEntry, desc_size);
    notes.insert(notes.end(), pvh.begin(), pvh.end());
    auto linux_note = testing::elf_note("Linux", 6, {1, 2, 3});
    notes.insert(notes.end(), linux_note.begin(), linux_note.end());
    b.load(kText, text_bytes(0x2000), 0x2000);
    b.load(kText + 0x4000, std::vector<uint8_t>(0x100, 0x77), 0x3000);  // bss: 0x2f00 bytes
    b.note(notes);
    return b;
}

template <typename T>
T guest(const GuestMemory& memory, uint64_t addr) {
    auto value = memory.read_obj<T>(GuestAddress{addr});
    EXPECT_TRUE(value) << "guest address " << addr;
    return value.value_or(T{});
}

std::string error_of(auto&& fn) {
    try {
        fn();
    } catch (const BootError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string probe_error(const std::vector<uint8_t>& image) {
    return error_of([&] { (void)probe_kernel(image); });
}

TEST(PvhElf, LoadsSegmentsZeroesBssAndEntersAtNoteAddress) {
    GuestMemory memory(kRam);
    auto ram = memory.slice(GuestAddress{kText}, 0x8000);
    std::fill(ram->begin(), ram->end(), 0xee);  // stale contents the bss must not keep
    const auto image = kernel_elf().build();
    const EntryState entry = load_kernel(memory, {image, {}, "console=ttyS0", 0xE0000});
    EXPECT_EQ(entry.mode, EntryState::Mode::protected_32);
    EXPECT_EQ(entry.rip, kEntry);
    EXPECT_EQ(entry.rbx, layout::kZeroPage);
    EXPECT_EQ(guest<uint8_t>(memory, kText + 0x1fff), static_cast<uint8_t>(0x1fff ^ 0xa5));
    EXPECT_EQ(guest<uint8_t>(memory, kText + 0x40ff), 0x77);
    EXPECT_EQ(guest<uint8_t>(memory, kText + 0x4100), 0);  // bss
    EXPECT_EQ(guest<uint8_t>(memory, kText + 0x6fff), 0);
    EXPECT_EQ(guest<uint8_t>(memory, kText + 0x7000), 0xee);  // beyond p_memsz: untouched
}

TEST(PvhElf, StartInfoDescribesCommandLineRsdpAndMemoryMap) {
    GuestMemory memory(kRam);
    const auto image = kernel_elf().build();
    (void)load_kernel(memory, {image, {}, "console=ttyS0", 0xE0000});
    const auto info = guest<pvh::StartInfo>(memory, layout::kZeroPage);
    EXPECT_EQ(val(info.magic), 0x336ec578u);
    EXPECT_EQ(val(info.version), 1u);
    EXPECT_EQ(val(info.flags), 0u);
    EXPECT_EQ(val(info.nr_modules), 0u);
    EXPECT_EQ(val(info.modlist_paddr), 0u);
    EXPECT_EQ(val(info.cmdline_paddr), layout::kCmdline);
    EXPECT_EQ(guest<char>(memory, layout::kCmdline + 12), '0');
    EXPECT_EQ(guest<char>(memory, layout::kCmdline + 13), '\0');
    EXPECT_EQ(val(info.rsdp_paddr), 0xE0000u);

    const auto map = build_memory_map(memory);
    ASSERT_EQ(val(info.memmap_entries), map.size());
    EXPECT_EQ(val(info.memmap_paddr), layout::kPvhMemmap);
    for (size_t i = 0; i < map.size(); ++i) {
        const auto e = guest<pvh::MemmapEntry>(memory, info.memmap_paddr + i * 24);
        EXPECT_EQ(val(e.addr), map[i].addr);
        EXPECT_EQ(val(e.size), map[i].size);
        EXPECT_EQ(val(e.type), static_cast<uint32_t>(map[i].type));
        EXPECT_EQ(val(e.reserved), 0u);
    }
    EXPECT_EQ(map.back().addr, 0x100000u);
    EXPECT_EQ(map.back().size, kRam - 0x100000);
}

TEST(PvhElf, InitrdIsModuleZeroAboveTheKernel) {
    GuestMemory memory(kRam);
    const auto image = kernel_elf().build();
    const std::vector<uint8_t> initrd(5000, 0x42);
    (void)load_kernel(memory, {image, initrd, "", 0});
    const auto info = guest<pvh::StartInfo>(memory, layout::kZeroPage);
    ASSERT_EQ(val(info.nr_modules), 1u);
    EXPECT_EQ(val(info.modlist_paddr), layout::kPvhModules);
    const auto module = guest<pvh::ModlistEntry>(memory, info.modlist_paddr);
    EXPECT_EQ(val(module.paddr), kRam - 0x2000);
    EXPECT_EQ(val(module.size), 5000u);
    EXPECT_EQ(val(module.cmdline_paddr), 0u);
    EXPECT_EQ(guest<uint8_t>(memory, module.paddr + 4999), 0x42);

    const std::vector<uint8_t> too_big(kRam - kText - 0x7000 + 1, 0);
    EXPECT_NE(error_of([&] {
                  (void)load_kernel(memory, {image, too_big, "", 0});
              }).find("initrd does not fit"),
              std::string::npos);
}

TEST(PvhElf, Elf32WithFourByteNoteLoads) {
    GuestMemory memory(kRam);
    const auto image = kernel_elf(false, 4).build();
    const KernelInfo info = probe_kernel(image);
    EXPECT_EQ(val(info.format), KernelFormat::pvh_elf);
    EXPECT_EQ(val(info.load_end), kText + 0x7000);
    EXPECT_EQ(load_kernel(memory, {image, {}, "", 0}).rip, kEntry);
}

TEST(PvhElf, ElfWithoutPvhNoteIsNotAKernel) {
    ElfBuilder b;
    b.load(kText, text_bytes(64), 64).note(testing::elf_note("Xen", 17, {0, 0, 0, 0}));
    EXPECT_EQ(probe_error(b.build()),
              "not a kernel: ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    ElfBuilder no_notes;
    no_notes.load(kText, text_bytes(64), 64);
    EXPECT_EQ(probe_error(no_notes.build()),
              "not a kernel: ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    ElfBuilder wrong_owner;
    wrong_owner.load(kText, text_bytes(64), 64).note(testing::elf_note("Xe", 18, {0, 0, 0, 1}));
    EXPECT_EQ(probe_error(wrong_owner.build()),
              "not a kernel: ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

// Offsets into an Elf64 image built by ElfBuilder.
constexpr size_t kPhoff = offsetof(Elf64_Ehdr, e_phoff);
constexpr size_t kPhnum = offsetof(Elf64_Ehdr, e_phnum);
constexpr size_t kPhentsize = offsetof(Elf64_Ehdr, e_phentsize);
size_t phdr(size_t index, size_t field) {
    return sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr) + field;
}

TEST(PvhElf, MalformedHeadersAreRefused) {
    const auto good = kernel_elf().build();
    auto with = [&](auto mutate) {
        auto image = good;
        mutate(image);
        return probe_error(image);
    };
    auto starts_with = [](const std::string& s, const std::string& prefix) {
        return s.rfind(prefix, 0) == 0;
    };
    using testing::poke;
    const std::string malformed = "not a kernel: malformed ELF: ";

    EXPECT_TRUE(starts_with(with([](auto& i) { i.resize(20); }), malformed));
    EXPECT_TRUE(starts_with(with([](auto& i) { i.resize(40); }), malformed));
    EXPECT_TRUE(starts_with(with([](auto& i) { i[EI_DATA] = ELFDATA2MSB; }), malformed));
    EXPECT_TRUE(starts_with(with([](auto& i) { i[EI_CLASS] = 7; }), malformed));
    EXPECT_NE(with([](auto& i) {
                  poke<uint16_t>(i, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
              }).find("not x86_64"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) {
                  poke<uint16_t>(i, offsetof(Elf64_Ehdr, e_type), ET_DYN);
              }).find("not an executable"),
              std::string::npos);
    // e_phoff beyond the file, or so large that e_phoff + table size wraps.
    EXPECT_NE(with([&](auto& i) { poke<uint64_t>(i, kPhoff, good.size()); }).find("e_phoff"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) { poke<uint64_t>(i, kPhoff, UINT64_MAX - 8); }).find("e_phoff"),
              std::string::npos);
    // Huge and zero e_phnum, too small e_phentsize, huge e_phentsize.
    EXPECT_NE(with([](auto& i) { poke<uint16_t>(i, kPhnum, 0xffff); }).find("program headers"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) { poke<uint16_t>(i, kPhnum, 200); }).find("e_phoff"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) { poke<uint16_t>(i, kPhnum, 0); }).find("no program headers"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) { poke<uint16_t>(i, kPhentsize, 8); }).find("e_phentsize"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) { poke<uint16_t>(i, kPhentsize, 0xffff); }).find("e_phoff"),
              std::string::npos);
    // p_offset + p_filesz beyond the file or wrapping.
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(0, offsetof(Elf64_Phdr, p_offset)), UINT64_MAX - 1);
              }).find("outside the"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(0, offsetof(Elf64_Phdr, p_filesz)), 1u << 30);
              }).find("outside the"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(2, offsetof(Elf64_Phdr, p_filesz)), UINT64_MAX);
              }).find("outside the"),
              std::string::npos);
    // p_filesz > p_memsz; p_paddr + p_memsz wrapping.
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(0, offsetof(Elf64_Phdr, p_memsz)), 16);
              }).find("p_filesz is larger"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(1, offsetof(Elf64_Phdr, p_paddr)), UINT64_MAX - 0x10);
              }).find("overflows"),
              std::string::npos);
    // Segments that would land in the boot data or above 4 GiB.
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(0, offsetof(Elf64_Phdr, p_paddr)), 0x8000);
              }).find("below 1 MiB"),
              std::string::npos);
    EXPECT_NE(with([](auto& i) {
                  poke<uint64_t>(i, phdr(1, offsetof(Elf64_Phdr, p_paddr)), 0xffff'f000);
              }).find("above 4 GiB"),
              std::string::npos);
}

TEST(PvhElf, MalformedNotesAreRefused) {
    auto image_with_notes = [](std::vector<uint8_t> notes) {
        ElfBuilder b;
        b.load(kText, text_bytes(64), 64).note(std::move(notes));
        return b.build();
    };
    // A note whose name or desc runs past the segment.
    auto truncated = pvh_note(kText, 8);
    truncated.resize(truncated.size() - 4);
    EXPECT_NE(probe_error(image_with_notes(truncated)).find("truncated ELF note"),
              std::string::npos);
    auto huge_name = pvh_note(kText, 8);
    testing::poke<uint32_t>(huge_name, 0, 0xffffffff);
    EXPECT_NE(probe_error(image_with_notes(huge_name)).find("truncated ELF note"),
              std::string::npos);
    auto huge_desc = pvh_note(kText, 8);
    testing::poke<uint32_t>(huge_desc, 4, 0xfffffffc);
    EXPECT_NE(probe_error(image_with_notes(huge_desc)).find("truncated ELF note"),
              std::string::npos);
    // A PVH note of the wrong size; an entry outside the loaded segments or above 4 GiB.
    EXPECT_NE(
        probe_error(image_with_notes(testing::elf_note("Xen", 18, {1, 2}))).find("expected 4 or 8"),
        std::string::npos);
    EXPECT_NE(probe_error(image_with_notes(pvh_note(kText + 64))).find("outside every loadable"),
              std::string::npos);
    EXPECT_NE(probe_error(image_with_notes(pvh_note(kText + (1ull << 32))))
                  .find("outside every loadable"),
              std::string::npos);
    // A few bytes of padding after the last note are fine.
    auto padded = pvh_note(kText, 8);
    padded.resize(padded.size() + 8, 0);
    EXPECT_EQ(probe_kernel(image_with_notes(padded)).format, KernelFormat::pvh_elf);
}

TEST(PvhElf, SegmentOutsideRamIsRefusedAtLoad) {
    ElfBuilder b;
    b.load(48 * kMiB, text_bytes(64), 32 * kMiB).note(pvh_note(48 * kMiB));
    const auto image = b.build();
    (void)probe_kernel(image);  // fine in itself
    GuestMemory memory(kRam);
    EXPECT_NE(error_of([&] {
                  (void)load_kernel(memory, {image, {}, "", 0});
              }).find("guest RAM too small for the kernel"),
              std::string::npos);
}

// Random corruption of valid images must end in a BootError or a successful load, never in
// a crash or a write outside guest memory (run under ASan in CI to make that visible).
TEST(KernelImage, CorruptedImagesNeverCrash) {
    std::mt19937_64 rng(12345);
    const std::vector<std::vector<uint8_t>> seeds = {
        kernel_elf().build(), kernel_elf(false, 4).build(), testing::make_bzimage()};
    GuestMemory memory(kRam);
    for (int round = 0; round < 3000; ++round) {
        auto image = seeds[static_cast<size_t>(round) % seeds.size()];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) {
            // Mostly hit the headers, where the parsing happens.
            const size_t limit = rng() % 4 ? std::min<size_t>(image.size(), 0x300) : image.size();
            image[rng() % limit] = static_cast<uint8_t>(rng());
        }
        if (rng() % 8 == 0) image.resize(rng() % image.size());
        try {
            (void)probe_kernel(image);
            (void)load_kernel(memory, {image, {}, "x", 0});
        } catch (const BootError&) {
        }
    }
}

}  // namespace
}  // namespace nvmevm
