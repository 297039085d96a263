// Test helpers for the backings and engines: a scratch file in a chosen directory (removed
// on destruction), and a completion that remembers its result.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "foundation/io_ring.h"
#include "foundation/unique_fd.h"
#include "storage/backing.h"

namespace nvmevm::testing {

class ScratchFile {
  public:
    // A file of `size` bytes filled with `fill`, in `dir` ("/tmp": the machine's disk,
    // "/dev/shm": tmpfs).
    ScratchFile(const std::string& dir, uint64_t size, uint8_t fill = 0) {
        std::string templ = dir + "/nvmevm-blk-test.XXXXXX";
        UniqueFd fd(::mkstemp(templ.data()));
        if (!fd.valid()) std::abort();
        path_ = templ;
        std::vector<uint8_t> chunk(1 << 16, fill);
        for (uint64_t done = 0; done < size; done += chunk.size()) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - done));
            if (::write(fd.get(), chunk.data(), n) != static_cast<ssize_t>(n)) std::abort();
        }
        // Written back and dropped from the page cache: a NOWAIT O_DIRECT request that finds
        // dirty cached pages in its range goes to an io_uring worker (it would have to wait for
        // writeback), which would blur what the tests observe about workers.
        if (::fsync(fd.get()) != 0) std::abort();
        (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    }
    ~ScratchFile() { ::unlink(path_.c_str()); }
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }
    // The bytes at [offset, offset + len) as the file holds them now.
    [[nodiscard]] std::vector<uint8_t> read(uint64_t offset, size_t len) const {
        std::vector<uint8_t> out(len);
        UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
        if (::pread(fd.get(), out.data(), len, static_cast<off_t>(offset)) !=
            static_cast<ssize_t>(len))
            out.clear();
        return out;
    }

  private:
    std::string path_;
};

inline BackingOptions options(std::string path, bool read_only = false, bool direct = true) {
    BackingOptions o;
    o.path = std::move(path);
    o.read_only = read_only;
    o.direct = direct;
    return o;
}

struct Done final : IoCompletion {
    int calls = 0;
    int32_t result = 0;
    void complete(int32_t res) noexcept override {
        ++calls;
        result = res;
    }
};

// Reaps until every completion in `done` has been called (blocking in the ring as needed).
template <typename Range>
inline bool reap_all(IoRing& ring, Range& done) {
    for (int round = 0; round < 100000; ++round) {
        ring.reap();
        bool all = true;
        for (const Done& d : done) all = all && d.calls > 0;
        if (all) return true;
        if (ring.wait(1) < 0) return false;
    }
    return false;
}
inline bool reap_one(IoRing& ring, Done& done) {
    for (int round = 0; round < 100000 && done.calls == 0; ++round) {
        ring.reap();
        if (done.calls == 0 && ring.wait(1) < 0) return false;
    }
    return done.calls == 1;
}

}  // namespace nvmevm::testing
