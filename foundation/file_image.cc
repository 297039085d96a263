#include "foundation/file_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <system_error>

#include "foundation/unique_fd.h"

namespace nvmevm {

FileImage FileImage::open(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw std::system_error(errno, std::generic_category(), path.string());
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        throw std::system_error(errno, std::generic_category(), path.string());
    FileImage image;
    if (st.st_size == 0) return image;
    const auto size = static_cast<size_t>(st.st_size);
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (addr == MAP_FAILED) throw std::system_error(errno, std::generic_category(), path.string());
    image.mapping_ = Mapping(addr, size);
    return image;
}

}  // namespace nvmevm
