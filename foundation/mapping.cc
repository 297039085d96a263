#include "foundation/mapping.h"

#include <cerrno>
#include <system_error>

namespace nvmevm {

Mapping Mapping::anonymous(size_t size) {
    void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (addr == MAP_FAILED)
        throw std::system_error(errno, std::generic_category(), "mmap guest RAM");
    return Mapping(addr, size);
}

Mapping Mapping::of_fd(int fd, size_t size) {
    void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap fd");
    return Mapping(addr, size);
}

}  // namespace nvmevm
