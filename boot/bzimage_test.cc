#include "boot/bzimage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "boot/layout.h"
#include "boot/memory_map.h"
#include "boot/test_images.h"

namespace nvmevm {
namespace {

using testing::BzImageSpec;
using testing::make_bzimage;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kRam = 64 * kMiB;

template <typename T>
T guest(const GuestMemory& memory, uint64_t addr) {
    auto value = memory.read_obj<T>(GuestAddress{addr});
    EXPECT_TRUE(value) << "guest address " << addr;
    return value.value_or(T{});
}

// Offsets from Documentation/arch/x86/zero-page.rst and boot.rst, spelled out rather than
// taken from the struct so the test checks the struct too.
uint64_t zp(uint64_t offset) {
    return layout::kZeroPage + offset;
}

std::string error_of(auto&& fn) {
    try {
        fn();
    } catch (const BootError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(BzImage, LoadsProtectedModeKernelAt1MiBAndEntersAt64BitEntry) {
    GuestMemory memory(kRam);
    const auto image = make_bzimage();
    const EntryState entry = load_kernel(memory, {image, {}, "console=ttyS0", 0});
    EXPECT_EQ(entry.mode, EntryState::Mode::long_mode_64);
    EXPECT_EQ(entry.rip, 0x100200u);
    EXPECT_EQ(entry.rsi, layout::kZeroPage);
    for (size_t i : {size_t{0}, size_t{1}, size_t{4095}, size_t{8191}}) {
        EXPECT_EQ(guest<uint8_t>(memory, 0x100000 + i), testing::payload_byte(i)) << i;
    }
}

TEST(BzImage, ZeroPageHasHeaderAndLoaderFields) {
    GuestMemory memory(kRam);
    const auto image = make_bzimage();
    (void)load_kernel(memory, {image, {}, "console=ttyS0", 0xE0000});
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x202)), 0x53726448u);       // "HdrS" copied
    EXPECT_EQ(guest<uint16_t>(memory, zp(0x206)), 0x020fu);           // version copied
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x260)), 0x800000u);         // init_size copied
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x230)), 0x200000u);         // kernel_alignment copied
    EXPECT_EQ(guest<uint8_t>(memory, zp(0x210)), 0xffu);              // type_of_loader
    EXPECT_EQ(guest<uint8_t>(memory, zp(0x211)), 0x81u);              // LOADED_HIGH | CAN_USE_HEAP
    EXPECT_EQ(guest<uint16_t>(memory, zp(0x224)), 0xfe00u);           // heap_end_ptr
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x228)), layout::kCmdline);  // cmd_line_ptr
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x0c8)), 0u);                // ext_cmd_line_ptr
    EXPECT_EQ(guest<uint64_t>(memory, zp(0x070)), 0xE0000u);          // acpi_rsdp_addr
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x218)), 0u);                // no ramdisk
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x21c)), 0u);
    EXPECT_EQ(guest<uint8_t>(memory, zp(0x1ef)), 0u);  // sentinel
    const char* expected = "console=ttyS0";
    for (size_t i = 0; i <= std::strlen(expected); ++i) {
        EXPECT_EQ(guest<char>(memory, layout::kCmdline + i), expected[i]);
    }
}

TEST(BzImage, E820TableInZeroPageMatchesMemoryMap) {
    GuestMemory memory(kRam);
    const auto image = make_bzimage();
    (void)load_kernel(memory, {image, {}, "", 0});
    const auto map = build_memory_map(memory);
    ASSERT_EQ(guest<uint8_t>(memory, zp(0x1e8)), map.size());
    ASSERT_EQ(map.size(), 4u);
    const uint64_t expected[][3] = {{0, 0x9fc00, 1},
                                    {0x9fc00, 0x400, 2},
                                    {0xe0000, 0x20000, 2},
                                    {0x100000, kRam - 0x100000, 1}};
    for (size_t i = 0; i < 4; ++i) {
        const uint64_t entry = zp(0x2d0 + 20 * i);
        EXPECT_EQ(guest<uint64_t>(memory, entry), expected[i][0]) << i;
        EXPECT_EQ(guest<uint64_t>(memory, entry + 8), expected[i][1]) << i;
        EXPECT_EQ(guest<uint32_t>(memory, entry + 16), expected[i][2]) << i;
    }
}

