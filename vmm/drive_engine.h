// The one place a drive's config becomes an engine and a backing: the machine's choice
// (vmm/block_devices.cc calls it for every [[drive]] before anything else is built). Nothing
// below the machine knows the concrete kinds: storage/ has the backing interface, the file and
// null backings and their engines, nvme/ the NVMe backing and its engine, and virtio/ asks a
// device's backing for its engine (Backing::make_engine).
#pragma once

#include <memory>

#include "storage/backing.h"
#include "vmm/vm_config.h"

namespace nvmevm {

struct DriveBacking {
    DriveEngine engine = DriveEngine::uring;  // as resolved: uring, nvme or null, never automatic
    std::shared_ptr<const Backing> backing;   // the kind that makes that engine
};

// Resolves engine = "auto", opens the backing the engine needs and applies the rules for
// `poll`:
//   null   no file without a path (null_size_mib, serial = the id); with one, that file's shape
//   uring  the file or block device (FileBacking)
//   nvme   the namespace's generic device (NvmeBacking)
//   auto   nvme for a path that names an NVMe namespace with a generic device (/dev/ngXnY, or
//          /dev/nvmeXnY with its ngXnY sibling), uring for anything else. When passthrough
//          cannot open such a namespace (no permission on the generic device, metadata in the
//          LBA format), auto decides for io_uring on the block device and logs that decision,
//          with the drive and the reason, as a warning; not for a polled drive, which only
//          passthrough can serve (an error).
// Throws std::runtime_error naming the drive: a backing that cannot be opened (an explicit
// engine = "nvme" included), `poll` without passthrough, polling refused on this host.
[[nodiscard]] DriveBacking open_drive(const DriveConfig& drive);

}  // namespace nvmevm
