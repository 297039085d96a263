// parse_config: the TOML schema and value checks, without touching the file system.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/config_loader.h"
#include "cli/config_test_support.h"

namespace nvmevm {
namespace {

using testing::config_error;

const std::filesystem::path kSource = "/configs/vm.toml";

TEST(ConfigParse, FullConfig) {
    const VmConfig c = parse_config(R"(# a comment
[machine]
vcpus = 4
memory_mib = 512

[boot]
kernel = "images/vmlinux"
initrd = "/abs/initrd.img"
cmdline = "console=ttyS0 quiet"

[console]
output = "logs/console.txt"

[[drive]]
id = "root"
path = "disk.img"

[[drive]]
id = "scratch_2"
path = "/dev/nvme0n1"
read_only = true
engine = "uring"
)",
                                    kSource);
    EXPECT_EQ(c.vcpus, 4u);
    EXPECT_EQ(c.memory_mib, 512u);
    EXPECT_EQ(c.vcpus_where.str(), "/configs/vm.toml:3:9");
    EXPECT_EQ(c.memory_where.str(), "/configs/vm.toml:4:14");
    // Relative paths resolve against the config file's folder; absolute ones stay.
    EXPECT_EQ(c.kernel, "/configs/images/vmlinux");
    EXPECT_EQ(c.kernel_where.str(), "/configs/vm.toml:7:10");
    ASSERT_TRUE(c.initrd.has_value());
    EXPECT_EQ(*c.initrd, "/abs/initrd.img");
    EXPECT_EQ(c.cmdline, "console=ttyS0 quiet");
    EXPECT_EQ(c.console, ConsoleKind::file);
    EXPECT_EQ(c.console_file, "/configs/logs/console.txt");
    ASSERT_EQ(c.drives.size(), 2u);
    EXPECT_EQ(c.drives[0].id, "root");
    EXPECT_EQ(c.drives[0].path, "/configs/disk.img");
    EXPECT_FALSE(c.drives[0].read_only);
    EXPECT_EQ(c.drives[0].engine, DriveEngine::automatic);
    EXPECT_EQ(c.drives[0].where.str(), "/configs/vm.toml:14:1");
    EXPECT_EQ(c.drives[0].path_where.str(), "/configs/vm.toml:16:8");
    EXPECT_EQ(c.drives[1].id, "scratch_2");
    EXPECT_EQ(c.drives[1].path, "/dev/nvme0n1");
    EXPECT_TRUE(c.drives[1].read_only);
    EXPECT_EQ(c.drives[1].engine, DriveEngine::uring);
}

TEST(ConfigParse, DefaultsWhenTablesAreAbsent) {
    const VmConfig c = parse_config("[boot]\nkernel = \"k\"\n", "vm.toml");
    EXPECT_EQ(c.vcpus, 1u);
    EXPECT_EQ(c.memory_mib, 128u);
    EXPECT_FALSE(c.initrd.has_value());
    EXPECT_EQ(c.cmdline, "");
    EXPECT_EQ(c.console, ConsoleKind::stdout_stream);
    EXPECT_TRUE(c.drives.empty());
    // A config named without a folder keeps relative paths relative to the working folder.
    EXPECT_EQ(c.kernel, "k");
}

TEST(ConfigParse, ConsoleKinds) {
    EXPECT_EQ(parse_config("[console]\noutput = \"none\"\n", kSource).console, ConsoleKind::none);
    EXPECT_EQ(parse_config("[console]\noutput = \"stdout\"\n", kSource).console,
              ConsoleKind::stdout_stream);
}

TEST(ConfigParse, SandboxTable) {
    EXPECT_EQ(parse_config("", kSource).sandbox.mode, SandboxMode::automatic);
    const VmConfig c = parse_config(
        "[sandbox]\nenabled = true\nuid = 1000\ngid = 1001\ncgroup = \"/sys/fs/cgroup/vm1\"\n",
        kSource);
    EXPECT_EQ(c.sandbox.mode, SandboxMode::on);
    EXPECT_EQ(c.sandbox.uid, 1000u);
    EXPECT_EQ(c.sandbox.gid, 1001u);
    EXPECT_EQ(c.sandbox.cgroup, "/sys/fs/cgroup/vm1");
    EXPECT_EQ(parse_config("[sandbox]\nenabled = false\n", kSource).sandbox.mode, SandboxMode::off);
    EXPECT_EQ(parse_config("[sandbox]\nenabled = \"auto\"\n", kSource).sandbox.mode,
              SandboxMode::automatic);
}

TEST(ConfigParse, SandboxErrorsNameTheKey) {
    EXPECT_EQ(config_error([] { (void)parse_config("[sandbox]\nenabled = \"yes\"\n", kSource); }),
              "/configs/vm.toml:2:11: sandbox must be auto, on or off, not \"yes\" "
              "(docs/security.md)");
    EXPECT_EQ(config_error([] { (void)parse_config("[sandbox]\nuid = -1\n", kSource); }),
              "/configs/vm.toml:2:7: uid must be 0 to 4294967294, not -1");
    EXPECT_EQ(config_error([] { (void)parse_config("[sandbox]\ncgroup = \"vms\"\n", kSource); }),
              "/configs/vm.toml:2:10: cgroup must be an absolute path (a cgroup v2 folder such as "
              "/sys/fs/cgroup/vms/vm1), not \"vms\"");
    EXPECT_EQ(config_error([] { (void)parse_config("[sandbox]\nroot = 1\n", kSource); }),
              "/configs/vm.toml:2:1: unknown key \"root\" in [sandbox] (known keys: enabled, uid, "
              "gid, cgroup)");
}

TEST(ConfigParse, NullEngineNeedsNoPath) {
    const VmConfig c = parse_config("[[drive]]\nid = \"n\"\nengine = \"null\"\n", kSource);
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].engine, DriveEngine::null);
    EXPECT_TRUE(c.drives[0].path.empty());
}

