// Helpers for the cli/ tests: a temporary folder, files in it, a minimal PVH kernel, and a way
// to run a check as an unprivileged user (tests often run as root, for whom no file is
// unreadable).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/vm_config.h"

namespace nvmevm::testing {

// A fresh folder, removed with everything in it when the object goes.
class TempDir {
  public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "nvmevm-cfg-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
        // Traversable by the unprivileged user of run_unprivileged.
        std::filesystem::permissions(path_, std::filesystem::perms(0755));
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path operator/(std::string_view name) const {
        return path_ / name;
    }

    std::filesystem::path write(std::string_view name, std::string_view text) const {
        const std::filesystem::path file = path_ / name;
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }
    std::filesystem::path write(std::string_view name, const std::vector<uint8_t>& bytes) const {
        const std::filesystem::path file = path_ / name;
        std::ofstream(file, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        return file;
    }

  private:
    std::filesystem::path path_;
};

// The smallest ELF64 x86-64 executable a PVH loader accepts: one PT_LOAD of `load_size` bytes
// at `load_address` and a PT_NOTE holding XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen").
inline std::vector<uint8_t> make_pvh_kernel(uint64_t load_address = 0x100000,
                                            uint64_t load_size = 0x1000) {
    constexpr size_t kEhdrSize = 64, kPhdrSize = 56, kNoteOffset = kEhdrSize + 2 * kPhdrSize;
    constexpr size_t kNoteSize = 12 + 4 + 4, kLoadOffset = 0x1000;
    std::vector<uint8_t> elf(kLoadOffset + load_size, 0);
    auto put = [&elf](size_t offset, uint64_t value, size_t bytes) {
        for (size_t i = 0; i < bytes; ++i) elf[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    };
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2 /*64-bit*/, 1 /*LE*/, 1 /*version*/};
    std::memcpy(elf.data(), ident, sizeof ident);
    put(16, 2, 2);             // e_type: ET_EXEC
    put(18, 62, 2);            // e_machine: EM_X86_64
    put(20, 1, 4);             // e_version
    put(24, load_address, 8);  // e_entry
    put(32, kEhdrSize, 8);     // e_phoff
    put(52, kEhdrSize, 2);     // e_ehsize
    put(54, kPhdrSize, 2);     // e_phentsize
    put(56, 2, 2);             // e_phnum
    const size_t load = kEhdrSize, note = kEhdrSize + kPhdrSize;
    put(load + 0, 1, 4);              // PT_LOAD
    put(load + 4, 5, 4);              // PF_R | PF_X
    put(load + 8, kLoadOffset, 8);    // p_offset
    put(load + 16, load_address, 8);  // p_vaddr
    put(load + 24, load_address, 8);  // p_paddr
    put(load + 32, load_size, 8);     // p_filesz
    put(load + 40, load_size, 8);     // p_memsz
    put(load + 48, 0x1000, 8);        // p_align
    put(note + 0, 4, 4);              // PT_NOTE
    put(note + 4, 4, 4);              // PF_R
    put(note + 8, kNoteOffset, 8);
    put(note + 16, 0, 8);
    put(note + 24, 0, 8);
    put(note + 32, kNoteSize, 8);
    put(note + 40, kNoteSize, 8);
    put(note + 48, 4, 8);
    put(kNoteOffset + 0, 4, 4);   // namesz: "Xen\0"
    put(kNoteOffset + 4, 4, 4);   // descsz
    put(kNoteOffset + 8, 18, 4);  // XEN_ELFNOTE_PHYS32_ENTRY
    std::memcpy(elf.data() + kNoteOffset + 12, "Xen", 4);
    put(kNoteOffset + 16, load_address, 4);  // 32-bit entry address
    elf[kLoadOffset] = 0xf4;                 // hlt
    return elf;
}

// The ConfigError message `action` throws, or "" (and a test failure) when it throws none.
inline std::string config_error(const std::function<void()>& action) {
    try {
        action();
    } catch (const ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a ConfigError";
    return "";
}

// Like config_error, but as user "nobody" when the test runs as root, so that permission
// checks bite. Runs in a child process; returns its message, or "" when it threw nothing.
inline std::string config_error_unprivileged(const std::function<void()>& action) {
    if (::geteuid() != 0) return config_error(action);
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(fds[0]);
        std::string message;
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
            message = "setuid failed";
        } else {
            try {
                action();
            } catch (const std::exception& e) {
                message = e.what();
            }
        }
        const ssize_t ignored = ::write(fds[1], message.data(), message.size());
        (void)ignored;
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string message;
    char buffer[512];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
        message.append(buffer, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (message.empty()) ADD_FAILURE() << "expected a ConfigError";
    return message;
}

}  // namespace nvmevm::testing

#define EXPECT_CONTAINS(text, part)                            \
    EXPECT_NE(std::string(text).find(part), std::string::npos) \
        << "  message: " << (text) << "\n  lacks:   " << (part)
