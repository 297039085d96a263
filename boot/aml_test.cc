#include "boot/aml.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace nvmevm::aml {
namespace {

using B = Bytes;

TEST(Aml, PkgLengthUsesTheShortestEncodingAndCountsItself) {
    EXPECT_EQ(pkg_length(0), (B{0x01}));
    EXPECT_EQ(pkg_length(62), (B{0x3f}));
    EXPECT_EQ(pkg_length(63), (B{0x41, 0x04}));                   // 65 = 0x041
    EXPECT_EQ(pkg_length(0xffd), (B{0x4f, 0xff}));                // 0xfff: largest two-byte length
    EXPECT_EQ(pkg_length(0xffe), (B{0x81, 0x00, 0x01}));          // 0x1001
    EXPECT_EQ(pkg_length(0xffffd), (B{0xc1, 0x00, 0x00, 0x01}));  // 0x100001
    EXPECT_THROW(pkg_length(1u << 28), std::length_error);
}

TEST(Aml, NameStrings) {
    EXPECT_EQ(name_string("_S5_"), (B{'_', 'S', '5', '_'}));
    EXPECT_EQ(name_string("PCI"), (B{'P', 'C', 'I', '_'}));
    EXPECT_EQ(name_string("\\_SB_.PCI0"), (B{0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
    EXPECT_EQ(name_string("\\_SB.PCI0.COM1"),
              (B{0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'C', 'O', 'M', '1'}));
    EXPECT_EQ(name_string("\\"), (B{0x5c, 0x00}));
    EXPECT_EQ(name_string("^FOO"), (B{0x5e, 'F', 'O', 'O', '_'}));
    EXPECT_THROW((void)name_string("TOOLONG"), std::invalid_argument);
    EXPECT_THROW((void)name_string("1ABC"), std::invalid_argument);
    EXPECT_THROW((void)name_string("ab"), std::invalid_argument);
    EXPECT_THROW((void)name_string("A..B"), std::invalid_argument);
}

TEST(Aml, Integers) {
    EXPECT_EQ(integer(0), (B{0x00}));
    EXPECT_EQ(integer(1), (B{0x01}));
    EXPECT_EQ(integer(5), (B{0x0a, 0x05}));
    EXPECT_EQ(integer(0x1234), (B{0x0b, 0x34, 0x12}));
    EXPECT_EQ(integer(0xC0000000), (B{0x0c, 0x00, 0x00, 0x00, 0xc0}));
    EXPECT_EQ(integer(0x100000000), (B{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Aml, EisaIdsCompressLikeAsl) {
    EXPECT_EQ(eisa_id_value("PNP0A03"), 0x030AD041u);
    EXPECT_EQ(eisa_id_value("PNP0501"), 0x0105D041u);
    EXPECT_EQ(eisa_id("PNP0A03"), (B{0x0c, 0x41, 0xd0, 0x0a, 0x03}));
    EXPECT_THROW((void)eisa_id_value("pnp0a03"), std::invalid_argument);
    EXPECT_THROW((void)eisa_id_value("PNP0A0"), std::invalid_argument);
    EXPECT_THROW((void)eisa_id_value("PNP0A0G"), std::invalid_argument);
}

TEST(Aml, PackageBufferNameAndDevice) {
    const B elements[] = {integer(5), integer(0)};
    EXPECT_EQ(package(elements), (B{0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));
    const uint8_t data[] = {0xaa, 0xbb};
    EXPECT_EQ(buffer(data), (B{0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb}));
    EXPECT_EQ(name("_UID", integer(1)), (B{0x08, '_', 'U', 'I', 'D', 0x01}));
    EXPECT_EQ(string("ab"), (B{0x0d, 'a', 'b', 0x00}));
    const B terms[] = {name("_UID", integer(0))};
    EXPECT_EQ(device("DEV0", terms),
              (B{0x5b, 0x82, 0x0b, 'D', 'E', 'V', '0', 0x08, '_', 'U', 'I', 'D', 0x00}));
    EXPECT_EQ(scope("\\", {}), (B{0x10, 0x03, 0x5c, 0x00}));
}

// Expected bytes are what iasl produces for the same ASL.
TEST(Aml, ResourceDescriptors) {
    EXPECT_EQ(resource::io(0x0cf8, 0x0cf8, 1, 8),
              (B{0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08}));
    EXPECT_EQ(resource::irq_no_flags(4), (B{0x22, 0x10, 0x00}));
    EXPECT_EQ(resource::word_bus_number(0, 0),
              (B{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}));
    EXPECT_EQ(resource::word_io(0x0d00, 0xffff), (B{0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00,
                                                    0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3}));
    EXPECT_EQ(resource::dword_memory(0xc0000000, 0xfebfffff),
              (B{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0,    0x00, 0x00, 0x00,
                 0xc0, 0xff, 0xff, 0xbf, 0xfe, 0,    0, 0, 0, 0x00, 0x00, 0xc0, 0x3e}));
    const B descriptors[] = {resource::irq_no_flags(4)};
    EXPECT_EQ(resource_template(descriptors),
              (B{0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00}));
    EXPECT_THROW((void)resource::irq_no_flags(16), std::invalid_argument);
}

}  // namespace
}  // namespace nvmevm::aml
