#include "cli/command_line.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <string>
#include <vector>

namespace nvmevm {
namespace {

#ifndef NVMEVM_VERSION
#define NVMEVM_VERSION "unknown"
#endif

constexpr const char* kErrorPrefix = "nvmevm: error: ";

// The overrides are the same for `run` and `check`, so that `check` validates exactly what
// `run` would start. Only one subcommand is parsed, so both may write to the same CommandLine.
void add_overrides(CLI::App& command, CommandLine& line) {
    Overrides& o = line.overrides;
    command.add_option("-c,--config", line.config, "VM configuration file (TOML)")->required();
    command.add_option_function<int64_t>(
        "--vcpus", [&o](const int64_t& v) { o.vcpus = v; },
        "Number of vCPUs (overrides [machine] vcpus)");
    command.add_option_function<int64_t>(
        "--memory", [&o](const int64_t& v) { o.memory_mib = v; },
        "Guest memory in MiB (overrides [machine] memory_mib)");
    command.add_option_function<std::string>(
        "--kernel", [&o](const std::string& v) { o.kernel = v; },
        "Kernel image, relative to the working folder (overrides [boot] kernel)");
    command.add_option_function<std::string>(
        "--initrd", [&o](const std::string& v) { o.initrd = v; },
        "Initial ramdisk, relative to the working folder (overrides [boot] initrd)");
    command.add_option_function<std::string>(
        "--cmdline", [&o](const std::string& v) { o.cmdline = v; },
        "Kernel command line (overrides [boot] cmdline)");
    command.add_option_function<std::string>(
        "--console", [&o](const std::string& v) { o.console = v; },
        "Console output: stdout, none or a file path (overrides [console] output)");
    command
        .add_option_function<std::vector<std::string>>(
            "--drive",
            [&o](const std::vector<std::string>& v) { o.drives.assign(v.begin(), v.end()); },
            "Attach a disk (file or block device, relative to the working folder) with id "
            "drive<N>, after the file's [[drive]]s; repeatable")
        ->allow_extra_args(false);
    command.add_option_function<std::string>(
        "--drive-engine", [&o](const std::string& v) { o.drive_engine = v; },
        "Engine of the drives added by --drive: auto, uring or null (default auto)");
    command.add_option_function<std::string>(
        "--sandbox", [&o](const std::string& v) { o.sandbox = v; },
        "Namespaces, an empty root and an unprivileged uid once the VM is built: auto (when "
        "root; the default), on or off (overrides [sandbox] enabled; docs/security.md)");
    command.add_option_function<int64_t>(
        "--sandbox-uid", [&o](const int64_t& v) { o.sandbox_uid = v; },
        "The uid the sandbox drops to (default 65534)");
    command.add_option_function<int64_t>(
        "--sandbox-gid", [&o](const int64_t& v) { o.sandbox_gid = v; },
        "The gid the sandbox drops to (default 65534)");
    command.add_option_function<std::string>(
        "--cgroup", [&o](const std::string& v) { o.cgroup = v; },
        "A cgroup v2 folder the sandbox joins (overrides [sandbox] cgroup)");
    command.add_flag("--no-seccomp", o.no_seccomp,
                     "Do not confine nvmevm's threads with seccomp (for debugging with strace "
                     "or gdb)");
}

// Log lines a guest outcome deserves: an error for the ends that point at a problem. A guest
// status is told exactly, and at warn (seen by default) when its exit code is shared with other
// statuses (docs/exit-codes.md).
void log_outcome(const VmOutcome& outcome) {
    if (outcome.end == VmEnd::guest_status) {
        const bool shared = guest_status_shares_its_code(outcome);
        logf(shared ? LogLevel::warn : LogLevel::info,
             "guest exited with status %u (exit code %d%s)", outcome.guest_status,
             exit_code_for(outcome), shared ? ", which stands for any status from 107 to 255" : "");
        return;
    }
    const bool bad = outcome.end == VmEnd::vmm_error || outcome.end == VmEnd::guest_crashed;
    logf(bad ? LogLevel::error : LogLevel::info, "%s%s%s", describe(outcome.end),
         outcome.detail.empty() ? "" : ": ", outcome.detail.c_str());
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err) {
    CommandLine line;
    CLI::App app("nvmevm: a KVM microVM monitor with a fast virtio-blk", "nvmevm");
    app.set_version_flag("--version", "nvmevm " NVMEVM_VERSION);
    app.require_subcommand(1);
    // Lets global options such as --log-level follow the subcommand too.
    app.fallthrough();
    std::string level = "warn";
    app.add_option("--log-level", level, "Log level: error, warn, info or debug (default warn)")
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}));

    CLI::App* run = app.add_subcommand("run", "Check the configuration and run the VM");
    CLI::App* check = app.add_subcommand("check", "Check the configuration fully; start nothing");
    add_overrides(*run, line);
    add_overrides(*check, line);
    CLI::App* bench = app.add_subcommand(
        "bench",
        "Run the built-in benchmark guest against a drive and report IOPS, latency, "
        "CPU time and exits (docs/benchmarks.md)");
    add_bench_options(*bench, line.bench);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return {std::nullopt, app.exit(e, out, err)};
    } catch (const CLI::ParseError& e) {
        err << kErrorPrefix << e.what() << "\nRun 'nvmevm --help' for usage.\n";
        return {std::nullopt, exit_code::usage};
    }
    line.command = check->parsed()   ? CommandLine::Command::check
                   : bench->parsed() ? CommandLine::Command::bench
                                     : CommandLine::Command::run;
    if (bench->parsed() && line.bench.drive.empty() && !line.bench.null_mib &&
        line.bench.config.empty()) {
        err << kErrorPrefix
            << "bench: say what to benchmark: --drive PATH, --null SIZE_MIB or --config FILE\n";
        return {std::nullopt, exit_code::usage};
    }
    if (!parse_log_level(level, line.log_level)) line.log_level = LogLevel::warn;
    return {std::move(line), 0};
}

int execute(const CommandLine& command, std::ostream& out, std::ostream& err,
            const MachineRunner& runner, const BenchEnvironment& bench) {
    set_log_level(command.log_level);
    if (command.command == CommandLine::Command::bench) {
        if (!bench.run_machine) {
            err << kErrorPrefix << "bench: not available here\n";
            return exit_code::vmm_error;
        }
        return run_bench(command.bench, out, err, bench);
    }
    VmConfig config;
    try {
        config = load_config_file(command.config, command.overrides);
    } catch (const ConfigError& e) {
        err << kErrorPrefix << e.what() << "\n";
        return exit_code::usage;
    }
    if (command.command == CommandLine::Command::check) {
        out << command.config.string() << ": ok\n";
        return 0;
    }
    try {
        const VmOutcome outcome = runner(config);
        log_outcome(outcome);
        return exit_code_for(outcome);
    } catch (const std::exception& e) {
        err << kErrorPrefix << e.what() << "\n";
        return exit_code::vmm_error;
    }
}

int nvmevm_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                const MachineRunner& runner, const BenchEnvironment& bench) {
    const ParsedCommandLine parsed = parse_command_line(argc, argv, out, err);
    if (!parsed.command) return parsed.exit_code;
    return execute(*parsed.command, out, err, runner, bench);
}

}  // namespace nvmevm
