// SourceLocation is declared with VmConfig (vmm/vm_config.h); only the config code formats it.
#include <string>

#include "vmm/vm_config.h"

namespace nvmevm {

std::string SourceLocation::str() const {
    // A command-line flag has no line: "command line: --vcpus" says all there is.
    if (line == 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace nvmevm