TEST(BzImage, AcpiRsdpAddrOnlyFromProtocol214) {
    GuestMemory memory(kRam);
    BzImageSpec spec;
    spec.version = 0x020d;
    const auto image = make_bzimage(spec);
    (void)load_kernel(memory, {image, {}, "", 0xE0000});
    EXPECT_EQ(guest<uint64_t>(memory, zp(0x070)), 0u);
}

TEST(BzImage, InitrdGoesAsHighAsPossibleInLowRam) {
    GuestMemory memory(kRam);
    const auto image = make_bzimage();
    const std::vector<uint8_t> initrd(10000, 0x5a);
    (void)load_kernel(memory, {image, initrd, "", 0});
    const uint32_t addr = guest<uint32_t>(memory, zp(0x218));
    EXPECT_EQ(addr, 0x3ffd000u);  // page-aligned, ends at or below 64 MiB
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x21c)), 10000u);
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x0c0)), 0u);  // ext_ramdisk_image
    EXPECT_EQ(guest<uint8_t>(memory, addr), 0x5a);
    EXPECT_EQ(guest<uint8_t>(memory, addr + 9999), 0x5a);
}

TEST(BzImage, InitrdRespectsInitrdAddrMax) {
    GuestMemory memory(kRam);
    BzImageSpec spec;
    spec.initrd_addr_max = 0x1ffffff;  // last byte at 32 MiB - 1
    const auto image = make_bzimage(spec);
    const std::vector<uint8_t> initrd(4096, 1);
    (void)load_kernel(memory, {image, initrd, "", 0});
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x218)), 0x2000000u - 4096);
}

TEST(BzImage, InitrdThatDoesNotFitAboveTheKernelIsRefused) {
    GuestMemory memory(kRam);
    const auto image = make_bzimage();  // kernel needs up to 16 MiB + 8 MiB
    const std::vector<uint8_t> initrd(41 * kMiB, 0);
    const std::string message = error_of([&] {
        (void)load_kernel(memory, {image, initrd, "", 0});
    });
    EXPECT_NE(message.find("initrd does not fit"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(41 * kMiB)), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(40 * kMiB)), std::string::npos) << message;  // room
    // Exactly the room fits.
    const std::vector<uint8_t> fits(40 * kMiB, 0);
    (void)load_kernel(memory, {image, fits, "", 0});
    EXPECT_EQ(guest<uint32_t>(memory, zp(0x218)), 24 * kMiB);
}

TEST(BzImage, CommandLineLongerThanCmdlineSizeIsRefused) {
    GuestMemory memory(kRam);
    BzImageSpec spec;
    spec.cmdline_size = 8;
    const auto image = make_bzimage(spec);
    (void)load_kernel(memory, {image, {}, "12345678", 0});
    EXPECT_NE(error_of([&] {
                  (void)load_kernel(memory, {image, {}, "123456789", 0});
              }).find("at most 8"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  (void)load_kernel(memory, {image, {}, std::string("a\0b", 3), 0});
              }).find("NUL"),
              std::string::npos);
}

TEST(BzImage, KernelWorkingAreaMustBeRam) {
    GuestMemory memory(20 * kMiB);  // the kernel wants [16 MiB, 24 MiB)
    const auto image = make_bzimage();
    EXPECT_NE(error_of([&] {
                  (void)load_kernel(memory, {image, {}, "", 0});
              }).find("guest RAM too small for the kernel"),
              std::string::npos);
}

