// memcpy to or from a shared file mapping that survives the SIGBUS such a mapping raises when
// the page behind an address cannot be had: the file was truncated under the mapping, or its
// filesystem (tmpfs) is full and cannot fill a hole being written. The copy then says it
// failed, and the caller does the same work with a system call, which returns the error
// (pwritev: ENOSPC) instead of killing the process.
#pragma once

#include <cstddef>

namespace nvmevm {

// Installs the process's SIGBUS handler; once per process, any thread, any number of calls.
// A SIGBUS outside a guarded copy still kills the process, as it would without the handler.
void install_guarded_copy_handler();

// Copies n bytes; false (the destination partly written) if a SIGBUS hit the copy. Needs
// install_guarded_copy_handler() first.
[[nodiscard]] bool guarded_copy(void* destination, const void* source, size_t n) noexcept;

}  // namespace nvmevm
