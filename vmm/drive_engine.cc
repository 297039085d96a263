#include "vmm/drive_engine.h"

#include <stdexcept>
#include <system_error>

#include "foundation/log.h"
#include "nvme/backing.h"
#include "nvme/device_path.h"
#include "nvme/iopoll_safety.h"
#include "storage/file_backing.h"
#include "storage/null_backing.h"

namespace nvmevm {
namespace {

BackingOptions backing_options(const DriveConfig& drive) {
    BackingOptions options;
    options.path = drive.path.string();
    options.read_only = drive.read_only;
    options.direct = drive.direct;
    options.serial = drive.serial;
    return options;
}

// The backing `engine` (resolved) needs. Throws std::system_error.
std::shared_ptr<const Backing> open_backing(DriveEngine engine, const DriveConfig& drive) {
    switch (engine) {
        case DriveEngine::null:
            if (drive.path.empty())
                return NullBacking::make(drive.null_size_mib << 20,
                                         drive.serial.empty() ? drive.id : drive.serial);
            // The disk has the file's size and the rest of its shape; no request touches it.
            return NullBacking::shaped_like(FileBacking::open(backing_options(drive))->traits());
        case DriveEngine::nvme:
            return NvmeBacking::open(backing_options(drive));
        case DriveEngine::uring:
        case DriveEngine::automatic:
            break;
    }
    return FileBacking::open(backing_options(drive));
}

[[noreturn]] void fail(const DriveConfig& drive, const std::string& what) {
    throw std::runtime_error("drive " + drive.id + ": " + what);
}

// poll = true: NVMe passthrough only, and only where this host's kernel polls it safely.
void check_poll(const DriveConfig& drive, const DriveBacking& opened) {
    if (!drive.poll) return;
    // The config check lets poll through only for the nvme engine or "auto" on a namespace;
    // the engine is known for certain only now.
    const auto* nvme = dynamic_cast<const NvmeBacking*>(opened.backing.get());
    if (opened.engine != DriveEngine::nvme || nvme == nullptr)
        fail(drive, "poll = true needs the nvme engine");
    if (const auto refusal = nvme_iopoll_refusal_here()) fail(drive, "poll = true: " + *refusal);
    log_nvme_poll_support(nvme->ns().info);
}

}  // namespace

DriveBacking open_drive(const DriveConfig& drive) {
    DriveBacking opened;
    opened.engine = drive.engine;
    if (opened.engine == DriveEngine::automatic)
        opened.engine = !drive.path.empty() && is_nvme_namespace(drive.path.string())
                            ? DriveEngine::nvme
                            : DriveEngine::uring;
    try {
        opened.backing = open_backing(opened.engine, drive);
    } catch (const std::system_error& e) {
        const bool auto_nvme =
            drive.engine == DriveEngine::automatic && opened.engine == DriveEngine::nvme;
        if (!auto_nvme) fail(drive, e.what());
        if (drive.poll)
            fail(drive, std::string("poll = true needs NVMe passthrough, which is not possible "
                                    "here: ") +
                            e.what());
        // "auto"'s second choice, never a silent one: a namespace passthrough cannot drive is
        // still a block device io_uring can use.
        logf(LogLevel::warn,
             "drive %s: engine \"auto\": NVMe passthrough not possible (%s); using io_uring on "
             "the block device",
             drive.id.c_str(), e.what());
        opened.engine = DriveEngine::uring;
        try {
            opened.backing = open_backing(opened.engine, drive);
        } catch (const std::system_error& again) {
            fail(drive, again.what());
        }
    }
    check_poll(drive, opened);
    return opened;
}

}  // namespace nvmevm
