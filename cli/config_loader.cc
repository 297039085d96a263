// The config file as a whole: reading it, applying command-line overrides, and the order of
// the stages (docs/config.md).
#include "cli/config_loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "cli/config_values.h"

namespace nvmevm {

namespace values = config_values;

VmConfig read_config_file(const std::filesystem::path& source) {
    const SourceLocation file{source.string(), 0, 0};
    std::error_code error;
    if (std::filesystem::is_directory(source, error)) {
        throw ConfigError(file, "is a folder, not a config file");
    }
    std::ifstream in(source, std::ios::binary);
    if (!in)
        throw ConfigError(file, std::string("cannot open config file: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw ConfigError(file, "cannot read config file");
    return parse_config(text.str(), source);
}

void apply_overrides(VmConfig& config, const Overrides& overrides) {
    // Paths on the command line are relative to the working folder, as a shell user expects,
    // not to the config file's folder.
    const std::filesystem::path here;
    if (overrides.no_seccomp) config.seccomp = false;
    if (overrides.sandbox)
        config.sandbox.mode =
            values::sandbox_mode(*overrides.sandbox, values::command_line("--sandbox"));
    if (overrides.sandbox_uid)
        config.sandbox.uid = values::sandbox_id("--sandbox-uid", *overrides.sandbox_uid,
                                                values::command_line("--sandbox-uid"));
    if (overrides.sandbox_gid)
        config.sandbox.gid = values::sandbox_id("--sandbox-gid", *overrides.sandbox_gid,
                                                values::command_line("--sandbox-gid"));
    if (overrides.cgroup) {
        values::cgroup(*overrides.cgroup, values::command_line("--cgroup"));
        config.sandbox.cgroup = *overrides.cgroup;
    }
    if (overrides.vcpus) {
        config.vcpus_where = values::command_line("--vcpus");
        config.vcpus = values::vcpus(*overrides.vcpus, config.vcpus_where);
    }
    if (overrides.memory_mib) {
        config.memory_where = values::command_line("--memory");
        config.memory_mib = values::memory_mib(*overrides.memory_mib, config.memory_where);
    }
    if (overrides.kernel) {
        config.kernel_where = values::command_line("--kernel");
        config.kernel =
            values::path("--kernel", overrides.kernel->string(), here, config.kernel_where);
    }
    if (overrides.initrd) {
        config.initrd_where = values::command_line("--initrd");
        config.initrd =
            values::path("--initrd", overrides.initrd->string(), here, config.initrd_where);
    }
    if (overrides.cmdline) {
        config.cmdline_where = values::command_line("--cmdline");
        values::cmdline(*overrides.cmdline, config.cmdline_where);
        config.cmdline = *overrides.cmdline;
    }
    if (overrides.console) {
        values::console(config, *overrides.console, here, values::command_line("--console"));
    }
    if (overrides.drive_engine && overrides.drives.empty()) {
        throw ConfigError(values::command_line("--drive-engine"),
                          "--drive-engine sets the engine of drives added by --drive; add "
                          "--drive PATH");
    }
    DriveEngine engine = DriveEngine::automatic;
    SourceLocation engine_where;  // not given: errors point at the drive
    if (overrides.drive_engine) {
        engine_where = values::command_line("--drive-engine");
        engine = values::engine(*overrides.drive_engine, engine_where);
    }
    for (const std::filesystem::path& path : overrides.drives) {
        DriveConfig drive;
        drive.id = "drive" + std::to_string(config.drives.size());
        drive.where = drive.path_where = values::command_line("--drive");
        drive.path = values::path("--drive", path.string(), here, drive.where);
        drive.engine = engine;
        drive.engine_where = engine_where;
        config.drives.push_back(std::move(drive));
    }
}

VmConfig load_config_file(const std::filesystem::path& source, const Overrides& overrides) {
    VmConfig config = read_config_file(source);
    apply_overrides(config, overrides);
    check_config(config);
    return config;
}

}  // namespace nvmevm
