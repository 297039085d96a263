// check_config, apply_overrides and load_config_file: the checks that look at the host, on
// real files in a temporary folder.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "cli/config_loader.h"
#include "cli/config_test_support.h"

namespace nvmevm {
namespace {

using testing::config_error;
using testing::config_error_unprivileged;
using testing::make_pvh_kernel;
using testing::TempDir;

class ConfigCheck : public ::testing::Test {
  protected:
    void SetUp() override {
        dir.write("kernel.elf", make_pvh_kernel());
        dir.write("disk.img", std::string(4096, '\0'));
    }
    // Writes vm.toml and loads it (file checks included).
    VmConfig load(const std::string& text, const Overrides& overrides = {}) {
        return load_config_file(dir.write("vm.toml", text), overrides);
    }
    std::string error(const std::string& text, const Overrides& overrides = {}) {
        return config_error([&] { (void)load(text, overrides); });
    }
    std::string where(const char* line_column) const {
        return (dir / "vm.toml").string() + ":" + line_column + ": ";
    }

    TempDir dir;
    const std::string boot = "[boot]\nkernel = \"kernel.elf\"\n";  // lines 1-2
};

TEST_F(ConfigCheck, ValidConfigLoads) {
    const VmConfig c = load(boot +
                            "cmdline = \"hello status=0\"\n[machine]\nvcpus = 2\n"
                            "memory_mib = 32\n[[drive]]\nid = \"d\"\npath = \"disk.img\"\n");
    EXPECT_EQ(c.kernel, dir / "kernel.elf");
    EXPECT_EQ(c.vcpus, 2u);
    EXPECT_EQ(c.memory_mib, 32u);
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].path, dir / "disk.img");
}

TEST_F(ConfigCheck, ConfigFileMissing) {
    const std::string message = config_error([&] { (void)load_config_file(dir / "nope.toml"); });
    EXPECT_CONTAINS(message, (dir / "nope.toml").string() + ": cannot open config file");
}

TEST_F(ConfigCheck, ConfigFileIsAFolder) {
    EXPECT_CONTAINS(config_error([&] { (void)load_config_file(dir.path()); }), "is a folder");
}

TEST_F(ConfigCheck, NoKernelAnywhere) {
    EXPECT_CONTAINS(error("[machine]\nvcpus = 1\n"), where("1:1") + "no kernel");
    EXPECT_CONTAINS(error("[machine]\nvcpus = 1\n[boot]\ncmdline = \"x\"\n"),
                    where("3:1") + "no kernel: add kernel = \"PATH\" to [boot]");
}

TEST_F(ConfigCheck, KernelFileMissing) {
    const std::string message = error("[boot]\nkernel = \"vmlinuz\"\n");
    EXPECT_CONTAINS(message, where("2:10") + "kernel \"" + (dir / "vmlinuz").string() + "\"");
    EXPECT_CONTAINS(message, "No such file or directory");
}

TEST_F(ConfigCheck, KernelIsAFolder) {
    std::filesystem::create_directory(dir / "vmlinuz");
    EXPECT_CONTAINS(error("[boot]\nkernel = \"vmlinuz\"\n"), where("2:10") + "kernel");
    EXPECT_CONTAINS(error("[boot]\nkernel = \"vmlinuz\"\n"), "is a folder, not a file");
}

TEST_F(ConfigCheck, KernelEmpty) {
    dir.write("empty", "");
    EXPECT_CONTAINS(error("[boot]\nkernel = \"empty\"\n"), "is empty");
}

TEST_F(ConfigCheck, KernelUnreadable) {
    const auto kernel = dir / "kernel.elf";
    ::chmod(kernel.c_str(), 0);
    const std::string toml = dir.write("vm.toml", boot).string();
    const std::string message = config_error_unprivileged([&] { (void)load_config_file(toml); });
    EXPECT_CONTAINS(message, where("2:10") + "kernel");
    EXPECT_CONTAINS(message, "Permission denied");
}

TEST_F(ConfigCheck, KernelThatIsNoKernel) {
    dir.write("notes.txt", std::string(8192, 'x'));
    const std::string message = error("[boot]\nkernel = \"notes.txt\"\n");
    // probe_kernel's BootError, at the kernel key.
    EXPECT_CONTAINS(message, where("2:10") + "kernel \"" + (dir / "notes.txt").string() + "\": ");
}

