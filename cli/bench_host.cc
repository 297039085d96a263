#include "cli/bench_host.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>

namespace nvmevm {

uint64_t probe_tsc_khz() {
    const UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (kvm) {
        const UniqueFd vm(::ioctl(kvm.get(), KVM_CREATE_VM, 0));
        const UniqueFd vcpu(vm ? ::ioctl(vm.get(), KVM_CREATE_VCPU, 0) : -1);
        const int khz = vcpu ? ::ioctl(vcpu.get(), KVM_GET_TSC_KHZ, 0) : -1;
        if (khz > 0) return static_cast<uint64_t>(khz);
    }
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        double mhz = 0;
        if (std::sscanf(line.c_str(), "cpu MHz : %lf", &mhz) == 1 && mhz > 0)
            return static_cast<uint64_t>(mhz * 1000);
    }
    return 0;
}

uint64_t process_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

ConsoleCapture::ConsoleCapture() : fd_(::memfd_create("nvmevm-bench-console", MFD_CLOEXEC)) {
    if (!fd_) throw std::system_error(errno, std::generic_category(), "memfd_create");
}

std::string ConsoleCapture::path() const {
    return "/proc/self/fd/" + std::to_string(fd_.get());
}

std::string ConsoleCapture::contents() const {
    std::string text;
    if (::lseek(fd_.get(), 0, SEEK_SET) != 0) return text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    return text;
}

bool SteadyProgressClock::wait_second() {
    std::unique_lock lock(mutex_);
    if (wake_.wait_until(lock, next_, [this] { return stopped_; })) return false;
    next_ += std::chrono::seconds(1);
    return true;
}

void SteadyProgressClock::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopped_ = true;
    }
    wake_.notify_all();
}

ProgressLine::ProgressLine(std::ostream& err, uint64_t total_ms, ProgressClock& clock)
    : clock_(clock) {
    // The VM takes SIGINT and SIGTERM with sigwaitinfo on the main thread, which works only if
    // no other thread can receive them: this one starts with every signal blocked.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    thread_ = std::thread([this, &err, total_ms] { loop(err, total_ms); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

ProgressLine::~ProgressLine() {
    clock_.stop();
    thread_.join();
}

void ProgressLine::loop(std::ostream& err, uint64_t total_ms) {
    for (uint64_t second = 1; clock_.wait_second(); ++second) {
        err << "bench: " << second;
        if (total_ms) err << "/" << (total_ms + 999) / 1000;
        err << " s" << std::endl;
    }
}

}  // namespace nvmevm
