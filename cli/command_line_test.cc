// The command line: parsing, exit codes, and what `check` and `run` print, with a fake
// machine in place of KVM.
#include "cli/command_line.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/config_test_support.h"

namespace nvmevm {
namespace {

using testing::make_pvh_kernel;
using testing::TempDir;

struct Result {
    int code;
    std::string out, err;
};

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        dir.write("kernel.elf", make_pvh_kernel());
        config = dir.write("vm.toml", "[boot]\nkernel = \"kernel.elf\"\n").string();
    }
    void TearDown() override { set_log_level(LogLevel::warn); }

    Result run(std::vector<std::string> args) {
        args.insert(args.begin(), "nvmevm");
        std::vector<const char*> argv;
        for (const std::string& a : args) argv.push_back(a.c_str());
        std::ostringstream out, err;
        const int code = nvmevm_main(static_cast<int>(argv.size()), argv.data(), out, err,
                                     [this](const VmConfig& c) {
                                         ++machine_runs;
                                         last_config = c;
                                         if (machine_throws)
                                             throw std::runtime_error("KVM_CREATE_VM: no");
                                         return outcome;
                                     });
        return {code, out.str(), err.str()};
    }
    ParsedCommandLine parse(std::vector<std::string> args) {
        args.insert(args.begin(), "nvmevm");
        std::vector<const char*> argv;
        for (const std::string& a : args) argv.push_back(a.c_str());
        std::ostringstream out, err;
        return parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
    }

    TempDir dir;
    std::string config;
    VmOutcome outcome{VmEnd::powered_off, 0, "poweroff"};
    bool machine_throws = false;
    int machine_runs = 0;
    VmConfig last_config;
};

TEST_F(Cli, HelpExitsZero) {
    const Result r = run({"--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_CONTAINS(r.out, "run");
    EXPECT_CONTAINS(r.out, "check");
    EXPECT_CONTAINS(r.out, "--log-level");
    EXPECT_EQ(run({"run", "--help"}).code, 0);
    EXPECT_EQ(machine_runs, 0);
}

TEST_F(Cli, VersionExitsZero) {
    const Result r = run({"--version"});
    EXPECT_EQ(r.code, 0);
    EXPECT_CONTAINS(r.out, "nvmevm ");
}

TEST_F(Cli, UsageErrorsExitTwo) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {},                     // no command
             {"--bogus"},            // unknown flag
             {"launch"},             // unknown command
             {"run"},                // no --config
             {"check", "--config"},  // --config without a value
             {"run", "--config", config, "--vcpus", "two"},
             {"run", "--config", config, "--log-level", "chatty"},
             {"run", "--config", config, "extra"},
         }) {
        const Result r = run(args);
        std::string joined;
        for (const std::string& a : args) joined += a + " ";
        EXPECT_EQ(r.code, 2) << joined;
        EXPECT_EQ(r.err.rfind("nvmevm: error: ", 0), 0u) << joined << ": " << r.err;
    }
    EXPECT_EQ(machine_runs, 0);
}

TEST_F(Cli, ParsesOverridesAndLogLevel) {
    const ParsedCommandLine p =
        parse({"--log-level", "debug", "check", "--config", "a.toml", "--vcpus", "4", "--memory",
               "64", "--kernel", "k", "--initrd", "i", "--cmdline", "a b", "--console", "none"});
    ASSERT_TRUE(p.command.has_value());
    const CommandLine& c = *p.command;
    EXPECT_EQ(c.command, CommandLine::Command::check);
    EXPECT_EQ(c.config, "a.toml");
    EXPECT_EQ(c.log_level, LogLevel::debug);
    EXPECT_EQ(c.overrides.vcpus, 4);
    EXPECT_EQ(c.overrides.memory_mib, 64);
    EXPECT_EQ(c.overrides.kernel, std::filesystem::path("k"));
    EXPECT_EQ(c.overrides.initrd, std::filesystem::path("i"));
    EXPECT_EQ(c.overrides.cmdline, "a b");
    EXPECT_EQ(c.overrides.console, "none");
}

