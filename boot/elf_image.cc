#include "boot/elf_image.h"

#include <elf.h>

#include <cstring>
#include <string>

#include "boot/bytes.h"
#include "boot/format.h"
#include "boot/kernel_image.h"

namespace nvmevm {
namespace {

[[noreturn]] void malformed(const std::string& why) {
    throw BootError("not a kernel: malformed ELF: " + why);
}

struct Header {
    uint16_t type;
    uint16_t machine;
    uint64_t phoff;
    uint16_t phentsize;
    uint16_t phnum;
};

template <typename Ehdr>
Header read_header(std::span<const uint8_t> image) {
    const auto e = bytes::load<Ehdr>(image, 0);
    if (!e) malformed("the file ends inside the ELF header");
    return {e->e_type, e->e_machine, e->e_phoff, e->e_phentsize, e->e_phnum};
}

template <typename Phdr>
ElfSegment read_segment(std::span<const uint8_t> image, uint64_t offset) {
    const auto p = bytes::load<Phdr>(image, offset);
    if (!p) malformed("program header at " + hex(offset) + " is outside the file");
    return {p->p_type, p->p_offset, p->p_filesz, p->p_paddr, p->p_memsz, p->p_align};
}

void check_segment(std::span<const uint8_t> image, const ElfSegment& s, size_t index) {
    const std::string which = "program header " + std::to_string(index);
    if (!bytes::in_bounds(image.size(), s.offset, s.filesz)) {
        malformed(which + ": file bytes [" + hex(s.offset) + ", +" + hex(s.filesz) +
                  ") are outside the " + std::to_string(image.size()) + "-byte file");
    }
    if (s.type != PT_LOAD) return;
    if (s.filesz > s.memsz) malformed(which + ": p_filesz is larger than p_memsz");
    if (!bytes::add(s.paddr, s.memsz)) malformed(which + ": p_paddr + p_memsz overflows");
}

}  // namespace

bool has_elf_magic(std::span<const uint8_t> image) {
    return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

ElfImage parse_elf(std::span<const uint8_t> image) {
    if (!has_elf_magic(image)) throw BootError("not a kernel: no ELF magic");
    if (image.size() < EI_NIDENT) malformed("the file ends inside e_ident");
    const uint8_t elf_class = image[EI_CLASS];
    if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64) malformed("unknown ELF class");
    if (image[EI_DATA] != ELFDATA2LSB) malformed("not little-endian");
    if (image[EI_VERSION] != EV_CURRENT) malformed("unknown ELF version");

    ElfImage elf{};
    elf.is64 = elf_class == ELFCLASS64;
    const Header h = elf.is64 ? read_header<Elf64_Ehdr>(image) : read_header<Elf32_Ehdr>(image);
    const uint16_t machine = elf.is64 ? EM_X86_64 : EM_386;
    if (h.machine != machine) {
        throw BootError(std::string("not a kernel: ELF") + (elf.is64 ? "64" : "32") +
                        " for machine " + std::to_string(h.machine) + ", not " +
                        (elf.is64 ? "x86_64" : "i386"));
    }
    if (h.type != ET_EXEC) malformed("not an executable (e_type " + std::to_string(h.type) + ")");

    const uint64_t phdr_size = elf.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (h.phnum == 0) malformed("no program headers");
    if (h.phnum > kMaxElfProgramHeaders) {
        malformed(std::to_string(h.phnum) + " program headers (at most " +
                  std::to_string(kMaxElfProgramHeaders) + ")");
    }
    if (h.phentsize < phdr_size) malformed("e_phentsize " + std::to_string(h.phentsize));
    const auto table_size = bytes::mul(h.phnum, h.phentsize);
    if (!table_size || !bytes::in_bounds(image.size(), h.phoff, *table_size)) {
        malformed("program header table at e_phoff " + hex(h.phoff) + " is outside the file");
    }

    for (size_t i = 0; i < h.phnum; ++i) {
        const uint64_t offset = h.phoff + i * h.phentsize;  // inside the checked table
        const ElfSegment s = elf.is64 ? read_segment<Elf64_Phdr>(image, offset)
                                      : read_segment<Elf32_Phdr>(image, offset);
        if (s.type == PT_LOAD || s.type == PT_NOTE) check_segment(image, s, i);
        elf.segments.push_back(s);
    }
    return elf;
}

std::vector<ElfNote> elf_notes(std::span<const uint8_t> image, const ElfSegment& note_segment) {
    // Note headers are three 4-byte words in both classes; name and desc are padded to the
    // segment's alignment (4 in practice, 8 for some ELF64 producers).
    const uint64_t align = note_segment.align == 8 ? 8 : 4;
    const auto notes = bytes::sub(image, note_segment.offset, note_segment.filesz);
    if (!notes) malformed("PT_NOTE segment is outside the file");

    std::vector<ElfNote> result;
    uint64_t at = 0;
    while (notes->size() - at >= sizeof(Elf32_Nhdr)) {
        const auto n = bytes::load<Elf32_Nhdr>(*notes, at);  // in bounds: checked above
        const uint64_t name_at = at + sizeof(Elf32_Nhdr);
        const auto desc_at = bytes::align_up(name_at + n->n_namesz, align);
        const auto next = desc_at ? bytes::align_up(*desc_at + n->n_descsz, align) : std::nullopt;
        if (!next || !bytes::in_bounds(notes->size(), name_at, n->n_namesz) ||
            !bytes::in_bounds(notes->size(), *desc_at, n->n_descsz)) {
            malformed("truncated ELF note at file offset " + hex(note_segment.offset + at));
        }
        std::string_view name(reinterpret_cast<const char*>(notes->data() + name_at), n->n_namesz);
        if (!name.empty() && name.back() == '\0') name.remove_suffix(1);
        result.push_back({n->n_type, name, notes->subspan(*desc_at, n->n_descsz)});
        // The padding after the last note may be missing: stop at the segment's end.
        at = std::min<uint64_t>(*next, notes->size());
    }
    return result;
}

}  // namespace nvmevm
