#include "vmm/vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "foundation/log.h"
#include "vmm/cpuid.h"
#include "vmm/kvm_abi.h"
#include "vmm/x86_entry.h"

namespace nvmevm {
namespace {

constexpr uint32_t kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrStar = 0xc000'0081, kMsrLstar = 0xc000'0082, kMsrCstar = 0xc000'0083,
                   kMsrSyscallMask = 0xc000'0084, kMsrKernelGsBase = 0xc000'0102;
constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint64_t kMiscEnableFastString = 1;
constexpr uint32_t kMsrMtrrDefType = 0x2ff;
constexpr uint64_t kMtrrEnableWriteBack = (1u << 11) | 6;  // MTRRs on, default type WB

// Local APIC register offsets and LVT delivery modes (Intel SDM vol. 3A, 11.5.1).
constexpr size_t kApicLvtLint0 = 0x350, kApicLvtLint1 = 0x360;
constexpr uint32_t kDeliveryExtInt = 0x7, kDeliveryNmi = 0x4;

RateLimiter g_unexpected_exit_log;

void ignore_signal(int) {}

uint32_t read_apic_reg(const kvm_lapic_state& lapic, size_t offset) {
    uint32_t value;
    std::memcpy(&value, lapic.regs + offset, sizeof value);
    return value;
}
void write_apic_reg(kvm_lapic_state& lapic, size_t offset, uint32_t value) {
    std::memcpy(lapic.regs + offset, &value, sizeof value);
}
uint32_t with_delivery_mode(uint32_t lvt, uint32_t mode) {
    return (lvt & ~0x700u) | (mode << 8);
}

}  // namespace

void install_vcpu_kick_handler() {
    struct sigaction action {};
    action.sa_handler = ignore_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    sigaction(kVcpuKickSignal, &action, nullptr);
}

Vcpu::Vcpu(const KvmSystem& kvm, const KvmVm& vm, uint32_t index, uint32_t vcpu_count)
    : index_(index) {
    fd_ = UniqueFd(checked_ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(index),
                                 "KVM_CREATE_VCPU"));
    run_mapping_ = Mapping::of_fd(fd_.get(), kvm.vcpu_mmap_size());
    run_ = static_cast<kvm_run*>(run_mapping_.get());

    const auto cpuid = cpuid_for_vcpu(kvm.supported_cpuid(), index, vcpu_count);
    kvm_abi::FlexBuffer<kvm_cpuid_entry2> cpuid2(cpuid.size());
    std::memcpy(cpuid2.entries(), cpuid.data(), cpuid.size() * sizeof(kvm_cpuid_entry2));
    checked_ioctl(fd_.get(), kvm_abi::kSetCpuid2, cpuid2.data(), "KVM_SET_CPUID2");

    configure_msrs();
    configure_fpu();
    configure_lapic();
}

void Vcpu::configure_msrs() {
    const std::pair<uint32_t, uint64_t> values[] = {
        {kMsrSysenterCs, 0},
        {kMsrSysenterEsp, 0},
        {kMsrSysenterEip, 0},
        {kMsrStar, 0},
        {kMsrLstar, 0},
        {kMsrCstar, 0},
        {kMsrSyscallMask, 0},
        {kMsrKernelGsBase, 0},
        {kMsrMiscEnable, kMiscEnableFastString},
        {kMsrMtrrDefType, kMtrrEnableWriteBack},
    };
    // Set one at a time: a host that refuses one MSR should not cost us the others.
    for (const auto& [index, value] : values) {
        kvm_abi::FlexBuffer<kvm_msr_entry> msrs(1);
        msrs.entries()[0].index = index;
        msrs.entries()[0].data = value;
        if (::ioctl(fd_.get(), kvm_abi::kSetMsrs, msrs.data()) != 1)
            // log-rule: setup
            logf(LogLevel::debug, "vcpu %u: KVM refused MSR 0x%x", index_, index);
    }
}

