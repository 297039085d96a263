// A checked view of an x86 ELF executable's program headers and notes (System V gABI,
// "Program Header" and "Note Section"). The file is user input: every offset and size is
// checked against the file with overflow-checked arithmetic before it is used, and anything
// malformed is a BootError.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace nvmevm {

// One program header, widened to 64 bits whatever the ELF class.
struct ElfSegment {
    uint32_t type;  // PT_LOAD, PT_NOTE, ...
    uint64_t offset;
    uint64_t filesz;
    uint64_t paddr;
    uint64_t memsz;
    uint64_t align;
};

struct ElfImage {
    bool is64;
    // Every program header. PT_LOAD and PT_NOTE ones are checked: their file bytes lie in
    // the file, and for PT_LOAD filesz <= memsz and paddr + memsz does not wrap.
    std::vector<ElfSegment> segments;
};

struct ElfNote {
    uint32_t type;
    std::string_view name;  // without the terminating NUL
    std::span<const uint8_t> desc;
};

// Program headers beyond this are refused: kernels have a handful, and it bounds the work a
// hostile header can cause.
inline constexpr uint64_t kMaxElfProgramHeaders = 256;

// True when `image` starts with the ELF magic (it may still be unusable).
[[nodiscard]] bool has_elf_magic(std::span<const uint8_t> image);

// Parses an ELF32/i386 or ELF64/x86_64 little-endian executable. Throws BootError.
[[nodiscard]] ElfImage parse_elf(std::span<const uint8_t> image);

// The notes in a PT_NOTE segment (checked by parse_elf). Throws BootError on a note that
// runs past its segment.
[[nodiscard]] std::vector<ElfNote> elf_notes(std::span<const uint8_t> image,
                                             const ElfSegment& note_segment);

}  // namespace nvmevm
