// Loads real Linux kernels when the environment names them (the lab fetches Debian's cloud
// kernel; tests/lab can export the paths):
//   NVMEVM_TEST_BZIMAGE=/path/to/vmlinuz   NVMEVM_TEST_VMLINUX=/path/to/vmlinux
// Skipped otherwise, so the unit tests never depend on a kernel being present.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "boot/kernel_image.h"
#include "boot/layout.h"
#include "boot/pvh_start_info.h"

namespace nvmevm {
namespace {

constexpr uint64_t kRam = 256 << 20;

std::vector<uint8_t> read_env_file(const char* variable) {
    const char* path = std::getenv(variable);
    if (!path || !*path) return {};
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(RealKernel, DebianBzImageLoads) {
    const auto image = read_env_file("NVMEVM_TEST_BZIMAGE");
    if (image.empty()) GTEST_SKIP() << "NVMEVM_TEST_BZIMAGE not set";
    const KernelInfo info = probe_kernel(image);
    EXPECT_EQ(info.format, KernelFormat::bzimage);
    GuestMemory memory(kRam);
    const std::vector<uint8_t> initrd(8 << 20, 0x5a);
    const EntryState entry = load_kernel(memory, {image, initrd, "console=ttyS0", 0xE0000});
    EXPECT_EQ(entry.mode, EntryState::Mode::long_mode_64);
    EXPECT_EQ(entry.rip, 0x100200u);
    EXPECT_EQ(memory.read_obj<uint32_t>(GuestAddress{layout::kZeroPage + 0x202}), 0x53726448u);
    const auto initrd_addr = memory.read_obj<uint32_t>(GuestAddress{layout::kZeroPage + 0x218});
    ASSERT_TRUE(initrd_addr);
    EXPECT_GE(*initrd_addr, info.load_end);
}

TEST(RealKernel, DebianVmlinuxLoadsThroughPvh) {
    const auto image = read_env_file("NVMEVM_TEST_VMLINUX");
    if (image.empty()) GTEST_SKIP() << "NVMEVM_TEST_VMLINUX not set";
    const KernelInfo info = probe_kernel(image);
    EXPECT_EQ(info.format, KernelFormat::pvh_elf);
    GuestMemory memory(kRam);
    const EntryState entry = load_kernel(memory, {image, {}, "console=ttyS0", 0xE0000});
    EXPECT_EQ(entry.mode, EntryState::Mode::protected_32);
    EXPECT_GE(entry.rip, layout::kHighMemory);
    EXPECT_LT(entry.rip, info.load_end);
    const auto start_info = memory.read_obj<pvh::StartInfo>(GuestAddress{entry.rbx});
    ASSERT_TRUE(start_info);
    EXPECT_EQ(uint32_t{start_info->magic}, pvh::kStartInfoMagic);
}

}  // namespace
}  // namespace nvmevm
