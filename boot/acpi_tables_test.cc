#include "boot/acpi_tables.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "boot/acpi_structs.h"
#include "boot/aml.h"
#include "boot/kernel_image.h"
#include "boot/layout.h"

namespace nvmevm {
namespace {

// Copies a (possibly misaligned) packed-struct field, so gtest can bind a reference to it.
template <typename T>
T val(T value) {
    return value;
}

constexpr uint64_t kRam = 64 << 20;

std::vector<uint8_t> guest_bytes(const GuestMemory& memory, uint64_t addr, uint64_t len) {
    std::vector<uint8_t> out(len);
    EXPECT_TRUE(memory.read(GuestAddress{addr}, out));
    return out;
}

// The ACPI rule, written here rather than taken from the code under test (whose own sum sets
// the checksums): a table or RSDP part is valid when its bytes add up to 0 modulo 256 (ACPI 6.4
// §5.2.5.3, §5.2.6).
bool sums_to_zero(std::span<const uint8_t> bytes) {
    unsigned total = 0;
    for (const uint8_t b : bytes) total += b;
    return total % 256 == 0;
}

// A little-endian 32-bit field, as a guest reads it.
uint32_t le32(std::span<const uint8_t> bytes, size_t offset) {
    return uint32_t{bytes[offset]} | uint32_t{bytes[offset + 1]} << 8 |
           uint32_t{bytes[offset + 2]} << 16 | uint32_t{bytes[offset + 3]} << 24;
}

// A table read back from guest memory by its own length field (header offset 4), so that a
// checksum covers exactly what a guest sums.
std::vector<uint8_t> guest_table(const GuestMemory& memory, uint64_t addr) {
    const uint32_t length = le32(guest_bytes(memory, addr, 8), 4);
    if (length < 36 || addr + length > kRam) {
        ADD_FAILURE() << "no table at " << addr << " (length " << length << ")";
        return {};
    }
    return guest_bytes(memory, addr, length);
}

// The BIOS read-only area a guest OS scans for the RSDP (ACPI 6.4 §5.2.5.1).
constexpr uint64_t kBiosAreaStart = 0xE0000;
constexpr uint64_t kBiosAreaEnd = 0x100000;

// What a guest OS without boot-time help does (Linux's acpi_tb_scan_memory_for_rsdp): the
// first 16-byte boundary of the BIOS area that holds "RSD PTR " with a valid 20-byte checksum.
std::optional<uint64_t> scan_for_rsdp(const GuestMemory& memory) {
    const std::vector<uint8_t> area =
        guest_bytes(memory, kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart);
    for (size_t offset = 0; offset + 20 <= area.size(); offset += 16) {
        const std::span<const uint8_t> candidate = std::span(area).subspan(offset, 20);
        if (std::memcmp(candidate.data(), "RSD PTR ", 8) == 0 && sums_to_zero(candidate))
            return kBiosAreaStart + offset;
    }
    return std::nullopt;
}

std::string signature(const std::vector<uint8_t>& table) {
    return table.size() < 4 ? std::string() : std::string(table.begin(), table.begin() + 4);
}

// A field of a table; 0 and a failure past its end (a table read from a wrong address), so a
// broken layout fails the test instead of reading out of bounds.
template <typename T>
T at(const std::vector<uint8_t>& table, size_t offset) {
    T value{};
    if (offset + sizeof(T) > table.size()) {
        ADD_FAILURE() << "field at " << offset << " past the end of a " << table.size()
                      << "-byte table";
        return value;
    }
    std::memcpy(&value, table.data() + offset, sizeof(T));
    return value;
}

struct Tables {
    uint64_t rsdp_addr;
    acpi::Rsdp rsdp;
    std::vector<uint8_t> xsdt, rsdt, fadt, madt, dsdt;
};

Tables read_tables(const GuestMemory& memory, uint64_t rsdp_addr) {
    Tables t{};
    t.rsdp_addr = rsdp_addr;
    t.rsdp = memory.read_obj<acpi::Rsdp>(GuestAddress{rsdp_addr}).value();
    t.xsdt = guest_table(memory, t.rsdp.xsdt_address);
    t.rsdt = guest_table(memory, t.rsdp.rsdt_address);
    t.fadt = guest_table(memory, at<uint64_t>(t.xsdt, 36));
    t.madt = guest_table(memory, at<uint64_t>(t.xsdt, 44));
    t.dsdt = guest_table(memory, at<uint64_t>(t.fadt, offsetof(acpi::Fadt, x_dsdt)));
    return t;
}

TEST(AcpiTables, RsdpIsFoundByScanAndBothChecksumsHold) {
    GuestMemory memory(kRam);
    const uint64_t rsdp_addr = write_acpi_tables(memory, AcpiPlatform::for_vcpus(2));
    EXPECT_EQ(rsdp_addr, layout::kAcpiTables);
    const std::optional<uint64_t> found = scan_for_rsdp(memory);
    ASSERT_TRUE(found) << "no RSDP with a valid checksum on a 16-byte boundary of 0xE0000-0xFFFFF";
    EXPECT_EQ(*found, rsdp_addr);
    // ACPI 2.0+: revision 2, the extended structure's length, and its checksum over all of it.
    const auto raw = guest_bytes(memory, *found, 36);
    EXPECT_EQ(raw[15], 2) << "revision";
    EXPECT_EQ(le32(raw, 20), 36u) << "length";
    EXPECT_TRUE(sums_to_zero(std::span(raw).first(20)));
    EXPECT_TRUE(sums_to_zero(std::span(raw).first(le32(raw, 20))));
}

TEST(AcpiTables, RootTablesListFadtAndMadtAndEveryChecksumHolds) {
    GuestMemory memory(kRam);
    const Tables t = read_tables(memory, write_acpi_tables(memory, AcpiPlatform::for_vcpus(2)));
    EXPECT_EQ(signature(t.xsdt), "XSDT");
    EXPECT_EQ(t.xsdt.size(), 36u + 2 * 8);
    EXPECT_EQ(signature(t.rsdt), "RSDT");
    ASSERT_EQ(t.rsdt.size(), 36u + 2 * 4);
    EXPECT_EQ(at<uint32_t>(t.rsdt, 36), at<uint64_t>(t.xsdt, 36));
    EXPECT_EQ(at<uint32_t>(t.rsdt, 40), at<uint64_t>(t.xsdt, 44));
    EXPECT_EQ(signature(t.fadt), "FACP");
    EXPECT_EQ(signature(t.madt), "APIC");
    EXPECT_EQ(signature(t.dsdt), "DSDT");
    for (const auto* table : {&t.xsdt, &t.rsdt, &t.fadt, &t.madt, &t.dsdt}) {
        ASSERT_GE(table->size(), 36u);
        EXPECT_TRUE(sums_to_zero(*table)) << signature(*table);
        EXPECT_EQ(std::string(table->begin() + 10, table->begin() + 16), "NVMEVM");
    }
    // All of it inside the BIOS area below 1 MiB, none overlapping the RSDP.
    for (uint64_t addr : {at<uint64_t>(t.xsdt, 36), at<uint64_t>(t.xsdt, 44)}) {
        EXPECT_GE(addr, layout::kAcpiTables + 36);
        EXPECT_LT(addr, layout::kHighMemory);
        EXPECT_EQ(addr % 16, 0u);
    }
}

TEST(AcpiTables, FadtIsHardwareReducedWithSleepAndResetRegisters) {
    const auto fadt_bytes = build_fadt(AcpiPlatform::for_vcpus(1), 0xE1000);
    ASSERT_EQ(fadt_bytes.size(), 276u);
    EXPECT_TRUE(sums_to_zero(fadt_bytes));
    acpi::Fadt f;
    std::memcpy(&f, fadt_bytes.data(), sizeof(f));
    EXPECT_EQ(val(f.header.revision), 6);
    EXPECT_EQ(val(f.header.length), 276u);
    EXPECT_EQ(val(f.flags), (1u << 20) | (1u << 10));
    EXPECT_EQ(val(f.x_dsdt), 0xE1000u);
    EXPECT_EQ(val(f.dsdt), 0xE1000u);
    EXPECT_EQ(val(f.sleep_control_reg.space_id), 1);  // SystemIO
    EXPECT_EQ(val(f.sleep_control_reg.address), 0x600u);
    EXPECT_EQ(val(f.sleep_control_reg.bit_width), 8);
    EXPECT_EQ(val(f.sleep_status_reg.address), 0x601u);
    EXPECT_EQ(val(f.reset_reg.space_id), 1);
    EXPECT_EQ(val(f.reset_reg.address), 0x602u);
    EXPECT_EQ(val(f.reset_value), 0x0f);
    EXPECT_FALSE(val(f.iapc_boot_arch) & acpi::kBootArchMsiNotSupported);  // virtio-pci needs MSI-X
    EXPECT_TRUE(val(f.iapc_boot_arch) & acpi::kBootArchVgaNotPresent);
    EXPECT_EQ(val(f.pm1a_cnt_blk), 0u);  // hardware-reduced: no fixed hardware blocks
    EXPECT_EQ(val(f.x_pm_tmr_blk.address), 0u);
    EXPECT_FALSE(val(f.iapc_boot_arch) & acpi::kBootArch8042);

    AcpiPlatform with_8042 = AcpiPlatform::for_vcpus(1);
    with_8042.i8042 = true;
    with_8042.cmos_rtc = true;
    std::memcpy(&f, build_fadt(with_8042, 0xE1000).data(), sizeof(f));
    EXPECT_EQ(val(f.iapc_boot_arch), acpi::kBootArchVgaNotPresent | acpi::kBootArch8042);
}

TEST(AcpiTables, MadtHasOneEnabledLocalApicPerVcpuAndTheIoApic) {
    const auto madt = build_madt(AcpiPlatform::for_vcpus(3));
    EXPECT_EQ(at<uint32_t>(madt, 36), 0xFEE00000u);
    EXPECT_EQ(at<uint32_t>(madt, 40), acpi::kMadtPcatCompat);
    EXPECT_EQ(at<uint32_t>(madt, 4), madt.size());
    EXPECT_EQ(madt.size(), 44u + 3 * 8 + 12 + 10 + 6);
    EXPECT_TRUE(sums_to_zero(madt));
    size_t offset = 44;
    int lapics = 0;
    while (offset < madt.size()) {
        const uint8_t type = madt[offset];
        const uint8_t length = madt[offset + 1];
        ASSERT_GE(length, 2);
        if (type == acpi::kMadtTypeLocalApic) {
            EXPECT_EQ(madt[offset + 2], lapics);  // processor UID
            EXPECT_EQ(madt[offset + 3], lapics);  // APIC id
            EXPECT_EQ(at<uint32_t>(madt, offset + 4), 1u);
            ++lapics;
        } else if (type == acpi::kMadtTypeIoApic) {
            EXPECT_EQ(madt[offset + 2], 3);  // id after the last local APIC
            EXPECT_EQ(at<uint32_t>(madt, offset + 4), 0xFEC00000u);
            EXPECT_EQ(at<uint32_t>(madt, offset + 8), 0u);
        } else if (type == acpi::kMadtTypeInterruptOverride) {
            EXPECT_EQ(madt[offset + 3], 0);                  // IRQ 0
            EXPECT_EQ(at<uint32_t>(madt, offset + 4), 2u);   // GSI 2
            EXPECT_EQ(at<uint16_t>(madt, offset + 8), 0x5);  // edge, active high
        }
        offset += length;
    }
    EXPECT_EQ(offset, madt.size());
    EXPECT_EQ(lapics, 3);
}

TEST(AcpiTables, DsdtContainsTheExpectedNames) {
    const auto dsdt = build_dsdt(AcpiPlatform::for_vcpus(1));
    const std::string text(dsdt.begin(), dsdt.end());
    for (const char* name : {"_S5_", "_SB_", "PCI0", "_HID", "_CRS", "_SEG", "_BBN", "COM1"}) {
        EXPECT_NE(text.find(name), std::string::npos) << name;
    }
    const auto pnp0a03 = aml::eisa_id("PNP0A03");
    EXPECT_NE(text.find(std::string(pnp0a03.begin(), pnp0a03.end())), std::string::npos);
    AcpiPlatform no_com1 = AcpiPlatform::for_vcpus(1);
    no_com1.com1 = false;
    const auto smaller = build_dsdt(no_com1);
    EXPECT_EQ(le32(dsdt, 4), dsdt.size());
    EXPECT_TRUE(sums_to_zero(dsdt));
    EXPECT_EQ(le32(smaller, 4), smaller.size());
    EXPECT_TRUE(sums_to_zero(smaller));
    EXPECT_EQ(std::string(smaller.begin(), smaller.end()).find("COM1"), std::string::npos);
}

TEST(AcpiTables, UnsupportedPlatformsAreRefused) {
    GuestMemory memory(kRam);
    EXPECT_THROW((void)write_acpi_tables(memory, AcpiPlatform::for_vcpus(0)), BootError);
    EXPECT_THROW((void)write_acpi_tables(memory, AcpiPlatform::for_vcpus(255)), BootError);
    (void)write_acpi_tables(memory, AcpiPlatform::for_vcpus(254));
    AcpiPlatform bad_window = AcpiPlatform::for_vcpus(1);
    bad_window.pci_mmio_end = bad_window.pci_mmio_start;
    EXPECT_THROW((void)write_acpi_tables(memory, bad_window), BootError);
    std::vector<uint8_t> small(0x80000);  // RAM ends below the ACPI area
    EXPECT_THROW((void)write_acpi_tables(GuestMemory::wrap(small), AcpiPlatform::for_vcpus(1)),
                 BootError);
}

// The strongest check that the tables are well-formed: ACPICA's disassembler (the same
// parser Linux uses) accepts them. Needs acpica-tools, which scripts/install-deps.sh installs:
// without it the check fails rather than skips, so that CI cannot lose it silently.
class Iasl : public ::testing::Test {
  protected:
    void SetUp() override {
        iasl_ = "/usr/bin/iasl";
        ASSERT_TRUE(std::filesystem::exists(iasl_))
            << iasl_ << " not found: install acpica-tools (scripts/install-deps.sh)";
        char pattern[] = "/tmp/nvmevm-acpi-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override {
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }

