#include "cli/config_values.h"

#include <cstdio>
#include <optional>
#include <string>

#include "cli/config_loader.h"

namespace nvmevm::config_values {

uint32_t vcpus(int64_t value, const SourceLocation& where) {
    if (value < 1 || static_cast<uint64_t>(value) > kMaxVcpus) {
        throw ConfigError(where, "vcpus must be between 1 and " + std::to_string(kMaxVcpus) +
                                     ", not " + std::to_string(value));
    }
    return static_cast<uint32_t>(value);
}

uint64_t memory_mib(int64_t value, const SourceLocation& where) {
    if (value < 0 || static_cast<uint64_t>(value) < kMinMemoryMib) {
        throw ConfigError(where, "memory_mib must be at least " + std::to_string(kMinMemoryMib) +
                                     " (MiB), not " + std::to_string(value));
    }
    // The host's own limit (MemTotal) is checked by check_config; this bound keeps byte
    // arithmetic far from overflow whatever the host.
    if (static_cast<uint64_t>(value) > kMaxMemoryMib) {
        throw ConfigError(where, "memory_mib must be at most " + std::to_string(kMaxMemoryMib) +
                                     " (1 TiB), not " + std::to_string(value));
    }
    return static_cast<uint64_t>(value);
}

void cmdline(std::string_view value, const SourceLocation& where) {
    if (value.size() > kMaxCmdlineBytes) {
        throw ConfigError(where, "cmdline is " + std::to_string(value.size()) +
                                     " bytes long; the boot protocol allows at most " +
                                     std::to_string(kMaxCmdlineBytes));
    }
    // The guest reads the command line as a C string: a NUL would silently cut it short.
    if (value.find('\0') != std::string_view::npos) {
        throw ConfigError(where, "cmdline must not contain a NUL character");
    }
}

void drive_id(std::string_view value, const SourceLocation& where) {
    bool ok = !value.empty() && value.size() <= 20;
    for (char c : value) {
        const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '_' || c == '-';
        ok = ok && allowed;
    }
    // The virtio-blk serial (VIRTIO_BLK_ID_BYTES) holds 20 bytes: the id fits in it whole.
    if (!ok) {
        throw ConfigError(where, "drive id \"" + std::string(value) +
                                     "\" is not valid: use 1 to 20 of A-Z a-z 0-9 _ -");
    }
}

DriveEngine engine(std::string_view value, const SourceLocation& where) {
    if (const std::optional<DriveEngine> known = parse_drive_engine(value)) return *known;
    std::string names;
    for (const auto& [e, name] : kDriveEngineNames) {
        if (!names.empty()) names += e == kDriveEngineNames.back().first ? " or " : ", ";
        names += name;
    }
    throw ConfigError(where, "unknown engine \"" + std::string(value) + "\": use " + names);
}

uint16_t drive_queues(int64_t value, const SourceLocation& where) {
    if (value < 1 || value > kMaxDriveQueues) {
        throw ConfigError(where, "queues must be between 1 and " + std::to_string(kMaxDriveQueues) +
                                     ", not " + std::to_string(value) +
                                     " (leave it out for one queue per vCPU)");
    }
    return static_cast<uint16_t>(value);
}

uint16_t queue_size(int64_t value, const SourceLocation& where) {
    if (value < kMinQueueSize || value > kMaxQueueSize) {
        throw ConfigError(where, "queue_size must be between " + std::to_string(kMinQueueSize) +
                                     " and " + std::to_string(kMaxQueueSize) + ", not " +
                                     std::to_string(value));
    }
    if ((value & (value - 1)) != 0) {
        throw ConfigError(where, "queue_size must be a power of two (2, 4, 8, ... 1024), not " +
                                     std::to_string(value));
    }
    return static_cast<uint16_t>(value);
}

void serial(std::string_view value, const SourceLocation& where) {
    if (value.empty()) {
        throw ConfigError(where, "serial must not be empty (leave it out for the default)");
    }
    if (value.size() > kMaxSerialBytes) {
        throw ConfigError(where, "serial is " + std::to_string(value.size()) +
                                     " bytes long; the virtio-blk serial holds at most " +
                                     std::to_string(kMaxSerialBytes));
    }
    for (size_t i = 0; i < value.size(); ++i) {
        const auto byte = static_cast<unsigned char>(value[i]);
        if (byte < 0x20 || byte > 0x7e) {
            char code[8];
            std::snprintf(code, sizeof code, "0x%02x", byte);
            throw ConfigError(where, "serial must be printable ASCII (space to ~), but byte " +
                                         std::to_string(i + 1) + " is " + code);
        }
    }
}

uint64_t null_size_mib(int64_t value, const SourceLocation& where) {
    if (value < 1 || static_cast<uint64_t>(value) > kMaxNullSizeMib) {
        throw ConfigError(where, "size_mib must be between 1 and " +
                                     std::to_string(kMaxNullSizeMib) + " (16 TiB), not " +
                                     std::to_string(value));
    }
    return static_cast<uint64_t>(value);
}

uint32_t logical_block_size(int64_t value, const SourceLocation& where) {
    if (value != 512 && value != 4096) {
        throw ConfigError(where, "logical_block_size must be 512 or 4096, not " +
                                     std::to_string(value) +
                                     " (leave it out for the backing's own block size)");
    }
    return static_cast<uint32_t>(value);
}

void poll_engine(DriveEngine engine, const SourceLocation& where) {
    if (engine == DriveEngine::uring || engine == DriveEngine::null) {
        throw ConfigError(where, std::string("poll = true needs engine = \"nvme\": polled "
                                             "completions exist only for NVMe passthrough, not "
                                             "for engine \"") +
                                     std::string(to_string(engine)) + "\"");
    }
}

namespace {
uint64_t in_range(std::string_view what, int64_t value, int64_t low, uint64_t high,
                  std::string_view unit, const SourceLocation& where) {
    if (value < low || static_cast<uint64_t>(value) > high) {
        throw ConfigError(where, "rate_limit." + std::string(what) + " must be between " +
                                     std::to_string(low) + " and " + std::to_string(high) +
                                     std::string(unit) + ", not " + std::to_string(value));
    }
    return static_cast<uint64_t>(value);
}
}  // namespace

uint64_t bucket_size(std::string_view what, int64_t value, const SourceLocation& where) {
    // A bucket of 0 tokens would refuse everything for ever: a limit of nothing is not a limit.
    return in_range(what, value, 1, kMaxBucketTokens, "", where);
}

uint64_t bucket_refill_ms(std::string_view what, int64_t value, const SourceLocation& where) {
    return in_range(what, value, 1, kMaxBucketRefillNs / 1'000'000, " (one hour)", where);
}

uint64_t bucket_burst(std::string_view what, int64_t value, const SourceLocation& where) {
    return in_range(what, value, 0, kMaxBucketTokens, "", where);
}

void console(VmConfig& config, std::string_view value, const std::filesystem::path& base,
             const SourceLocation& where) {
    config.console_where = where;
    config.console_file.clear();
    if (value == "stdout") {
        config.console = ConsoleKind::stdout_stream;
    } else if (value == "none") {
        config.console = ConsoleKind::none;
    } else if (value.empty()) {
        throw ConfigError(where, "console output must be \"stdout\", \"none\" or a file path");
    } else {
        config.console = ConsoleKind::file;
        config.console_file = path("output", value, base, where);
    }
}

std::filesystem::path path(std::string_view key, std::string_view value,
                           const std::filesystem::path& base, const SourceLocation& where) {
    if (value.empty()) throw ConfigError(where, std::string(key) + " must not be empty");
    std::filesystem::path p(value);
    if (p.is_relative() && !base.empty()) p = base / p;
    return p;
}

SandboxMode sandbox_mode(std::string_view value, const SourceLocation& where) {
    if (value == "auto") return SandboxMode::automatic;
    if (value == "on" || value == "true") return SandboxMode::on;
    if (value == "off" || value == "false") return SandboxMode::off;
    throw ConfigError(where, "sandbox must be auto, on or off, not \"" + std::string(value) +
                                 "\" (docs/security.md)");
}

uint32_t sandbox_id(std::string_view key, int64_t value, const SourceLocation& where) {
    if (value < 0 || value >= int64_t{UINT32_MAX})
        throw ConfigError(
            where, std::string(key) + " must be 0 to 4294967294, not " + std::to_string(value));
    return static_cast<uint32_t>(value);
}

void cgroup(std::string_view value, const SourceLocation& where) {
    if (value.empty() || value.front() != '/')
        throw ConfigError(where,
                          "cgroup must be an absolute path (a cgroup v2 folder such as "
                          "/sys/fs/cgroup/vms/vm1), not \"" +
                              std::string(value) + "\"");
}

SourceLocation command_line(std::string_view flag) {
    return SourceLocation{"command line: " + std::string(flag), 0, 0};
}

}  // namespace nvmevm::config_values
