// The modes that just print and maybe end the VM.
#include "control.h"
#include "modes.h"
#include "serial.h"

namespace guest {

void mode_hello(const Context&) {
    put_line_start("hello\n");
}

void mode_reset(const Context&) {
    put_line_start("reset\n");
    reset_vm();
}

void mode_poweroff(const Context&) {
    put_line_start("poweroff\n");
    poweroff_vm();
}

void mode_spin(const Context&) {
    // Runs until the host stops the VM (SIGTERM/SIGINT tests, memory measurements). Ring 3, so
    // it costs the host one busy core and no exits.
    put_line_start("spinning\n");
    for (;;) {
        asm volatile("pause");
    }
}

void mode_chatter(const Context&) {
    // More than a pipe buffer (64 KiB) holds: the console tests see writes after the reader of
    // nvmevm's stdout went away.
    for (uint64_t line = 0; line < 2048; ++line) {
        put_line_start("chatter ");
        put_dec(line);
        put_str(" the quick brown fox jumps over the lazy dog\n");
    }
}

void mode_crash(const Context&) {
    put_line_start("crash\n");
    crash_vm();
}

}  // namespace guest
