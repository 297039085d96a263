// Names of NVMe namespace devices: the block device /dev/nvmeXnY and the generic character
// device /dev/ngXnY the passthrough engine opens. A library of its own so that the config
// checker can use it without the engine.
#pragma once

#include <optional>
#include <string>

namespace nvmevm {

// "/dev/nvme0n1" -> "/dev/ng0n1"; "/dev/ng0n1" -> itself; nullopt for any other name (a
// partition such as nvme0n1p1 has no generic device). Pure: looks at the name only.
[[nodiscard]] std::optional<std::string> nvme_generic_path(const std::string& path);
// The block device name of a generic device path, for its sysfs limits: "/dev/ng0n1" ->
// "nvme0n1"; empty when the name does not fit.
[[nodiscard]] std::string nvme_block_name(const std::string& generic_path);
// True when `path` names an NVMe namespace whose generic character device exists (what
// engine = "auto" checks).
[[nodiscard]] bool is_nvme_namespace(const std::string& path);

}  // namespace nvmevm
