// nvmevm's command line (docs/cli.md): parsing it (CLI11) and carrying out `run` and `check`.
// main() only wires these to the process; tests drive them with their own streams and a fake
// machine.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>

#include "cli/bench.h"
#include "cli/bench_options.h"
#include "cli/config_loader.h"
#include "devices/vm_outcome.h"
#include "foundation/log.h"
#include "vmm/vm_config.h"

namespace nvmevm {

struct CommandLine {
    enum class Command { run, check, bench };
    Command command = Command::run;
    std::filesystem::path config;
    Overrides overrides;
    BenchOptions bench;  // `bench` only
    LogLevel log_level = LogLevel::warn;
};

// A parsed command line, or, when there is nothing to run (--help, --version, an error already
// reported on `err`), the exit code to end with.
struct ParsedCommandLine {
    std::optional<CommandLine> command;
    int exit_code = 0;
};

[[nodiscard]] ParsedCommandLine parse_command_line(int argc, const char* const* argv,
                                                   std::ostream& out, std::ostream& err);

using MachineRunner = std::function<VmOutcome(const VmConfig&)>;

// Loads and checks the config; `check` then reports "FILE: ok", `run` hands it to `runner`;
// `bench` runs the benchmark with `bench` (cli/bench.h).
// Returns the process exit code (docs/exit-codes.md).
[[nodiscard]] int execute(const CommandLine& command, std::ostream& out, std::ostream& err,
                          const MachineRunner& runner, const BenchEnvironment& bench = {});

// parse_command_line + execute.
[[nodiscard]] int nvmevm_main(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err, const MachineRunner& runner,
                              const BenchEnvironment& bench = {});

}  // namespace nvmevm
