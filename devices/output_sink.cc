#include "devices/output_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

namespace nvmevm {

std::unique_ptr<FdSink> FdSink::stdout_sink() {
    const int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup(stdout)");
    return std::make_unique<FdSink>(UniqueFd(fd));
}

std::unique_ptr<FdSink> FdSink::open_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
    return std::make_unique<FdSink>(UniqueFd(fd));
}

FdSink::~FdSink() {
    std::lock_guard lock(mutex_);
    flush_locked();
}

void FdSink::write(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    if (gone_) return;
    for (uint8_t byte : bytes) {
        buffer_.push_back(byte);
        if (byte == '\n' || buffer_.size() >= kCapacity) flush_locked();
    }
}

void FdSink::flush() {
    std::lock_guard lock(mutex_);
    flush_locked();
}

void FdSink::flush_locked() {
    size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EPIPE) {
            gone_ = true;
            // log-rule: once (gone_: nothing is written after it)
            logf(LogLevel::warn,
                 "console output: its reader is gone (%s); the VM goes on without a console",
                 std::strerror(EPIPE));
            break;
        }
        if (n <= 0) {
            // Console output is best effort: a full disk must not stop the VM.
            logf_limited(error_log_, LogLevel::warn, "console output dropped: %s",
                         n < 0 ? std::strerror(errno) : "short write");
            break;
        }
        done += static_cast<size_t>(n);
    }
    buffer_.clear();
}

}  // namespace nvmevm
