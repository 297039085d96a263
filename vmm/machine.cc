#include "vmm/machine.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <csignal>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "boot/kernel_image.h"
#include "foundation/file_image.h"
#include "foundation/log.h"
#include "foundation/process_stats.h"
#include "nvme/privilege.h"
#include "vmm/block_devices.h"
#include "vmm/confinement.h"
#include "vmm/kvm.h"
#include "vmm/platform.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm_run_state.h"
#include "vmm/x86_entry.h"

namespace nvmevm {
namespace {

// A sanitizer runtime makes system calls the filter refuses (LeakSanitizer stops the world with
// clone and ptrace at exit): sanitizer builds run without it, and say so in docs/fuzzing.md.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

// Signals the main thread takes with sigwaitinfo. Blocked before any vCPU thread exists, so
// every thread inherits the block and only the main thread ever sees them.
sigset_t main_thread_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, kVmEndedSignal);
    return set;
}

EntryState load_guest(const VmConfig& config, const GuestMemory& memory, uint64_t rsdp) {
    FileImage kernel;
    if (config.kernel_image.empty()) kernel = FileImage::open(config.kernel);
    FileImage initrd;
    if (config.initrd) initrd = FileImage::open(*config.initrd);
    const std::span<const uint8_t> image =
        config.kernel_image.empty() ? kernel.bytes() : config.kernel_image;
    return load_kernel(memory, BootInputs{image, initrd.bytes(), config.cmdline, rsdp});
}

// How often the main thread looks for completions a vCPU thread missed: rare enough to cost
// nothing (100 wake-ups a second, only for VMs with drives), and far below the guest's own
// patience (Linux times out a block request after 30 s).
constexpr timespec kStallLook{0, 10'000'000};

// Runs the vCPU threads and ends them all, whatever happens, before the VM is torn down. The
// threads exist from construction but wait at a gate until release(): the process confines
// itself (seccomp filter, on every thread) between the two, so no guest instruction ever runs
// unconfined. With `filtered`, each thread checks that it runs under the filter before it calls
// the vCPU's run loop, and stops the VM otherwise.
class VcpuThreads {
  public:
    VcpuThreads(std::vector<std::unique_ptr<Vcpu>>& vcpus, Platform& platform, BlockDevices& drives,
                VmRunState& state, bool filtered)
        : vcpus_(vcpus), state_(state), works_(vcpus.size()), marks_(vcpus.size(), 0) {
        state.set_kicker([this] { kick_all(); });
        for (auto& vcpu : vcpus) {
            VcpuWork* work = drives.vcpu_work(vcpu->index());
            works_[vcpu->index()] = work;
            threads_.emplace_back([this, &vcpu = *vcpu, &platform, &state, work, filtered] {
                gate_.wait();
                if (filtered) {
                    if (!seccomp_filter_active()) {
                        state.request_stop({VmEnd::vmm_error, 0,
                                            "vcpu " + std::to_string(vcpu.index()) +
                                                ": not under the seccomp filter"});
                        return;
                    }
                    logf(LogLevel::debug, "vcpu %u: under the seccomp filter before KVM_RUN",
                         vcpu.index());
                }
                vcpu.run(platform.pio(), platform.mmio(), state, state.stopping(), work);
            });
        }
    }
    ~VcpuThreads() {
        state_.request_stop({VmEnd::vmm_error, 0, "VMM torn down"});  // no-op if already ended
        release();
        kick_all();
        for (auto& thread : threads_) thread.join();
    }
    // Lets the threads run their vCPUs (once; later calls do nothing).
    void release() {
        if (!released_) gate_.count_down();
        released_ = true;
    }

    [[nodiscard]] bool has_io() const {
        for (const VcpuWork* work : works_)
            if (work != nullptr) return true;
        return false;
    }
    // The safety net under the vCPU threads' own wake-ups (VcpuWork::completions_stuck): a
    // vCPU whose CQ held completions at the previous look and still holds them, unconsumed, is
    // kicked out of KVM_RUN so that its thread reaps them. Returns the number kicked.
    unsigned kick_stuck() {
        unsigned kicked = 0;
        for (size_t i = 0; i < works_.size(); ++i) {
            if (works_[i] == nullptr || !works_[i]->completions_stuck(marks_[i])) continue;
            vcpus_[i]->kick();
            ++kicked;
        }
        return kicked;
    }

