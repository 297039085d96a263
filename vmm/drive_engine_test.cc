// open_drive, the one place a drive's config becomes an engine and a backing: what each engine
// name resolves to, which backing it opens, and the errors that name the drive. (The "auto"
// decision for a namespace passthrough cannot open needs an NVMe device: the lab's nvme
// scenarios.)
#include "vmm/drive_engine.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "storage/file_backing.h"
#include "storage/null_backing.h"
#include "storage/test_files.h"

namespace nvmevm {
namespace {

using testing::ScratchFile;

DriveConfig drive(DriveEngine engine, const std::string& path = {}) {
    DriveConfig d;
    d.id = "d0";
    d.engine = engine;
    d.path = path;
    d.null_size_mib = 8;
    return d;
}

// The message of what open_drive throws, or "" when it does not.
std::string error_of(const DriveConfig& d) {
    try {
        (void)open_drive(d);
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

TEST(DriveEngineNames, OneTableBothWays) {
    for (const auto& [engine, name] : kDriveEngineNames) {
        EXPECT_EQ(to_string(engine), name);
        EXPECT_EQ(parse_drive_engine(name), engine);
    }
    EXPECT_EQ(to_string(DriveEngine::automatic), "auto");
    EXPECT_EQ(parse_drive_engine("aio"), std::nullopt);
    EXPECT_EQ(parse_drive_engine("automatic"), std::nullopt);
}

TEST(OpenDrive, NullWithoutAPathHasNoFile) {
    const DriveBacking opened = open_drive(drive(DriveEngine::null));
    EXPECT_EQ(opened.engine, DriveEngine::null);
    ASSERT_NE(dynamic_cast<const NullBacking*>(opened.backing.get()), nullptr);
    EXPECT_EQ(opened.backing->capacity(), 8u << 20);
    EXPECT_EQ(opened.backing->serial(), "d0");  // the id, without a serial
}

TEST(OpenDrive, NullWithAPathHasTheFilesShape) {
    const ScratchFile file("/tmp", 1 << 20);
    const DriveBacking opened = open_drive(drive(DriveEngine::null, file.path()));
    EXPECT_EQ(opened.engine, DriveEngine::null);
    ASSERT_NE(dynamic_cast<const NullBacking*>(opened.backing.get()), nullptr);
    EXPECT_EQ(opened.backing->capacity(), 1u << 20);
    EXPECT_EQ(opened.backing->serial(), serial_from_path(file.path()));
}

TEST(OpenDrive, UringAndAutoOnAFileOpenTheFile) {
    const ScratchFile file("/tmp", 1 << 20);
    for (const DriveEngine engine : {DriveEngine::uring, DriveEngine::automatic}) {
        const DriveBacking opened = open_drive(drive(engine, file.path()));
        EXPECT_EQ(opened.engine, DriveEngine::uring) << to_string(engine);
        EXPECT_NE(dynamic_cast<const FileBacking*>(opened.backing.get()), nullptr);
        EXPECT_EQ(opened.backing->capacity(), 1u << 20);
    }
}

// An explicit engine never falls back: passthrough that cannot open is an error naming the drive.
TEST(OpenDrive, ExplicitNvmeThatCannotOpenIsAnErrorNamingTheDrive) {
    const ScratchFile file("/tmp", 1 << 20);
    const std::string error = error_of(drive(DriveEngine::nvme, file.path()));
    EXPECT_EQ(error.rfind("drive d0: ", 0), 0u) << error;
    EXPECT_NE(error.find("not an NVMe namespace"), std::string::npos) << error;
    // A namespace name whose generic device does not exist (no NVMe here, or not that one).
    const std::string missing = error_of(drive(DriveEngine::nvme, "/dev/nvme99n99"));
    EXPECT_EQ(missing.rfind("drive d0: open /dev/ng99n99", 0), 0u) << missing;
}

TEST(OpenDrive, OpenErrorsNameTheDrive) {
    const std::string error = error_of(drive(DriveEngine::uring, "/nonexistent/disk.img"));
    EXPECT_EQ(error.rfind("drive d0: open /nonexistent/disk.img", 0), 0u) << error;
}

TEST(OpenDrive, PollNeedsPassthrough) {
    const ScratchFile file("/tmp", 1 << 20);
    for (const DriveEngine engine : {DriveEngine::automatic, DriveEngine::uring}) {
        DriveConfig d = drive(engine, file.path());
        d.poll = true;
        EXPECT_EQ(error_of(d), "drive d0: poll = true needs the nvme engine") << to_string(engine);
    }
}

}  // namespace
}  // namespace nvmevm
