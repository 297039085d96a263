// The CPUID a vCPU reports: what KVM supports on this host, with a topology that is the same
// on every vCPU (one socket, one core per vCPU, no SMT) and each vCPU's own APIC id. Linux
// builds its CPU maps from these leaves, so they must agree with the ACPI MADT.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace nvmevm {

[[nodiscard]] std::vector<kvm_cpuid_entry2> cpuid_for_vcpu(
    const std::vector<kvm_cpuid_entry2>& supported, uint32_t vcpu_index, uint32_t vcpu_count);

}  // namespace nvmevm
