// `nvmevm bench` without KVM: its options (sizes, ranges, combinations: bad ones exit 2 with a
// message naming the flag), the guest's NVMEVM-BENCH line, and a whole run against a fake
// machine that prints that line on the console, as the guest does.
#include "cli/bench.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/bench_host.h"
#include "cli/bench_options.h"
#include "cli/bench_result.h"
#include "cli/command_line.h"
#include "cli/config_test_support.h"

namespace nvmevm {
namespace {

using testing::make_pvh_kernel;
using testing::TempDir;

TEST(BenchBlockSize, AcceptsBytesAndBinarySuffixes) {
    EXPECT_EQ(parse_block_size("512"), 512u);
    EXPECT_EQ(parse_block_size("4096"), 4096u);
    EXPECT_EQ(parse_block_size("4k"), 4096u);
    EXPECT_EQ(parse_block_size("4K"), 4096u);
    EXPECT_EQ(parse_block_size("64KiB"), 65536u);
    EXPECT_EQ(parse_block_size("1m"), 1048576u);
    EXPECT_EQ(parse_block_size("1M"), 1048576u);
    EXPECT_EQ(parse_block_size("3k"), 3072u);  // a multiple of 512 is enough
}

TEST(BenchBlockSize, RejectsWhatIsNotASectorMultipleInRange) {
    for (const char* bad : {"", "0", "256", "1000", "2m", "1025k", "4x", "k", "-4k", "4 k",
                            "99999999999999999999", "1g"}) {
        EXPECT_FALSE(parse_block_size(bad)) << bad;
    }
}

TEST(BenchWords, AreTheGuestContract) {
    BenchOptions o;
    o.rw = "randwrite";
    o.bs = 8192;
    o.qd = 32;
    o.jobs = 2;
    o.mode = "irq";
    o.runtime_ms = 2500;
    EXPECT_EQ(bench_guest_words(o, 2400000),
              "bench rw=randwrite bs=8192 qd=32 runtime_ms=2500 mode=irq jobs=2 tsc_khz=2400000");
    o.ops = 2000;
    EXPECT_EQ(bench_guest_words(o, 1),
              "bench rw=randwrite bs=8192 qd=32 ops=2000 mode=irq jobs=2 tsc_khz=1");
    // devices= only where there are several: older guests know no such word.
    o.devices = 1;
    EXPECT_EQ(bench_guest_words(o, 1).find("devices"), std::string::npos);
    o.devices = 2;
    EXPECT_EQ(bench_guest_words(o, 1),
              "bench rw=randwrite bs=8192 qd=32 ops=2000 mode=irq jobs=2 devices=2 tsc_khz=1");
    // misalign= only where requests are shifted, for the same reason.
    EXPECT_EQ(bench_guest_words(o, 1).find("misalign"), std::string::npos);
    o.misalign = 7;
    EXPECT_EQ(bench_guest_words(o, 1),
              "bench rw=randwrite bs=8192 misalign=7 qd=32 ops=2000 mode=irq jobs=2 devices=2 "
              "tsc_khz=1");
}

TEST(BenchDevices, NeedTheDrivesAndAJobEach) {
    const auto problem = [](BenchOptions o, uint32_t vcpus, size_t drives) {
        return finish_bench_options(o, vcpus, drives);
    };
    BenchOptions o;
    o.null_mib = 64;
    EXPECT_EQ(problem(o, 1, 1), "");  // one device: nothing to check
    o.devices = 2;
    EXPECT_NE(problem(o, 2, 1).find("--devices 2 needs that many drives: give --config"),
              std::string::npos);
    o.null_mib.reset();
    o.drive = "/dev/null";
    EXPECT_NE(problem(o, 2, 1).find("give --config"), std::string::npos);
    o.drive.clear();
    o.config = "vm.toml";
    EXPECT_EQ(problem(o, 2, 2), "");
    EXPECT_EQ(problem(o, 4, 3), "");
    EXPECT_NE(problem(o, 2, 1).find("--devices 2 but vm.toml has 1 drive(s)"), std::string::npos);
    EXPECT_NE(problem(o, 1, 2).find("needs a job per device, but there are 1"), std::string::npos);
    EXPECT_NE(problem(o, 1, 2).find("add --vcpus 2"), std::string::npos);
    o.jobs = 1;  // fewer jobs than vCPUs, by choice
    EXPECT_NE(problem(o, 4, 2).find("give --jobs 2"), std::string::npos);
    o.jobs = 2;
    EXPECT_EQ(problem(o, 2, 2), "");
}

// A clock the test moves by hand. advance() lets one second pass and returns once the line has
// printed it (its thread is back waiting), so every line a test causes is written when the run
// ends, however slow the machine. The timeout only turns a line that never comes into a failure.
class ManualClock final : public ProgressClock {
  public:
    [[nodiscard]] bool advance() {
        std::unique_lock lock(mutex_);
        ++seconds_;
        changed_.notify_all();
        return changed_.wait_for(lock, std::chrono::seconds(30),
                                 [this] { return taken_ == seconds_ && waiting_; });
    }
    [[nodiscard]] int waits() {
        const std::lock_guard lock(mutex_);
        return waits_;
    }

