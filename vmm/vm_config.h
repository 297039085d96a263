// The VM configuration (docs/config.md) as plain data. cli/config_loader parses it from TOML
// (toml++) and checks it as a whole.
// Every error names the file, line and column of the value at fault and is reported before any
// VM starts (exit code 2).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/io_rate_limiter.h"
#include "vmm/confinement.h"

namespace nvmevm {

// Where a value came from: a place in a config file, or a command-line flag.
struct SourceLocation {
    std::string file;  // config file path as given, or "command line"
    uint32_t line = 0;
    uint32_t column = 0;
    [[nodiscard]] std::string str() const;  // "vm.toml:3:10" or "command line"
};

// A configuration error: one line, "FILE:LINE:COL: what is wrong".
class ConfigError : public std::runtime_error {
  public:
    ConfigError(const SourceLocation& where, const std::string& what)
        : std::runtime_error(where.str() + ": " + what) {}
};

// How a drive's requests reach the host (docs/config.md, `engine`). The machine resolves
// `automatic` to one of the others when it opens the drive (vmm/drive_engine.h).
enum class DriveEngine : uint8_t {
    automatic,  // "auto": nvme for an NVMe namespace with a generic device, uring otherwise
    uring,      // io_uring on a file or block device (storage/uring_engine.h)
    nvme,       // NVMe passthrough on /dev/ngXnY (nvme/engine.h)
    null,       // no I/O: reads return zeroes (storage/null_engine.h)
};

// The one table of engine names, for the config file, the command line and log lines.
inline constexpr std::array<std::pair<DriveEngine, std::string_view>, 4> kDriveEngineNames{{
    {DriveEngine::automatic, "auto"},
    {DriveEngine::uring, "uring"},
    {DriveEngine::nvme, "nvme"},
    {DriveEngine::null, "null"},
}};

[[nodiscard]] constexpr std::string_view to_string(DriveEngine engine) {
    for (const auto& [value, name] : kDriveEngineNames)
        if (value == engine) return name;
    return "?";
}

// The engine a name stands for; nullopt for an unknown name.
[[nodiscard]] constexpr std::optional<DriveEngine> parse_drive_engine(std::string_view name) {
    for (const auto& [value, known] : kDriveEngineNames)
        if (known == name) return value;
    return std::nullopt;
}

struct DriveConfig {
    std::string id;
    std::filesystem::path path;  // resolved against the config file's folder
    bool read_only = false;
    DriveEngine engine = DriveEngine::automatic;
    uint16_t queues = 0;        // virtqueues; 0: one per vCPU
    uint16_t queue_size = 256;  // the largest ring the driver may set up (power of two, <= 1024)
    std::string serial;         // GET_ID string (<= 20 bytes); empty: derived from the path
    bool direct = true;         // O_DIRECT where the backing accepts it
    uint64_t null_size_mib = 1024;  // capacity of a null drive without a path
    // The block size the guest sees (virtio/blk_block_size.h): 0 for the backing's own, else
    // 512 or 4096. Smaller than the backing's: requests not aligned to it fail with IOERR.
    uint32_t logical_block_size = 0;
    // Polled completions (IORING_SETUP_IOPOLL) on a second ring per vCPU: NVMe engine only.
    bool poll = false;
    // Token buckets for operations and bytes (docs/rate-limits.md); none by default.
    IoRateLimits rate_limits;
    SourceLocation where;         // the [[drive]] table
    SourceLocation path_where;    // the path value
    SourceLocation engine_where;  // the engine value; empty file: not given (use `where`)
    SourceLocation poll_where;    // the poll value; empty file: not given
};

enum class ConsoleKind { stdout_stream, none, file };

struct VmConfig {
    std::filesystem::path source;  // the config file

    uint32_t vcpus = 1;
    uint64_t memory_mib = 128;
    SourceLocation vcpus_where, memory_where;

    std::filesystem::path kernel;
    // A kernel already in memory (`nvmevm bench` boots the test guest built into the binary):
    // when not empty it is booted instead of `kernel`, which then only names it in messages.
    // The bytes must outlive the VM.
    std::span<const uint8_t> kernel_image;
    std::optional<std::filesystem::path> initrd;
    std::string cmdline;
    SourceLocation kernel_where, initrd_where, cmdline_where;

    ConsoleKind console = ConsoleKind::stdout_stream;
    std::filesystem::path console_file;
    SourceLocation console_where;

    std::vector<DriveConfig> drives;

    // Run every thread under the seccomp allow-list once the VM is built (vmm/seccomp.h).
    bool seccomp = true;
    // The namespace/root/uid sandbox entered once the VM is built (vmm/confinement.h).
    SandboxConfig sandbox;
    SourceLocation sandbox_where;
};

inline constexpr uint32_t kMaxVcpus = 64;
inline constexpr uint64_t kMinMemoryMib = 16;
inline constexpr size_t kMaxCmdlineBytes = 2047;  // boot protocol's cmdline_size for 2.06+ kernels

}  // namespace nvmevm
