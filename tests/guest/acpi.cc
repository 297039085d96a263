#include "acpi.h"

#include <stddef.h>

#include "phys.h"

namespace guest {
namespace {

constexpr size_t kRsdpV1Length = 20;
constexpr size_t kRsdpV2MinLength = 36;
constexpr size_t kHeaderLength = 36;           // the common system description table header
constexpr uint32_t kMaxTableLength = 1 << 20;  // sanity bound on any one table
constexpr size_t kMadtEntriesOffset = kHeaderLength + 8;  // after LAPIC address and flags
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtLocalX2Apic = 9;
constexpr uint32_t kMadtEnabled = 1;

uint32_t load32(const uint8_t* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

uint64_t load64(const uint8_t* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

bool same(const uint8_t* p, const char* signature, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (p[i] != static_cast<uint8_t>(signature[i])) {
            return false;
        }
    }
    return true;
}

bool checksum_ok(const uint8_t* p, size_t length) {
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i) {
        sum = static_cast<uint8_t>(sum + p[i]);
    }
    return sum == 0;
}

// The table at paddr, with *length set, if its header is mapped, its length sane and its
// checksum right; nullptr otherwise.
const uint8_t* table_at(uint64_t paddr, uint32_t* length) {
    const uint8_t* header = phys_ptr(paddr, kHeaderLength);
    if (header == nullptr) {
        return nullptr;
    }
    uint32_t n = load32(header + 4);
    if (n < kHeaderLength || n > kMaxTableLength) {
        return nullptr;
    }
    const uint8_t* table = phys_ptr(paddr, n);
    if (table == nullptr || !checksum_ok(table, n)) {
        return nullptr;
    }
    *length = n;
    return table;
}

CpuCount fail(const char* error) {
    CpuCount result;
    result.error = error;
    return result;
}

CpuCount count_in_madt(const uint8_t* madt, uint32_t length) {
    CpuCount result;
    size_t offset = kMadtEntriesOffset;
    while (offset < length) {
        if (length - offset < 2) {
            return fail("truncated MADT entry");
        }
        uint8_t type = madt[offset];
        uint8_t entry_length = madt[offset + 1];
        if (entry_length < 2 || entry_length > length - offset) {
            return fail("bad MADT entry length");
        }
        const uint8_t* entry = madt + offset;
        bool enabled = false;
        uint32_t apic_id = 0;
        if (type == kMadtLocalApic && entry_length >= 8) {
            enabled = (load32(entry + 4) & kMadtEnabled) != 0;
            apic_id = entry[3];
        } else if (type == kMadtLocalX2Apic && entry_length >= 16) {
            enabled = (load32(entry + 8) & kMadtEnabled) != 0;
            apic_id = load32(entry + 4);
        }
        if (enabled) {
            ++result.cpus;
            if (result.listed < kMaxListedCpus) {
                result.apic_ids[result.listed++] = apic_id;
            }
        }
        offset += entry_length;
    }
    result.ok = true;
    result.error = nullptr;
    return result;
}

}  // namespace

CpuCount count_madt_cpus(uint64_t rsdp_paddr) {
    if (rsdp_paddr == 0) {
        return fail("no RSDP");
    }
    const uint8_t* rsdp = phys_ptr(rsdp_paddr, kRsdpV1Length);
    if (rsdp == nullptr || !same(rsdp, "RSD PTR ", 8)) {
        return fail("no RSDP signature");
    }
    if (!checksum_ok(rsdp, kRsdpV1Length)) {
        return fail("bad RSDP checksum");
    }
    uint64_t sdt_paddr = load32(rsdp + 16);  // RSDT, 32-bit entries
    size_t entry_size = 4;
    const char* sdt_signature = "RSDT";
    if (rsdp[15] >= 2) {
        const uint8_t* rsdp2 = phys_ptr(rsdp_paddr, kRsdpV2MinLength);
        if (rsdp2 == nullptr) {
            return fail("bad RSDP address");
        }
        uint32_t rsdp_length = load32(rsdp2 + 20);
        if (rsdp_length < kRsdpV2MinLength || rsdp_length > 4096) {
            return fail("bad RSDP length");
        }
        rsdp2 = phys_ptr(rsdp_paddr, rsdp_length);
        if (rsdp2 == nullptr || !checksum_ok(rsdp2, rsdp_length)) {
            return fail("bad RSDP extended checksum");
        }
        if (uint64_t xsdt = load64(rsdp2 + 24); xsdt != 0) {
            sdt_paddr = xsdt;
            entry_size = 8;
            sdt_signature = "XSDT";
        }
    }
    uint32_t sdt_length = 0;
    const uint8_t* sdt = table_at(sdt_paddr, &sdt_length);
    if (sdt == nullptr || !same(sdt, sdt_signature, 4)) {
        return fail(entry_size == 8 ? "bad XSDT" : "bad RSDT");
    }
    for (size_t offset = kHeaderLength; offset + entry_size <= sdt_length; offset += entry_size) {
        uint64_t paddr = entry_size == 8 ? load64(sdt + offset) : load32(sdt + offset);
        const uint8_t* header = phys_ptr(paddr, kHeaderLength);
        if (header == nullptr || !same(header, "APIC", 4)) {
            continue;
        }
        uint32_t madt_length = 0;
        const uint8_t* madt = table_at(paddr, &madt_length);
        if (madt == nullptr || madt_length < kMadtEntriesOffset) {
            return fail("bad MADT");
        }
        return count_in_madt(madt, madt_length);
    }
    return fail("no MADT");
}

}  // namespace guest
