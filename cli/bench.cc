#include "cli/bench.h"

#include <bit>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <system_error>

#include "cli/bench_host.h"
#include "cli/bench_report.h"
#include "cli/bench_result.h"
#include "cli/config_loader.h"
#include "foundation/file_image.h"

namespace nvmevm {
namespace {

constexpr const char* kError = "nvmevm: error: bench: ";
constexpr uint64_t kMiB = uint64_t{1} << 20;
// The guest's own image, stacks and rings fit in 32 MiB; the rest is for its data buffers.
constexpr uint64_t kGuestBaseMib = 64;
constexpr uint64_t kDefaultMemoryMib = 128;
constexpr uint16_t kDefaultQueueSize = 256;

const SourceLocation kCommandLine{"command line", 0, 0};

DriveConfig bench_drive(const BenchOptions& o) {
    DriveConfig drive;
    drive.id = "bench0";
    drive.where = drive.path_where = kCommandLine;
    if (o.null_mib) {
        drive.engine = DriveEngine::null;
        drive.null_size_mib = *o.null_mib;
    } else {
        drive.path = o.drive;
    }
    // A ring at least as deep as the queue depth (the guest sizes its queues from this).
    drive.rate_limits = bench_rate_limits(o);
    drive.queue_size = static_cast<uint16_t>(std::max<uint32_t>(
        kDefaultQueueSize, std::min<uint32_t>(std::bit_ceil(o.qd), kMaxBenchQueueDepth)));
    return drive;
}

// " (limit 3000 op/s, 50.000 MB/s; buckets refill in 10.000 ms)", or "" without limits.
std::string describe_limits(const IoRateLimits& limits) {
    return limits.any() ? " (limit " + describe(limits) + ")" : std::string();
}

std::string describe_target(const BenchOptions& o, const VmConfig& config) {
    const DriveConfig& first = config.drives.front();
    if (o.null_mib)
        return "null engine, " + std::to_string(*o.null_mib) + " MiB" +
               describe_limits(first.rate_limits);
    if (!o.drive.empty()) return o.drive.string() + describe_limits(first.rate_limits);
    std::string text = o.config.string() + ":";
    for (const DriveConfig& d : config.drives)
        text += " " + d.id + "=" + (d.path.empty() ? std::string("null") : d.path.string()) +
                describe_limits(d.rate_limits);
    return text;
}

// The machine the benchmark runs on: the config file's (its drives, vCPUs, memory), or one
// drive from the command line. Throws ConfigError.
VmConfig bench_machine(const BenchOptions& o) {
    VmConfig config;
    if (!o.config.empty()) {
        config = read_config_file(o.config);
        Overrides overrides;
        if (o.vcpus) overrides.vcpus = *o.vcpus;
        if (o.memory_mib) overrides.memory_mib = static_cast<int64_t>(*o.memory_mib);
        apply_overrides(config, overrides);
        config.initrd.reset();
        if (config.drives.empty())
            throw ConfigError(kCommandLine, o.config.string() + " has no drive");
        return config;
    }
    config.source = "command line";
    config.vcpus_where = config.memory_where = config.kernel_where = kCommandLine;
    config.cmdline_where = config.console_where = kCommandLine;
    config.vcpus = o.vcpus ? *o.vcpus : std::max<uint32_t>(1, o.jobs);
    const uint64_t jobs = o.jobs ? o.jobs : config.vcpus;
    const uint64_t buffers_mib = (jobs * o.qd * o.bs + kMiB - 1) / kMiB;
    config.memory_mib =
        o.memory_mib ? *o.memory_mib : std::max(kDefaultMemoryMib, kGuestBaseMib + buffers_mib);
    config.drives.push_back(bench_drive(o));
    return config;
}

// The last `lines` lines of the guest's console, for an error report.
std::string tail(const std::string& text, size_t lines = 20) {
    size_t start = text.size();
    if (start > 0 && text[start - 1] == '\n') --start;  // the last line's own newline
    for (size_t n = 0; n < lines && start > 0; ++n) {
        const size_t newline = text.rfind('\n', start - 1);
        start = newline == std::string::npos ? 0 : newline;
    }
    std::string last = text.substr(start == 0 ? 0 : start + 1);
    if (!last.empty() && last.back() != '\n') last += '\n';
    return last;
}

}  // namespace

int run_bench(const BenchOptions& given, std::ostream& out, std::ostream& err,
              const BenchEnvironment& env) {
    BenchOptions o = given;
    FileImage guest_file;
    std::span<const uint8_t> guest = env.guest;
    if (!o.guest.empty()) {
        try {
            guest_file = FileImage::open(o.guest);
        } catch (const std::system_error& e) {
            err << kError << e.what() << "\n";
            return exit_code::usage;
        }
        guest = guest_file.bytes();
    }
    if (guest.empty()) {
        err << kError
            << "this nvmevm has no built-in test guest (built with BUILD_TESTING=OFF); "
               "give one with --guest FILE\n";
        return exit_code::usage;
    }

    VmConfig config;
    try {
        config = bench_machine(o);
    } catch (const ConfigError& e) {
        err << kError << e.what() << "\n";
        return exit_code::usage;
    }
    if (const std::string problem = finish_bench_options(o, config.vcpus, config.drives.size());
        !problem.empty()) {
        err << "nvmevm: error: " << problem << "\n";
        return exit_code::usage;
    }

    const uint64_t tsc_khz = env.tsc_khz ? env.tsc_khz() : probe_tsc_khz();
    config.cmdline = bench_guest_words(o, tsc_khz);
    config.kernel = o.guest.empty() ? std::filesystem::path("(built-in test guest)") : o.guest;
    config.kernel_image = guest;
    const ConsoleCapture console;
    config.console = ConsoleKind::file;
    config.console_file = console.path();
    config.seccomp = o.seccomp;
    try {
        check_config(config);
    } catch (const ConfigError& e) {
        err << kError << e.what() << "\n";
        return exit_code::usage;
    }

    MachineCounters counters;
    VmOutcome outcome;
    const auto start = std::chrono::steady_clock::now();
    try {
        SteadyProgressClock steady;
        ProgressClock& clock = env.progress_clock ? *env.progress_clock : steady;
        std::optional<ProgressLine> progress;
        if (o.progress) progress.emplace(err, o.runtime_ms, clock);
        outcome = env.run_machine(config, counters);
    } catch (const std::exception& e) {
        err << kError << e.what() << "\n";
        return exit_code::vmm_error;
    }
    const auto wall = std::chrono::steady_clock::now() - start;
    const uint64_t cpu_ns = process_cpu_ns();
    const std::string text = console.contents();

    // A guest that measured but saw requests fail prints its result and exits with a status:
    // report the figures (a CI job keeps them, errors included), then fail.
    std::string error;
    std::optional<BenchResult> result;
    if (outcome.end == VmEnd::guest_status) result = parse_bench_output(text, error);
    const bool failed_run = outcome.end == VmEnd::guest_status && outcome.guest_status != 0;
    if (outcome.end != VmEnd::guest_status || (failed_run && !result)) {
        err << kError << "the VM ended (" << describe(outcome.end)
            << (outcome.end == VmEnd::guest_status ? " " + std::to_string(outcome.guest_status)
                                                   : std::string())
            << (outcome.detail.empty() ? "" : ": " + outcome.detail)
            << ") without a result; the guest's console ended with:\n"
            << tail(text);
        if (text.find("unknown word: bench") != std::string::npos)
            err << kError << "this test guest has no `bench` mode\n";
        return outcome.end == VmEnd::guest_status ? exit_code::vmm_error : exit_code_for(outcome);
    }
    if (!result) {
        err << kError << error << "; the guest's console ended with:\n" << tail(text);
        return exit_code::vmm_error;
    }

    BenchHostFigures host;
    host.target = describe_target(o, config);
    host.vcpus = config.vcpus;
    host.memory_mib = config.memory_mib;
    host.tsc_khz = tsc_khz;
    host.guest_cmdline = config.cmdline;
    host.cpu_ns = cpu_ns;
    host.wall_ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count());
    host.counters = counters;
    out << (o.json ? format_bench_json(*result, host) : format_bench_summary(*result, host));
    out.flush();
    if (failed_run) {
        err << kError << "the guest's benchmark ended with status " << outcome.guest_status << " ("
            << result->errors << " request(s) failed)\n";
        return exit_code::vmm_error;
    }
    return 0;
}

}  // namespace nvmevm
