#include "vmm/cpuid.h"

#include <gtest/gtest.h>

namespace nvmevm {
namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index = 0) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    return e;
}

const kvm_cpuid_entry2& find(const std::vector<kvm_cpuid_entry2>& v, uint32_t f, uint32_t i = 0) {
    for (const auto& e : v)
        if (e.function == f && e.index == i) return e;
    throw std::runtime_error("leaf missing");
}

TEST(Cpuid, EachVcpuReportsItsOwnApicIdAndTheSameTopology) {
    std::vector<kvm_cpuid_entry2> supported = {leaf(1), leaf(0xb, 0), leaf(0xb, 1), leaf(0xb, 2)};
    for (uint32_t i = 0; i < 3; ++i) {
        auto v = cpuid_for_vcpu(supported, i, 3);
        EXPECT_EQ(find(v, 1).ebx >> 24, i);
        EXPECT_EQ((find(v, 1).ebx >> 16) & 0xff, 3u);
        EXPECT_TRUE(find(v, 1).edx & (1u << 28));
        EXPECT_TRUE(find(v, 1).ecx & (1u << 31));
        EXPECT_EQ(find(v, 0xb, 0).edx, i);
        EXPECT_EQ(find(v, 0xb, 1).ebx, 3u);
        EXPECT_EQ(find(v, 0xb, 1).eax, 2u);  // ceil(log2(3))
        EXPECT_EQ((find(v, 0xb, 1).ecx >> 8) & 0xff, 2u);
        EXPECT_EQ((find(v, 0xb, 2).ecx >> 8) & 0xff, 0u);
    }
}

TEST(Cpuid, SingleVcpuHasNoHttBit) {
    kvm_cpuid_entry2 features = leaf(1);
    features.edx = 1u << 28;
    auto v = cpuid_for_vcpu({features, leaf(0x80000008)}, 0, 1);
    EXPECT_FALSE(find(v, 1).edx & (1u << 28));
    EXPECT_EQ(find(v, 0x80000008).ecx & 0xff, 0u);
}

}  // namespace
}  // namespace nvmevm
