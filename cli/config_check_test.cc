// check_config, apply_overrides and load_config_file: the checks that look at the host, on
// real files in a temporary folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "cli/config_loader.h"
#include "cli/config_test_support.h"
#include "foundation/io_ring.h"
#include "foundation/unique_fd.h"

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
    ASSERT_TRUE(host) << "no MemTotal in /proc/meminfo";
    // memory_mib stops at 1 TiB: on a host with more, no value is above the host's and valid.
    if (*host >= kMaxMemoryMib) GTEST_SKIP() << "host memory >= 1 TiB";
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

TEST_F(ConfigCheck, DrivePathIsACharacterDevice) {
    // The uring and null engines take regular files and block devices, the nvme engine NVMe
    // generic devices; /dev/null is none of them.
    EXPECT_EQ(error(boot + "[[drive]]\nid = \"root\"\npath = \"/dev/null\"\n"),
              where("5:8") +
                  "drive \"root\": path \"/dev/null\" is a character device, not a file, a "
                  "block device or an NVMe generic device (/dev/ngXnY, with engine \"nvme\" or "
                  "\"auto\")");
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

TEST_F(ConfigCheck, DriveKeysLoad) {
    const VmConfig c = load(boot +
                            "[[drive]]\nid = \"root\"\npath = \"disk.img\"\nqueues = 2\n"
                            "queue_size = 128\nserial = \"root disk\"\ndirect = false\n"
                            "[[drive]]\nid = \"bench\"\nengine = \"null\"\nsize_mib = 65536\n");
    ASSERT_EQ(c.drives.size(), 2u);
    EXPECT_EQ(c.drives[0].queues, 2u);
    EXPECT_EQ(c.drives[0].queue_size, 128u);
    EXPECT_EQ(c.drives[0].serial, "root disk");
    EXPECT_FALSE(c.drives[0].direct);
    EXPECT_EQ(c.drives[1].null_size_mib, 65536u);
}

TEST_F(ConfigCheck, AutoEngineIsAccepted) {
    const VmConfig c =
        load(boot + "[[drive]]\nid = \"root\"\npath = \"disk.img\"\nengine = \"auto\"\n");
    EXPECT_EQ(c.drives[0].engine, DriveEngine::automatic);
}

TEST_F(ConfigCheck, NvmeEngineNeedsANamespace) {
    EXPECT_EQ(error(boot + "[[drive]]\nid = \"ns\"\npath = \"disk.img\"\nengine = \"nvme\"\n"),
              where("5:8") + "drive \"ns\": path \"" + (dir / "disk.img").string() +
                  "\" is not an NVMe namespace: engine \"nvme\" takes /dev/ngXnY or /dev/nvmeXnY");
    EXPECT_EQ(error(boot + "[[drive]]\nid = \"ns\"\npath = \"/dev/ng9n9\"\nengine = \"nvme\"\n"),
              where("5:8") + "drive \"ns\": path \"/dev/ng9n9\": No such file or directory");
}

TEST_F(ConfigCheck, PollNeedsAnNvmeNamespace) {
    // "auto" on a file would pick io_uring, which cannot poll: refused at the poll key.
    EXPECT_EQ(error(boot + "[[drive]]\nid = \"f\"\npath = \"disk.img\"\npoll = true\n"),
              where("6:8") + "poll = true needs NVMe passthrough, but \"" +
                  (dir / "disk.img").string() +
                  "\" is not an NVMe namespace (/dev/ngXnY or /dev/nvmeXnY)");
    EXPECT_EQ(error(boot + "[[drive]]\nid = \"f\"\npath = \"disk.img\"\npoll = true\n"
                           "engine = \"uring\"\n"),
              where("6:8") +
                  "poll = true needs engine = \"nvme\": polled completions exist only for NVMe "
                  "passthrough, not for engine \"uring\"");
    // poll = false is fine anywhere, and logical_block_size on a file too.
    (void)load(boot +
               "[[drive]]\nid = \"f\"\npath = \"disk.img\"\npoll = false\nlogical_block_size = "
               "4096\n");
}

TEST_F(ConfigCheck, CheckRepeatsDriveValueChecksOnBuiltConfigs) {
    const VmConfig base = load(boot);
    DriveConfig good;
    good.id = "d";
    good.path = dir / "disk.img";
    good.where = good.path_where = {"x.toml", 7, 1};
    const auto check_with = [&](const DriveConfig& drive) {
        VmConfig c = base;
        c.drives.push_back(drive);
        return config_error([&] { check_config(c); });
    };
    DriveConfig d = good;
    d.queues = 65;
    EXPECT_EQ(check_with(d),
              "x.toml:7:1: queues must be between 1 and 64, not 65 (leave it out "
              "for one queue per vCPU)");
    d = good;
    d.queue_size = 96;
    EXPECT_CONTAINS(check_with(d), "x.toml:7:1: queue_size must be a power of two");
    d = good;
    d.queue_size = 0;
    EXPECT_CONTAINS(check_with(d), "x.toml:7:1: queue_size must be between 2 and 1024");
    d = good;
    d.serial = std::string(21, 's');
    EXPECT_CONTAINS(check_with(d), "x.toml:7:1: serial is 21 bytes long");
    d = good;
    d.path.clear();
    d.engine = DriveEngine::null;
    d.null_size_mib = 0;
    EXPECT_CONTAINS(check_with(d), "x.toml:7:1: size_mib must be between 1 and 16777216");
    d = good;
    d.engine = DriveEngine::nvme;
    EXPECT_CONTAINS(check_with(d), "x.toml:7:1: drive \"d\": path \"" + good.path.string() +
                                       "\" is not an NVMe namespace");
    d = good;
    d.logical_block_size = 2048;
    EXPECT_EQ(check_with(d),
              "x.toml:7:1: logical_block_size must be 512 or 4096, not 2048 (leave it out for "
              "the backing's own block size)");
    d = good;
    d.poll = true;
    d.engine = DriveEngine::null;
    EXPECT_CONTAINS(check_with(d), "x.toml:7:1: poll = true needs engine = \"nvme\"");
    // queues = 0 (one per vCPU) is fine in a built config.
    VmConfig c = base;
    c.drives.push_back(good);
    check_config(c);
}

// One backing, two drives: a writable drive must be the only one on its file or namespace,
// whatever path names it (the same path, a hard link, a symlink); `run` refuses it with the
// same message, as it loads the config the same way (load_config_file).
TEST_F(ConfigCheck, SameFileTwiceWritableIsRefused) {
    std::filesystem::create_hard_link(dir / "disk.img", dir / "hard.img");
    std::filesystem::create_symlink(dir / "disk.img", dir / "soft.img");
    const std::string first = "[[drive]]\nid = \"a\"\npath = \"disk.img\"\n";  // lines 3-5
    for (const char* other : {"disk.img", "hard.img", "soft.img", "./disk.img"}) {
        const std::string second =
            "[[drive]]\nid = \"b\"\npath = \"" + std::string(other) + "\"\n";  // lines 6-8
        EXPECT_EQ(error(boot + first + second),
                  where("8:8") + "drive \"b\": path \"" + (dir / other).string() +
                      "\" is the same file as drive \"a\"'s (" + (dir / "vm.toml").string() +
                      ":5:8): a writable drive must be the only drive "
                      "on its file or device (drives that are all read_only = true may share "
                      "one)")
            << other;
    }
    // Writable and read-only: still refused (the guest would read through one drive what it
    // writes through the other, behind the back of both caches).
    EXPECT_CONTAINS(
        error(boot + first + "[[drive]]\nid = \"b\"\npath = \"hard.img\"\nread_only = true\n"),
        where("8:8") + "drive \"b\": path");
}

TEST_F(ConfigCheck, SameFileTwiceReadOnlyIsFine) {
    std::filesystem::create_hard_link(dir / "disk.img", dir / "hard.img");
    const VmConfig c = load(boot +
                            "[[drive]]\nid = \"a\"\npath = \"disk.img\"\nread_only = true\n"
                            "[[drive]]\nid = \"b\"\npath = \"hard.img\"\nread_only = true\n");
    EXPECT_EQ(c.drives.size(), 2u);
}

TEST_F(ConfigCheck, SameFileTwiceFromTheCommandLine) {
    Overrides o;
    o.drives = {dir / "disk.img", dir / "disk.img"};
    EXPECT_CONTAINS(error(boot, o), "command line: --drive: drive \"drive1\": path \"" +
                                        (dir / "disk.img").string() +
                                        "\" is the same file as drive \"drive0\"'s (command "
                                        "line: --drive)");
}

TEST_F(ConfigCheck, TwoNullDrivesOnOneFileAreFine) {
    // engine = "null" reads its file's shape and never touches it again.
    (void)load(boot +
               "[[drive]]\nid = \"a\"\npath = \"disk.img\"\nengine = \"null\"\n"
               "[[drive]]\nid = \"b\"\npath = \"disk.img\"\n");
}

// /dev/nvmeXnY and /dev/ngXnY are one namespace. Stand-ins made with mknod in the temp folder
// (the numbers name no device: only stat and access look at them).
TEST_F(ConfigCheck, BlockAndGenericDeviceOfOneNamespaceAreRefused) {
    ASSERT_EQ(::geteuid(), 0u) << "needs root for mknod (CI runs as root)";
    ASSERT_EQ(::mknod((dir / "nvme9n1").c_str(), S_IFBLK | 0600, ::makedev(7, 250)), 0)
        << std::strerror(errno);
    ASSERT_EQ(::mknod((dir / "ng9n1").c_str(), S_IFCHR | 0600, ::makedev(511, 9)), 0)
        << std::strerror(errno);
    ASSERT_EQ(::mknod((dir / "nvme9n2").c_str(), S_IFBLK | 0600, ::makedev(7, 251)), 0)
        << std::strerror(errno);
    std::filesystem::create_symlink(dir / "nvme9n1", dir / "by-id");
    const std::string first = "[[drive]]\nid = \"a\"\npath = \"nvme9n1\"\n";  // lines 3-5
    for (const char* other : {"ng9n1", "by-id", "nvme9n1"}) {
        const std::string second = "[[drive]]\nid = \"b\"\npath = \"" + std::string(other) + "\"\n";
        EXPECT_CONTAINS(error(boot + first + second),
                        where("8:8") + "drive \"b\": path \"" + (dir / other).string() +
                            "\" is the same NVMe namespace as drive \"a\"'s")
            << other;
    }
    // Another namespace of the same controller is another backing.
    (void)load(boot + first + "[[drive]]\nid = \"b\"\npath = \"nvme9n2\"\n");
}

// Every drive is a PCI device on bus 0 (slots 1 to 31) and every drive that does I/O a file in
// each vCPU's io_uring (16 registered files): more are refused at the first drive too many.
TEST_F(ConfigCheck, MoreFileDrivesThanARingTakesAreRefused) {
    std::string toml = boot;
    for (int i = 0; i < 17; ++i) {
        dir.write("d" + std::to_string(i) + ".img", std::string(4096, '\0'));
        toml += "[[drive]]\nid = \"d" + std::to_string(i) + "\"\npath = \"d" + std::to_string(i) +
                ".img\"\n";
    }
    // Null drives need no file in the ring.
    for (int i = 0; i < 4; ++i)
        toml += "[[drive]]\nid = \"n" + std::to_string(i) + "\"\nengine = \"null\"\n";
    // Drive d16 starts on line 3 + 16 * 3.
    EXPECT_CONTAINS(error(toml), where("51:1") + "drive \"d16\": too many drives");
    EXPECT_CONTAINS(error(toml), "16");
}

// kMaxRingDrives is what an IoRing registers: the check refuses no drive the ring would take.
TEST(DriveLimits, RingRegistersKMaxRingDriveFiles) {
    IoRing ring(8);
    const UniqueFd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(file);
    for (size_t i = 0; i < kMaxRingDrives; ++i) (void)ring.add_file(file.get());
    EXPECT_THROW((void)ring.add_file(file.get()), std::system_error);
}

TEST_F(ConfigCheck, MoreDrivesThanThePciBusTakesAreRefused) {
    std::string toml = boot;
    for (int i = 0; i < 32; ++i)
        toml += "[[drive]]\nid = \"n" + std::to_string(i) + "\"\nengine = \"null\"\n";
    EXPECT_CONTAINS(error(toml), where("96:1") + "drive \"n31\": too many drives");
    // 31 fit.
    const std::string fits = toml.substr(0, toml.rfind("[[drive]]"));
    EXPECT_EQ(load(fits).drives.size(), 31u);
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

// --drive and --drive-engine.

TEST_F(ConfigCheck, OverrideDriveAppendsDrives) {
    Overrides o;
    o.drives = {dir / "disk.img", dir.write("b.img", std::string(4096, '\0'))};
    dir.write("root.img", std::string(4096, '\0'));
    const VmConfig c = load(boot + "[[drive]]\nid = \"root\"\npath = \"root.img\"\n", o);
    ASSERT_EQ(c.drives.size(), 3u);
    EXPECT_EQ(c.drives[0].id, "root");
    // Named after their place in the drive list, after the file's drives.
    EXPECT_EQ(c.drives[1].id, "drive1");
    EXPECT_EQ(c.drives[1].path, dir / "disk.img");
    EXPECT_EQ(c.drives[2].id, "drive2");
    EXPECT_EQ(c.drives[2].path, dir / "b.img");
    for (size_t i = 1; i < 3; ++i) {
        EXPECT_EQ(c.drives[i].engine, DriveEngine::automatic);
        EXPECT_EQ(c.drives[i].where.str(), "command line: --drive");
        EXPECT_EQ(c.drives[i].queue_size, 256u);  // the defaults of a [[drive]]
        EXPECT_TRUE(c.drives[i].direct);
        EXPECT_FALSE(c.drives[i].read_only);
    }
}

TEST_F(ConfigCheck, OverrideDrivePathIsRelativeToTheWorkingFolder) {
    VmConfig c = parse_config("[boot]\nkernel = \"k\"\n", dir / "vm.toml");
    Overrides o;
    o.drives = {"disks/a.img"};
    apply_overrides(c, o);
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].id, "drive0");
    EXPECT_EQ(c.drives[0].path, "disks/a.img");
}

