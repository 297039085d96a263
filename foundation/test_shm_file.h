// A test helper: two pages of a /dev/shm file, mapped shared, the kind of mapping guarded
// copies are for (foundation/guarded_copy.h), which a test can take away to make SIGBUS.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "foundation/mapping.h"
#include "foundation/unique_fd.h"

namespace nvmevm::testing {

constexpr size_t kPage = 4096;

struct MappedShmFile {
    UniqueFd fd;
    Mapping mapping;

    MappedShmFile() {
        char path[] = "/dev/shm/nvmevm-guarded-copy.XXXXXX";
        fd = UniqueFd(::mkstemp(path));
        if (!fd.valid()) std::abort();
        ::unlink(path);
        if (::ftruncate(fd.get(), 2 * kPage) != 0) std::abort();
        mapping = Mapping::of_fd(fd.get(), 2 * kPage);
    }
    uint8_t* bytes() const { return static_cast<uint8_t*>(mapping.get()); }
    // Every page behind the mapping goes: touching it now raises SIGBUS.
    void shrink_to_nothing() const {
        if (::ftruncate(fd.get(), 0) != 0) std::abort();
    }
};

}  // namespace nvmevm::testing
