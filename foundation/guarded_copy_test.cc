#include "foundation/guarded_copy.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "foundation/test_shm_file.h"
#include "foundation/unique_fd.h"

namespace nvmevm {
namespace {

using testing::kPage;
using testing::MappedShmFile;

TEST(GuardedCopy, CopiesLikeMemcpy) {
    install_guarded_copy_handler();
    MappedShmFile file;
    std::vector<uint8_t> data(2 * kPage, 0x6b);
    ASSERT_TRUE(guarded_copy(file.bytes(), data.data(), data.size()));
    std::vector<uint8_t> back(2 * kPage);
    ASSERT_TRUE(guarded_copy(back.data(), file.bytes(), back.size()));
    EXPECT_EQ(back, data);
    // Across the page boundary, from an odd address.
    std::vector<uint8_t> odd(kPage, 0x3c);
    ASSERT_TRUE(guarded_copy_to_file_mapping(file.bytes() + 100, odd.data(), odd.size()));
    EXPECT_EQ(file.bytes()[99], 0x6b);
    EXPECT_EQ(file.bytes()[100], 0x3c);
    EXPECT_EQ(file.bytes()[kPage + 99], 0x3c);
    EXPECT_EQ(file.bytes()[kPage + 100], 0x6b);
}

TEST(GuardedCopy, AFaultFailsTheCopyEveryTimeAndTheThreadGoesOn) {
    install_guarded_copy_handler();
    MappedShmFile file;
    file.shrink_to_nothing();
    std::vector<uint8_t> buffer(kPage, 0x11);
    // Twice each way: a SIGBUS left blocked after the first would kill the process the second
    // time.
    for (int round = 0; round < 2; ++round) {
        EXPECT_FALSE(guarded_copy(buffer.data(), file.bytes(), kPage));
        EXPECT_FALSE(guarded_copy(file.bytes() + kPage, buffer.data(), kPage));
        EXPECT_FALSE(guarded_copy_to_file_mapping(file.bytes() + 1, buffer.data(), kPage));
    }
    // Nothing to write touches nothing, not even the page the empty range starts in.
    EXPECT_TRUE(guarded_copy_to_file_mapping(file.bytes() + 1, buffer.data(), 0));
    // The file grows back: the same addresses work again.
    ASSERT_EQ(::ftruncate(file.fd.get(), 2 * kPage), 0);
    EXPECT_TRUE(guarded_copy(file.bytes(), buffer.data(), kPage));
    EXPECT_EQ(file.bytes()[kPage - 1], 0x11);
}

TEST(GuardedCopy, AFaultOutsideAGuardedCopyStillKills) {
    install_guarded_copy_handler();
    EXPECT_EXIT(
        {
            MappedShmFile file;
            file.shrink_to_nothing();
            volatile uint8_t* page = file.bytes();
            page[0] = 1;  // not guarded: the default action
            std::_Exit(0);
        },
        ::testing::KilledBySignal(SIGBUS), "");
}

}  // namespace
}  // namespace nvmevm