  private:
    void kick_all() {
        for (auto& vcpu : vcpus_) vcpu->kick();
    }
    std::vector<std::unique_ptr<Vcpu>>& vcpus_;
    VmRunState& state_;
    std::vector<VcpuWork*> works_;
    std::vector<uint32_t> marks_;
    std::latch gate_{1};
    bool released_ = false;
    std::vector<std::thread> threads_;  // last: the threads use the members above
};

// The figures the I/O path is judged by (docs/benchmarks.md): KVM_RUN returns per request.
MachineCounters count_io(const std::vector<std::unique_ptr<Vcpu>>& vcpus,
                         const BlockDevices& drives) {
    MachineCounters all;
    for (const auto& vcpu : vcpus) {
        const Vcpu::Counters& c = vcpu->counters();
        all.kvm_run += c.runs;
        all.interrupted += c.interrupted;
        all.port_io += c.port_io;
        all.mmio += c.mmio;
    }
    const BlockDevices::Totals io = drives.totals();
    all.blk_requests = io.requests;
    all.blk_interrupts = io.interrupts;
    all.blk_errors = io.errors;
    all.blk_throttled = io.throttled;
    all.blk_rmw = io.read_modify_writes;
    return all;
}

void log_io_figures(const MachineCounters& all) {
    logf(LogLevel::info,
         "stats: kvm_run=%llu interrupted=%llu port_io=%llu mmio=%llu blk_requests=%llu "
         "blk_interrupts=%llu blk_errors=%llu blk_throttled=%llu blk_rmw=%llu stall_kicks=%llu",
         static_cast<unsigned long long>(all.kvm_run),
         static_cast<unsigned long long>(all.interrupted),
         static_cast<unsigned long long>(all.port_io), static_cast<unsigned long long>(all.mmio),
         static_cast<unsigned long long>(all.blk_requests),
         static_cast<unsigned long long>(all.blk_interrupts),
         static_cast<unsigned long long>(all.blk_errors),
         static_cast<unsigned long long>(all.blk_throttled),
         static_cast<unsigned long long>(all.blk_rmw),
         static_cast<unsigned long long>(all.stall_kicks));
}

// The sandbox and the process limits (vmm/confinement.h), before any vCPU thread exists: every
// file the VM needs is open. A sanitizer runtime needs /proc and new threads at exit (LSan), so
// sanitizer builds run without the sandbox, as without the filter.
void confine(const VmConfig& config, const BlockDevices& drives) {
    ConfinementPlan plan;
    plan.sandbox = config.sandbox;
    if (kSanitizerBuild) {
        plan.sandbox.mode = SandboxMode::off;
        plan.fd_headroom = 64;
    }
    // The console file grows with what the guest prints: no file size limit then.
    plan.max_file_bytes = config.console == ConsoleKind::file ? 0 : drives.largest_writable_file();
    plan.memlock_bytes = (config.memory_mib << 20) + (uint64_t{64} << 20);
    if (drives.has_passthrough() && nvme_passthrough_needs_admin_here())
        plan.keep_root_because =
            "NVMe passthrough needs CAP_SYS_ADMIN before Linux 6.2 (nvme/privilege.h)";
    const ConfinementReport report = confine_process(plan);
    if (report.kept_root) {
        logf(LogLevel::warn,
             "sandbox: new mount, IPC, UTS and network namespaces and an empty read-only root, "
             "but uid 0 kept: %s; the seccomp filter still applies",
             plan.keep_root_because.c_str());
    } else if (report.sandboxed) {
        logf(LogLevel::info,
             "sandbox: new mount, IPC, UTS and network namespaces, an empty read-only root, uid "
             "%u gid %u%s%s",
             static_cast<unsigned>(config.sandbox.uid), static_cast<unsigned>(config.sandbox.gid),
             config.sandbox.cgroup.empty() ? "" : ", cgroup ", config.sandbox.cgroup.c_str());
    } else if (config.sandbox.mode == SandboxMode::automatic && !kSanitizerBuild) {
        logf(LogLevel::info, "sandbox: not entered (%s); the seccomp filter still applies",
             report.skipped_because.c_str());
    }
}

}  // namespace