    bool wait_second() override {
        std::unique_lock lock(mutex_);
        ++waits_;
        waiting_ = true;
        changed_.notify_all();
        changed_.wait(lock, [this] { return stopped_ || taken_ < seconds_; });
        waiting_ = false;
        if (stopped_) return false;
        ++taken_;
        return true;
    }
    void stop() override {
        const std::lock_guard lock(mutex_);
        stopped_ = true;
        changed_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int seconds_ = 0;  // seconds let pass
    int taken_ = 0;    // of those, the ones the line has printed
    int waits_ = 0;
    bool waiting_ = false;
    bool stopped_ = false;
};

constexpr const char* kGuestLine =
    "NVMEVM-BENCH {\"rw\":\"randread\",\"bs\":4096,\"qd\":8,\"jobs\":1,\"mode\":\"poll\","
    "\"ops\":2000,\"elapsed_ns\":10000000,\"iops\":200000.5,\"mbps\":819.2,"
    "\"lat_ns\":{\"p50\":30000,\"p99\":45000,\"p999\":60000,\"max\":90000},"
    "\"kicks\":250,\"interrupts\":0,\"errors\":0}";

TEST(BenchLine, ParsesTheGuestsObject) {
    std::string error;
    const std::string console = std::string("nvmevm test guest: hello\n") + kGuestLine +
                                "\r\nnvmevm test guest: exit status=0 cycles=1\n";
    const auto r = parse_bench_output(console, error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->rw, "randread");
    EXPECT_EQ(r->mode, "poll");
    EXPECT_EQ(r->bs, 4096u);
    EXPECT_EQ(r->qd, 8u);
    EXPECT_EQ(r->ops, 2000u);
    EXPECT_EQ(r->elapsed_ns, 10000000u);
    EXPECT_DOUBLE_EQ(r->iops, 200000.5);
    EXPECT_DOUBLE_EQ(r->mbps, 819.2);
    EXPECT_DOUBLE_EQ(r->lat_ns.p50, 30000);
    EXPECT_DOUBLE_EQ(r->lat_ns.p99, 45000);
    EXPECT_DOUBLE_EQ(r->lat_ns.p999, 60000);
    EXPECT_DOUBLE_EQ(r->lat_ns.max, 90000);
    EXPECT_EQ(r->kicks, 250u);
    EXPECT_EQ(r->json.front(), '{');
    EXPECT_EQ(r->json.back(), '}');
}

TEST(BenchLine, MisalignIsReadAndZeroWhenAbsent) {
    std::string error;
    const auto plain = parse_bench_output(kGuestLine, error);
    ASSERT_TRUE(plain) << error;
    EXPECT_EQ(plain->misalign, 0u);
    std::string line = kGuestLine;
    line.insert(line.find(",\"qd\""), ",\"misalign\":3");
    const auto shifted = parse_bench_output(line, error);
    ASSERT_TRUE(shifted) << error;
    EXPECT_EQ(shifted->misalign, 3u);
    EXPECT_EQ(shifted->bs, 4096u);
    EXPECT_EQ(shifted->qd, 8u);
}

TEST(BenchLine, FoundAfterALinePrefixAndUnknownFieldsIgnored) {
    std::string error;
    const auto r = parse_bench_output(
        "nvmevm test guest: NVMEVM-BENCH {\"future\":{\"x\":[1,[]]},\"ops\":1,\"elapsed_ns\":2,"
        "\"iops\":3,\"lat_ns\":{\"p50\":4,\"p99\":5,\"p999\":6,\"max\":7}}\n",
        error);
    ASSERT_TRUE(r) << error;
    EXPECT_TRUE(r->devices.empty());
    const auto ok = parse_bench_output(
        "x: NVMEVM-BENCH {\"new\":true,\"ops\":1,\"elapsed_ns\":2,\"iops\":3,"
        "\"lat_ns\":{\"p50\":4,\"p99\":5,\"p999\":6,\"max\":7,\"p9999\":8}}",
        error);
    ASSERT_TRUE(ok) << error;
    EXPECT_DOUBLE_EQ(ok->lat_ns.max, 7);
}

TEST(BenchLine, SaysWhatIsWrong) {
    const auto fails = [](const std::string& console, const std::string& why) {
        std::string error;
        EXPECT_FALSE(parse_bench_output(console, error)) << console;
        EXPECT_NE(error.find(why), std::string::npos) << "error: " << error << "\nwant: " << why;
    };
    fails("nvmevm test guest: exit status=0\n", "no NVMEVM-BENCH line");
    fails("NVMEVM-BENCH {\"ops\":1,\"elapsed_ns\":2,\"iops\":3}", "no number \"lat_ns.p50\"");
    fails("NVMEVM-BENCH {\"ops\":1,", "bad JSON");
    fails("NVMEVM-BENCH not json", "bad JSON");
    fails(std::string(kGuestLine) + "\n" + kGuestLine + "\n", "more than one");
}

// The line of `bench devices=2`: the figures of all jobs, then one object per device.
constexpr const char* kTwoDeviceLine =
    "NVMEVM-BENCH {\"rw\":\"randread\",\"bs\":4096,\"qd\":8,\"jobs\":2,\"mode\":\"poll\","
    "\"ops\":2000,\"elapsed_ns\":10000000,\"iops\":200000,\"mbps\":819.2,"
    "\"lat_ns\":{\"p50\":30000,\"p99\":45000,\"p999\":60000,\"max\":90000},"
    "\"kicks\":250,\"interrupts\":0,\"errors\":0,\"devices\":["
    "{\"ops\":1000,\"iops\":350000,\"mbps\":1433.6,"
    "\"lat_ns\":{\"p50\":20000,\"p99\":25000,\"p999\":26000,\"max\":27000}},"
    "{\"ops\":1000,\"iops\":100000,\"mbps\":409.6,"
    "\"lat_ns\":{\"p50\":40000,\"p99\":45000,\"p999\":60000,\"max\":90000}}]}";

TEST(BenchLine, ParsesTheDevicesArray) {
    std::string error;
    const auto r = parse_bench_output(std::string(kTwoDeviceLine) + "\n", error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->ops, 2000u);  // the totals keep their meaning
    EXPECT_DOUBLE_EQ(r->lat_ns.p50, 30000);
    ASSERT_EQ(r->devices.size(), 2u);
    EXPECT_EQ(r->devices[0].ops, 1000u);
    EXPECT_DOUBLE_EQ(r->devices[0].iops, 350000);
    EXPECT_DOUBLE_EQ(r->devices[0].mbps, 1433.6);
    EXPECT_DOUBLE_EQ(r->devices[0].lat_ns.p99, 25000);
    EXPECT_DOUBLE_EQ(r->devices[1].iops, 100000);
    EXPECT_DOUBLE_EQ(r->devices[1].lat_ns.p50, 40000);
    EXPECT_DOUBLE_EQ(r->devices[1].lat_ns.max, 90000);
    EXPECT_NE(r->json.find("\"devices\":[{"), std::string::npos);  // kept for --json's "guest"
}

TEST(BenchLine, AMalformedDevicesArrayIsRefusedSayingWhy) {
    const std::string head =
        "NVMEVM-BENCH {\"ops\":1,\"elapsed_ns\":2,\"iops\":3,"
        "\"lat_ns\":{\"p50\":4,\"p99\":5,\"p999\":6,\"max\":7},\"devices\":";
    const std::string device =
        "{\"ops\":1,\"iops\":2,\"mbps\":3,\"lat_ns\":{\"p50\":4,\"p99\":5,\"p999\":6,"
        "\"max\":7}}";
    const auto fails = [&head](const std::string& devices, const std::string& why) {
        std::string error;
        EXPECT_FALSE(parse_bench_output(head + devices + "}", error)) << devices;
        EXPECT_NE(error.find(why), std::string::npos) << "error: " << error << "\nwant: " << why;
    };
    fails("3", "\"devices\" is not an array");
    fails("{\"ops\":1}", "\"devices\" is not an array");
    fails("[1]", "devices[0] is not an object");
    fails("[" + device + ",null]", "devices[1] is not an object");
    fails("[{\"ops\":1}]", "devices[0] has no number \"iops\"");
    fails("[{\"ops\":1,\"iops\":2,\"mbps\":3,\"lat_ns\":{\"p50\":4}}]",
          "devices[0] has no number \"lat_ns.p99\"");
    fails("[{\"ops\":\"many\",\"iops\":2}]", "has no number \"ops\"");
    fails("[" + device, "bad JSON");
    fails("[" + device + ",]", "bad JSON");
    fails("[[[[[1]]]]]", "nested too deep");
    std::string many = "[" + device;
    for (size_t i = 1; i <= kMaxBenchResultDevices; ++i) many += "," + device;
    fails(many + "]", "array too long");
    // Counts past what 64 bits hold saturate, negative ones read 0.
    std::string error;
    const auto huge = parse_bench_output(
        head +
            "[{\"ops\":1e300,\"iops\":2,\"mbps\":3,\"lat_ns\":{\"p50\":4,\"p99\":5,"
            "\"p999\":6,\"max\":7}},{\"ops\":-5,\"iops\":2,\"mbps\":3,\"lat_ns\":{"
            "\"p50\":4,\"p99\":5,\"p999\":6,\"max\":7}}]}",
        error);
    ASSERT_TRUE(huge) << error;
    EXPECT_EQ(huge->devices.at(0).ops, UINT64_MAX);
    EXPECT_EQ(huge->devices.at(1).ops, 0u);
    const auto empty = parse_bench_output(head + "[]}", error);
    ASSERT_TRUE(empty) << error;
    EXPECT_TRUE(empty->devices.empty());
}

struct Result {
    int code;
    std::string out, err;
};

// nvmevm's command line with `bench`, a fake machine in place of KVM: it writes `console` to
// the console file the VM was given, as the guest would, and ends with `outcome`.
class BenchCli : public ::testing::Test {
  protected:
    Result run(std::vector<std::string> args) {
        args.insert(args.begin(), "nvmevm");
        std::vector<const char*> argv;
        for (const std::string& a : args) argv.push_back(a.c_str());
        std::ostringstream out, err;
        BenchEnvironment env;
        env.guest = guest;
        env.tsc_khz = [] { return uint64_t{2000000}; };
        env.progress_clock = &clock;
        env.run_machine = [this](const VmConfig& c, MachineCounters& counters) {
            ++machine_runs;
            last_config = c;
            std::ofstream(c.console_file, std::ios::binary) << console;
            if (while_running) while_running();
            counters.kvm_run = 3000;
            counters.blk_requests = 2000;
            return outcome;
        };
        const int code = nvmevm_main(
            static_cast<int>(argv.size()), argv.data(), out, err,
            [](const VmConfig&) { return VmOutcome{}; }, env);
        return {code, out.str(), err.str()};
    }
    Result usage_error(std::vector<std::string> args, const std::string& why) {
        Result r = run(std::move(args));
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_CONTAINS(r.err, why);
        EXPECT_EQ(machine_runs, 0);
        return r;
    }

