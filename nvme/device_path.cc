#include "nvme/device_path.h"

#include <sys/stat.h>

namespace nvmevm {
namespace {

// "nvme0n1" / "ng0n1" -> the "0n1" part, when the rest is digits 'n' digits.
std::optional<std::string> namespace_suffix(const std::string& name, const std::string& prefix) {
    if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    const std::string rest = name.substr(prefix.size());
    const size_t n = rest.find('n');
    if (n == 0 || n == std::string::npos || n + 1 == rest.size()) return std::nullopt;
    for (size_t i = 0; i < rest.size(); ++i)
        if (i != n && (rest[i] < '0' || rest[i] > '9')) return std::nullopt;
    return rest;
}

}  // namespace

std::optional<std::string> nvme_generic_path(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (namespace_suffix(name, "ng")) return path;
    if (auto suffix = namespace_suffix(name, "nvme")) return folder + "ng" + *suffix;
    return std::nullopt;
}

std::string nvme_block_name(const std::string& generic_path) {
    const size_t slash = generic_path.find_last_of('/');
    const std::string name =
        slash == std::string::npos ? generic_path : generic_path.substr(slash + 1);
    auto suffix = namespace_suffix(name, "ng");
    return suffix ? "nvme" + *suffix : std::string();
}

bool is_nvme_namespace(const std::string& path) {
    const std::optional<std::string> generic = nvme_generic_path(path);
    struct stat st {};
    return generic && ::stat(generic->c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

}  // namespace nvmevm