TEST(ConfigParse, DriveDefaults) {
    const VmConfig c = parse_config("[[drive]]\nid = \"d\"\npath = \"disk.img\"\n", kSource);
    ASSERT_EQ(c.drives.size(), 1u);
    const DriveConfig& d = c.drives[0];
    EXPECT_EQ(d.queues, 0u);  // one per vCPU
    EXPECT_EQ(d.queue_size, 256u);
    EXPECT_EQ(d.serial, "");  // the device derives it from the path
    EXPECT_TRUE(d.direct);
    EXPECT_EQ(d.null_size_mib, 1024u);
    EXPECT_EQ(d.engine, DriveEngine::automatic);
    EXPECT_TRUE(d.engine_where.file.empty());  // not given
    EXPECT_EQ(d.logical_block_size, 0u);       // the backing's own
    EXPECT_FALSE(d.poll);
}

TEST(ConfigParse, LogicalBlockSizeAndPoll) {
    const VmConfig c = parse_config(R"([[drive]]
id = "a"
path = "/dev/ng0n1"
logical_block_size = 512
poll = true
engine = "nvme"

[[drive]]
id = "b"
path = "/dev/nvme1n1"
logical_block_size = 4096
poll = true

[[drive]]
id = "c"
path = "disk.img"
poll = false
engine = "uring"
)",
                                    kSource);
    ASSERT_EQ(c.drives.size(), 3u);
    EXPECT_EQ(c.drives[0].logical_block_size, 512u);
    EXPECT_TRUE(c.drives[0].poll);
    EXPECT_EQ(c.drives[0].poll_where.str(), "/configs/vm.toml:5:8");
    EXPECT_EQ(c.drives[1].logical_block_size, 4096u);
    EXPECT_TRUE(c.drives[1].poll);  // "auto": check_config looks at the path
    EXPECT_FALSE(c.drives[2].poll);
}

TEST(ConfigParse, DriveQueueAndBackingKeys) {
    const VmConfig c = parse_config(R"([[drive]]
id = "d"
path = "disk.img"
queues = 4
queue_size = 1024
serial = "NVMEVM disk #1~"
direct = false
engine = "uring"
)",
                                    kSource);
    ASSERT_EQ(c.drives.size(), 1u);
    const DriveConfig& d = c.drives[0];
    EXPECT_EQ(d.queues, 4u);
    EXPECT_EQ(d.queue_size, 1024u);
    EXPECT_EQ(d.serial, "NVMEVM disk #1~");
    EXPECT_FALSE(d.direct);
    EXPECT_EQ(d.engine, DriveEngine::uring);
    EXPECT_EQ(d.engine_where.str(), "/configs/vm.toml:8:10");
}