TEST_F(ConfigCheck, KernelLargerThanMemory) {
    dir.write("big", std::string(17 << 20, 'x'));
    EXPECT_CONTAINS(error("[boot]\nkernel = \"big\"\n[machine]\nmemory_mib = 16\n"),
                    "more than the guest's memory (16 MiB)");
}

TEST_F(ConfigCheck, InitrdMissing) {
    const std::string message = error(boot + "initrd = \"initrd.img\"\n");
    EXPECT_CONTAINS(message, where("3:10") + "initrd");
    EXPECT_CONTAINS(message, "No such file or directory");
}

TEST_F(ConfigCheck, InitrdUnreadable) {
    const auto initrd = dir.write("initrd.img", std::string(100, 'i'));
    ::chmod(initrd.c_str(), 0);
    const std::string toml = dir.write("vm.toml", boot + "initrd = \"initrd.img\"\n").string();
    const std::string message = config_error_unprivileged([&] { (void)load_config_file(toml); });
    EXPECT_CONTAINS(message, where("3:10") + "initrd");
    EXPECT_CONTAINS(message, "Permission denied");
}

TEST_F(ConfigCheck, InitrdThatFits) {
    dir.write("initrd.img", std::string(4 << 20, 'i'));
    const VmConfig c = load(boot + "initrd = \"initrd.img\"\n[machine]\nmemory_mib = 16\n");
    EXPECT_EQ(c.initrd, dir / "initrd.img");
}

TEST_F(ConfigCheck, InitrdTooBigForMemory) {
    dir.write("initrd.img", std::string(20 << 20, 'i'));
    const std::string message =
        error(boot + "initrd = \"initrd.img\"\n[machine]\nmemory_mib = 16\n");
    EXPECT_CONTAINS(message, where("3:10") + "initrd");
    EXPECT_CONTAINS(message, "is 20.0 MiB but only 14.0 MiB fit");  // 16 - 1 (kernel) - 1 reserve
    EXPECT_CONTAINS(message, "raise memory_mib");
}

TEST_F(ConfigCheck, MemoryAboveHost) {
    const std::optional<uint64_t> host = host_memory_mib();
    if (!host || *host >= kMaxMemoryMib) GTEST_SKIP() << "host memory unknown or >= 1 TiB";
    const std::string message = error(boot + "[machine]\nmemory_mib = 1048576\n");
    EXPECT_CONTAINS(message, where("4:14") + "memory_mib = 1048576 is more than this host has");
    EXPECT_CONTAINS(message, "MemTotal " + std::to_string(*host) + " MiB");
}

TEST_F(ConfigCheck, ConsoleFileInMissingFolder) {
    const std::string message = error(boot + "[console]\noutput = \"logs/console.txt\"\n");
    EXPECT_CONTAINS(message, where("4:10") + "console output");
    EXPECT_CONTAINS(message, (dir / "logs").string());
    EXPECT_CONTAINS(message, "No such file or directory");
}

TEST_F(ConfigCheck, ConsoleFileInUnwritableFolder) {
    std::filesystem::create_directory(dir / "logs");
    ::chmod((dir / "logs").c_str(), 0555);
    const std::string toml =
        dir.write("vm.toml", boot + "[console]\noutput = \"logs/console.txt\"\n").string();
    const std::string message = config_error_unprivileged([&] { (void)load_config_file(toml); });
    EXPECT_CONTAINS(message, where("4:10") + "console output: cannot create a file in");
}

TEST_F(ConfigCheck, ConsoleFileInExistingFolder) {
    const VmConfig c = load(boot + "[console]\noutput = \"console.txt\"\n");
    EXPECT_EQ(c.console, ConsoleKind::file);
    EXPECT_EQ(c.console_file, dir / "console.txt");
}

TEST_F(ConfigCheck, DrivePathMissing) {
    const std::string message = error(boot + "[[drive]]\nid = \"root\"\npath = \"nope.img\"\n");
    EXPECT_CONTAINS(message, where("5:8") + "drive \"root\": path");
    EXPECT_CONTAINS(message, "No such file or directory");
}

TEST_F(ConfigCheck, DrivePathIsAFolder) {
    std::filesystem::create_directory(dir / "disks");
    EXPECT_CONTAINS(
        error(boot + "[[drive]]\nid = \"root\"\npath = \"disks\"\n"),
        where("5:8") + "drive \"root\": path \"" + (dir / "disks").string() + "\" is a folder");
}