TEST_F(Cli, UnsetOverridesStayUnset) {
    const ParsedCommandLine p = parse({"run", "--config", "a.toml", "--log-level", "info"});
    ASSERT_TRUE(p.command.has_value());
    EXPECT_EQ(p.command->command, CommandLine::Command::run);
    EXPECT_EQ(p.command->log_level, LogLevel::info);  // global flag after the command
    EXPECT_FALSE(p.command->overrides.vcpus || p.command->overrides.memory_mib ||
                 p.command->overrides.kernel || p.command->overrides.initrd ||
                 p.command->overrides.cmdline || p.command->overrides.console ||
                 !p.command->overrides.drives.empty() || p.command->overrides.drive_engine);
}

TEST_F(Cli, ParsesDriveFlags) {
    const ParsedCommandLine p = parse({"run", "--config", "a.toml", "--drive", "a.img",
                                       "--drive-engine", "null", "--drive", "/dev/sdb"});
    ASSERT_TRUE(p.command.has_value());
    const Overrides& o = p.command->overrides;
    ASSERT_EQ(o.drives.size(), 2u);
    EXPECT_EQ(o.drives[0], "a.img");
    EXPECT_EQ(o.drives[1], "/dev/sdb");
    EXPECT_EQ(o.drive_engine, "null");
    const ParsedCommandLine none = parse({"check", "--config", "a.toml"});
    ASSERT_TRUE(none.command.has_value());
    EXPECT_TRUE(none.command->overrides.drives.empty());
    EXPECT_FALSE(none.command->overrides.drive_engine.has_value());
}

TEST_F(Cli, DriveTakesOnePathPerFlag) {
    // "--drive a b" would otherwise swallow b silently; write --drive once per disk. Both disks
    // exist, so that only the extra argument can be what is refused.
    const std::string a = dir.write("a.img", std::string(4096, '\0')).string();
    const std::string b = dir.write("b.img", std::string(4096, '\0')).string();
    const Result two = run({"check", "--config", config, "--drive", a, "--drive", b});
    ASSERT_EQ(two.code, 0) << two.err;
    const Result r = run({"check", "--config", config, "--drive", a, b});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err.rfind("nvmevm: error: The following argument was not expected: " + b + "\n", 0),
              0u)
        << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(Cli, RunWithDrives) {
    const std::string disk = dir.write("disk.img", std::string(4096, '\0')).string();
    const std::string other = dir.write("other.img", std::string(4096, '\0')).string();
    const Result r = run(
        {"run", "--config", config, "--drive", other, "--drive", disk, "--drive-engine", "uring"});
    EXPECT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(last_config.drives.size(), 2u);
    EXPECT_EQ(last_config.drives[0].id, "drive0");
    EXPECT_EQ(last_config.drives[1].id, "drive1");
    EXPECT_EQ(last_config.drives[1].path, disk);
    EXPECT_EQ(last_config.drives[1].engine, DriveEngine::uring);
}

TEST_F(Cli, BadDriveFlagsExitTwo) {
    const std::string disk = dir.write("disk.img", std::string(4096, '\0')).string();
    Result r = run({"check", "--config", config, "--drive", disk, "--drive-engine", "nvme"});
    EXPECT_EQ(r.code, 2);
    EXPECT_CONTAINS(r.err, "is not an NVMe namespace: engine \"nvme\" takes /dev/ngXnY");
    r = run({"check", "--config", config, "--drive-engine", "null"});
    EXPECT_EQ(r.code, 2);
    EXPECT_CONTAINS(r.err, "add --drive PATH");
    r = run({"run", "--config", config, "--drive", (dir / "none.img").string()});
    EXPECT_EQ(r.code, 2);
    EXPECT_CONTAINS(r.err, "command line: --drive: drive \"drive0\": path");
    EXPECT_EQ(machine_runs, 0);
}

TEST_F(Cli, CheckPrintsOkAndStartsNothing) {
    const Result r = run({"check", "--config", config});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, config + ": ok\n");
    EXPECT_EQ(machine_runs, 0);
}