void Vcpu::configure_fpu() {
    kvm_fpu fpu{};
    fpu.fcw = 0x37f;     // x87 power-on default: all exceptions masked, extended precision
    fpu.mxcsr = 0x1f80;  // SSE default: all exceptions masked
    checked_ioctl(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

void Vcpu::configure_lapic() {
    // What a PC BIOS leaves behind: LINT0 delivers the 8259's ExtINT, LINT1 delivers NMI.
    kvm_lapic_state lapic{};
    checked_ioctl(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
    write_apic_reg(lapic, kApicLvtLint0,
                   with_delivery_mode(read_apic_reg(lapic, kApicLvtLint0), kDeliveryExtInt));
    write_apic_reg(lapic, kApicLvtLint1,
                   with_delivery_mode(read_apic_reg(lapic, kApicLvtLint1), kDeliveryNmi));
    checked_ioctl(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

void Vcpu::set_entry(const EntryState& entry) {
    kvm_sregs sregs{};
    checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    const kvm_sregs wanted = entry_sregs(sregs, entry.mode);
    checked_ioctl(fd_.get(), KVM_SET_SREGS, &wanted, "KVM_SET_SREGS");
    const kvm_regs regs = entry_regs(entry);
    checked_ioctl(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

void Vcpu::kick() {
    // immediate_exit covers the window in which the thread is about to enter KVM_RUN; the
    // signal covers the thread already inside it.
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (running_on_thread_.load()) pthread_kill(thread_.load(), kVcpuKickSignal);
}

void Vcpu::run(IoBus& pio, IoBus& mmio, VmControl& control, const std::atomic<bool>& stopping,
               VcpuWork* work) {
    thread_.store(pthread_self());
    running_on_thread_.store(true);
    sigset_t kick_only;
    sigemptyset(&kick_only);
    sigaddset(&kick_only, kVcpuKickSignal);
    pthread_sigmask(SIG_UNBLOCK, &kick_only, nullptr);

    if (work != nullptr) work->start();
    // Arming the doorbell polls can complete them at once (a kick that came before this thread
    // started), with no task work to interrupt KVM_RUN: look before the first entry.
    if (work != nullptr) work->service();
    while (!stopping.load(std::memory_order_acquire)) {
        if (work != nullptr && work->pending()) work->service();
        ++counters_.runs;
        if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                ++counters_.interrupted;
                __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
                if (work != nullptr) work->service();
                continue;
            }
            control.request_stop(
                {VmEnd::vmm_error, 0, std::string("KVM_RUN failed: ") + std::strerror(errno)});
            break;
        }
        if (!handle_exit(pio, mmio, control)) break;
        if (work != nullptr) work->service();
    }
    running_on_thread_.store(false);
}

bool Vcpu::handle_exit(IoBus& pio, IoBus& mmio, VmControl& control) {
    // Built only on the paths that end the VM: the port and MMIO exits, tens of thousands a
    // second, must not allocate.
    const auto who = [this] { return "vcpu " + std::to_string(index_) + ": "; };
    switch (run_->exit_reason) {
        case KVM_EXIT_IO:
            ++counters_.port_io;
            handle_port_io(pio);
            return true;
        case KVM_EXIT_MMIO:
            ++counters_.mmio;
            handle_mmio(mmio);
            return true;
        case KVM_EXIT_HLT:
        case KVM_EXIT_INTR:
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            return true;
        case KVM_EXIT_SHUTDOWN:
            control.request_stop(
                {VmEnd::guest_crashed, 0,
                 who() + "triple fault (KVM_EXIT_SHUTDOWN); " + describe_registers()});
            return false;
        case KVM_EXIT_FAIL_ENTRY: {
            char reason[64];
            std::snprintf(reason, sizeof reason, "0x%" PRIx64,
                          static_cast<uint64_t>(run_->fail_entry.hardware_entry_failure_reason));
            control.request_stop(
                {VmEnd::guest_crashed, 0, who() + "VM entry failed, hardware reason " + reason});
            return false;
        }
        case KVM_EXIT_INTERNAL_ERROR:
            control.request_stop(
                {VmEnd::guest_crashed, 0,
                 who() + "KVM internal error, suberror " + std::to_string(run_->internal.suberror) +
                     " (1 = instruction emulation failed); " + describe_registers()});
            return false;
        case KVM_EXIT_SYSTEM_EVENT:
            switch (run_->system_event.type) {
                case KVM_SYSTEM_EVENT_SHUTDOWN:
                    control.request_stop({VmEnd::powered_off, 0, who() + "system event: shutdown"});
                    break;
                case KVM_SYSTEM_EVENT_RESET:
                    control.request_stop({VmEnd::reset, 0, who() + "system event: reset"});
                    break;
                default:
                    control.request_stop(
                        {VmEnd::guest_crashed, 0,
                         who() + "system event " + std::to_string(run_->system_event.type)});
                    break;
            }
            return false;
        default:
            logf_limited(g_unexpected_exit_log, LogLevel::warn,
                         "vcpu %u: unexpected exit reason %u", index_, run_->exit_reason);
            control.request_stop(
                {VmEnd::vmm_error, 0,
                 who() + "unexpected KVM exit reason " + std::to_string(run_->exit_reason)});
            return false;
    }
}

void Vcpu::handle_port_io(IoBus& pio) {
    const auto& io = run_->io;
    // The data lies in the kvm_run mapping at data_offset; KVM is trusted, but a bound check
    // costs nothing and keeps a kernel bug from becoming ours.
    const uint64_t total = uint64_t{io.size} * io.count;
    if (io.size == 0 || io.size > 8 || io.data_offset > run_mapping_.size() ||
        total > run_mapping_.size() - io.data_offset)
        return;
    auto* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
    for (uint32_t i = 0; i < io.count; ++i) {
        std::span<uint8_t> item(data + size_t{i} * io.size, io.size);
        if (io.direction == KVM_EXIT_IO_OUT)
            pio.write(io.port, item);
        else
            pio.read(io.port, item);
    }
}

void Vcpu::handle_mmio(IoBus& mmio) {
    auto& access = run_->mmio;
    const size_t len = std::min<size_t>(access.len, sizeof access.data);
    std::span<uint8_t> data(access.data, len);
    if (access.is_write)
        mmio.write(access.phys_addr, data);
    else
        mmio.read(access.phys_addr, data);
}

std::string Vcpu::describe_registers() const {
    kvm_regs regs{};
    kvm_sregs sregs{};
    if (::ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0 ||
        ::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0)
        return "registers unavailable";
    char text[256];
    std::snprintf(text, sizeof text,
                  "rip=0x%llx rsp=0x%llx rflags=0x%llx cs=0x%x cr0=0x%llx cr3=0x%llx cr4=0x%llx "
                  "efer=0x%llx",
                  regs.rip, regs.rsp, regs.rflags, sregs.cs.selector, sregs.cr0, sregs.cr3,
                  sregs.cr4, sregs.efer);
    return text;
}

}  // namespace nvmevm