TEST_F(ConfigCheck, OverrideDriveEngine) {
    Overrides o;
    o.drives = {dir / "disk.img"};
    o.drive_engine = "null";
    const VmConfig c = load(boot, o);
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].engine, DriveEngine::null);
    EXPECT_EQ(c.drives[0].engine_where.str(), "command line: --drive-engine");
    o.drive_engine = "uring";
    EXPECT_EQ(load(boot, o).drives[0].engine, DriveEngine::uring);
}

TEST_F(ConfigCheck, OverrideDriveMissing) {
    Overrides o;
    o.drives = {dir / "nope.img"};
    const std::string message = error(boot, o);
    EXPECT_CONTAINS(message, "command line: --drive: drive \"drive0\": path \"" +
                                 (dir / "nope.img").string() + "\"");
    EXPECT_CONTAINS(message, "No such file or directory");
    o.drives = {""};
    EXPECT_EQ(error(boot, o), "command line: --drive: --drive must not be empty");
}

TEST_F(ConfigCheck, OverrideDriveIdTakenByTheFile) {
    Overrides o;
    o.drives = {dir / "disk.img"};
    EXPECT_EQ(error(boot + "[[drive]]\nid = \"drive1\"\npath = \"disk.img\"\n", o),
              "command line: --drive: drive id \"drive1\" is used twice");
}

TEST_F(ConfigCheck, OverrideDriveEngineErrors) {
    Overrides o;
    o.drive_engine = "null";
    EXPECT_CONTAINS(error(boot, o),
                    "command line: --drive-engine: --drive-engine sets the engine "
                    "of drives added by --drive");
    o.drives = {dir / "disk.img"};
    o.drive_engine = "spdk";
    EXPECT_CONTAINS(error(boot, o), "command line: --drive-engine: unknown engine \"spdk\"");
    o.drive_engine = "nvme";
    EXPECT_CONTAINS(error(boot, o), "is not an NVMe namespace: engine \"nvme\" takes /dev/ngXnY");
}

}  // namespace
}  // namespace nvmevm
