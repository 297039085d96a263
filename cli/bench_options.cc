#include "cli/bench_options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

#include "vmm/vm_config.h"

namespace nvmevm {
namespace {

// "64KiB" -> 64 and "kib": the leading number and the suffix after it, in lower case. nullopt
// without a number.
struct NumberAndSuffix {
    uint64_t number;
    std::string suffix;
};
std::optional<NumberAndSuffix> split_number(std::string_view text) {
    NumberAndSuffix out{0, {}};
    const char* end = text.data() + text.size();
    const auto [rest, error] = std::from_chars(text.data(), end, out.number);
    if (error != std::errc() || rest == text.data()) return std::nullopt;
    for (const char* c = rest; c != end; ++c)
        out.suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    return out;
}

// Block sizes are binary, as fio's are: 4k is 4096 bytes.
std::optional<uint64_t> block_size_multiplier(const std::string& suffix) {
    if (suffix.empty() || suffix == "b") return 1;
    if (suffix == "k" || suffix == "kib" || suffix == "kb") return uint64_t{1} << 10;
    if (suffix == "m" || suffix == "mib" || suffix == "mb") return uint64_t{1} << 20;
    return std::nullopt;
}

// Rates are decimal, as disks' and fio's "MB/s" are; KiB, MiB, GiB say binary.
std::optional<uint64_t> rate_multiplier(const std::string& suffix) {
    if (suffix.empty() || suffix == "b") return 1;
    if (suffix == "k" || suffix == "kb") return 1'000;
    if (suffix == "m" || suffix == "mb") return 1'000'000;
    if (suffix == "g" || suffix == "gb") return 1'000'000'000;
    if (suffix == "kib") return uint64_t{1} << 10;
    if (suffix == "mib") return uint64_t{1} << 20;
    if (suffix == "gib") return uint64_t{1} << 30;
    return std::nullopt;
}

std::string check_byte_rate(const std::string& text) {
    if (parse_byte_rate(text)) return {};
    return "\"" + text +
           "\" is not a number of bytes: give 1 or more bytes, with an optional suffix (50MB and "
           "50M are 50,000,000; 64KiB is 65,536)";
}

std::string check_block_size(const std::string& text) {
    if (parse_block_size(text)) return {};
    return "\"" + text +
           "\" is not a block size: give 512 to 1M bytes, a multiple of 512 (4096, 4k, 64K, 1m)";
}

// --devices: the drives must be there (only --config has more than one) and each needs a job
// of its own (the guest spreads jobs j over devices j % N).
std::string check_devices(const BenchOptions& o, uint32_t vcpus, size_t drives, bool jobs_given) {
    if (o.devices == 1) return {};
    const std::string n = std::to_string(o.devices);
    if (o.config.empty())
        return "bench: --devices " + n +
               " needs that many drives: give --config FILE; --drive and --null give one";
    if (o.devices > drives)
        return "bench: --devices " + n + " but " + o.config.string() + " has " +
               std::to_string(drives) + " drive(s)";
    if (o.jobs < o.devices) {
        std::string fix = vcpus < o.devices ? "add --vcpus " + n : "";
        if (jobs_given) fix += (fix.empty() ? "give --jobs " : " and --jobs ") + n;
        return "bench: --devices " + n + " needs a job per device, but there are " +
               std::to_string(o.jobs) + " (one per vCPU unless --jobs says): " + fix;
    }
    return {};
}

}  // namespace

std::optional<uint32_t> parse_block_size(std::string_view text) {
    const std::optional<NumberAndSuffix> parsed = split_number(text);
    if (!parsed) return std::nullopt;
    const std::optional<uint64_t> multiplier = block_size_multiplier(parsed->suffix);
    if (!multiplier || parsed->number > kMaxBenchBlockSize) return std::nullopt;
    const uint64_t bytes = parsed->number * *multiplier;
    if (bytes < kMinBenchBlockSize || bytes > kMaxBenchBlockSize || bytes % 512 != 0)
        return std::nullopt;
    return static_cast<uint32_t>(bytes);
}

std::optional<uint64_t> parse_byte_rate(std::string_view text) {
    if (text.ends_with("/s")) text.remove_suffix(2);
    const std::optional<NumberAndSuffix> parsed = split_number(text);
    if (!parsed || parsed->number == 0) return std::nullopt;
    const std::optional<uint64_t> multiplier = rate_multiplier(parsed->suffix);
    if (!multiplier || parsed->number > kMaxBucketTokens / *multiplier) return std::nullopt;
    return parsed->number * *multiplier;
}

TokenBucketConfig bucket_for_rate(uint64_t per_second, uint64_t refill_ms, uint64_t burst) {
    constexpr uint64_t kSecondNs = 1'000'000'000;
    // size / refill_time = per_second: size tokens per refill_ms, at least one token (then the
    // refill time grows instead: 1 op/s cannot come in 10 ms steps).
    const unsigned __int128 wanted = static_cast<unsigned __int128>(per_second) * refill_ms / 1000;
    const uint64_t size = std::clamp<uint64_t>(static_cast<uint64_t>(wanted), 1, kMaxBucketTokens);
    // Rounded to the nearest nanosecond: an error below 1e-7 of any refill time of 10 ms or more.
    const uint64_t refill_ns = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(size) * kSecondNs + per_second / 2) / per_second);
    return {size, std::clamp<uint64_t>(refill_ns, 1, kMaxBucketRefillNs), burst};
}

