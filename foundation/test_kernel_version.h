// A test helper: whether the running kernel is Linux major.minor or later, for tests whose
// expectation changed with a kernel release (repeating io_uring timeouts in 6.4, O_DIRECT on
// tmpfs in 6.6). Debian 12's own kernel is 6.1; machines of this project run either.
#pragma once

#include <sys/utsname.h>

#include <cstdio>

namespace nvmevm::testing {

// False when uname cannot be read or says something else than "major.minor...".
inline bool kernel_at_least(int major, int minor) {
    utsname name{};
    int have_major = 0, have_minor = 0;
    if (::uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &have_major, &have_minor) != 2)
        return false;
    return have_major > major || (have_major == major && have_minor >= minor);
}

}  // namespace nvmevm::testing
