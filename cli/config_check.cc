// check_config: the checks that need the host. Each one names the file it looked at, resolved,
// so that a relative path that resolved somewhere unexpected is plain to see.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "boot/kernel_image.h"
#include "cli/config_loader.h"
#include "cli/config_values.h"
#include "devices/pci_host.h"
#include "foundation/file_image.h"
#include "foundation/unique_fd.h"
#include "nvme/device_path.h"

namespace nvmevm {
namespace {

namespace values = config_values;

static_assert(kMaxDrives == PciHost::kSlotCount - 1, "a drive per PCI slot but the bridge's");

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

// What a drive's path names, as the kernel sees it, to find two drives on one backing.
struct BackingId {
    enum class Kind { file, block_device, nvme_namespace, char_device } kind = Kind::file;
    uint64_t device = 0;  // st_dev of a file; the device number (st_rdev) of a device
    uint64_t inode = 0;   // st_ino of a file
    bool operator==(const BackingId&) const = default;
};

const char* describe(BackingId::Kind kind) {
    switch (kind) {
        case BackingId::Kind::file:
            return "file";
        case BackingId::Kind::block_device:
            return "block device";
        case BackingId::Kind::nvme_namespace:
            return "NVMe namespace";
        case BackingId::Kind::char_device:
            return "device";
    }
    return "backing";
}

// The first line of a small sysfs file ("259:0"), or "".
std::string read_line(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// The device number of the block device of NVMe namespace `block_name` ("nvme0n1"): the node
// of that name beside the generic device, else the kernel's (/sys/class/block/NAME/dev).
std::optional<dev_t> nvme_block_device(const std::filesystem::path& folder,
                                       const std::string& block_name) {
    struct stat st {};
    if (::stat((folder / block_name).c_str(), &st) == 0 && S_ISBLK(st.st_mode)) return st.st_rdev;
    unsigned major_number = 0, minor_number = 0;
    if (std::sscanf(read_line("/sys/class/block/" + block_name + "/dev").c_str(), "%u:%u",
                    &major_number, &minor_number) == 2)
        return ::makedev(major_number, minor_number);
    return std::nullopt;
}

// A regular file is its st_dev and st_ino, so the same path, a hard link and a symlink agree. A
// block device is its device number. An NVMe generic device /dev/ngXnY is the device number of
// its namespace's block device /dev/nvmeXnY, so that the two nodes of one namespace agree (the
// name is the kernel's, from /sys/dev/char/MAJ:MIN, else the node's after symlinks). Called
// after check_drive, which stat'ed the path.
BackingId backing_id(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    if (S_ISREG(st.st_mode)) return {BackingId::Kind::file, st.st_dev, st.st_ino};
    std::error_code ignored;
    const std::filesystem::path real = std::filesystem::canonical(path, ignored);
    const bool nvme_name = !real.empty() && nvme_generic_path(real.string()).has_value();
    if (S_ISBLK(st.st_mode)) {
        return {nvme_name ? BackingId::Kind::nvme_namespace : BackingId::Kind::block_device,
                st.st_rdev, 0};
    }
    const std::string dev =
        std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    std::string kernel_name =
        std::filesystem::read_symlink("/sys/dev/char/" + dev, ignored).filename().string();
    std::string block_name = nvme_block_name(kernel_name);
    if (block_name.empty() && nvme_name) block_name = nvme_block_name(real.string());
    if (!block_name.empty()) {
        if (const std::optional<dev_t> block = nvme_block_device(real.parent_path(), block_name))
            return {BackingId::Kind::nvme_namespace, *block, 0};
    }
    return {BackingId::Kind::char_device, st.st_rdev, 0};
}

// A writable drive must be the only drive on its backing: two drives would each cache what the
// other changes behind its back, and the guest would see its file system corrupt. Drives that
// are all read-only may share one. A null-engine drive never touches its file.
void check_backing_shared(const std::vector<const DriveConfig*>& earlier,
                          const std::vector<BackingId>& ids, const DriveConfig& drive,
                          const BackingId& id) {
    for (size_t i = 0; i < earlier.size(); ++i) {
        const DriveConfig& other = *earlier[i];
        if (!(ids[i] == id) || (drive.read_only && other.read_only)) continue;
        const BackingId::Kind kind =
            ids[i].kind == BackingId::Kind::nvme_namespace ? ids[i].kind : id.kind;
        throw ConfigError(drive.path_where,
                          "drive \"" + drive.id + "\": path " + quoted(drive.path) +
                              " is the same " + describe(kind) + " as drive \"" + other.id +
                              "\"'s (" + other.path_where.str() +
                              "): a writable drive must be the only drive on its file or device "
                              "(drives that are all read_only = true may share one)");
    }
}

// Room for drives: a PCI slot each on bus 0, and a registered file in every vCPU's io_uring for
// each drive with a file (queue 0 of every drive is served by vCPU 0; polled drives on the
// second, polled ring).
void check_drive_count(const DriveConfig& drive, size_t index, size_t with_file, size_t polled) {
    const std::string prefix = "drive \"" + drive.id + "\": too many drives: ";
    if (index + 1 > kMaxDrives) {
        throw ConfigError(drive.where, prefix + "the PCI bus has " + std::to_string(kMaxDrives) +
                                           " slots for drives (00:01.0 to 00:1f.0), and this is "
                                           "drive " +
                                           std::to_string(index + 1));
    }
    if (with_file > kMaxRingDrives || polled > kMaxRingDrives) {
        const bool on_polled_ring = polled > kMaxRingDrives;
        throw ConfigError(
            drive.where,
            prefix + "a vCPU's io_uring serves at most " + std::to_string(kMaxRingDrives) +
                (on_polled_ring ? " drives with poll = true"
                                : " drives with a file (engine \"null\" drives "
                                  "need none)") +
                ", and this is number " + std::to_string(on_polled_ring ? polled : with_file));
    }
}

void check_drives(const VmConfig& config) {
    std::set<std::string> ids;
    std::vector<const DriveConfig*> with_backing;
    std::vector<BackingId> backings;
    size_t with_file = 0, polled = 0;
    for (size_t index = 0; index < config.drives.size(); ++index) {
        const DriveConfig& drive = config.drives[index];
        check_drive_values(drive);
        if (!ids.insert(drive.id).second) {
            throw ConfigError(drive.where, "drive id \"" + drive.id + "\" is used twice");
        }
        check_drive(drive);
        const bool has_file = drive.engine != DriveEngine::null;
        if (has_file) ++(drive.poll ? polled : with_file);
        check_drive_count(drive, index, with_file, polled);
        if (!has_file) continue;
        const BackingId id = backing_id(drive.path);
        check_backing_shared(with_backing, backings, drive, id);
        with_backing.push_back(&drive);
        backings.push_back(id);
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
