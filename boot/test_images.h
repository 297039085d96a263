// Synthetic kernel images for the boot unit tests: a bzImage that is just a valid setup
// header plus a recognisable payload, and a small ELF builder. Test-only (header-only so
// it needs no library of its own).
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "boot/boot_params.h"

namespace nvmevm::testing {

struct BzImageSpec {
    uint16_t version = 0x020f;
    uint8_t setup_sects = 4;
    uint8_t loadflags = linux_boot::kLoadedHigh;
    uint16_t xloadflags = linux_boot::kXlfKernel64 | linux_boot::kXlfCanBeLoadedAbove4G;
    uint8_t relocatable = 1;
    uint32_t kernel_alignment = 0x20'0000;
    uint64_t pref_address = 0x100'0000;
    uint32_t init_size = 0x80'0000;
    uint32_t initrd_addr_max = 0x7fff'ffff;
    uint32_t cmdline_size = 2047;
    size_t payload_size = 8192;
};

// Payload byte i is (i * 7 + 3) & 0xff, so a test can check the copy.
inline uint8_t payload_byte(size_t i) {
    return static_cast<uint8_t>(i * 7 + 3);
}

inline std::vector<uint8_t> make_bzimage(const BzImageSpec& spec = {}) {
    const size_t sects = spec.setup_sects ? spec.setup_sects : linux_boot::kDefaultSetupSects;
    const size_t setup_size = (sects + 1) * linux_boot::kSectorSize;
    std::vector<uint8_t> image(setup_size + spec.payload_size, 0);
    linux_boot::SetupHeader h{};
    h.setup_sects = spec.setup_sects;
    h.boot_flag = linux_boot::kBootFlag;
    // A short jump over the header; its displacement byte (0x201) gives the header's end.
    h.jump = static_cast<uint16_t>(0xeb | ((0x26c - 0x202) << 8));
    h.header = linux_boot::kHeaderMagic;
    h.version = spec.version;
    h.loadflags = spec.loadflags;
    h.code32_start = 0x10'0000;
    h.vid_mode = 0xffff;
    h.initrd_addr_max = spec.initrd_addr_max;
    h.kernel_alignment = spec.kernel_alignment;
    h.relocatable_kernel = spec.relocatable;
    h.xloadflags = spec.xloadflags;
    h.cmdline_size = spec.cmdline_size;
    h.pref_address = spec.pref_address;
    h.init_size = spec.init_size;
    std::memcpy(image.data() + linux_boot::kSetupHeaderOffset, &h, sizeof(h));
    for (size_t i = 0; i < spec.payload_size; ++i) image[setup_size + i] = payload_byte(i);
    return image;
}

// One ELF note: header, name with NUL, desc, each padded to 4 bytes.
inline std::vector<uint8_t> elf_note(const std::string& name, uint32_t type,
                                     const std::vector<uint8_t>& desc) {
    std::vector<uint8_t> out;
    auto word = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    word(static_cast<uint32_t>(name.size() + 1));
    word(static_cast<uint32_t>(desc.size()));
    word(type);
    out.insert(out.end(), name.begin(), name.end());
    out.push_back(0);
    while (out.size() % 4) out.push_back(0);
    out.insert(out.end(), desc.begin(), desc.end());
    while (out.size() % 4) out.push_back(0);
    return out;
}

inline std::vector<uint8_t> le_bytes(uint64_t value, size_t size) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return out;
}

// XEN_ELFNOTE_PHYS32_ENTRY with a `size`-byte (4 or 8) entry address.
inline std::vector<uint8_t> pvh_note(uint64_t entry, size_t size = 8) {
    return elf_note("Xen", 18, le_bytes(entry, size));
}

// Lays out an ELF header, its program headers and then each segment's file bytes.
class ElfBuilder {
  public:
    explicit ElfBuilder(bool is64 = true) : is64_(is64) {}

    ElfBuilder& load(uint64_t paddr, std::vector<uint8_t> data, uint64_t memsz) {
        segments_.push_back({PT_LOAD, paddr, memsz, std::move(data), 0x1000});
        return *this;
    }
    ElfBuilder& note(std::vector<uint8_t> notes) {
        const uint64_t size = notes.size();
        segments_.push_back({PT_NOTE, 0, size, std::move(notes), 4});
        return *this;
    }

