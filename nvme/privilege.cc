#include "nvme/privilege.h"

#include <sys/utsname.h>

#include <cstdio>
#include <string>

namespace nvmevm {

bool nvme_passthrough_needs_admin(std::string_view release) {
    int major = 0;
    int minor = 0;
    if (std::sscanf(std::string(release).c_str(), "%d.%d", &major, &minor) != 2) return true;
    return major < 6 || (major == 6 && minor < 2);
}

bool nvme_passthrough_needs_admin_here() {
    utsname name{};
    if (::uname(&name) != 0) return true;
    return nvme_passthrough_needs_admin(name.release);
}

}  // namespace nvmevm
