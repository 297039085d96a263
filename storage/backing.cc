#include "storage/backing.h"

namespace nvmevm {

std::string serial_from_path(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (name.size() > 20) name = name.substr(name.size() - 20);
    for (char& c : name)
        if (c < 0x20 || c > 0x7e) c = '_';
    return name;
}

}  // namespace nvmevm