TEST_F(Cli, CheckBadConfigExitsTwo) {
    const std::string bad = dir.write("bad.toml", "[machine]\nvcpus = \"2\"\n").string();
    const Result r = run({"check", "--config", bad});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, "nvmevm: error: " + bad + ":2:9: vcpus must be an integer, not a string\n");
    EXPECT_EQ(r.out, "");
}

TEST_F(Cli, BadOverrideExitsTwo) {
    const Result r = run({"run", "--config", config, "--vcpus", "0"});
    EXPECT_EQ(r.code, 2);
    EXPECT_CONTAINS(r.err, "nvmevm: error: command line: --vcpus: vcpus must be between 1");
    EXPECT_EQ(machine_runs, 0);
}

// `run` refuses what `check` refuses, with the same message, before any VM starts.
TEST_F(Cli, RunRefusesOneFileOnTwoWritableDrives) {
    const std::string disk = dir.write("disk.img", std::string(4096, '\0')).string();
    const Result checked = run({"check", "--config", config, "--drive", disk, "--drive", disk});
    const Result ran = run({"run", "--config", config, "--drive", disk, "--drive", disk});
    EXPECT_EQ(checked.code, 2);
    EXPECT_EQ(ran.code, 2);
    EXPECT_CONTAINS(ran.err, "is the same file as drive \"drive0\"'s");
    EXPECT_EQ(ran.err, checked.err);
    EXPECT_EQ(machine_runs, 0);
}

TEST_F(Cli, RunPassesTheCheckedConfig) {
    const Result r = run({"run", "--config", config, "--vcpus", "2", "--cmdline", "x=1"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(machine_runs, 1);
    EXPECT_EQ(last_config.vcpus, 2u);
    EXPECT_EQ(last_config.cmdline, "x=1");
    EXPECT_EQ(last_config.kernel, dir / "kernel.elf");
}

TEST_F(Cli, RunExitCodeFollowsTheOutcome) {
    const std::vector<std::pair<VmOutcome, int>> cases = {
        {{VmEnd::powered_off, 0, ""}, 0},
        {{VmEnd::vmm_error, 0, "x"}, 1},
        {{VmEnd::reset, 0, ""}, 3},
        {{VmEnd::guest_crashed, 0, "triple fault"}, 4},
        {{VmEnd::stopped, 0, "SIGTERM"}, 5},
        {{VmEnd::guest_status, 0, ""}, 16},
        {{VmEnd::guest_status, 7, ""}, 23},
        {{VmEnd::guest_status, 106, ""}, 122},
        {{VmEnd::guest_status, 107, ""}, 123},
        {{VmEnd::guest_status, 255, ""}, 123},
    };
    for (const auto& [end, code] : cases) {
        outcome = end;
        EXPECT_EQ(run({"run", "--config", config}).code, code) << describe(end.end);
    }
}

// A status that shares exit code 123 with others is still told exactly, on stderr at the
// default log level; any other status at info.
TEST_F(Cli, RunLogsTheExactGuestStatus) {
    outcome = {VmEnd::guest_status, 200, "guest wrote exit status"};
    ::testing::internal::CaptureStderr();
    const int code = run({"run", "--config", config}).code;
    const std::string high = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 123);
    EXPECT_CONTAINS(high, "nvmevm: warn: guest exited with status 200 (exit code 123");

    outcome = {VmEnd::guest_status, 7, "guest wrote exit status"};
    ::testing::internal::CaptureStderr();
    (void)run({"--log-level", "info", "run", "--config", config});
    const std::string low = ::testing::internal::GetCapturedStderr();
    EXPECT_CONTAINS(low, "nvmevm: info: guest exited with status 7 (exit code 23)");
}

TEST_F(Cli, RunMachineFailureExitsOne) {
    machine_throws = true;
    const Result r = run({"run", "--config", config});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "nvmevm: error: KVM_CREATE_VM: no\n");
}

TEST_F(Cli, LogLevelIsApplied) {
    (void)run({"--log-level", "debug", "check", "--config", config});
    EXPECT_EQ(log_level(), LogLevel::debug);
    (void)run({"check", "--config", config});
    EXPECT_EQ(log_level(), LogLevel::warn);
}

}  // namespace
}  // namespace nvmevm
