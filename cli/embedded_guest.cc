#include "cli/embedded_guest.h"

#ifdef NVMEVM_EMBEDDED_GUEST
extern "C" const uint8_t nvmevm_embedded_guest_start[];
extern "C" const uint8_t nvmevm_embedded_guest_end[];
#endif

namespace nvmevm {

std::span<const uint8_t> embedded_guest() {
#ifdef NVMEVM_EMBEDDED_GUEST
    return {nvmevm_embedded_guest_start, nvmevm_embedded_guest_end};
#else
    return {};
#endif
}

}  // namespace nvmevm
