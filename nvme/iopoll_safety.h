// Whether this host kernel can poll NVMe passthrough commands (IORING_SETUP_IOPOLL with
// IORING_OP_URING_CMD on /dev/ngXnY) without crashing.
//
// Before Linux 6.6, nvme_ns_chr_uring_cmd_iopoll polled through a bio pointer kept in the
// io_uring command, and that bio is freed when the command completes: a poll racing with a
// completion reads freed memory. The lab's Debian 6.1.192 kernel hit it under `poll = true`
// ("general protection fault ... RIP: bio_poll", called from nvme_ns_chr_uring_cmd_iopoll,
// in nvmevm's io_uring_enter, while L2 unmounted ext4 after its I/O). Linux 6.6 keeps the
// request instead and marks polled commands (IORING_URING_CMD_POLLED). A guest must not be able
// to crash its host, so nvmevm refuses `poll = true` on older kernels.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nvmevm {

// The first kernel release whose NVMe passthrough polling nvmevm uses.
inline constexpr int kSafeIopollMajor = 6;
inline constexpr int kSafeIopollMinor = 6;

// For a kernel release string ("6.1.0-56-cloud-amd64", as uname -r prints it): why polling
// NVMe passthrough is refused there, or nothing when it is allowed. An unparsable release is
// refused too.
[[nodiscard]] std::optional<std::string> nvme_iopoll_refusal(std::string_view release);

// The same for the running kernel (uname).
[[nodiscard]] std::optional<std::string> nvme_iopoll_refusal_here();

}  // namespace nvmevm
