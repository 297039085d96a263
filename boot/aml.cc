#include "boot/aml.h"

#include <stdexcept>
#include <string>

namespace nvmevm::aml {
namespace {

// Opcodes, ACPI 6.4 §20.3 "AML Byte Stream Byte Values".
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kRootChar = 0x5c;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kParentPrefixChar = 0x5e;

// Resource descriptor tags, §6.4.2 and §6.4.3.
constexpr uint8_t kIrqNoFlagsTag = 0x22;  // small item 0x04, length 2
constexpr uint8_t kIoPortTag = 0x47;      // small item 0x08, length 7
constexpr uint8_t kEndTag = 0x79;         // small item 0x0f, length 1
constexpr uint8_t kDWordAddressTag = 0x87;
constexpr uint8_t kWordAddressTag = 0x88;
constexpr uint8_t kIoDecode16 = 0x01;
// Address space descriptors: resource types and flags (§6.4.3.5.1 / Table 6.48).
constexpr uint8_t kMemoryRange = 0;
constexpr uint8_t kIoRange = 1;
constexpr uint8_t kBusNumberRange = 2;
constexpr uint8_t kProducerMinFixedMaxFixed = 0x0c;     // _MAF | _MIF, positive decode, producer
constexpr uint8_t kIoEntireRange = 0x03;                // _RNG = 3
constexpr uint8_t kMemoryReadWriteNonCacheable = 0x01;  // _RW = 1, _MEM = 0

void append(Bytes& out, std::span<const uint8_t> more) {
    out.insert(out.end(), more.begin(), more.end());
}

template <typename T>
void append_le(Bytes& out, T value) {
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

bool lead_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || c == '_';
}
bool name_char(char c) {
    return lead_name_char(c) || (c >= '0' && c <= '9');
}

void append_name_seg(Bytes& out, std::string_view seg, std::string_view path) {
    if (seg.empty() || seg.size() > 4 || !lead_name_char(seg[0])) {
        throw std::invalid_argument("bad AML name segment in \"" + std::string(path) + "\"");
    }
    for (char c : seg) {
        if (!name_char(c)) {
            throw std::invalid_argument("bad AML name character in \"" + std::string(path) + "\"");
        }
        out.push_back(static_cast<uint8_t>(c));
    }
    for (size_t i = seg.size(); i < 4; ++i) out.push_back('_');
}

// Opcode(s), PkgLength, then body: the shape of every variable-length term.
Bytes with_pkg_length(std::span<const uint8_t> opcode, const Bytes& body) {
    Bytes out(opcode.begin(), opcode.end());
    append(out, pkg_length(body.size()));
    append(out, body);
    return out;
}

Bytes concat(std::span<const Bytes> parts) {
    Bytes out;
    for (const Bytes& part : parts) append(out, part);
    return out;
}

Bytes word_address(uint8_t resource_type, uint8_t type_flags, uint16_t min, uint16_t max) {
    Bytes out{kWordAddressTag};
    append_le<uint16_t>(out, 13);  // length of the fields below
    out.push_back(resource_type);
    out.push_back(kProducerMinFixedMaxFixed);
    out.push_back(type_flags);
    append_le<uint16_t>(out, 0);  // granularity
    append_le<uint16_t>(out, min);
    append_le<uint16_t>(out, max);
    append_le<uint16_t>(out, 0);  // translation offset
    append_le<uint16_t>(out, static_cast<uint16_t>(max - min + 1));
    return out;
}

}  // namespace

Bytes pkg_length(size_t content) {
    // §20.2.4: bits 7-6 of the lead byte count the bytes that follow; with one byte the
    // length is bits 5-0, otherwise the lead byte gives bits 3-0 and each further byte the
    // next 8 bits. The encoded length includes the PkgLength bytes themselves.
    if (content + 1 < (1u << 6)) return {static_cast<uint8_t>(content + 1)};
    for (size_t n = 2; n <= 4; ++n) {
        const size_t total = content + n;
        if (total >= (size_t{1} << (4 + 8 * (n - 1)))) continue;
        Bytes out{static_cast<uint8_t>(((n - 1) << 6) | (total & 0x0f))};
        for (size_t i = 1; i < n; ++i)
            out.push_back(static_cast<uint8_t>(total >> (4 + 8 * (i - 1))));
        return out;
    }
    throw std::length_error("AML package longer than 2^28 bytes");
}

Bytes name_string(std::string_view path) {
    Bytes out;
    if (!path.empty() && path[0] == '\\') {
        out.push_back(kRootChar);
        path.remove_prefix(1);
    } else {
        while (!path.empty() && path[0] == '^') {
            out.push_back(kParentPrefixChar);
            path.remove_prefix(1);
        }
    }
    std::vector<std::string_view> segs;
    for (size_t start = 0; !path.empty() && start <= path.size();) {
        const size_t dot = path.find('.', start);
        const size_t end = dot == std::string_view::npos ? path.size() : dot;
        segs.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    if (segs.empty()) {
        out.push_back(0x00);  // NullName
    } else if (segs.size() == 2) {
        out.push_back(kDualNamePrefix);
    } else if (segs.size() > 2) {
        if (segs.size() > 255) throw std::invalid_argument("AML name path too long");
        out.push_back(kMultiNamePrefix);
        out.push_back(static_cast<uint8_t>(segs.size()));
    }
    for (std::string_view seg : segs) append_name_seg(out, seg, path);
    return out;
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    Bytes out;
    if (value <= UINT8_MAX) {
        out.push_back(kBytePrefix);
        append_le(out, static_cast<uint8_t>(value));
    } else if (value <= UINT16_MAX) {
        out.push_back(kWordPrefix);
        append_le(out, static_cast<uint16_t>(value));
    } else if (value <= UINT32_MAX) {
        out.push_back(kDWordPrefix);
        append_le(out, static_cast<uint32_t>(value));
    } else {
        out.push_back(kQWordPrefix);
        append_le(out, value);
    }
    return out;
}

Bytes string(std::string_view text) {
    Bytes out{kStringPrefix};
    for (char c : text) {
        // §20.2.3: AsciiCharList is 0x01-0x7F.
        if (c <= 0) throw std::invalid_argument("AML strings are 7-bit ASCII without NUL");
        out.push_back(static_cast<uint8_t>(c));
    }
    out.push_back(0x00);
    return out;
}

uint32_t eisa_id_value(std::string_view id) {
    auto hex_digit = [&](char c) -> uint32_t {
        if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
        if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
        throw std::invalid_argument("bad EISA id \"" + std::string(id) + "\"");
    };
    if (id.size() != 7) throw std::invalid_argument("bad EISA id \"" + std::string(id) + "\"");
    uint32_t letters = 0;
    for (size_t i = 0; i < 3; ++i) {
        if (id[i] < 'A' || id[i] > 'Z') {
            throw std::invalid_argument("bad EISA id \"" + std::string(id) + "\"");
        }
        letters = (letters << 5) | static_cast<uint32_t>(id[i] - '@');  // 'A' = 1
    }
    uint32_t digits = 0;
    for (size_t i = 3; i < 7; ++i) digits = (digits << 4) | hex_digit(id[i]);
    // Big-endian: 1 reserved bit, three 5-bit letters, four 4-bit digits; stored so that
    // the bytes read in order are that big-endian word (PNP0A03 -> 41 d0 0a 03).
    return __builtin_bswap32((letters << 16) | digits);
}

Bytes eisa_id(std::string_view id) {
    Bytes out{kDWordPrefix};
    append_le(out, eisa_id_value(id));
    return out;
}

Bytes package(std::span<const Bytes> elements) {
    if (elements.size() > 255) throw std::length_error("AML package with more than 255 elements");
    Bytes body{static_cast<uint8_t>(elements.size())};
    append(body, concat(elements));
    const uint8_t op[] = {kPackageOp};
    return with_pkg_length(op, body);
}

Bytes buffer(std::span<const uint8_t> data) {
    Bytes body = integer(data.size());
    append(body, data);
    const uint8_t op[] = {kBufferOp};
    return with_pkg_length(op, body);
}

Bytes name(std::string_view path, const Bytes& object) {
    Bytes out{kNameOp};
    append(out, name_string(path));
    append(out, object);
    return out;
}

Bytes scope(std::string_view path, std::span<const Bytes> terms) {
    Bytes body = name_string(path);
    append(body, concat(terms));
    const uint8_t op[] = {kScopeOp};
    return with_pkg_length(op, body);
}

Bytes device(std::string_view path, std::span<const Bytes> terms) {
    Bytes body = name_string(path);
    append(body, concat(terms));
    const uint8_t op[] = {kExtOpPrefix, kDeviceOp};
    return with_pkg_length(op, body);
}

namespace resource {

Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
    Bytes out{kIoPortTag, kIoDecode16};
    append_le(out, min);
    append_le(out, max);
    out.push_back(alignment);
    out.push_back(length);
    return out;
}

Bytes irq_no_flags(uint8_t irq) {
    if (irq > 15) throw std::invalid_argument("ISA IRQ descriptor takes IRQ 0-15");
    Bytes out{kIrqNoFlagsTag};
    append_le(out, static_cast<uint16_t>(1u << irq));
    return out;
}

Bytes word_bus_number(uint16_t min, uint16_t max) {
    return word_address(kBusNumberRange, 0, min, max);
}

Bytes word_io(uint16_t min, uint16_t max) {
    return word_address(kIoRange, kIoEntireRange, min, max);
}

Bytes dword_memory(uint32_t min, uint32_t max) {
    Bytes out{kDWordAddressTag};
    append_le<uint16_t>(out, 23);  // length of the fields below
    out.push_back(kMemoryRange);
    out.push_back(kProducerMinFixedMaxFixed);
    out.push_back(kMemoryReadWriteNonCacheable);
    append_le<uint32_t>(out, 0);  // granularity
    append_le(out, min);
    append_le(out, max);
    append_le<uint32_t>(out, 0);  // translation offset
    append_le(out, max - min + 1);
    return out;
}

}  // namespace resource

Bytes resource_template(std::span<const Bytes> descriptors) {
    Bytes data = concat(descriptors);
    // End Tag with checksum 0: "the resource data is treated as if the checksum operation
    // yielded zero" (§6.4.2.9), which is what ASL compilers emit.
    data.push_back(kEndTag);
    data.push_back(0);
    return buffer(data);
}

}  // namespace nvmevm::aml