    [[nodiscard]] size_t phdr_offset(size_t index) const {
        return ehdr_size() + index * phdr_size();
    }

    [[nodiscard]] std::vector<uint8_t> build() const {
        std::vector<uint8_t> out(ehdr_size() + segments_.size() * phdr_size());
        std::vector<uint64_t> offsets;
        for (const Segment& s : segments_) {
            while (out.size() % 16) out.push_back(0);
            offsets.push_back(out.size());
            out.insert(out.end(), s.data.begin(), s.data.end());
        }
        if (is64_) {
            Elf64_Ehdr e{};
            fill_ident(e.e_ident, ELFCLASS64);
            e.e_type = ET_EXEC;
            e.e_machine = EM_X86_64;
            e.e_version = EV_CURRENT;
            e.e_phoff = sizeof(Elf64_Ehdr);
            e.e_ehsize = sizeof(Elf64_Ehdr);
            e.e_phentsize = sizeof(Elf64_Phdr);
            e.e_phnum = static_cast<uint16_t>(segments_.size());
            std::memcpy(out.data(), &e, sizeof(e));
            for (size_t i = 0; i < segments_.size(); ++i) {
                const Segment& s = segments_[i];
                Elf64_Phdr p{};
                p.p_type = s.type;
                p.p_offset = offsets[i];
                p.p_vaddr = s.paddr + 0xffff'ffff'8000'0000;  // like vmlinux: only p_paddr counts
                p.p_paddr = s.paddr;
                p.p_filesz = s.data.size();
                p.p_memsz = s.memsz;
                p.p_align = s.align;
                std::memcpy(out.data() + phdr_offset(i), &p, sizeof(p));
            }
        } else {
            Elf32_Ehdr e{};
            fill_ident(e.e_ident, ELFCLASS32);
            e.e_type = ET_EXEC;
            e.e_machine = EM_386;
            e.e_version = EV_CURRENT;
            e.e_phoff = sizeof(Elf32_Ehdr);
            e.e_ehsize = sizeof(Elf32_Ehdr);
            e.e_phentsize = sizeof(Elf32_Phdr);
            e.e_phnum = static_cast<uint16_t>(segments_.size());
            std::memcpy(out.data(), &e, sizeof(e));
            for (size_t i = 0; i < segments_.size(); ++i) {
                const Segment& s = segments_[i];
                Elf32_Phdr p{};
                p.p_type = s.type;
                p.p_offset = static_cast<uint32_t>(offsets[i]);
                p.p_vaddr = static_cast<uint32_t>(s.paddr);
                p.p_paddr = static_cast<uint32_t>(s.paddr);
                p.p_filesz = static_cast<uint32_t>(s.data.size());
                p.p_memsz = static_cast<uint32_t>(s.memsz);
                p.p_align = static_cast<uint32_t>(s.align);
                std::memcpy(out.data() + phdr_offset(i), &p, sizeof(p));
            }
        }
        return out;
    }

  private:
    struct Segment {
        uint32_t type;
        uint64_t paddr;
        uint64_t memsz;
        std::vector<uint8_t> data;
        uint64_t align;
    };
    static void fill_ident(unsigned char* ident, unsigned char elf_class) {
        std::memcpy(ident, ELFMAG, SELFMAG);
        ident[EI_CLASS] = elf_class;
        ident[EI_DATA] = ELFDATA2LSB;
        ident[EI_VERSION] = EV_CURRENT;
    }
    [[nodiscard]] size_t ehdr_size() const {
        return is64_ ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    }
    [[nodiscard]] size_t phdr_size() const {
        return is64_ ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    }

    bool is64_;
    std::vector<Segment> segments_;
};

// Writes a little-endian value into a byte image (for corrupting headers in tests).
template <typename T>
void poke(std::vector<uint8_t>& image, size_t offset, T value) {
    std::memcpy(image.data() + offset, &value, sizeof(T));
}
template <typename T>
T peek(const std::vector<uint8_t>& image, size_t offset) {
    T value;
    std::memcpy(&value, image.data() + offset, sizeof(T));
    return value;
}

}  // namespace nvmevm::testing
