// `badio`: accesses to I/O ports and MMIO addresses nothing handles must not stop the VM.
// Reads of unhandled ports are expected to return all ones; what unhandled MMIO reads
// return is printed as it is.
#include "io.h"
#include "modes.h"
#include "serial.h"

namespace guest {
namespace {

constexpr uint16_t kPorts[] = {0x2f0, 0xe9, 0x9000};
constexpr uint64_t kMmio = 0xd0000000;  // in the PCI hole, no device there

void show(const char* what, uint64_t where, uint64_t value) {
    put_line_start("badio: ");
    put_str(what);
    put_char(' ');
    put_hex(where);
    put_str(" = ");
    put_hex(value);
    put_char('\n');
}

}  // namespace

void mode_badio(const Context&) {
    for (uint16_t port : kPorts) {
        outb(port, 0x5a);
        outw(port, 0x5a5a);
        outl(port, 0x5a5a5a5a);
        show("inb", port, inb(port));
        show("inw", port, inw(port));
        show("inl", port, inl(port));
    }
    mmio_write32(kMmio, 0x12345678);
    mmio_write8(kMmio + 0x11, 0x5a);
    mmio_write64(kMmio + 0x18, 0x0123456789abcdef);
    show("read32", kMmio, mmio_read32(kMmio));
    show("read8", kMmio + 0x11, mmio_read8(kMmio + 0x11));
    show("read64", kMmio + 0x18, mmio_read64(kMmio + 0x18));
    put_line_start("badio: still running\n");
}

}  // namespace guest
