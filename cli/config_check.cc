// check_config: the checks that need the host. Each one names the file it looked at, resolved,
// so that a relative path that resolved somewhere unexpected is plain to see.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <system_error>

#include "boot/kernel_image.h"
#include "cli/config_loader.h"
#include "cli/config_values.h"
#include "foundation/file_image.h"
#include "foundation/unique_fd.h"
#include "nvme/device_path.h"

namespace nvmevm {
namespace {

namespace values = config_values;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 4096;
// The initrd goes below the 32-bit PCI hole, and 1 MiB below the end of RAM so that a config
// this check accepts also leaves room for anything placed at the top of low memory. Stricter
// than boot/initrd.cc by that reserve, never looser.
constexpr uint64_t kInitrdCeiling = uint64_t{3} << 30;
constexpr uint64_t kInitrdTopReserve = kMiB;

std::string quoted(const std::filesystem::path& path) {
    return "\"" + path.string() + "\"";
}

std::string mib(uint64_t bytes) {
    char text[64];
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / kMiB);
    return text;
}

std::string hex(uint64_t value) {
    char text[32];
    std::snprintf(text, sizeof text, "%#llx", static_cast<unsigned long long>(value));
    return text;
}

[[noreturn]] void fail_errno(const SourceLocation& where, std::string_view what,
                             const std::filesystem::path& path, int error) {
    throw ConfigError(where, std::string(what) + " " + quoted(path) + ": " + std::strerror(error));
}

// A file the VM will read whole (kernel, initrd) must be a readable, non-empty regular file.
// Opened rather than just stat'ed so that a file nvmevm may not read fails here, not at boot.
struct stat check_regular_file(std::string_view what, const std::filesystem::path& path,
                               const SourceLocation& where) {
    struct stat st {};
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) fail_errno(where, what, path, errno);
    if (::fstat(fd.get(), &st) != 0) fail_errno(where, what, path, errno);
    if (S_ISDIR(st.st_mode)) {
        throw ConfigError(where,
                          std::string(what) + " " + quoted(path) + " is a folder, not a file");
    }
    if (!S_ISREG(st.st_mode)) {
        throw ConfigError(where, std::string(what) + " " + quoted(path) + " is not a regular file");
    }
    if (st.st_size == 0) {
        throw ConfigError(where, std::string(what) + " " + quoted(path) + " is empty");
    }
    return st;
}

void check_memory(const VmConfig& config) {
    (void)values::memory_mib(static_cast<int64_t>(config.memory_mib), config.memory_where);
    const std::optional<uint64_t> host = host_memory_mib();
    if (host && config.memory_mib > *host) {
        throw ConfigError(config.memory_where, "memory_mib = " + std::to_string(config.memory_mib) +
                                                   " is more than this host has (MemTotal " +
                                                   std::to_string(*host) + " MiB)");
    }
}

// A kernel given in memory (VmConfig::kernel_image) gets the same probe and fit checks as a file.
KernelInfo check_kernel_image(const VmConfig& config) {
    const SourceLocation& where = config.kernel_where;
    const uint64_t memory = config.memory_mib * kMiB;
    KernelInfo info{};
    try {
        info = probe_kernel(config.kernel_image);
    } catch (const BootError& e) {
        throw ConfigError(where, "kernel " + quoted(config.kernel) + ": " + e.what());
    }
    if (config.kernel_image.size() > memory || info.load_end > memory) {
        throw ConfigError(where, "kernel " + quoted(config.kernel) + " loads up to " +
                                     hex(info.load_end) + ", beyond the guest's memory (" +
                                     std::to_string(config.memory_mib) + " MiB)");
    }
    return info;
}

