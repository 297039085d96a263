// Loading a VmConfig from a TOML file (docs/config.md) and checking it before any VM starts.
// Every problem becomes one ConfigError "FILE:LINE:COL: what is wrong", so a user (or a CI
// log) sees where to look without reading nvmevm's code. The work is split in stages so that
// command-line overrides go through the same checks as the file:
//   parse_config      TOML syntax and schema: tables, keys, types, value ranges (pure)
//   apply_overrides   command-line values, checked like file values, located at their flag
//   check_config      everything that needs the host: files exist and are usable, the kernel
//                     is a kernel, kernel + initrd fit in memory, memory fits the host
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/vm_config.h"

namespace nvmevm {

// Values given on the command line; each one that is set replaces the file's value.
struct Overrides {
    std::optional<int64_t> vcpus;       // --vcpus (signed so that 0 and -1 reach the range check)
    std::optional<int64_t> memory_mib;  // --memory
    std::optional<std::filesystem::path> kernel;  // --kernel, relative to the working folder
    std::optional<std::filesystem::path> initrd;  // --initrd
    std::optional<std::string> cmdline;           // --cmdline
    std::optional<std::string> console;           // --console stdout|none|PATH
    // --drive PATH (repeatable): appended after the file's drives, with id "drive<N>", N their
    // index in the drive list.
    std::vector<std::filesystem::path> drives;
    std::optional<std::string> drive_engine;  // --drive-engine: engine of the --drive drives
    bool no_seccomp = false;                  // --no-seccomp: for debugging
    std::optional<std::string> sandbox;       // --sandbox auto|on|off
    std::optional<int64_t> sandbox_uid;       // --sandbox-uid
    std::optional<int64_t> sandbox_gid;       // --sandbox-gid
    std::optional<std::string> cgroup;        // --cgroup
};

// Parses `text` as the config file `source` (used in messages and to resolve relative paths)
// and checks the schema and every value that can be checked without the host. Throws
// ConfigError. A missing kernel is not an error yet: --kernel may still supply it.
[[nodiscard]] VmConfig parse_config(std::string_view text, const std::filesystem::path& source);

// Reads and parses the file (no host checks). Throws ConfigError, also when it cannot be read.
[[nodiscard]] VmConfig read_config_file(const std::filesystem::path& source);

// Applies the overrides that are set; a bad value throws ConfigError located at its flag
// ("command line: --vcpus: ...").
void apply_overrides(VmConfig& config, const Overrides& overrides);

// The full check: repeats the value checks (a config built in code gets them too), then
// checks the host side. Reads the whole kernel image to probe it. Throws ConfigError.
void check_config(const VmConfig& config);

// read_config_file + apply_overrides + check_config: what `nvmevm run` and `check` use.
[[nodiscard]] VmConfig load_config_file(const std::filesystem::path& source,
                                        const Overrides& overrides = {});

// The host's memory in MiB (MemTotal in /proc/meminfo), or nullopt when it cannot be read.
[[nodiscard]] std::optional<uint64_t> host_memory_mib();

// Largest memory_mib accepted on any host: 1 TiB.
inline constexpr uint64_t kMaxMemoryMib = uint64_t{1} << 20;

// [[drive]] limits (docs/config.md).
inline constexpr uint16_t kMaxDriveQueues = 64;
inline constexpr uint16_t kMinQueueSize = 2;
inline constexpr uint16_t kMaxQueueSize = 1024;  // the split virtqueue's largest ring
inline constexpr size_t kMaxSerialBytes = 20;    // VIRTIO_BLK_ID_BYTES
inline constexpr uint64_t kMaxNullSizeMib = uint64_t{1} << 24;  // 16 TiB
// Drives a VM can have: one per PCI slot of bus 0, less the host bridge's (devices/pci_host.h).
inline constexpr size_t kMaxDrives = 31;
// Drives with a file (any engine but "null") that one vCPU's io_uring can serve: its table of
// registered files (IoRing::add_file). Polled drives count apart, on the polled ring.
inline constexpr size_t kMaxRingDrives = 16;

}  // namespace nvmevm