IoRateLimits bench_rate_limits(const BenchOptions& o) {
    IoRateLimits limits;
    const uint64_t refill_ms = o.limit_refill_ms.value_or(kDefaultLimitRefillMs);
    if (o.iops_limit) limits.ops = bucket_for_rate(*o.iops_limit, refill_ms, o.iops_burst);
    if (o.bw_limit) limits.bytes = bucket_for_rate(*o.bw_limit, refill_ms, o.bw_burst);
    return limits;
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
    app.add_option("--misalign", o.misalign,
                   "Sectors (512 bytes) added to every request's offset, 0 to 7 (default 0): "
                   "requests off the 4 KiB grid")
        ->check(CLI::Range(uint32_t{0}, kMaxBenchMisalign));
    app.add_option("--qd", o.qd, "Requests in flight per job, 1 to 1024 (default 1)")
        ->check(CLI::Range(uint32_t{1}, kMaxBenchQueueDepth));
    app.add_option("--jobs", o.jobs, "Jobs, each on its own vCPU and queue (default: one per vCPU)")
        ->check(CLI::Range(uint32_t{1}, kMaxVcpus));
    app.add_option("--devices", o.devices,
                   "Drive the first N drives of --config at once, jobs spread over them "
                   "(default 1)")
        ->check(CLI::Range(uint32_t{1}, kMaxBenchDevices));
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
    CLI::Option* iops_limit = app.add_option_function<uint64_t>(
                                     "--iops-limit", [&o](const uint64_t& v) { o.iops_limit = v; },
                                     "Limit the drive to N operations per second (a token bucket)")
                                  ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
    CLI::Option* bw_limit =
        app.add_option_function<std::string>(
               "--bw-limit", [&o](const std::string& v) { o.bw_limit = parse_byte_rate(v); },
               "Limit the drive to RATE bytes per second (50MB, 200M, 64KiB; a token bucket)")
            ->check(check_byte_rate);
    app.add_option_function<uint64_t>(
           "--limit-refill-ms", [&o](const uint64_t& v) { o.limit_refill_ms = v; },
           "Refill time of the limits' buckets in ms (default 10): their size is the rate "
           "times this")
        ->check(CLI::Range(uint64_t{1}, kMaxBucketRefillNs / 1'000'000));
    CLI::Option* iops_burst =
        app.add_option("--iops-burst", o.iops_burst,
                       "A one-time burst of N operations on top of --iops-limit")
            ->check(CLI::Range(uint64_t{1}, kMaxBucketTokens));
    CLI::Option* bw_burst =
        app.add_option_function<std::string>(
               "--bw-burst", [&o](const std::string& v) { o.bw_burst = *parse_byte_rate(v); },
               "A one-time burst of BYTES on top of --bw-limit")
            ->check(check_byte_rate);
    iops_burst->needs(iops_limit);
    bw_burst->needs(bw_limit);
    app.add_flag("--json", o.json, "Print one JSON object instead of the summary");
    app.add_flag_function(
        "--no-progress", [&o](int64_t) { o.progress = false; }, "No progress lines on stderr");
    app.add_flag_function(
        "--no-seccomp", [&o](int64_t) { o.seccomp = false; },
        "Do not confine nvmevm's threads with seccomp");
}

std::string finish_bench_options(BenchOptions& o, uint32_t vcpus, size_t drives) {
    if (o.drive.empty() && !o.null_mib && o.config.empty())
        return "bench: say what to benchmark: --drive PATH, --null SIZE_MIB or --config FILE";
    const bool limited = o.iops_limit || o.bw_limit;
    if (limited && !o.config.empty())
        return "bench: --iops-limit and --bw-limit apply to --drive or --null; with --config, "
               "give the drives [drive.rate_limit] in the file";
    if (o.limit_refill_ms && !limited)
        return "bench: --limit-refill-ms applies to --iops-limit or --bw-limit: give one";
    const bool jobs_given = o.jobs != 0;
    if (o.jobs == 0) o.jobs = vcpus;
    if (o.jobs > vcpus) {
        return "bench: --jobs " + std::to_string(o.jobs) +
               " needs as many vCPUs (one job per "
               "vCPU), but the VM has " +
               std::to_string(vcpus) + ": add --vcpus " + std::to_string(o.jobs);
    }
    if (std::string problem = check_devices(o, vcpus, drives, jobs_given); !problem.empty())
        return problem;
    if (o.ops == 0 && o.runtime_ms == 0) o.runtime_ms = kDefaultBenchRuntimeMs;
    return {};
}

std::string bench_guest_words(const BenchOptions& o, uint64_t tsc_khz) {
    std::string words = "bench rw=" + o.rw + " bs=" + std::to_string(o.bs);
    if (o.misalign > 0) words += " misalign=" + std::to_string(o.misalign);
    words += " qd=" + std::to_string(o.qd);
    words +=
        o.ops ? " ops=" + std::to_string(o.ops) : " runtime_ms=" + std::to_string(o.runtime_ms);
    words += " mode=" + o.mode + " jobs=" + std::to_string(o.jobs);
    if (o.devices > 1) words += " devices=" + std::to_string(o.devices);
    words += " tsc_khz=" + std::to_string(tsc_khz);
    return words;
}

}  // namespace nvmevm
