#include "nvme/iopoll_safety.h"

#include <sys/utsname.h>

#include <charconv>

namespace nvmevm {
namespace {

// Reads a decimal number at the front of `text` and drops it; nothing when there is none.
std::optional<int> take_number(std::string_view& text) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    return value;
}

}  // namespace

std::optional<std::string> nvme_iopoll_refusal(std::string_view release) {
    std::string_view rest = release;
    const std::optional<int> major = take_number(rest);
    std::optional<int> minor;
    if (major && !rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        minor = take_number(rest);
    }
    const std::string safe =
        std::to_string(kSafeIopollMajor) + "." + std::to_string(kSafeIopollMinor);
    if (!major || !minor)
        return "cannot tell the kernel version from \"" + std::string(release) +
               "\"; polled NVMe passthrough needs Linux " + safe + " or later";
    if (*major > kSafeIopollMajor || (*major == kSafeIopollMajor && *minor >= kSafeIopollMinor))
        return std::nullopt;
    return "Linux " + std::to_string(*major) + "." + std::to_string(*minor) +
           " can crash while polling NVMe passthrough commands (a use-after-free in "
           "nvme_ns_chr_uring_cmd_iopoll, fixed in " +
           safe + "); leave poll out on this host";
}

std::optional<std::string> nvme_iopoll_refusal_here() {
    utsname name{};
    if (::uname(&name) != 0) return nvme_iopoll_refusal("");
    return nvme_iopoll_refusal(name.release);
}

}  // namespace nvmevm
