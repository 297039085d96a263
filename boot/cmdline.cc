#include "boot/cmdline.h"

#include <algorithm>
#include <string>
#include <vector>

#include "boot/format.h"
#include "boot/kernel_image.h"
#include "boot/layout.h"

namespace nvmevm {

uint64_t write_cmdline(const GuestMemory& memory, std::string_view cmdline, uint64_t max_length) {
    const uint64_t limit = std::min(max_length, layout::kCmdlineMax - 1);
    if (cmdline.size() > limit) {
        throw BootError("kernel command line is " + std::to_string(cmdline.size()) +
                        " bytes; this kernel accepts at most " + std::to_string(limit));
    }
    // The kernel reads a C string: an embedded NUL would silently drop the rest.
    if (cmdline.find('\0') != std::string_view::npos) {
        throw BootError("kernel command line contains a NUL byte");
    }
    std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
    bytes.push_back(0);
    if (!memory.write(GuestAddress{layout::kCmdline}, bytes)) {
        throw BootError("guest RAM too small for the command line at " + hex(layout::kCmdline));
    }
    return layout::kCmdline;
}

}  // namespace nvmevm
