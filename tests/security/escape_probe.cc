// The escape probe (docs/security.md): nvmevm's own confinement, the very functions `nvmevm run`
// calls (confine_process, install_seccomp_filter, and the ring restrictions of a vCPU's ring),
// applied in a child process per attempt, and then each thing a compromised nvmevm would try.
// Every attempt must fail with EPERM, EACCES, ENOSYS (or, past the empty root, ENOENT/EROFS) or
// stop the child (the filter's exit code 6). Each attempt also runs under the sandbox alone,
// without the filter, to show what that layer holds by itself (printed, not required).
//
// usage: nvmevm_escape_probe     exit 0: every attempt failed under the full confinement
// Needs root (the sandbox does); tests/security/escape-probe.sh runs it in the lab otherwise.
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "foundation/io_ring.h"
#include "virtio/blk_vcpu_service.h"
#include "vmm/confinement.h"
#include "vmm/seccomp.h"

namespace {

using nvmevm::ConfinementPlan;

// What an attempt reports through the child's exit code.
constexpr int kSucceeded = 100;
constexpr int kFailedErrnoBase = 1;  // 1 + errno (errno < 99)

struct Attempt {
    const char* name;
    std::function<int()> run;  // 0 on success, else errno (an io_uring CQE's -res)
};

int result_of(long rc) {
    return rc >= 0 ? 0 : errno;
}

struct Result final : nvmevm::IoCompletion {
    int32_t res = 1;
    void complete(int32_t r) noexcept override { res = r; }
};

int ring_op(nvmevm::IoRing& ring, const std::function<void(io_uring_sqe*)>& prepare) {
    io_uring_sqe* sqe = ring.get_sqe();
    if (sqe == nullptr) return EBUSY;
    prepare(sqe);
    Result result;
    io_uring_sqe_set_data64(sqe, nvmevm::RingData::of(&result));
    if (ring.submit() < 0 || ring.wait(1) != 0) return EIO;
    ring.reap();
    return result.res >= 0 ? 0 : -result.res;
}

std::vector<Attempt> attempts(pid_t parent, nvmevm::IoRing* ring) {
    std::vector<Attempt> list;
    list.push_back({"read a host file by absolute path (/etc/passwd)",
                    [] { return result_of(::open("/etc/passwd", O_RDONLY | O_CLOEXEC)); }});
    list.push_back({"create a file under /",
                    [] { return result_of(::open("/nvmevm-escape", O_CREAT | O_WRONLY, 0600)); }});
    list.push_back({"open /proc/<parent>/mem for writing", [parent] {
                        const std::string path = "/proc/" + std::to_string(parent) + "/mem";
                        return result_of(::open(path.c_str(), O_RDWR));
                    }});
    list.push_back({"setuid(0) after the drop", [] { return result_of(::setuid(0)); }});
    list.push_back({"create a user namespace", [] { return result_of(::unshare(CLONE_NEWUSER)); }});
    list.push_back(
        {"mount a tmpfs", [] { return result_of(::mount("x", "/", "tmpfs", 0, nullptr)); }});
    list.push_back(
        {"socket(AF_INET)", [] { return result_of(::socket(AF_INET, SOCK_STREAM, 0)); }});
    list.push_back({"execve /bin/sh", [] {
                        char sh[] = "/bin/sh";
                        char* const argv[] = {sh, nullptr};
                        return result_of(::execve(sh, argv, environ));
                    }});
    list.push_back({"ptrace(ATTACH) the parent", [parent] {
                        return result_of(::ptrace(PTRACE_ATTACH, parent, nullptr, nullptr));
                    }});
    list.push_back({"process_vm_writev into the parent", [parent] {
                        char byte = 0;
                        iovec local{&byte, 1};
                        iovec remote{&byte, 1};
                        return result_of(::process_vm_writev(parent, &local, 1, &remote, 1, 0));
                    }});
    list.push_back({"kill the parent", [parent] { return result_of(::kill(parent, 0)); }});
    list.push_back({"tgkill the parent",
                    [parent] { return result_of(::syscall(SYS_tgkill, parent, parent, 0)); }});
    list.push_back({"mmap PROT_EXEC", [] {
                        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        return p == MAP_FAILED ? errno : 0;
                    }});
    list.push_back({"mprotect to PROT_EXEC", [] {
                        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        return result_of(::mprotect(p, 4096, PROT_READ | PROT_EXEC));
                    }});
    list.push_back({"ioctl(TIOCSTI) on stdin", [] {
                        char c = 'x';
                        return result_of(::ioctl(STDIN_FILENO, TIOCSTI, &c));
                    }});
    list.push_back({"io_uring_setup (a new, unrestricted ring)", [] {
                        io_uring_params params{};
                        return result_of(::syscall(SYS_io_uring_setup, 4, &params));
                    }});
    list.push_back({"IORING_OP_OPENAT on a vCPU's ring", [ring] {
                        return ring_op(*ring, [](io_uring_sqe* sqe) {
                            io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
                        });
                    }});
    list.push_back({"IORING_OP_SOCKET on a vCPU's ring", [ring] {
                        return ring_op(*ring, [](io_uring_sqe* sqe) {
                            io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
                        });
                    }});
    return list;
}

// Runs attempt `index` in a child confined as `plan` says (and filtered when `filter`).
std::string run_confined(size_t index, bool filter, const ConfinementPlan& plan, bool& blocked) {
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child == 0) {
        // The vCPU ring, made and sealed as the machine makes it, before confinement.
        nvmevm::IoRing ring(8, IORING_SETUP_R_DISABLED);
        ring.restrict_and_enable(nvmevm::BlkVcpuService::restrictions(false));
        try {
            (void)nvmevm::confine_process(plan);
            if (filter) nvmevm::install_seccomp_filter();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "confinement failed: %s\n", e.what());
            ::_exit(99);
        }
        const int err = attempts(parent, &ring)[index].run();
        ::_exit(err == 0 ? kSucceeded : kFailedErrnoBase + std::min(err, 98));
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    blocked = true;
    if (WIFEXITED(status) && WEXITSTATUS(status) == nvmevm::kSeccompViolationExit)
        return "stopped by the seccomp filter (exit 6)";
    if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 99) {
        blocked = false;
        return "CONFINEMENT FAILED";
    }
    if (code == kSucceeded) {
        blocked = false;
        return "SUCCEEDED";
    }
    const int err = code - kFailedErrnoBase;
    const bool expected =
        err == EPERM || err == EACCES || err == ENOSYS || err == ENOENT || err == EROFS;
    if (!expected) blocked = false;
    return std::string("failed: ") + strerrorname_np(err) + (expected ? "" : " (UNEXPECTED)");
}

}  // namespace

