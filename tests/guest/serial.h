// Output on COM1 (8250 UART at 0x3f8), polled. Under nvmevm every port access is an exit,
// so printing costs tens of microseconds per character: keep it out of measured loops.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

void put_char(char c);
void put_str(const char* s);
void put_chars(const char* s, size_t n);
void put_hex(uint64_t value);  // "0x" followed by lowercase hex digits, no leading zeros
void put_dec(uint64_t value);
// "nvmevm test guest: " + s; the prefix of every line the guest prints.
void put_line_start(const char* s = "");

}  // namespace guest