TEST_F(ConfigCheck, DriveUnreadable) {
    ::chmod((dir / "disk.img").c_str(), 0);
    const std::string toml =
        dir.write("vm.toml", boot +
                                 "[[drive]]\nid = \"root\"\npath = \"disk.img\"\n"
                                 "read_only = true\n")
            .string();
    const std::string message = config_error_unprivileged([&] { (void)load_config_file(toml); });
    EXPECT_CONTAINS(message, where("5:8") + "drive \"root\": path: cannot read");
}

TEST_F(ConfigCheck, DriveNotWritableUnlessReadOnly) {
    ::chmod((dir / "disk.img").c_str(), 0444);
    const std::string rw =
        dir.write("rw.toml", boot + "[[drive]]\nid = \"root\"\npath = \"disk.img\"\n").string();
    const std::string message = config_error_unprivileged([&] { (void)load_config_file(rw); });
    EXPECT_CONTAINS(message, "rw.toml:5:8: drive \"root\": path: cannot write");
    EXPECT_CONTAINS(message, "set read_only = true");
    (void)load(boot + "[[drive]]\nid = \"root\"\npath = \"disk.img\"\nread_only = true\n");
}

TEST_F(ConfigCheck, NullDriveWithoutPath) {
    const VmConfig c = load(boot + "[[drive]]\nid = \"bench\"\nengine = \"null\"\n");
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].engine, DriveEngine::null);
}

TEST_F(ConfigCheck, CheckRepeatsValueChecksOnBuiltConfigs) {
    VmConfig c = load(boot);
    c.vcpus = 0;
    EXPECT_CONTAINS(config_error([&] { check_config(c); }), "vcpus must be between 1 and 64");
    c = load(boot);
    DriveConfig drive;
    drive.id = "bad id";
    drive.path = dir / "disk.img";
    drive.where = {"x.toml", 1, 1};
    drive.path_where = {"x.toml", 1, 1};
    c.drives.push_back(drive);
    EXPECT_CONTAINS(config_error([&] { check_config(c); }), "x.toml:1:1: drive id");
}

// Overrides: checked like file values, reported at their flag.

TEST_F(ConfigCheck, OverrideReplacesFileValues) {
    Overrides o;
    o.vcpus = 3;
    o.memory_mib = 64;
    o.cmdline = "quiet";
    o.console = "none";
    const VmConfig c = load(boot + "cmdline = \"loud\"\n[machine]\nvcpus = 1\n", o);
    EXPECT_EQ(c.vcpus, 3u);
    EXPECT_EQ(c.memory_mib, 64u);
    EXPECT_EQ(c.cmdline, "quiet");
    EXPECT_EQ(c.console, ConsoleKind::none);
    EXPECT_EQ(c.vcpus_where.str(), "command line: --vcpus");
}

TEST_F(ConfigCheck, OverrideVcpusOutOfRange) {
    Overrides o;
    o.vcpus = 0;
    EXPECT_EQ(error(boot, o), "command line: --vcpus: vcpus must be between 1 and 64, not 0");
}

TEST_F(ConfigCheck, OverrideMemoryTooSmall) {
    Overrides o;
    o.memory_mib = 4;
    EXPECT_CONTAINS(error(boot, o), "command line: --memory: memory_mib must be at least 16");
}

TEST_F(ConfigCheck, OverrideKernelSuppliesMissingKernel) {
    Overrides o;
    o.kernel = dir / "kernel.elf";
    EXPECT_EQ(load("[machine]\nvcpus = 1\n", o).kernel, dir / "kernel.elf");
    o.kernel = dir / "missing";
    const std::string message = error("[machine]\nvcpus = 1\n", o);
    EXPECT_CONTAINS(message, "command line: --kernel: kernel \"" + (dir / "missing").string());
    EXPECT_CONTAINS(message, "No such file");
}

TEST_F(ConfigCheck, OverrideInitrdTooBig) {
    Overrides o;
    o.initrd = dir.write("initrd.img", std::string(20 << 20, 'i'));
    o.memory_mib = 16;
    EXPECT_CONTAINS(error(boot, o), "command line: --initrd: initrd");
}

TEST_F(ConfigCheck, OverrideCmdlineTooLong) {
    Overrides o;
    o.cmdline = std::string(kMaxCmdlineBytes + 1, 'x');
    EXPECT_CONTAINS(error(boot, o), "command line: --cmdline: cmdline is 2048 bytes long");
}

TEST_F(ConfigCheck, OverrideConsoleInMissingFolder) {
    Overrides o;
    o.console = (dir / "no" / "console.txt").string();
    EXPECT_CONTAINS(error(boot, o), "command line: --console: console output");
}

}  // namespace
}  // namespace nvmevm
