// The test guest (tests/guest), built into the nvmevm binary so that `nvmevm bench` needs no
// file beside it: the same program a CI job or a user runs anywhere the binary is copied.
#pragma once

#include <cstdint>
#include <span>

namespace nvmevm {

// The guest's ELF (debug sections stripped); empty when nvmevm was built without the tests
// (BUILD_TESTING=OFF), which is where the guest is built.
[[nodiscard]] std::span<const uint8_t> embedded_guest();

}  // namespace nvmevm