TEST(ConfigParse, DriveLimitsAreInclusive) {
    const VmConfig low = parse_config(
        "[[drive]]\nid = \"a\"\nengine = \"null\"\nqueues = 1\nqueue_size = 2\nsize_mib = 1\n"
        "serial = \"x\"\n",
        kSource);
    EXPECT_EQ(low.drives[0].queues, 1u);
    EXPECT_EQ(low.drives[0].queue_size, 2u);
    EXPECT_EQ(low.drives[0].null_size_mib, 1u);
    const VmConfig high = parse_config(
        "[[drive]]\nid = \"a\"\nengine = \"null\"\nqueues = 64\nqueue_size = 1024\n"
        "size_mib = 16777216\nserial = \"12345678901234567890\"\n",
        kSource);
    EXPECT_EQ(high.drives[0].queues, kMaxDriveQueues);
    EXPECT_EQ(high.drives[0].queue_size, kMaxQueueSize);
    EXPECT_EQ(high.drives[0].null_size_mib, kMaxNullSizeMib);
    EXPECT_EQ(high.drives[0].serial.size(), kMaxSerialBytes);
}

TEST(ConfigParse, NullDriveSize) {
    const VmConfig c =
        parse_config("[[drive]]\nsize_mib = 4096\nid = \"n\"\nengine = \"null\"\n", kSource);
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].null_size_mib, 4096u);
}

TEST(ConfigParse, RateLimits) {
    const VmConfig c = parse_config(R"([[drive]]
id = "a"
path = "d"

[drive.rate_limit]
ops = { size = 3000, refill_time_ms = 1000 }
bandwidth = { size = 52428800, refill_time_ms = 100, one_time_burst = 104857600 }

[[drive]]
id = "b"
path = "e"

[drive.rate_limit.ops]
size = 10
refill_time_ms = 1

[[drive]]
id = "c"
path = "f"
)",
                                    kSource);
    ASSERT_EQ(c.drives.size(), 3u);
    const IoRateLimits& a = c.drives[0].rate_limits;
    ASSERT_TRUE(a.ops && a.bytes);
    EXPECT_EQ(a.ops->size, 3000u);
    EXPECT_EQ(a.ops->refill_time_ns, 1'000'000'000u);
    EXPECT_EQ(a.ops->one_time_burst, 0u);
    EXPECT_EQ(a.bytes->size, 52428800u);
    EXPECT_EQ(a.bytes->refill_time_ns, 100'000'000u);
    EXPECT_EQ(a.bytes->one_time_burst, 104857600u);
    const IoRateLimits& b = c.drives[1].rate_limits;
    ASSERT_TRUE(b.ops);
    EXPECT_FALSE(b.bytes);
    EXPECT_EQ(b.ops->size, 10u);
    EXPECT_EQ(b.ops->refill_time_ns, 1'000'000u);
    EXPECT_FALSE(c.drives[2].rate_limits.any());
}

TEST(ConfigParse, NvmeEngineIsLeftToCheckConfig) {
    // Parsed (the schema knows it); check_config says it is not available yet.
    const VmConfig c =
        parse_config("[[drive]]\nid = \"a\"\npath = \"/dev/ng0n1\"\nengine = \"nvme\"\n", kSource);
    EXPECT_EQ(c.drives[0].engine, DriveEngine::nvme);
    EXPECT_EQ(c.drives[0].engine_where.str(), "/configs/vm.toml:4:10");
}

TEST(ConfigParse, MissingKernelPointsAtBootTable) {
    // Not an error yet (--kernel may supply it), but check_config reports it here.
    const VmConfig c = parse_config("[machine]\nvcpus = 1\n\n[boot]\ncmdline = \"x\"\n", kSource);
    EXPECT_TRUE(c.kernel.empty());
    EXPECT_EQ(c.kernel_where.str(), "/configs/vm.toml:4:1");
}

TEST(ConfigParse, FirstMistakeInTheFileIsReported) {
    // toml++ keeps keys sorted by name; the error must still be the one nearest the top.
    const std::string message =
        config_error([] { (void)parse_config("[machine]\nzzz = 1\naaa = 2\n", kSource); });
    EXPECT_CONTAINS(message, "vm.toml:2:1: unknown key \"zzz\"");
}

