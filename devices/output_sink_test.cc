#include "devices/output_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

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

TEST(FdSinkTest, OpenFailureThrows) {
    EXPECT_THROW(FdSink::open_file("/nonexistent-dir/x"), std::system_error);
}

TEST(FdSinkTest, StdoutSinkOwnsADuplicate) {
    auto sink = FdSink::stdout_sink();
    sink->flush();  // nothing buffered: no output
    NullSink null;
    null.write(bytes("dropped"));
}

}  // namespace
}  // namespace nvmevm
