// Where the bytes a guest writes to its console go. The UART hands every transmitted byte to an
// OutputSink; the VMM picks the implementation (stdout, a file, nothing) from the config.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "foundation/log.h"
#include "foundation/unique_fd.h"

namespace nvmevm {

class OutputSink {
  public:
    virtual ~OutputSink() = default;
    // Called from any vCPU thread; implementations are thread-safe.
    virtual void write(std::span<const uint8_t> bytes) = 0;
    // Pushes out anything buffered. The VMM calls it when the VM ends, so that the guest's last
    // console lines (a panic message, a test summary) are never lost.
    virtual void flush() {}
};

// Discards everything (console = "none").
class NullSink final : public OutputSink {
  public:
    void write(std::span<const uint8_t>) override {}
};

// Writes to a file descriptor it owns, buffered per line: one write(2) per line instead of one
// per byte (every byte is already a VM exit), and still prompt enough for a human watching a
// boot log. A partial line stays buffered until a newline, a full buffer, flush() or
// destruction. Output is best effort and never stops the VM: when the fd is a pipe whose reader
// has gone (EPIPE: `nvmevm run ... | head`; main() ignores SIGPIPE so that this is an error, not
// a kill), the sink logs it once and drops everything from then on.
class FdSink final : public OutputSink {
  public:
    // Duplicates standard output (so that this sink owns, and closes, only its own fd).
    // Throws std::system_error.
    [[nodiscard]] static std::unique_ptr<FdSink> stdout_sink();
    // Creates or truncates `path`. Throws std::system_error.
    [[nodiscard]] static std::unique_ptr<FdSink> open_file(const std::string& path);

    explicit FdSink(UniqueFd fd) : fd_(std::move(fd)) { buffer_.reserve(kCapacity); }
    ~FdSink() override;
    FdSink(const FdSink&) = delete;
    FdSink& operator=(const FdSink&) = delete;

    void write(std::span<const uint8_t> bytes) override;
    void flush() override;

  private:
    static constexpr size_t kCapacity = 4096;
    void flush_locked();

    std::mutex mutex_;
    UniqueFd fd_;
    std::vector<uint8_t> buffer_;
    bool gone_ = false;  // the reader of the pipe has gone: nothing is written any more
    RateLimiter error_log_;
};

}  // namespace nvmevm
