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
[[nodiscard]] DriveEngine engine(std::string_view value, const SourceLocation& where);
[[nodiscard]] const char* engine_name(DriveEngine engine);

// "stdout", "none", or a file path resolved against `base`; sets config.console*.
void console(VmConfig& config, std::string_view value, const std::filesystem::path& base,
             const SourceLocation& where);

// A path from the config file: relative ones are relative to the file's folder `base`.
// Empty paths are rejected: "" would otherwise silently mean the folder itself.
[[nodiscard]] std::filesystem::path path(std::string_view key, std::string_view value,
                                         const std::filesystem::path& base,
                                         const SourceLocation& where);

// "command line: --flag", the location of an override.
[[nodiscard]] SourceLocation command_line(std::string_view flag);

}  // namespace nvmevm::config_values
