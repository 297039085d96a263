#include "foundation/guarded_copy.h"

#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace nvmevm {
namespace {

// Where the copy running on this thread resumes after a SIGBUS; null outside a copy. The
// handler runs on the faulting thread, so a thread-local needs no synchronisation.
thread_local sigjmp_buf* t_resume_after_fault = nullptr;

void on_sigbus(int signal, siginfo_t*, void*) {
    if (sigjmp_buf* resume = t_resume_after_fault) {
        t_resume_after_fault = nullptr;
        siglongjmp(*resume, 1);
    }
    // Not a guarded copy: restore the default action; returning re-runs the faulting
    // instruction, which faults again and ends the process with SIGBUS and its core dump.
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal, &fallback, nullptr);
}

// Runs copy() with a SIGBUS during it turned into a false return.
template <typename Copy>
bool run_guarded(const Copy& copy) noexcept {
    sigjmp_buf resume;
    // savemask 0: no sigprocmask system call per copy (SA_NODEFER keeps the mask as it was).
    if (sigsetjmp(resume, 0) != 0) return false;
    t_resume_after_fault = &resume;
    // Keeps the compiler from moving the copy out of the window the handler sees.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    copy();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    t_resume_after_fault = nullptr;
    return true;
}

}  // namespace

void install_guarded_copy_handler() {
    static std::once_flag installed;
    std::call_once(installed, [] {
        struct sigaction action {};
        action.sa_sigaction = on_sigbus;
        sigemptyset(&action.sa_mask);
        // SA_NODEFER: the jump out of the handler skips sigreturn, which would unblock SIGBUS
        // again; without it the thread would keep SIGBUS blocked, and its next fault would kill
        // the process whatever the handler.
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigaction(SIGBUS, &action, nullptr);
    });
}

bool guarded_copy(void* destination, const void* source, size_t n) noexcept {
    return run_guarded([&] { std::memcpy(destination, source, n); });
}

bool guarded_copy_to_file_mapping(void* destination, const void* source, size_t n) noexcept {
    return run_guarded([&] {
        constexpr uintptr_t kPage = 4096;
        const auto first = reinterpret_cast<uintptr_t>(destination);
        // The first byte the copy writes in each page.
        for (uintptr_t byte = first; byte < first + n; byte = (byte | (kPage - 1)) + 1)
            static_cast<void>(*reinterpret_cast<const volatile uint8_t*>(byte));
        std::memcpy(destination, source, n);
    });
}

}  // namespace nvmevm