// One bad file, where the error must be, and words the message must contain.
struct BadConfig {
    const char* name;
    std::string text;
    const char* where;  // "LINE:COL"
    std::vector<std::string> words;
};

std::ostream& operator<<(std::ostream& out, const BadConfig& c) {
    return out << c.name;
}

class ConfigParseError : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigParseError, IsReportedAtItsPlace) {
    const BadConfig& c = GetParam();
    const std::string message = config_error([&] { (void)parse_config(c.text, kSource); });
    EXPECT_EQ(message.rfind(std::string("/configs/vm.toml:") + c.where + ": ", 0), 0u)
        << "message: " << message << "\nexpected location " << c.where;
    for (const std::string& word : c.words) EXPECT_CONTAINS(message, word);
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

const std::string kLongCmdline(kMaxCmdlineBytes + 1, 'a');
const std::string kDrive = "[[drive]]\nid = \"a\"\npath = \"d\"\n";  // lines 1-3

INSTANTIATE_TEST_SUITE_P(
    Config, ConfigParseError,
    ::testing::Values(
        // Syntax: toml++'s own position and description.
        BadConfig{"SyntaxError", "[machine]\nvcpus = = 2\n", "2:9", {"TOML syntax error"}},
        BadConfig{"UnclosedString", "[boot]\nkernel = \"k\n", "2:12", {"TOML syntax error"}},
        BadConfig{"DuplicateKey", "[machine]\nvcpus = 1\nvcpus = 2\n", "3:9", {"syntax"}},
        BadConfig{"IntegerOverflow",
                  "[machine]\nmemory_mib = 99999999999999999999\n",
                  "2:34",
                  {"syntax"}},
        // Schema: unknown tables and keys, everywhere.
        BadConfig{"UnknownTable",
                  "[machine]\nvcpus = 1\n[network]\nx = 1\n",
                  "3:1",
                  {"unknown table [network]", "[[drive]]"}},
        BadConfig{
            "UnknownTopLevelKey", "vcpus = 2\n", "1:1", {"unknown key \"vcpus\"", "top level"}},
        BadConfig{"UnknownMachineKey",
                  "[machine]\nvcpu = 2\n",
                  "2:1",
                  {"unknown key \"vcpu\" in [machine]", "vcpus, memory_mib"}},
        BadConfig{"UnknownBootKey",
                  "[boot]\nkernal = \"k\"\n",
                  "2:1",
                  {"unknown key \"kernal\" in [boot]"}},
        BadConfig{"UnknownConsoleKey",
                  "[console]\nfile = \"x\"\n",
                  "2:1",
                  {"unknown key \"file\" in [console]"}},
        BadConfig{"UnknownDriveKey",
                  "[[drive]]\nid = \"a\"\npath = \"d\"\n  readonly = true\n",
                  "4:3",
                  {"unknown key \"readonly\" in [[drive]]", "read_only", "queue_size", "size_mib"}},
        BadConfig{
            "SubTableInMachine", "[machine.numa]\nnodes = 2\n", "1:10", {"unknown key \"numa\""}},
        BadConfig{"MachineNotATable",
                  "machine = 3\n",
                  "1:11",
                  {"[machine] must be a table, not an integer"}},
        BadConfig{"DriveAsSingleTable",
                  "[drive]\nid = \"a\"\npath = \"d\"\n",
                  "1:1",
                  {"[[drive]]", "not [drive]"}},
        BadConfig{"DriveNotAList", "drive = \"disk.img\"\n", "1:1", {"list of [[drive]]"}},
        BadConfig{"DriveListOfStrings",
                  "drive = [\"disk.img\"]\n",
                  "1:10",
                  {"each drive must be a table", "a string"}},
        // Types, one per key.
        BadConfig{"VcpusString",
                  "[machine]\nvcpus = \"2\"\n",
                  "2:9",
                  {"vcpus must be an integer, not a string"}},
        BadConfig{"MemoryFloat",
                  "[machine]\nmemory_mib = 256.0\n",
                  "2:14",
                  {"memory_mib must be an integer, not a floating-point number"}},
        BadConfig{"KernelInteger",
                  "[boot]\nkernel = 5\n",
                  "2:10",
                  {"kernel must be a string, not an integer"}},
        BadConfig{"InitrdBoolean",
                  "[boot]\ninitrd = false\n",
                  "2:10",
                  {"initrd must be a string, not a boolean"}},
        BadConfig{"CmdlineArray",
                  "[boot]\ncmdline = [\"a\"]\n",
                  "2:11",
                  {"cmdline must be a string, not an array"}},
        BadConfig{"ConsoleOutputTable",
                  "[console]\noutput = { file = \"x\" }\n",
                  "2:10",
                  {"output must be a string, not a table"}},
        BadConfig{"DriveIdInteger",
                  "[[drive]]\nid = 1\npath = \"d\"\n",
                  "2:6",
                  {"id must be a string, not an integer"}},
        BadConfig{"DrivePathBoolean",
                  "[[drive]]\nid = \"a\"\npath = true\n",
                  "3:8",
                  {"path must be a string, not a boolean"}},
        BadConfig{"ReadOnlyInteger",
                  "[[drive]]\nid = \"a\"\npath = \"d\"\nread_only = 1\n",
                  "4:13",
                  {"read_only must be true or false, not an integer"}},
        BadConfig{"EngineDate",
                  "[[drive]]\nid = \"a\"\npath = \"d\"\nengine = 2024-01-01\n",
                  "4:10",
                  {"engine must be a string, not a date"}},
        // Values.
        BadConfig{"VcpusZero",
                  "[machine]\nvcpus = 0\n",
                  "2:9",
                  {"vcpus must be between 1 and 64, not 0"}},
        BadConfig{"VcpusTooMany", "[machine]\nvcpus = 65\n", "2:9", {"between 1 and 64, not 65"}},
        BadConfig{"VcpusNegative", "[machine]\nvcpus = -1\n", "2:9", {"not -1"}},
        BadConfig{"VcpusHuge", "[machine]\nvcpus = 4294967297\n", "2:9", {"not 4294967297"}},
        BadConfig{"MemoryNegative",
                  "[machine]\nmemory_mib = -256\n",
                  "2:14",
                  {"at least 16", "not -256"}},
        BadConfig{"MemoryTooSmall", "[machine]\nmemory_mib = 8\n", "2:14", {"at least 16 (MiB)"}},
        BadConfig{"MemoryAboveOneTebibyte",
                  "[machine]\nmemory_mib = 1048577\n",
                  "2:14",
                  {"at most 1048576 (1 TiB)"}},
        BadConfig{"KernelEmpty", "[boot]\nkernel = \"\"\n", "2:10", {"kernel must not be empty"}},
        BadConfig{"CmdlineTooLong",
                  "[boot]\ncmdline = \"" + kLongCmdline + "\"\n",
                  "2:11",
                  {"2048 bytes long", "at most 2047"}},
        BadConfig{"CmdlineNul", "[boot]\ncmdline = \"a\\u0000b\"\n", "2:11", {"NUL"}},
        BadConfig{"ConsoleEmpty", "[console]\noutput = \"\"\n", "2:10", {"\"stdout\", \"none\""}},
        BadConfig{"DriveWithoutId",
                  "[machine]\nvcpus = 1\n[[drive]]\npath = \"d\"\n",
                  "3:1",
                  {"drive has no id"}},
        BadConfig{"DriveWithoutPath",
                  "[[drive]]\nid = \"root\"\n",
                  "1:1",
                  {"drive \"root\" has no path"}},
        BadConfig{"DuplicateDriveId",
                  "[[drive]]\nid = \"a\"\npath = \"x\"\n\n[[drive]]\nid = \"a\"\npath = \"y\"\n",
                  "5:1",
                  {"drive id \"a\" is used twice"}},
        BadConfig{"DriveIdWithSpace",
                  "[[drive]]\nid = \"my disk\"\npath = \"d\"\n",
                  "2:6",
                  {"drive id \"my disk\" is not valid", "1 to 20"}},
        BadConfig{"DriveIdTooLong",
                  "[[drive]]\nid = \"abcdefghijklmnopqrstu\"\npath = \"d\"\n",
                  "2:6",
                  {"is not valid"}},
        BadConfig{"DriveIdEmpty", "[[drive]]\nid = \"\"\npath = \"d\"\n", "2:6", {"is not valid"}},
        BadConfig{"UnknownEngine",
                  "[[drive]]\nid = \"a\"\npath = \"d\"\nengine = \"spdk\"\n",
                  "4:10",
                  {"unknown engine \"spdk\"", "auto, uring, nvme or null"}},
        // [[drive]] queues, queue_size, serial, direct and size_mib.
        BadConfig{"QueuesString",
                  kDrive + "queues = \"4\"\n",
                  "4:10",
                  {"queues must be an integer, not a string"}},
        BadConfig{"QueuesZero",
                  kDrive + "queues = 0\n",
                  "4:10",
                  {"queues must be between 1 and 64, not 0", "one queue per vCPU"}},
        BadConfig{"QueuesTooMany", kDrive + "queues = 65\n", "4:10", {"between 1 and 64, not 65"}},
        BadConfig{"QueuesNegative", kDrive + "queues = -2\n", "4:10", {"not -2"}},
        BadConfig{"QueueSizeFloat",
                  kDrive + "queue_size = 256.0\n",
                  "4:14",
                  {"queue_size must be an integer, not a floating-point number"}},
        BadConfig{"QueueSizeOne",
                  kDrive + "queue_size = 1\n",
                  "4:14",
                  {"queue_size must be between 2 and 1024, not 1"}},
        BadConfig{"QueueSizeTooBig",
                  kDrive + "queue_size = 2048\n",
                  "4:14",
                  {"between 2 and 1024, not 2048"}},
        BadConfig{
            "QueueSizeHuge", kDrive + "queue_size = 4294967552\n", "4:14", {"not 4294967552"}},
        BadConfig{"QueueSizeNotPowerOfTwo",
                  kDrive + "queue_size = 100\n",
                  "4:14",
                  {"queue_size must be a power of two", "not 100"}},
        BadConfig{"SerialInteger",
                  kDrive + "serial = 12\n",
                  "4:10",
                  {"serial must be a string, not an integer"}},
        BadConfig{"SerialEmpty", kDrive + "serial = \"\"\n", "4:10", {"serial must not be empty"}},
        BadConfig{"SerialTooLong",
                  kDrive + "serial = \"123456789012345678901\"\n",
                  "4:10",
                  {"serial is 21 bytes long", "at most 20"}},
        BadConfig{"SerialControlCharacter",
                  kDrive + "serial = \"ab\\tc\"\n",
                  "4:10",
                  {"serial must be printable ASCII", "byte 3 is 0x09"}},
        BadConfig{"SerialNotAscii",
                  kDrive + "serial = \"disk\u00e9\"\n",
                  "4:10",
                  {"printable ASCII", "byte 5 is 0xc3"}},
        BadConfig{"DirectString",
                  kDrive + "direct = \"yes\"\n",
                  "4:10",
                  {"direct must be true or false, not a string"}},
        BadConfig{"LogicalBlockSize1024",
                  kDrive + "logical_block_size = 1024\n",
                  "4:22",
                  {"logical_block_size must be 512 or 4096, not 1024",
                   "leave it out for the backing's own block size"}},
        BadConfig{"LogicalBlockSize8192",
                  kDrive + "logical_block_size = 8192\n",
                  "4:22",
                  {"must be 512 or 4096, not 8192"}},
        BadConfig{"LogicalBlockSizeZero",
                  kDrive + "logical_block_size = 0\n",
                  "4:22",
                  {"must be 512 or 4096, not 0"}},
        BadConfig{"LogicalBlockSizeString",
                  kDrive + "logical_block_size = \"4k\"\n",
                  "4:22",
                  {"logical_block_size must be an integer, not a string"}},
        BadConfig{"PollString",
                  kDrive + "poll = \"yes\"\n",
                  "4:8",
                  {"poll must be true or false, not a string"}},
        BadConfig{"PollWithUring",
                  kDrive + "poll = true\nengine = \"uring\"\n",
                  "4:8",
                  {"poll = true needs engine = \"nvme\"", "not for engine \"uring\""}},
        BadConfig{"PollWithNull",
                  "[[drive]]\nid = \"n\"\nengine = \"null\"\npoll = true\n",
                  "4:8",
                  {"poll = true needs engine = \"nvme\"", "not for engine \"null\""}},
        BadConfig{"SizeMibString",
                  "[[drive]]\nid = \"n\"\nengine = \"null\"\nsize_mib = \"1G\"\n",
                  "4:12",
                  {"size_mib must be an integer, not a string"}},
        BadConfig{"SizeMibZero",
                  "[[drive]]\nid = \"n\"\nengine = \"null\"\nsize_mib = 0\n",
                  "4:12",
                  {"size_mib must be between 1 and 16777216 (16 TiB), not 0"}},
        BadConfig{"SizeMibTooBig",
                  "[[drive]]\nid = \"n\"\nengine = \"null\"\nsize_mib = 16777217\n",
                  "4:12",
                  {"not 16777217"}},
        BadConfig{"SizeMibOnAFileDrive",
                  kDrive + "size_mib = 64\n",
                  "4:1",
                  {"size_mib applies only to engine = \"null\" drives without a path"}},
        BadConfig{"SizeMibOnANullDriveWithAPath",
                  kDrive + "engine = \"null\"\nsize_mib = 64\n",
                  "5:1",
                  {"size_mib applies only to engine = \"null\" drives without a path"}},
        BadConfig{"SizeMibBeforeTheEngine",
                  "[[drive]]\nid = \"n\"\nsize_mib = 64\nengine = \"uring\"\npath = \"d\"\n",
                  "3:1",
                  {"size_mib applies only"}},
        // [drive.rate_limit] (docs/rate-limits.md).
        BadConfig{"RateLimitSizeZero",
                  kDrive + "[drive.rate_limit]\nops = { size = 0, refill_time_ms = 1000 }\n",
                  "5:16",
                  {"rate_limit.ops.size must be between 1 and", "not 0"}},
        BadConfig{"RateLimitNegativeRefill",
                  kDrive + "[drive.rate_limit]\nbandwidth = { size = 4096, refill_time_ms = -5 }\n",
                  "5:45",
                  {"rate_limit.bandwidth.refill_time_ms must be between 1 and 3600000", "not -5"}},
        BadConfig{"RateLimitAbsurdSize",
                  kDrive + "[drive.rate_limit]\nbandwidth = { size = 9000000000000000000, "
                           "refill_time_ms = 1 }\n",
                  "5:22",
                  {"rate_limit.bandwidth.size must be between 1 and 1125899906842624"}},
        BadConfig{"RateLimitNegativeBurst",
                  kDrive + "[drive.rate_limit]\nops = { size = 10, refill_time_ms = 1, "
                           "one_time_burst = -1 }\n",
                  "5:57",
                  {"rate_limit.ops.one_time_burst must be between 0 and", "not -1"}},
        BadConfig{"RateLimitBurstWithoutABucket",
                  kDrive + "[drive.rate_limit]\nops = { one_time_burst = 100 }\n",
                  "5:7",
                  {"rate_limit.ops needs both size and refill_time_ms"}},
        BadConfig{"RateLimitSizeWithoutRefill",
                  kDrive + "[drive.rate_limit.bandwidth]\nsize = 1000\n",
                  "4:1",
                  {"rate_limit.bandwidth needs both size and refill_time_ms"}},
        BadConfig{
            "RateLimitEmpty", kDrive + "[drive.rate_limit]\n", "4:1", {"rate_limit sets no limit"}},
        BadConfig{"RateLimitUnknownBucket",
                  kDrive + "[drive.rate_limit]\niops = { size = 1, refill_time_ms = 1 }\n",
                  "5:1",
                  {"unknown key \"iops\" in [drive.rate_limit]", "ops, bandwidth"}},
        BadConfig{
            "RateLimitUnknownKey",
            kDrive + "[drive.rate_limit]\nops = { size = 1, refill = 1 }\n",
            "5:19",
            {"unknown key \"refill\" in rate_limit.ops", "size, refill_time_ms, one_time_burst"}},
        BadConfig{"RateLimitNotATable",
                  kDrive + "rate_limit = 1000\n",
                  "4:14",
                  {"[rate_limit] must be a table, not an integer"}},
        BadConfig{"RateLimitFloat",
                  kDrive + "[drive.rate_limit]\nops = { size = 1.5, refill_time_ms = 1 }\n",
                  "5:16",
                  {"size must be an integer, not a floating-point number"}}),
    [](const ::testing::TestParamInfo<BadConfig>& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace nvmevm
