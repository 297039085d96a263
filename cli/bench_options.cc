#include "cli/bench_options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

#include "vmm/vm_config.h"

namespace nvmevm {
namespace {

// Suffixes are binary, as fio's are for block sizes: 4k is 4096 bytes.
std::optional<uint64_t> suffix_multiplier(std::string_view suffix) {
    std::string lower;
    for (const char c : suffix)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.empty() || lower == "b") return 1;
    if (lower == "k" || lower == "kib" || lower == "kb") return uint64_t{1} << 10;
    if (lower == "m" || lower == "mib" || lower == "mb") return uint64_t{1} << 20;
    return std::nullopt;
}

std::string check_block_size(const std::string& text) {
    if (parse_block_size(text)) return {};
    return "\"" + text +
           "\" is not a block size: give 512 to 1M bytes, a multiple of 512 (4096, 4k, 64K, 1m)";
}

}  // namespace

std::optional<uint32_t> parse_block_size(std::string_view text) {
    uint64_t number = 0;
    const char* end = text.data() + text.size();
    const auto [rest, error] = std::from_chars(text.data(), end, number);
    if (error != std::errc() || rest == text.data()) return std::nullopt;
    const std::optional<uint64_t> multiplier =
        suffix_multiplier(std::string_view(rest, static_cast<size_t>(end - rest)));
    if (!multiplier || number > kMaxBenchBlockSize) return std::nullopt;
    const uint64_t bytes = number * *multiplier;
    if (bytes < kMinBenchBlockSize || bytes > kMaxBenchBlockSize || bytes % 512 != 0)
        return std::nullopt;
    return static_cast<uint32_t>(bytes);
}

void add_bench_options(CLI::App& app, BenchOptions& o) {
    CLI::Option* drive =
        app.add_option("--drive", o.drive, "Drive under test: a file or block device");
    CLI::Option* null =
        app.add_option_function<uint64_t>(
               "--null", [&o](const uint64_t& v) { o.null_mib = v; },
               "Drive under test: the null engine (completes at once, reads zeroes), SIZE_MIB big")
            ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 24));
    CLI::Option* config =
        app.add_option("-c,--config", o.config, "Benchmark the drives of this VM config (TOML)");
    drive->excludes(null)->excludes(config);
    null->excludes(config);
    app.add_option("--guest", o.guest,
                   "Boot this test guest ELF instead of the one built into nvmevm");
    app.add_option("--rw", o.rw, "Workload: randread, randwrite, read, write or randrw")
        ->check(CLI::IsMember({"randread", "randwrite", "read", "write", "randrw"}));
    app.add_option_function<std::string>(
           "--bs", [&o](const std::string& v) { o.bs = *parse_block_size(v); },
           "Bytes per request, 512 to 1M (4096, 4k, 1m; default 4k)")
        ->check(check_block_size);
    app.add_option("--qd", o.qd, "Requests in flight per job, 1 to 1024 (default 1)")
        ->check(CLI::Range(uint32_t{1}, kMaxBenchQueueDepth));
    app.add_option("--jobs", o.jobs, "Jobs, each on its own vCPU and queue (default: one per vCPU)")
        ->check(CLI::Range(uint32_t{1}, kMaxVcpus));
    app.add_option_function<uint32_t>(
           "--vcpus", [&o](const uint32_t& v) { o.vcpus = v; },
           "vCPUs (default: the config's, else 1)")
        ->check(CLI::Range(uint32_t{1}, kMaxVcpus));
    app.add_option_function<uint64_t>(
           "--memory", [&o](const uint64_t& v) { o.memory_mib = v; },
           "Guest memory in MiB (default: the config's, else enough for the buffers)")
        ->check(CLI::Range(kMinMemoryMib, uint64_t{1} << 20));
    CLI::Option* runtime = app.add_option_function<double>(
                                  "--runtime",
                                  [&o](const double& s) {
                                      o.runtime_ms = static_cast<uint64_t>(std::llround(s * 1000));
                                  },
                                  "Run for SECONDS (default 5)")
                               ->check(CLI::Range(0.001, 86400.0));
    CLI::Option* ops = app.add_option("--ops", o.ops, "Run N requests (all jobs together)")
                           ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
    runtime->excludes(ops);
    app.add_option("--mode", o.mode, "How the guest waits for completions: poll or irq")
        ->check(CLI::IsMember({"poll", "irq"}));
    app.add_flag("--json", o.json, "Print one JSON object instead of the summary");
    app.add_flag_function(
        "--no-progress", [&o](int64_t) { o.progress = false; }, "No progress lines on stderr");
    app.add_flag_function(
        "--no-seccomp", [&o](int64_t) { o.seccomp = false; },
        "Do not confine nvmevm's threads with seccomp");
}

std::string finish_bench_options(BenchOptions& o, uint32_t vcpus) {
    if (o.drive.empty() && !o.null_mib && o.config.empty())
        return "bench: say what to benchmark: --drive PATH, --null SIZE_MIB or --config FILE";
    if (o.jobs == 0) o.jobs = vcpus;
    if (o.jobs > vcpus) {
        return "bench: --jobs " + std::to_string(o.jobs) +
               " needs as many vCPUs (one job per "
               "vCPU), but the VM has " +
               std::to_string(vcpus) + ": add --vcpus " + std::to_string(o.jobs);
    }
    if (o.ops == 0 && o.runtime_ms == 0) o.runtime_ms = kDefaultBenchRuntimeMs;
    return {};
}

std::string bench_guest_words(const BenchOptions& o, uint64_t tsc_khz) {
    std::string words =
        "bench rw=" + o.rw + " bs=" + std::to_string(o.bs) + " qd=" + std::to_string(o.qd);
    words +=
        o.ops ? " ops=" + std::to_string(o.ops) : " runtime_ms=" + std::to_string(o.runtime_ms);
    words += " mode=" + o.mode + " jobs=" + std::to_string(o.jobs) +
             " tsc_khz=" + std::to_string(tsc_khz);
    return words;
}

}  // namespace nvmevm