    std::vector<uint8_t> guest = make_pvh_kernel();
    std::string console = std::string(kGuestLine) + "\n";
    VmOutcome outcome{VmEnd::guest_status, 0, "guest wrote exit status"};
    int machine_runs = 0;
    std::function<void()> while_running;  // what happens while the "VM" runs
    ManualClock clock;
    VmConfig last_config;
};

TEST_F(BenchCli, BadValuesExitTwoNamingTheFlag) {
    usage_error({"bench", "--null", "64", "--bs", "1000"}, "--bs");
    usage_error({"bench", "--null", "64", "--bs", "1000"}, "not a block size");
    usage_error({"bench", "--null", "64", "--bs", "2M"}, "512 to 1M");
    usage_error({"bench", "--null", "64", "--misalign", "8"}, "--misalign");
    usage_error({"bench", "--null", "64", "--misalign", "8"}, "not in range");
    usage_error({"bench", "--null", "64", "--misalign", "-1"}, "--misalign");
    usage_error({"bench", "--null", "64", "--misalign", "1k"}, "--misalign");
    usage_error({"bench", "--null", "64", "--qd", "0"}, "--qd");
    usage_error({"bench", "--null", "64", "--qd", "1025"}, "--qd");
    usage_error({"bench", "--null", "64", "--rw", "trim"}, "--rw");
    usage_error({"bench", "--null", "64", "--mode", "spin"}, "--mode");
    usage_error({"bench", "--null", "0"}, "--null");
    usage_error({"bench", "--null", "64", "--vcpus", "0"}, "--vcpus");
    usage_error({"bench", "--null", "64", "--runtime", "1", "--ops", "5"}, "excludes");
    usage_error({"bench", "--null", "64", "--drive", "/dev/null"}, "excludes");
    usage_error({"bench"}, "--drive PATH, --null SIZE_MIB or --config FILE");
    usage_error({"bench", "--null", "64", "--vcpus", "1", "--jobs", "2"}, "--vcpus 2");
    usage_error({"bench", "--drive", "/nonexistent/disk.img"}, "/nonexistent/disk.img");
}

TEST_F(BenchCli, BuildsTheMachineAndTheGuestWords) {
    const Result r = run({"bench", "--null", "64", "--bs", "4K", "--qd", "8", "--ops", "2000",
                          "--vcpus", "2", "--mode", "irq", "--no-progress"});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(machine_runs, 1);
    EXPECT_EQ(last_config.vcpus, 2u);
    ASSERT_EQ(last_config.drives.size(), 1u);
    EXPECT_EQ(last_config.drives[0].engine, DriveEngine::null);
    EXPECT_EQ(last_config.drives[0].null_size_mib, 64u);
    EXPECT_EQ(last_config.cmdline,
              "bench rw=randread bs=4096 qd=8 ops=2000 mode=irq jobs=2 tsc_khz=2000000");
    EXPECT_EQ(last_config.kernel_image.size(), guest.size());
    EXPECT_EQ(last_config.console, ConsoleKind::file);
    EXPECT_CONTAINS(r.out, "IOPS=200.0k");
    EXPECT_CONTAINS(r.out, "p50=30.00");
    EXPECT_CONTAINS(r.out, "KVM_RUN returns 1.500");
}

TEST_F(BenchCli, MisalignGoesToTheGuestAndIntoTheReport) {
    console =
        "NVMEVM-BENCH {\"rw\":\"randwrite\",\"bs\":4096,\"misalign\":1,\"qd\":32,"
        "\"jobs\":1,\"mode\":\"poll\",\"ops\":2000,\"elapsed_ns\":10000000,"
        "\"iops\":200000,\"mbps\":819.2,\"lat_ns\":{\"p50\":30000,\"p99\":45000,"
        "\"p999\":60000,\"max\":90000},\"kicks\":250,\"interrupts\":0,\"errors\":0}\n";
    const Result r = run({"bench", "--null", "64", "--rw", "randwrite", "--misalign", "1", "--qd",
                          "32", "--ops", "2000", "--no-progress"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(last_config.cmdline,
              "bench rw=randwrite bs=4096 misalign=1 qd=32 ops=2000 mode=poll jobs=1 "
              "tsc_khz=2000000");
    EXPECT_CONTAINS(r.out, "bench: rw=randwrite bs=4096 misalign=1 qd=32 jobs=1 mode=poll");
    const Result json = run({"bench", "--null", "64", "--rw", "randwrite", "--misalign", "1",
                             "--qd", "32", "--ops", "2000", "--no-progress", "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_CONTAINS(json.out,
                    "{\"tool\":\"nvmevm bench\",\"rw\":\"randwrite\",\"bs\":4096,"
                    "\"misalign\":1,\"qd\":32,");
    std::string error;
    const auto back = parse_bench_output("NVMEVM-BENCH " + json.out, error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->misalign, 1u);

    // --misalign 0 (the default): no word for the guest, nothing in the report.
    console = std::string(kGuestLine) + "\n";
    const Result aligned = run({"bench", "--null", "64", "--misalign", "0", "--no-progress"});
    ASSERT_EQ(aligned.code, 0) << aligned.err;
    EXPECT_EQ(last_config.cmdline.find("misalign"), std::string::npos);
    EXPECT_CONTAINS(aligned.out, "bench: rw=randread bs=4096 qd=8 ");
}

TEST(BenchRateLimits, ByteRatesAreDecimalUnlessTheySayBinary) {
    EXPECT_EQ(parse_byte_rate("1000"), 1000u);
    EXPECT_EQ(parse_byte_rate("50MB"), 50'000'000u);
    EXPECT_EQ(parse_byte_rate("50MB/s"), 50'000'000u);
    EXPECT_EQ(parse_byte_rate("200M"), 200'000'000u);
    EXPECT_EQ(parse_byte_rate("10k"), 10'000u);
    EXPECT_EQ(parse_byte_rate("64KiB"), 65'536u);
    EXPECT_EQ(parse_byte_rate("1GiB"), uint64_t{1} << 30);
    EXPECT_FALSE(parse_byte_rate("0"));
    EXPECT_FALSE(parse_byte_rate("-5M"));
    EXPECT_FALSE(parse_byte_rate("5q"));
    EXPECT_FALSE(parse_byte_rate("M"));
    EXPECT_FALSE(parse_byte_rate("99999999999GiB"));  // past kMaxBucketTokens
}

TEST(BenchRateLimits, BucketsKeepTheRateExactly) {
    // 3000 op/s in 10 ms steps: 30 per 10 ms.
    const TokenBucketConfig ops = bucket_for_rate(3000, 10, 0);
    EXPECT_EQ(ops.size, 30u);
    EXPECT_EQ(ops.refill_time_ns, 10'000'000u);
    // 1 op/s cannot come in 10 ms steps: one token per second.
    const TokenBucketConfig slow = bucket_for_rate(1, 10, 5);
    EXPECT_EQ(slow.size, 1u);
    EXPECT_EQ(slow.refill_time_ns, 1'000'000'000u);
    EXPECT_EQ(slow.one_time_burst, 5u);
    // 333 op/s in 10 ms: 3 tokens per 9,009,009 ns (333.00000 op/s).
    const TokenBucketConfig odd = bucket_for_rate(333, 10, 0);
    EXPECT_EQ(odd.size, 3u);
    EXPECT_EQ(odd.refill_time_ns, 9'009'009u);
}

TEST_F(BenchCli, LimitsGoToTheDriveAndIntoTheReport) {
    const Result r = run({"bench", "--null", "64", "--ops", "2000", "--iops-limit", "3000",
                          "--bw-limit", "50MB", "--iops-burst", "100", "--no-progress"});
    ASSERT_EQ(r.code, 0) << r.err;
    const IoRateLimits& limits = last_config.drives.at(0).rate_limits;
    ASSERT_TRUE(limits.ops && limits.bytes);
    EXPECT_EQ(limits.ops->size, 30u);
    EXPECT_EQ(limits.ops->one_time_burst, 100u);
    EXPECT_EQ(limits.bytes->size, 500'000u);
    EXPECT_EQ(limits.bytes->refill_time_ns, 10'000'000u);
    EXPECT_CONTAINS(r.out, "(limit 3000 op/s + 100 op burst, 50.000 MB/s; buckets refill in");
    const Result unlimited = run({"bench", "--null", "64", "--ops", "2000", "--no-progress"});
    EXPECT_FALSE(last_config.drives.at(0).rate_limits.any());
    EXPECT_EQ(unlimited.out.find("limit"), std::string::npos);
}

TEST_F(BenchCli, LimitFlagsThatCannotApply) {
    usage_error({"bench", "--null", "64", "--iops-limit", "0"}, "--iops-limit");
    usage_error({"bench", "--null", "64", "--bw-limit", "fast"}, "not a number of bytes");
    usage_error({"bench", "--null", "64", "--iops-burst", "10"}, "requires --iops-limit");
    usage_error({"bench", "--null", "64", "--bw-burst", "1M"}, "requires --bw-limit");
    usage_error({"bench", "--null", "64", "--limit-refill-ms", "5"},
                "--limit-refill-ms applies to --iops-limit or --bw-limit");
    usage_error({"bench", "--null", "64", "--iops-limit", "10", "--limit-refill-ms", "0"},
                "--limit-refill-ms");
}

TEST_F(BenchCli, JsonCarriesTheGuestsAndNvmevmsFigures) {
    const Result r = run({"bench", "--null", "64", "--ops", "2000", "--qd", "8", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.front(), '{');
    EXPECT_CONTAINS(r.out, "\"iops\":200000.5");
    EXPECT_CONTAINS(r.out, "\"exits_per_request\":1.5000");
    EXPECT_CONTAINS(r.out, "\"guest\":{\"rw\":\"randread\"");
    // Our own output parses with the same reader the guest's line goes through.
    std::string error;
    EXPECT_TRUE(parse_bench_output("NVMEVM-BENCH " + r.out, error)) << error;
}

TEST_F(BenchCli, AGuestFailureShowsItsConsole) {
    console = "nvmevm test guest: bench: FAIL no virtio-blk device\n";
    outcome = {VmEnd::guest_status, 3, "guest wrote exit status"};
    const Result r = run({"bench", "--null", "64", "--no-progress"});
    EXPECT_EQ(r.code, 1);
    EXPECT_CONTAINS(r.err, "bench: FAIL no virtio-blk device");
}

TEST_F(BenchCli, AResultWithFailedRequestsIsReportedAndFails) {
    // What the guest prints when requests stalled past its limit: the figures, then status 1.
    console =
        "NVMEVM-BENCH {\"rw\":\"randread\",\"bs\":4096,\"qd\":32,\"jobs\":1,\"mode\":"
        "\"irq\",\"ops\":586,\"elapsed_ns\":11570290405,\"iops\":50,\"mbps\":0.2,"
        "\"lat_ns\":{\"p50\":201163,\"p99\":4165266,\"p999\":4165266,\"max\":4169126},"
        "\"kicks\":19,\"interrupts\":1,\"errors\":32}\n"
        "nvmevm test guest: bench: 32 request(s) failed: exit status=1\n";
    outcome = {VmEnd::guest_status, 1, "guest wrote exit status"};
    const Result r = run({"bench", "--null", "64", "--no-progress", "--json"});
    EXPECT_EQ(r.code, 1);
    EXPECT_CONTAINS(r.out, "\"errors\":32");
    EXPECT_CONTAINS(r.out, "\"stall_kicks\":0");
    EXPECT_CONTAINS(r.err, "32 request(s) failed");
}

TEST_F(BenchCli, ProgressLineEverySecond) {
    while_running = [this] {
        EXPECT_TRUE(clock.advance());
        EXPECT_TRUE(clock.advance());
    };
    const Result r = run({"bench", "--null", "64", "--runtime", "3"});
    ASSERT_EQ(r.code, 0) << r.err;
    // One line per second that passed, none before the first, none after the run.
    EXPECT_EQ(r.err, "bench: 1/3 s\nbench: 2/3 s\n");
}

TEST_F(BenchCli, ProgressLineOfACountOfRequestsHasNoTotal) {
    while_running = [this] { EXPECT_TRUE(clock.advance()); };
    const Result r = run({"bench", "--null", "64", "--ops", "2000"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "bench: 1 s\n");
}

TEST_F(BenchCli, NoProgressStartsNoLine) {
    const Result r = run({"bench", "--null", "64", "--runtime", "3", "--no-progress"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(clock.waits(), 0);
}

TEST(SteadyProgressClock, StoppedEndsTheWaitAtOnce) {
    SteadyProgressClock clock;
    clock.stop();
    EXPECT_FALSE(clock.wait_second());
}

TEST_F(BenchCli, AConfigsDrivesAndMachine) {
    TempDir dir;
    const std::string config =
        dir.write("vm.toml",
                  "[machine]\nvcpus = 2\nmemory_mib = 96\n[[drive]]\nid = \"n\"\nengine = "
                  "\"null\"\n")
            .string();
    const Result r = run({"bench", "--config", config, "--no-progress"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(last_config.vcpus, 2u);
    EXPECT_EQ(last_config.memory_mib, 96u);
    EXPECT_CONTAINS(last_config.cmdline, "jobs=2");
    EXPECT_CONTAINS(last_config.cmdline, "runtime_ms=5000");
}

// A config with two null drives, for --devices.
std::string two_drive_config(TempDir& dir) {
    return dir
        .write("vm.toml",
               "[machine]\nvcpus = 2\nmemory_mib = 128\n[[drive]]\nid = \"a\"\nengine = "
               "\"null\"\n[[drive]]\nid = \"b\"\nengine = \"null\"\n")
        .string();
}

TEST_F(BenchCli, DevicesNeedAConfigWithTheDrivesAndAJobEach) {
    TempDir dir;
    const std::string config = two_drive_config(dir);
    usage_error({"bench", "--null", "64", "--devices", "2", "--vcpus", "2"},
                "--devices 2 needs that many drives: give --config FILE");
    usage_error({"bench", "--drive", "/dev/null", "--devices", "2", "--vcpus", "2"},
                "--devices 2 needs that many drives");
    usage_error({"bench", "--config", config, "--devices", "3", "--vcpus", "3"}, "has 2 drive(s)");
    usage_error({"bench", "--config", config, "--devices", "2", "--vcpus", "1"},
                "needs a job per device");
    usage_error({"bench", "--config", config, "--devices", "2", "--jobs", "1"}, "give --jobs 2");
    usage_error({"bench", "--config", config, "--devices", "0"}, "--devices");
    usage_error({"bench", "--config", config, "--devices", "9"}, "--devices");
}

TEST_F(BenchCli, DevicesGoToTheGuestAndComeBackPerDevice) {
    TempDir dir;
    const std::string config = two_drive_config(dir);
    console = std::string(kTwoDeviceLine) + "\n";
    const Result r =
        run({"bench", "--config", config, "--devices", "2", "--ops", "2000", "--no-progress"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(last_config.cmdline,
              "bench rw=randread bs=4096 qd=1 ops=2000 mode=poll jobs=2 devices=2 tsc_khz=2000000");
    EXPECT_CONTAINS(r.out,
                    "  device 0: IOPS=350.0k, BW=1433.6MB/s, 1000 requests, lat (usec): "
                    "p50=20.00, p99=25.00");
    EXPECT_CONTAINS(r.out,
                    "  device 1: IOPS=100.0k, BW=409.6MB/s, 1000 requests, lat (usec): "
                    "p50=40.00, p99=45.00");

    const Result json = run({"bench", "--config", config, "--devices", "2", "--ops", "2000",
                             "--no-progress", "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_CONTAINS(json.out,
                    ",\"errors\":0,\"devices\":[{\"ops\":1000,\"iops\":350000.0,\"mbps\":1433.600,"
                    "\"lat_ns\":{\"p50\":20000,\"p99\":25000,\"p999\":26000,\"max\":27000}},"
                    "{\"ops\":1000,");
    // Scripts reach the figures at the top level, and the guest's own line stays whole.
    std::string error;
    const auto back = parse_bench_output("NVMEVM-BENCH " + json.out, error);
    ASSERT_TRUE(back) << error;
    ASSERT_EQ(back->devices.size(), 2u);
    EXPECT_DOUBLE_EQ(back->devices[1].lat_ns.p99, 45000);
    EXPECT_CONTAINS(json.out, "\"guest\":{\"rw\":\"randread\"");
    EXPECT_CONTAINS(json.out, "\"max\":90000}}]}}");

    // One device: no per-device lines, no array.
    console = std::string(kGuestLine) + "\n";
    const Result one = run({"bench", "--config", config, "--ops", "2000", "--no-progress"});
    ASSERT_EQ(one.code, 0) << one.err;
    EXPECT_EQ(one.out.find("device 0"), std::string::npos);
    EXPECT_EQ(last_config.cmdline.find("devices"), std::string::npos);
}

}  // namespace
}  // namespace nvmevm