    // Disassembles `table` and returns the .dsl text; fails the test on a non-zero exit.
    std::string disassemble(const std::string& name, const std::vector<uint8_t>& table) {
        const auto path = dir_ / (name + ".dat");
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(table.data()),
                   static_cast<std::streamsize>(table.size()));
        const std::string command = iasl_.string() + " -d " + path.string() + " > " +
                                    (dir_ / (name + ".log")).string() + " 2>&1";
        const int status = std::system(command.c_str());
        std::stringstream log;
        log << std::ifstream(dir_ / (name + ".log")).rdbuf();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log.str();
        std::stringstream dsl;
        dsl << std::ifstream(dir_ / (name + ".dsl")).rdbuf();
        return dsl.str();
    }

    // Runs `iasl args` in the temp dir; the exit status must be 0.
    void run(const std::string& args) {
        const std::string command =
            "cd " + dir_.string() + " && " + iasl_.string() + " " + args + " > run.log 2>&1";
        const int status = std::system(command.c_str());
        std::stringstream log;
        log << std::ifstream(dir_ / "run.log").rdbuf();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log.str();
    }

    std::filesystem::path iasl_;
    std::filesystem::path dir_;
};

TEST_F(Iasl, DisassemblesDsdt) {
    const std::string dsl = disassemble("dsdt", build_dsdt(AcpiPlatform::for_vcpus(2)));
    for (const char* want :
         {"PNP0A03", "PNP0501", "_S5_", "Device (PCI0)", "Device (COM1)", "WordBusNumber", "0x0CF8",
          "0x0CF7", "0x0D00", "0xC0000000", "0xFEBFFFFF", "IRQNoFlags", "0x03F8"}) {
        EXPECT_NE(dsl.find(want), std::string::npos) << want << " not in:\n" << dsl;
    }
    EXPECT_EQ(dsl.find("Error"), std::string::npos) << dsl;
}

// Disassembling and compiling again (without iasl's optimisations, which shorten name
// paths) gives back exactly nvmevm's AML: every encoding is the canonical one.
TEST_F(Iasl, DsdtRoundTripsThroughTheCompiler) {
    const auto dsdt = build_dsdt(AcpiPlatform::for_vcpus(2));
    (void)disassemble("dsdt", dsdt);
    run("-oa -p again dsdt.dsl");
    std::ifstream in(dir_ / "again.aml", std::ios::binary);
    const std::vector<uint8_t> again((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    ASSERT_EQ(again.size(), dsdt.size());
    const size_t header = sizeof(acpi::TableHeader);  // compiler id and checksum differ
    EXPECT_TRUE(std::equal(dsdt.begin() + header, dsdt.end(), again.begin() + header));
}

TEST_F(Iasl, DisassemblesFadt) {
    const std::string dsl = disassemble("facp", build_fadt(AcpiPlatform::for_vcpus(2), 0xE0040));
    for (const char* want : {"Hardware Reduced (V5) : 1", "Reset Register Supported (V2) : 1",
                             "0000000000000600", "0000000000000601", "0000000000000602"}) {
        EXPECT_NE(dsl.find(want), std::string::npos) << want << " not in:\n" << dsl;
    }
    EXPECT_EQ(dsl.find("Invalid"), std::string::npos) << dsl;
}

TEST_F(Iasl, DisassemblesMadt) {
    const std::string dsl = disassemble("apic", build_madt(AcpiPlatform::for_vcpus(2)));
    for (const char* want : {"Processor Local APIC", "I/O APIC", "Interrupt Source Override",
                             "FEC00000", "FEE00000"}) {
        EXPECT_NE(dsl.find(want), std::string::npos) << want << " not in:\n" << dsl;
    }
    EXPECT_EQ(dsl.find("Invalid"), std::string::npos) << dsl;
}

}  // namespace
}  // namespace nvmevm