VmOutcome run_machine(const VmConfig& config) {
    MachineCounters ignored;
    return run_machine_counted(config, ignored);
}

VmOutcome run_machine_counted(const VmConfig& config, MachineCounters& counters) {
    const sigset_t waited = main_thread_signals();
    // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
    // instead of left pending for sigwaitinfo: take the default disposition back first.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &waited, nullptr);
    install_vcpu_kick_handler();

    const auto phase = [](const char* name) {
        logf(LogLevel::debug, "%s at %.3f ms", name,
             ms_since_start(std::chrono::steady_clock::now()));
    };
    phase("run_machine");
    KvmSystem kvm;
    if (static_cast<int>(config.vcpus) > kvm.max_vcpus())
        throw std::runtime_error("this host's KVM allows at most " +
                                 std::to_string(kvm.max_vcpus()) + " vCPUs");
    GuestMemory memory(config.memory_mib << 20);
    phase("KVM opened, guest RAM mapped");
    KvmVm vm(kvm, memory);
    phase("VM created");
    VmRunState state(pthread_self());
    Platform platform(config, memory, vm, state);
    BlockDevices drives(config, memory, vm, platform.pci(), platform.mmio());

    phase("platform ready");
    const EntryState entry = load_guest(config, memory, platform.acpi_rsdp());
    write_entry_tables(memory);

    phase("guest loaded");
    std::vector<std::unique_ptr<Vcpu>> vcpus;
    for (uint32_t i = 0; i < config.vcpus; ++i)
        vcpus.push_back(std::make_unique<Vcpu>(kvm, vm, i, config.vcpus));
    vcpus[0]->set_entry(entry);
    logf(LogLevel::info, "VM ready after %.3f ms: %u vCPUs, %llu MiB",
         ms_since_start(std::chrono::steady_clock::now()), config.vcpus,
         static_cast<unsigned long long>(config.memory_mib));

    confine(config, drives);

    uint64_t stall_kicks = 0;
    {
        const bool filtered = config.seccomp && !kSanitizerBuild;
        VcpuThreads threads(vcpus, platform, drives, state, filtered);
        // Every thread exists now (creating threads is among what the filter forbids), and none
        // has run guest code yet: the filter goes on all of them before the gate opens.
        if (filtered) {
            try {
                install_seccomp_filter();
            } catch (const std::exception& e) {
                state.request_stop({VmEnd::vmm_error, 0, std::string("seccomp: ") + e.what()});
            }
        }
        threads.release();
        // With drives, the main thread also looks at the vCPUs' completion queues every
        // kStallLook (VcpuThreads::kick_stuck); otherwise it only waits for signals.
        const bool watch_io = threads.has_io();
        for (;;) {
            siginfo_t info{};
            const int sig =
                watch_io ? sigtimedwait(&waited, &info, &kStallLook) : sigwaitinfo(&waited, &info);
            if (sig < 0) {
                if (errno == EAGAIN) stall_kicks += threads.kick_stuck();
                continue;
            }
            if (sig == SIGINT || sig == SIGTERM) {
                state.request_stop({VmEnd::stopped, 0, sig == SIGINT ? "SIGINT" : "SIGTERM"});
                break;
            }
            if (sig == kVmEndedSignal && state.outcome()) break;
        }
    }
    platform.flush_console();
    drives.flush_all();
    counters = count_io(vcpus, drives);
    counters.stall_kicks = stall_kicks;
    log_io_figures(counters);

    const uint64_t guest_kib = resident_kib(memory.host_backing());
    const uint64_t peak_kib = peak_rss_kib();
    logf(LogLevel::info,
         "VM ended after %.3f ms; peak RSS %llu KiB, guest RAM resident %llu KiB, "
         "nvmevm's own %llu KiB",
         ms_since_start(std::chrono::steady_clock::now()),
         static_cast<unsigned long long>(peak_kib), static_cast<unsigned long long>(guest_kib),
         static_cast<unsigned long long>(peak_kib > guest_kib ? peak_kib - guest_kib : 0));
    return *state.outcome();
}

}  // namespace nvmevm
