// What nvmevm does to itself once the VM is built and before any vCPU runs guest code
// (docs/security.md), beside the seccomp filter (vmm/seccomp.h, installed right after, on every
// thread):
//   sandbox     (as root) new mount, IPC, UTS and network namespaces; an empty, read-only tmpfs
//               as the root (pivot_root: no host path is reachable any more); the process in a
//               given cgroup v2; then a drop to an unprivileged uid/gid with no supplementary
//               groups. Everything the VM needs is open before it.
//   hardening   (always) not dumpable (no core, no ptrace or /proc/PID/mem by same-uid
//               processes), no new privileges, RLIMIT_CORE 0, RLIMIT_NOFILE at the fds now open,
//               RLIMIT_FSIZE at the largest file it writes.
// `nvmevm run` and the escape probe (tests/security) call the same confine_process().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace nvmevm {

enum class SandboxMode : uint8_t {
    automatic,  // on when started as root (and the process is still single-threaded), else off
    on,         // required: an error when it cannot be had
    off,
};

struct SandboxConfig {
    SandboxMode mode = SandboxMode::automatic;
    uid_t uid = 65534;   // nobody
    gid_t gid = 65534;   // nogroup
    std::string cgroup;  // a cgroup v2 folder to join (e.g. /sys/fs/cgroup/vms/vm1); empty: none
};

struct ConfinementPlan {
    SandboxConfig sandbox;
    // RLIMIT_FSIZE: the largest regular file the VM writes (drives, console file); 0: no limit.
    uint64_t max_file_bytes = 0;
    // RLIMIT_MEMLOCK after the uid drop: guest RAM registered as io_uring fixed buffers counts
    // against it for an unprivileged user.
    uint64_t memlock_bytes = 0;
    // Not empty: the sandbox keeps uid 0 (namespaces and the empty root still apply), because a
    // drive needs root's capability (NVMe passthrough before Linux 6.2: nvme/privilege.h).
    std::string keep_root_because;
    // Descriptors allowed beyond the highest one open now (RLIMIT_NOFILE). 0 for nvmevm, which
    // opens nothing after setup; a sanitizer runtime needs a few (UBSan's vptr check probes
    // memory through a pipe, and reports a false "invalid vptr" when it cannot make one).
    unsigned fd_headroom = 0;
};

// What confine_process did, for the log and tests.
struct ConfinementReport {
    bool sandboxed = false;
    bool kept_root = false;       // the uid drop was left out (ConfinementPlan::keep_root_because)
    std::string skipped_because;  // why the sandbox was not applied in automatic mode
    int open_fds = 0;             // RLIMIT_NOFILE was set to the highest open fd + 1
};

class ConfinementError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Applies `plan` to the calling process. Must run on the only thread of the process when the
// sandbox applies (namespaces and pivot_root are per thread). Throws ConfinementError naming the
// step that failed; a process that got half way must not go on (the caller stops).
ConfinementReport confine_process(const ConfinementPlan& plan);

}  // namespace nvmevm
