// Who may send NVMe passthrough I/O. Before Linux 6.2 every command through the generic device
// (/dev/ngXnY), reads and writes included, needs CAP_SYS_ADMIN; from 6.2 on, I/O commands need
// only the file opened for reading (reads) or writing (writes), which nvmevm does at setup
// (the kernel's nvme_cmd_allowed). The sandbox (vmm/confinement.h) asks before it drops root.
#pragma once

#include <string_view>

namespace nvmevm {

// For a kernel release string ("6.1.0-57-cloud-amd64"): true when passthrough I/O needs
// CAP_SYS_ADMIN there (before 6.2, or a release that cannot be read).
[[nodiscard]] bool nvme_passthrough_needs_admin(std::string_view release);

// The same for the running kernel (uname).
[[nodiscard]] bool nvme_passthrough_needs_admin_here();

}  // namespace nvmevm
