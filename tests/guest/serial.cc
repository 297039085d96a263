#include "serial.h"

#include "devices/platform_ports.h"
#include "io.h"

namespace guest {
namespace {

constexpr uint16_t kThr = nvmevm::ports::kCom1 + 0;  // transmit holding register
constexpr uint16_t kLsr = nvmevm::ports::kCom1 + 5;  // line status register
constexpr uint8_t kLsrThrEmpty = 0x20;
// A UART that never reports THR empty must not hang the guest: give up waiting after this
// many polls and write anyway.
constexpr int kMaxPolls = 100000;

}  // namespace

void put_char(char c) {
    for (int i = 0; i < kMaxPolls && (inb(kLsr) & kLsrThrEmpty) == 0; ++i) {
        cpu_relax();
    }
    outb(kThr, static_cast<uint8_t>(c));
}

void put_chars(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        put_char(s[i]);
    }
}

void put_str(const char* s) {
    while (*s != '\0') {
        put_char(*s++);
    }
}

void put_hex(uint64_t value) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value & 0xf];
        value >>= 4;
    } while (value != 0);
    put_str("0x");
    while (n > 0) {
        put_char(digits[--n]);
    }
}

void put_dec(uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) {
        put_char(digits[--n]);
    }
}

void put_line_start(const char* s) {
    put_str("nvmevm test guest: ");
    put_str(s);
}

}  // namespace guest
