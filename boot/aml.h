// A tiny ACPI Machine Language encoder: just the terms nvmevm's DSDT uses. Encodings follow
// ACPI 6.4 §20 ("ACPI Machine Language (AML) Specification") and the resource descriptors
// §6.4 ("Resource Data Types for ACPI"). Every function returns the complete encoded term;
// terms nest by passing encoded children in.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace nvmevm::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength (§20.2.4) for `content` bytes that follow it: the returned bytes count
// themselves. Throws std::length_error beyond the 2^28 limit.
[[nodiscard]] Bytes pkg_length(size_t content);

// NameString (§20.2.2): "\\_SB_.PCI0", "_S5_", "COM1". Segments shorter than four characters
// are padded with '_' as ASL does. Throws std::invalid_argument on a bad name.
[[nodiscard]] Bytes name_string(std::string_view path);

// ComputationalData (§20.2.3): the shortest of ZeroOp, OneOp, BytePrefix, WordPrefix,
// DWordPrefix, QWordPrefix.
[[nodiscard]] Bytes integer(uint64_t value);
[[nodiscard]] Bytes string(std::string_view text);
// ASL's EisaId("PNP0A03"): the compressed 32-bit EISA id as a DWordConst. Throws
// std::invalid_argument unless it is three capital letters and four hex digits.
[[nodiscard]] Bytes eisa_id(std::string_view id);
[[nodiscard]] uint32_t eisa_id_value(std::string_view id);

// DefPackage (§20.2.5.4): Package(N) { elements } with N = elements.size() (at most 255).
[[nodiscard]] Bytes package(std::span<const Bytes> elements);
// DefBuffer (§20.2.5.4): Buffer(size) { bytes }.
[[nodiscard]] Bytes buffer(std::span<const uint8_t> data);
// DefName (§20.2.5.1): Name(name, object).
[[nodiscard]] Bytes name(std::string_view path, const Bytes& object);
// DefScope (§20.2.5.1) and DefDevice (§20.2.5.2) around a list of terms.
[[nodiscard]] Bytes scope(std::string_view path, std::span<const Bytes> terms);
[[nodiscard]] Bytes device(std::string_view path, std::span<const Bytes> terms);

// Resource descriptors for a ResourceTemplate (§6.4.2 small, §6.4.3 large items).
namespace resource {
// IO(Decode16, min, max, alignment, length) (§6.4.2.5).
[[nodiscard]] Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQNoFlags() { irq } (§6.4.2.1): edge-triggered, active-high, exclusive ISA IRQ.
[[nodiscard]] Bytes irq_no_flags(uint8_t irq);
// WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, len)
// (§6.4.3.5.3).
[[nodiscard]] Bytes word_bus_number(uint16_t min, uint16_t max);
// WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len).
[[nodiscard]] Bytes word_io(uint16_t min, uint16_t max);
// DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0,
// min, max, 0, len) (§6.4.3.5.2).
[[nodiscard]] Bytes dword_memory(uint32_t min, uint32_t max);
}  // namespace resource

// ResourceTemplate() { descriptors }: a Buffer of the descriptors and an End Tag (§6.4.2.9).
[[nodiscard]] Bytes resource_template(std::span<const Bytes> descriptors);

}  // namespace nvmevm::aml