int main() {
    if (::geteuid() != 0) {
        std::fprintf(stderr, "escape probe: needs root (the sandbox does)\n");
        return 77;
    }
    ConfinementPlan plan;
    plan.sandbox.mode = nvmevm::SandboxMode::on;
    const size_t count = attempts(0, nullptr).size();
    int escaped = 0;
    // The state confine_process leaves, as the confined process itself sees it.
    const pid_t child = ::fork();
    if (child == 0) {
        try {
            const nvmevm::ConfinementReport report = nvmevm::confine_process(plan);
            rlimit core{};
            rlimit files{};
            ::getrlimit(RLIMIT_CORE, &core);
            ::getrlimit(RLIMIT_NOFILE, &files);
            char host[64] = {};
            ::gethostname(host, sizeof host - 1);
            std::printf(
                "confined: sandboxed=%d uid=%u gid=%u groups=%d dumpable=%d "
                "no_new_privs=%d RLIMIT_CORE=%llu RLIMIT_NOFILE=%llu hostname=%s "
                "/etc/passwd %s\n",
                report.sandboxed ? 1 : 0, ::getuid(), ::getgid(), ::getgroups(0, nullptr),
                ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
                static_cast<unsigned long long>(core.rlim_cur),
                static_cast<unsigned long long>(files.rlim_cur), host,
                ::access("/etc/passwd", F_OK) == 0 ? "visible" : "gone");
        } catch (const std::exception& e) {
            std::printf("confinement failed: %s\n", e.what());
        }
        std::fflush(stdout);
        ::_exit(0);
    }
    ::waitpid(child, nullptr, 0);
    std::printf("%-46s | %-40s | %s\n", "attempt", "sandbox + seccomp (nvmevm run)",
                "sandbox alone");
    for (size_t i = 0; i < count; ++i) {
        bool blocked = false;
        bool alone_blocked = false;
        const std::string full = run_confined(i, true, plan, blocked);
        const std::string alone = run_confined(i, false, plan, alone_blocked);
        std::printf("%-46s | %-40s | %s\n", attempts(0, nullptr)[i].name, full.c_str(),
                    alone.c_str());
        std::fflush(stdout);
        if (!blocked) ++escaped;
    }
    std::printf("escape probe: %zu attempts, %d got through the full confinement\n", count,
                escaped);
    return escaped == 0 ? 0 : 1;
}