TEST(BzImage, ProbeReportsRuntimeAreaEnd) {
    const KernelInfo info = probe_kernel(make_bzimage());
    EXPECT_EQ(info.format, KernelFormat::bzimage);
    EXPECT_EQ(info.load_end, 24 * kMiB);  // align_up(max(1 MiB, pref 16 MiB), 2 MiB) + 8 MiB
    EXPECT_EQ(info.initrd_addr_max, 0x7fffffffu);

    BzImageSpec unaligned;
    unaligned.pref_address = 0x1100000;  // 17 MiB, aligned up to 18 MiB
    EXPECT_EQ(probe_kernel(make_bzimage(unaligned)).load_end, 26 * kMiB);

    BzImageSpec fixed;
    fixed.relocatable = 0;
    fixed.pref_address = 0x200000;
    EXPECT_EQ(probe_kernel(make_bzimage(fixed)).load_end, 10 * kMiB);

    BzImageSpec big;
    big.init_size = 0x1000;  // smaller than the image: the image itself bounds it
    big.relocatable = 0;
    big.pref_address = 0x100000;
    big.payload_size = 0x3000;
    EXPECT_EQ(probe_kernel(make_bzimage(big)).load_end, 0x100000u + 0x3000);
}

TEST(BzImage, SetupSectsZeroMeansFour) {
    BzImageSpec spec;
    spec.setup_sects = 0;
    GuestMemory memory(kRam);
    (void)load_kernel(memory, {make_bzimage(spec), {}, "", 0});
    EXPECT_EQ(guest<uint8_t>(memory, 0x100000 + 5), testing::payload_byte(5));
}

TEST(BzImage, UnusableImagesAreRefusedWithAReason) {
    auto reason = [](const std::vector<uint8_t>& image) {
        return error_of([&] { (void)probe_kernel(image); });
    };
    EXPECT_EQ(reason({}), "not a kernel: the file is empty");
    EXPECT_EQ(reason(std::vector<uint8_t>(4096, 0x90)).rfind("not a kernel: neither", 0), 0u);

    auto truncated = make_bzimage();
    truncated.resize(0x300);
    EXPECT_EQ(reason(truncated).rfind("not a kernel: truncated bzImage", 0), 0u)
        << reason(truncated);
    truncated.resize(0x204);  // "HdrS" itself cut short
    EXPECT_EQ(reason(truncated).rfind("not a kernel:", 0), 0u) << reason(truncated);
    auto header_cut = make_bzimage();
    header_cut.resize(0x240);  // the magic is there, the header's end is not
    EXPECT_EQ(reason(header_cut).rfind("not a kernel: truncated bzImage", 0), 0u);

    BzImageSpec old;
    old.version = 0x020b;
    EXPECT_NE(reason(make_bzimage(old)).find("2.12"), std::string::npos);
    BzImageSpec no64;
    no64.xloadflags = 0;
    EXPECT_NE(reason(make_bzimage(no64)).find("XLF_KERNEL_64"), std::string::npos);
    BzImageSpec zimage;
    zimage.loadflags = 0;
    EXPECT_NE(reason(make_bzimage(zimage)).find("LOADED_HIGH"), std::string::npos);
    BzImageSpec bad_align;
    bad_align.kernel_alignment = 0x300000;
    EXPECT_NE(reason(make_bzimage(bad_align)).find("power of two"), std::string::npos);
    BzImageSpec huge;
    huge.init_size = 0xffffffff;
    EXPECT_NE(reason(make_bzimage(huge)).find("beyond 4 GiB"), std::string::npos);
    BzImageSpec low;
    low.relocatable = 0;
    low.pref_address = 0x10000;
    EXPECT_NE(reason(make_bzimage(low)).find("below 1 MiB"), std::string::npos);
    BzImageSpec empty_kernel;
    empty_kernel.payload_size = 0;
    EXPECT_EQ(reason(make_bzimage(empty_kernel)).rfind("not a kernel: truncated", 0), 0u);
}

}  // namespace
}  // namespace nvmevm