KernelInfo check_kernel(const VmConfig& config) {
    if (!config.kernel_image.empty()) return check_kernel_image(config);
    const SourceLocation& where = config.kernel_where;
    if (config.kernel.empty()) {
        throw ConfigError(where, "no kernel: add kernel = \"PATH\" to [boot] (or use --kernel)");
    }
    const struct stat st = check_regular_file("kernel", config.kernel, where);
    const uint64_t memory = config.memory_mib * kMiB;
    if (static_cast<uint64_t>(st.st_size) > memory) {
        throw ConfigError(where, "kernel " + quoted(config.kernel) + " is " +
                                     mib(static_cast<uint64_t>(st.st_size)) +
                                     ", more than the guest's memory (" +
                                     std::to_string(config.memory_mib) + " MiB)");
    }
    // Mapped, not read: probing touches only the headers it looks at.
    KernelInfo info{};
    try {
        const FileImage image = FileImage::open(config.kernel);
        info = probe_kernel(image.bytes());
    } catch (const BootError& e) {
        throw ConfigError(where, "kernel " + quoted(config.kernel) + ": " + e.what());
    } catch (const std::system_error& e) {
        throw ConfigError(where, std::string("cannot map kernel: ") + e.what());
    }
    if (info.load_end > memory) {
        throw ConfigError(where, "kernel " + quoted(config.kernel) + " loads up to " +
                                     hex(info.load_end) + ", beyond the guest's memory (" +
                                     std::to_string(config.memory_mib) + " MiB)");
    }
    return info;
}

void check_initrd(const VmConfig& config, const KernelInfo& kernel) {
    if (!config.initrd) return;
    const SourceLocation& where = config.initrd_where;
    const struct stat st = check_regular_file("initrd", *config.initrd, where);
    const uint64_t size = static_cast<uint64_t>(st.st_size);

    uint64_t top = std::min(config.memory_mib * kMiB, kInitrdCeiling);
    if (kernel.initrd_addr_max < top) top = kernel.initrd_addr_max + 1;  // addr_max is inclusive
    top = top > kInitrdTopReserve ? top - kInitrdTopReserve : 0;
    top &= ~(kPage - 1);
    // The loader starts the initrd on a page boundary above the kernel (boot/initrd.cc).
    const uint64_t floor = (kernel.load_end + kPage - 1) & ~(kPage - 1);
    const uint64_t room = top > floor ? top - floor : 0;
    if (size > room) {
        throw ConfigError(where, "initrd " + quoted(*config.initrd) + " is " + mib(size) +
                                     " but only " + mib(room) + " fit between the kernel's end (" +
                                     hex(floor) + ") and " + hex(top) +
                                     "; raise memory_mib or use a smaller initrd");
    }
}

void check_console(const VmConfig& config) {
    if (config.console != ConsoleKind::file) return;
    const SourceLocation& where = config.console_where;
    const std::filesystem::path& file = config.console_file;
    std::filesystem::path folder = file.parent_path();
    if (folder.empty()) folder = ".";
    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0) {
        fail_errno(where, "console output: cannot use folder", folder, errno);
    }
    if (!S_ISDIR(st.st_mode)) {
        throw ConfigError(where, "console output: " + quoted(folder) + " is not a folder");
    }
    if (::stat(file.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            throw ConfigError(where, "console output " + quoted(file) + " is a folder");
        }
        if (::faccessat(AT_FDCWD, file.c_str(), W_OK, AT_EACCESS) != 0) {
            fail_errno(where, "console output: cannot write", file, errno);
        }
    } else if (::faccessat(AT_FDCWD, folder.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
        fail_errno(where, "console output: cannot create a file in", folder, errno);
    }
}

// The value checks of parse_config, for configs built in code or from command-line flags.
// Such a drive has no location per key: its errors point at the drive.
void check_drive_values(const DriveConfig& drive) {
    values::drive_id(drive.id, drive.where);
    if (drive.queues != 0) (void)values::drive_queues(drive.queues, drive.where);
    (void)values::queue_size(drive.queue_size, drive.where);
    if (!drive.serial.empty()) values::serial(drive.serial, drive.where);
    if (drive.path.empty() && drive.engine == DriveEngine::null) {
        (void)values::null_size_mib(static_cast<int64_t>(drive.null_size_mib), drive.where);
    }
    if (drive.logical_block_size != 0)
        (void)values::logical_block_size(drive.logical_block_size, drive.where);
    const SourceLocation& poll_where =
        drive.poll_where.file.empty() ? drive.where : drive.poll_where;
    if (drive.poll) values::poll_engine(drive.engine, poll_where);
}

