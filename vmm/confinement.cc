#include "vmm/confinement.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "foundation/unique_fd.h"

namespace nvmevm {
namespace {

[[noreturn]] void fail(const std::string& step) {
    throw ConfinementError("sandbox: " + step + ": " + std::strerror(errno));
}

// The highest fd open now (from /proc/self/fd, before the root changes), or -1.
int highest_open_fd() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    int highest = -1;
    while (const dirent* entry = ::readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end != entry->d_name && *end == '\0') highest = std::max(highest, static_cast<int>(fd));
    }
    ::closedir(dir);
    return highest;
}

// Single-threaded: namespaces and the root are per thread, so another thread would keep the
// host's view.
bool single_threaded() {
    DIR* dir = ::opendir("/proc/self/task");
    if (dir == nullptr) return false;
    int tasks = 0;
    while (const dirent* entry = ::readdir(dir))
        if (entry->d_name[0] != '.') ++tasks;
    ::closedir(dir);
    return tasks == 1;
}

void join_cgroup(const std::string& folder) {
    const std::string procs = folder + "/cgroup.procs";
    const UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) fail("open " + procs);
    // "0" is the writer itself.
    if (::write(fd.get(), "0", 1) != 1) fail("join cgroup " + folder);
}

void enter_namespaces_and_empty_root() {
    if (::unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0)
        fail("unshare(mount, IPC, UTS, network namespaces)");
    // Nothing done below may reach the host's mounts.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make / private");
    // An empty, read-only tmpfs becomes the root. /tmp is only where it is mounted first (in
    // this namespace alone), and exists on every Linux system.
    if (::mount("nvmevm-root", "/tmp", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,nr_inodes=2,mode=0555") != 0)
        fail("mount an empty tmpfs");
    if (::chdir("/tmp") != 0) fail("chdir to the new root");
    if (::syscall(SYS_pivot_root, ".", ".") == 0) {
        // The old root is stacked under the new one: detach it, and nothing of the host is left.
        if (::umount2(".", MNT_DETACH) != 0) fail("detach the old root");
    } else if (errno == EINVAL) {
        // The root is the initramfs (rootfs), which pivot_root cannot put away (an initramfs
        // system such as the lab's L1): the tmpfs is moved over / and made the root with chroot,
        // as container runtimes do there. No host path stays reachable, and the way out of a
        // chroot (chroot again) needs a capability the uid drop below takes away and a system
        // call the seccomp filter refuses.
        if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) fail("move the new root over /");
        if (::chroot(".") != 0) fail("chroot");
    } else {
        fail("pivot_root");
    }
    if (::chdir("/") != 0) fail("chdir /");
    if (::sethostname("nvmevm", 6) != 0) fail("sethostname");
}

void set_limit(int resource, rlim_t value, const char* what) {
    const rlimit limit{value, value};
    if (::setrlimit(resource, &limit) != 0) fail(std::string("setrlimit ") + what);
}

void drop_privileges(uid_t uid, gid_t gid) {
    if (::setgroups(0, nullptr) != 0) fail("setgroups(none)");
    if (::setresgid(gid, gid, gid) != 0) fail("setresgid " + std::to_string(gid));
    if (::setresuid(uid, uid, uid) != 0) fail("setresuid " + std::to_string(uid));
    // A drop that could be undone is no drop.
    if (uid != 0 && ::setuid(0) == 0) {
        errno = EPERM;
        fail("uid 0 could be taken back");
    }
}

}  // namespace

ConfinementReport confine_process(const ConfinementPlan& plan) {
    ConfinementReport report;
    report.open_fds = highest_open_fd() + 1;
    const SandboxConfig& sandbox = plan.sandbox;
    bool apply = sandbox.mode == SandboxMode::on;
    if (sandbox.mode == SandboxMode::automatic) {
        if (::geteuid() != 0)
            report.skipped_because = "not started as root";
        else if (!single_threaded())
            report.skipped_because = "other threads already run";
        else
            apply = true;
    }
    if (apply) {
        if (::geteuid() != 0) {
            errno = EPERM;
            fail("needs root (sandbox = true)");
        }
        if (!single_threaded()) {
            errno = EBUSY;
            fail("other threads already run");
        }
        if (!sandbox.cgroup.empty()) join_cgroup(sandbox.cgroup);
        enter_namespaces_and_empty_root();
        if (plan.memlock_bytes != 0) set_limit(RLIMIT_MEMLOCK, plan.memlock_bytes, "MEMLOCK");
        if (plan.keep_root_because.empty())
            drop_privileges(sandbox.uid, sandbox.gid);
        else
            report.kept_root = true;
        report.sandboxed = true;
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("PR_SET_NO_NEW_PRIVS");
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail("PR_SET_DUMPABLE");
    set_limit(RLIMIT_CORE, 0, "CORE");
    if (report.open_fds > 0)
        set_limit(RLIMIT_NOFILE, static_cast<rlim_t>(report.open_fds) + plan.fd_headroom, "NOFILE");
    if (plan.max_file_bytes != 0) {
        // Past the limit a write fails with EFBIG instead of killing the process.
        ::signal(SIGXFSZ, SIG_IGN);
        set_limit(RLIMIT_FSIZE, plan.max_file_bytes, "FSIZE");
    }
    return report;
}

}  // namespace nvmevm
