#include "devices/output_sink.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace nvmevm {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::span<const uint8_t> bytes(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

TEST(FdSinkTest, LineBufferedFileOutput) {
    char path[] = "/tmp/nvmevm-sink-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    {
        auto sink = FdSink::open_file(path);
        sink->write(bytes("partial"));
        EXPECT_EQ(slurp(path), "");
        sink->write(bytes(" line\nnext"));
        EXPECT_EQ(slurp(path), "partial line\n");
        sink->flush();
        EXPECT_EQ(slurp(path), "partial line\nnext");
        sink->write(bytes(" and the rest"));
    }  // destruction flushes
    EXPECT_EQ(slurp(path), "partial line\nnext and the rest");
    std::remove(path);
}

TEST(FdSinkTest, LongLinesAreWrittenWhenTheBufferFills) {
    char path[] = "/tmp/nvmevm-sink-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    auto sink = FdSink::open_file(path);
    const std::string line(10000, 'x');
    sink->write(bytes(line));
    EXPECT_GE(slurp(path).size(), 8192u);
    sink->flush();
    EXPECT_EQ(slurp(path), line);
    std::remove(path);
}

// Ignores SIGPIPE while it lives, as nvmevm's main() does for the whole run.
class IgnoreSigpipe {
  public:
    IgnoreSigpipe() {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ignore, &saved_);
    }
    ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &saved_, nullptr); }
    IgnoreSigpipe(const IgnoreSigpipe&) = delete;
    IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

  private:
    struct sigaction saved_ {};
};

size_t count(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

// `nvmevm run ... | head -1`: the console's reader is gone. The sink says so once and stops
// writing; the VM it serves goes on (nothing throws, nothing blocks).
TEST(FdSinkTest, ClosedPipeIsConsoleGone) {
    const IgnoreSigpipe ignore;
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[0]);
    ::testing::internal::CaptureStderr();
    {
        FdSink sink{UniqueFd(fds[1])};
        for (int i = 0; i < 100; ++i) sink.write(bytes("a console line\n"));
        sink.write(bytes("a partial line"));
        sink.flush();
    }
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(count(log, "\n"), 1u) << log;
    EXPECT_EQ(count(log,
                    "nvmevm: warn: console output: its reader is gone (Broken pipe); the "
                    "VM goes on without a console"),
              1u)
        << log;
}

TEST(FdSinkTest, OpenFailureThrows) {
    EXPECT_THROW(FdSink::open_file("/nonexistent-dir/x"), std::system_error);
}

// Points fd 1 at a fresh in-memory file while it lives, and back at what it was after. The
// test's own checks wait until then: gtest reports failures on stdout.
class StdoutToMemfd {
  public:
    StdoutToMemfd()
        : saved_(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)),
          file_(::memfd_create("nvmevm-stdout", MFD_CLOEXEC)) {
        std::fflush(stdout);
        redirected_ = saved_ && file_ && ::dup2(file_.get(), STDOUT_FILENO) == STDOUT_FILENO;
    }
    ~StdoutToMemfd() {
        if (redirected_) ::dup2(saved_.get(), STDOUT_FILENO);
    }
    StdoutToMemfd(const StdoutToMemfd&) = delete;
    StdoutToMemfd& operator=(const StdoutToMemfd&) = delete;

    [[nodiscard]] bool redirected() const { return redirected_; }
    [[nodiscard]] std::string contents() const {
        std::string text(4096, '\0');
        const ssize_t n = ::pread(file_.get(), text.data(), text.size(), 0);
        text.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return text;
    }

  private:
    UniqueFd saved_, file_;
    bool redirected_ = false;
};

// The fds this process has open, from /proc/self/fd (less the one that reads it).
std::set<int> open_fds() {
    std::set<int> fds;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return fds;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') fds.insert(std::atoi(entry->d_name));
    }
    fds.erase(::dirfd(dir));
    ::closedir(dir);
    return fds;
}

bool same_file(int a, int b) {
    struct stat sa {
    }, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

// What the stdout sink did, seen from the outside while fd 1 pointed at a memfd.
struct StdoutSinkSeen {
    bool redirected = false;
    std::vector<int> new_fds;  // opened by stdout_sink()
    bool same_file = false;
    int fd_flags = -1;            // F_GETFD of the sink's fd
    off_t stdout_offset = -1;     // fd 1's offset after the sink wrote 6 bytes
    bool sink_fd_closed = false;  // after the sink was destroyed
    int stdout_flags_after = -1;  // F_GETFD of fd 1 after that
    std::string written;
};

StdoutSinkSeen watch_stdout_sink() {
    StdoutSinkSeen seen;
    const StdoutToMemfd redirect;
    seen.redirected = redirect.redirected();
    if (!seen.redirected) return seen;
    const std::set<int> before = open_fds();
    auto sink = FdSink::stdout_sink();
    const std::set<int> after = open_fds();
    std::ranges::set_difference(after, before, std::back_inserter(seen.new_fds));
    if (seen.new_fds.size() != 1) return seen;
    const int fd = seen.new_fds[0];
    seen.same_file = same_file(fd, STDOUT_FILENO);
    seen.fd_flags = ::fcntl(fd, F_GETFD);
    sink->write(bytes("hello\n"));
    seen.stdout_offset = ::lseek(STDOUT_FILENO, 0, SEEK_CUR);
    sink.reset();
    seen.sink_fd_closed = ::fcntl(fd, F_GETFD) == -1 && errno == EBADF;
    seen.stdout_flags_after = ::fcntl(STDOUT_FILENO, F_GETFD);
    const ssize_t wrote = ::write(STDOUT_FILENO, "after\n", 6);
    (void)wrote;  // contents() shows whether it arrived
    seen.written = redirect.contents();
    return seen;
}

TEST(FdSinkTest, StdoutSinkOwnsADuplicate) {
    const StdoutSinkSeen seen = watch_stdout_sink();
    ASSERT_TRUE(seen.redirected) << "could not point fd 1 at a memfd";
    ASSERT_EQ(seen.new_fds.size(), 1u) << "stdout_sink() must open exactly one fd of its own";
    EXPECT_NE(seen.new_fds[0], STDOUT_FILENO);
    EXPECT_TRUE(seen.same_file) << "the sink's fd is not the file fd 1 refers to";
    EXPECT_EQ(seen.fd_flags, FD_CLOEXEC) << "the duplicate must not leak into a child";
    // A duplicate shares fd 1's open file description, offset included; a second open of the
    // same file would not have moved it.
    EXPECT_EQ(seen.stdout_offset, 6);
    // Destroying the sink closed its duplicate and left fd 1 open and working.
    EXPECT_TRUE(seen.sink_fd_closed);
    EXPECT_EQ(seen.stdout_flags_after, 0);
    EXPECT_EQ(seen.written, "hello\nafter\n");
}

}  // namespace
}  // namespace nvmevm