// The NVMe passthrough engine takes a namespace by its generic character device (/dev/ngXnY)
// or its block device (/dev/nvmeXnY, whose ngXnY sibling it then opens).
void check_nvme_drive(const DriveConfig& drive, const std::string& name) {
    const std::optional<std::string> generic = nvme_generic_path(drive.path.string());
    if (!generic) {
        throw ConfigError(drive.path_where,
                          name + " " + quoted(drive.path) +
                              " is not an NVMe namespace: engine \"nvme\" takes /dev/ngXnY or "
                              "/dev/nvmeXnY");
    }
    struct stat st {};
    if (::stat(generic->c_str(), &st) != 0)
        fail_errno(drive.path_where, name + ": its NVMe generic device", *generic, errno);
    if (!S_ISCHR(st.st_mode)) {
        throw ConfigError(drive.path_where, name + ": " + quoted(std::filesystem::path(*generic)) +
                                                " is not the NVMe generic character device");
    }
}

void check_drive(const DriveConfig& drive) {
    if (drive.path.empty() && drive.engine == DriveEngine::null) return;
    const std::string name = "drive \"" + drive.id + "\": path";
    if (drive.path.empty())
        throw ConfigError(drive.where, "drive \"" + drive.id + "\" has no path");
    struct stat st {};
    if (::stat(drive.path.c_str(), &st) != 0) fail_errno(drive.path_where, name, drive.path, errno);
    if (drive.engine == DriveEngine::nvme) check_nvme_drive(drive, name);
    // "auto" polls only where it will pick the NVMe engine; nvmevm refuses to fall back to
    // io_uring for a polled drive rather than drop the option silently.
    if (drive.poll && drive.engine == DriveEngine::automatic &&
        !is_nvme_namespace(drive.path.string())) {
        throw ConfigError(drive.poll_where.file.empty() ? drive.where : drive.poll_where,
                          "poll = true needs NVMe passthrough, but " + quoted(drive.path) +
                              " is not an NVMe namespace (/dev/ngXnY or /dev/nvmeXnY)");
    }
    // Character devices: only NVMe generic devices, for the nvme engine (which "auto" picks for
    // them); the uring and null engines open regular files and block devices only.
    const bool nvme_char =
        S_ISCHR(st.st_mode) && nvme_generic_path(drive.path.string()) &&
        (drive.engine == DriveEngine::nvme || drive.engine == DriveEngine::automatic);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !nvme_char) {
        throw ConfigError(drive.path_where,
                          name + " " + quoted(drive.path) +
                              (S_ISDIR(st.st_mode)   ? " is a folder"
                               : S_ISCHR(st.st_mode) ? " is a character device, not a file, a "
                                                       "block device or an NVMe generic device "
                                                       "(/dev/ngXnY, with engine \"nvme\" or "
                                                       "\"auto\")"
                                                     : " is not a file or a block device"));
    }
    // faccessat rather than open: opening some character devices has side effects.
    if (::faccessat(AT_FDCWD, drive.path.c_str(), R_OK, AT_EACCESS) != 0) {
        fail_errno(drive.path_where, name + ": cannot read", drive.path, errno);
    }
    if (!drive.read_only && ::faccessat(AT_FDCWD, drive.path.c_str(), W_OK, AT_EACCESS) != 0) {
        const int error = errno;
        throw ConfigError(drive.path_where, name + ": cannot write " + quoted(drive.path) + ": " +
                                                std::strerror(error) +
                                                " (set read_only = true to attach it read-only)");
    }
}

void check_drives(const VmConfig& config) {
    std::set<std::string> ids;
    for (const DriveConfig& drive : config.drives) {
        check_drive_values(drive);
        if (!ids.insert(drive.id).second) {
            throw ConfigError(drive.where, "drive id \"" + drive.id + "\" is used twice");
        }
        check_drive(drive);
    }
}

}  // namespace

std::optional<uint64_t> host_memory_mib() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        unsigned long long kib = 0;
        if (std::sscanf(line.c_str(), "MemTotal: %llu kB", &kib) == 1) return kib / 1024;
    }
    return std::nullopt;
}

void check_config(const VmConfig& config) {
    (void)values::vcpus(config.vcpus, config.vcpus_where);
    check_memory(config);
    const KernelInfo kernel = check_kernel(config);
    check_initrd(config, kernel);
    values::cmdline(config.cmdline, config.cmdline_where);
    check_console(config);
    check_drives(config);
}

}  // namespace nvmevm
