// Descriptor-chain walking and virtio-blk request parsing over arbitrary guest memory: the
// split queue, the chain walker (direct and indirect descriptors) and the request parser, as
// virtio/blk_queue_fuzz.h drives them (its simulated engine touches every byte of every
// buffer, so a wrong translation is an ASan report). Input layout: run_blk_queue_from_bytes.
//
// Besides crashes and sanitizer reports, a finding is a broken promise of DESIGN.md's "guest
// input never goes unanswered": a popped chain that was not returned while the ring is intact.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "tests/fuzz/blk_queue_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const nvmevm::BlkQueueRunStats stats =
        nvmevm::run_blk_queue_from_bytes(std::span<const uint8_t>(data, size));
    if (stats.executed + stats.answered + stats.unanswerable != stats.popped ||
        (!stats.broken && stats.returned != stats.popped)) {
        std::fprintf(stderr, "popped %u returned %u executed %u answered %u unanswerable %u%s\n",
                     stats.popped, stats.returned, stats.executed, stats.answered,
                     stats.unanswerable, stats.broken ? " (broken)" : "");
        std::abort();
    }
    return 0;
}
