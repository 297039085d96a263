// Checks of single config values, shared by the TOML parser, the command-line overrides and
// check_config, so that a value is held to the same rule wherever it comes from. Each throws
// ConfigError at `where`. Internal to cli/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "vmm/vm_config.h"

namespace nvmevm::config_values {

[[nodiscard]] uint32_t vcpus(int64_t value, const SourceLocation& where);
[[nodiscard]] uint64_t memory_mib(int64_t value, const SourceLocation& where);
void cmdline(std::string_view value, const SourceLocation& where);
void drive_id(std::string_view value, const SourceLocation& where);
// [[drive]] engine: a name from kDriveEngineNames (vmm/vm_config.h).
[[nodiscard]] DriveEngine engine(std::string_view value, const SourceLocation& where);
// [[drive]] queues as written: 1..kMaxDriveQueues (0, one per vCPU, is what leaving it out means).
[[nodiscard]] uint16_t drive_queues(int64_t value, const SourceLocation& where);
// [[drive]] queue_size: a power of two, kMinQueueSize..kMaxQueueSize.
[[nodiscard]] uint16_t queue_size(int64_t value, const SourceLocation& where);
// [[drive]] serial: 1 to 20 printable ASCII bytes (space to ~).
void serial(std::string_view value, const SourceLocation& where);
// [[drive]] size_mib of a null drive: 1..kMaxNullSizeMib.
[[nodiscard]] uint64_t null_size_mib(int64_t value, const SourceLocation& where);
// [[drive]] logical_block_size: 512 or 4096.
[[nodiscard]] uint32_t logical_block_size(int64_t value, const SourceLocation& where);
// [[drive]] poll = true: only with an engine that can poll (nvme; auto is checked against the
// path by check_config).
void poll_engine(DriveEngine engine, const SourceLocation& where);
// [drive.rate_limit] bucket values (docs/rate-limits.md); `what` names the key for the message
// ("ops.size"). size: 1..kMaxBucketTokens; refill_time_ms: 1..kMaxBucketRefillNs in ms;
// one_time_burst: 0..kMaxBucketTokens.
[[nodiscard]] uint64_t bucket_size(std::string_view what, int64_t value,
                                   const SourceLocation& where);
[[nodiscard]] uint64_t bucket_refill_ms(std::string_view what, int64_t value,
                                        const SourceLocation& where);
[[nodiscard]] uint64_t bucket_burst(std::string_view what, int64_t value,
                                    const SourceLocation& where);

// "stdout", "none", or a file path resolved against `base`; sets config.console*.
void console(VmConfig& config, std::string_view value, const std::filesystem::path& base,
             const SourceLocation& where);

// A path from the config file: relative ones are relative to the file's folder `base`.
// Empty paths are rejected: "" would otherwise silently mean the folder itself.
[[nodiscard]] std::filesystem::path path(std::string_view key, std::string_view value,
                                         const std::filesystem::path& base,
                                         const SourceLocation& where);

// [sandbox] enabled / --sandbox: "auto", "on" (true), "off" (false).
[[nodiscard]] SandboxMode sandbox_mode(std::string_view value, const SourceLocation& where);
// [sandbox] uid and gid: 0..4294967294 (-1, "no change" to the kernel, is refused).
[[nodiscard]] uint32_t sandbox_id(std::string_view key, int64_t value, const SourceLocation& where);
// [sandbox] cgroup: an absolute path (a cgroup v2 folder).
void cgroup(std::string_view value, const SourceLocation& where);

// "command line: --flag", the location of an override.
[[nodiscard]] SourceLocation command_line(std::string_view flag);

}  // namespace nvmevm::config_values
