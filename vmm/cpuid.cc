#include "vmm/cpuid.h"

#include <bit>

namespace nvmevm {
namespace {

constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafCacheParams = 0x4;
constexpr uint32_t kLeafTopology = 0xb;
constexpr uint32_t kLeafTopologyV2 = 0x1f;
constexpr uint32_t kLeafExtFeatures = 0x8000'0001;
constexpr uint32_t kLeafAmdSize = 0x8000'0008;

constexpr uint32_t kFeatureEcxHypervisor = 1u << 31;
constexpr uint32_t kFeatureEdxHtt = 1u << 28;
constexpr uint32_t kExtEcxCmpLegacy = 1u << 1;

// Topology level types of leaf 0xB / 0x1F (Intel SDM vol. 2A, CPUID leaf 0BH).
constexpr uint32_t kLevelSmt = 1;
constexpr uint32_t kLevelCore = 2;

uint32_t bits_for(uint32_t count) {
    return count <= 1 ? 0 : std::bit_width(count - 1);
}

void describe_topology_level(kvm_cpuid_entry2& e, uint32_t apic_id, uint32_t vcpu_count) {
    const uint32_t core_bits = bits_for(vcpu_count);
    e.edx = apic_id;
    switch (e.index) {
        case 0:  // SMT level: one thread per core
            e.eax = 0;
            e.ebx = 1;
            e.ecx = (kLevelSmt << 8) | e.index;
            break;
        case 1:  // core level: every vCPU is a core of the one package
            e.eax = core_bits;
            e.ebx = vcpu_count;
            e.ecx = (kLevelCore << 8) | e.index;
            break;
        default:  // no further levels
            e.eax = 0;
            e.ebx = 0;
            e.ecx = e.index;
            break;
    }
}

}  // namespace

std::vector<kvm_cpuid_entry2> cpuid_for_vcpu(const std::vector<kvm_cpuid_entry2>& supported,
                                             uint32_t vcpu_index, uint32_t vcpu_count) {
    std::vector<kvm_cpuid_entry2> entries = supported;
    const uint32_t apic_id = vcpu_index;  // APIC ids are the vCPU indices (as in the MADT)
    for (kvm_cpuid_entry2& e : entries) {
        switch (e.function) {
            case kLeafFeatures:
                // EBX[31:24] initial APIC id, EBX[23:16] logical processors per package.
                e.ebx = (e.ebx & 0x0000'ffff) | (apic_id << 24) | ((vcpu_count & 0xff) << 16);
                e.ecx |= kFeatureEcxHypervisor;
                if (vcpu_count > 1)
                    e.edx |= kFeatureEdxHtt;
                else
                    e.edx &= ~kFeatureEdxHtt;
                break;
            case kLeafCacheParams:
                // EAX[31:26]: cores per package - 1; EAX[25:14]: threads sharing this cache - 1
                // (one thread per core).
                if ((e.eax & 0x1f) != 0) {
                    e.eax &= 0x3fff;
                    e.eax |= ((vcpu_count - 1) & 0x3f) << 26;
                }
                break;
            case kLeafTopology:
            case kLeafTopologyV2:
                describe_topology_level(e, apic_id, vcpu_count);
                break;
            case kLeafExtFeatures:
                if (vcpu_count > 1)
                    e.ecx |= kExtEcxCmpLegacy;
                else
                    e.ecx &= ~kExtEcxCmpLegacy;
                break;
            case kLeafAmdSize:
                // ECX[7:0]: cores - 1; ECX[15:12]: APIC id bits that number the core.
                e.ecx =
                    (e.ecx & ~0xf0ffu) | ((vcpu_count - 1) & 0xff) | (bits_for(vcpu_count) << 12);
                break;
            default:
                break;
        }
    }
    return entries;
}

}  // namespace nvmevm
