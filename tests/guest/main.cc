// The ring-3 program: reads the PVH command line and runs the modes it names, in order,
// then exits with `status=N` through nvmevm's guest control port.
//
// The whole command line is checked before anything runs: an unknown word or a bad status
// exits with status 1 and nothing else happens. Without a mode word it runs `hello`.
// A bad hvm_start_info (magic) exits with status 2; a mode whose checks failed (blk) makes it
// exit with status 3 (kStatusCheckFailed) whatever status= said.
#include <stdint.h>

#include "cmdline.h"
#include "control.h"
#include "io.h"
#include "modes.h"
#include "serial.h"
#include "start_info.h"

namespace guest {
namespace {

struct Mode {
    const char* word;
    void (*run)(const Context&);
};

constexpr Mode kModes[] = {
    {"hello", mode_hello},     {"badio", mode_badio},       {"cpus", mode_cpus},
    {"info", mode_info},       {"reset", mode_reset},       {"poweroff", mode_poweroff},
    {"crash", mode_crash},     {"spin", mode_spin},         {"blk", mode_blk},
    {"blkinfo", mode_blkinfo}, {"blkbench", mode_blkbench}, {"smp", mode_smp},
    {"bench", mode_bench},     {"hostile", mode_hostile},   {"chatter", mode_chatter},
};

// Words that only modify a mode (the mode reads them from the command line).
constexpr const char* kOptionWords[] = {"noevtidx", "noindirect", "nomq", "irq", "nosmp"};

bool g_mode_failed = false;

constexpr uint8_t kStatusUsage = 1;
constexpr uint8_t kStatusBadStartInfo = 2;

const Mode* find_mode(const Word& word) {
    for (const Mode& mode : kModes) {
        if (word.is(mode.word)) {
            return &mode;
        }
    }
    return nullptr;
}

[[noreturn]] void usage_error(const char* what, const Word& word) {
    put_line_start(what);
    put_chars(word.text, word.length);
    put_char('\n');
    exit_vm(kStatusUsage);
}

// First pass: every word known, the status (the last status= wins).
uint8_t check_cmdline(const char* cmdline, bool* has_mode) {
    uint64_t status = 0;
    *has_mode = false;
    Words words(cmdline);
    Word word;
    while (words.next(&word)) {
        Word value;
        if (word.has_prefix("status=", &value)) {
            if (!parse_decimal(value, kMaxExitStatus, &status)) {
                usage_error("bad status: ", word);
            }
        } else if (find_mode(word) != nullptr) {
            *has_mode = true;
        } else if (is_option_word(word.text, word.length)) {
            // read by the modes it modifies
        } else if (bool bad = false; is_bench_word(word.text, word.length, &bad)) {
            if (bad) {
                usage_error("bad bench option: ", word);
            }
        } else {
            usage_error("unknown word: ", word);
        }
    }
    return static_cast<uint8_t>(status);
}

}  // namespace

bool is_option_word(const char* text, size_t length) {
    const Word word{text, length};
    for (const char* option : kOptionWords) {
        if (word.is(option)) {
            return true;
        }
    }
    return false;
}

void report_mode_failure() {
    g_mode_failed = true;
}

}  // namespace guest

extern "C" [[noreturn]] void guest_main(uint32_t start_info_paddr, uint64_t entry_tsc) {
    using namespace guest;
    const HvmStartInfo* info = start_info_at(start_info_paddr);
    if (info == nullptr) {
        put_line_start("no hvm_start_info (bad address or magic) at ");
        put_hex(start_info_paddr);
        put_char('\n');
        exit_vm(kStatusBadStartInfo);
    }
    const Context context{info, entry_tsc};
    const char* cmdline = start_info_cmdline(*info);

    bool has_mode = false;
    uint8_t status = check_cmdline(cmdline, &has_mode);
    if (!has_mode) {
        mode_hello(context);
    }
    Words words(cmdline);
    Word word;
    while (words.next(&word)) {
        if (const Mode* mode = find_mode(word)) {
            mode->run(context);
        }
    }

    if (g_mode_failed) {
        status = kStatusCheckFailed;
    }
    put_line_start("exit status=");
    put_dec(status);
    put_str(" cycles=");
    put_dec(rdtsc() - entry_tsc);
    put_char('\n');
    exit_vm(status);
}
