// Drives a virtio-blk queue the way the device does, over arbitrary guest memory: the harness
// for the "guest input never crashes us" property, used by fuzz_blk_chain and its randomized
// unit test (blk_queue_harness_test.cc). It drives the real SplitQueue and BlkRequest::parse;
// only the engine is simulated. The engine is simulated: requests that would go to it touch every
// byte of their buffers (so a bad pointer would be caught by the sanitizers) and complete OK.
#pragma once

#include <cstdint>
#include <span>

#include "virtio/blk_request.h"
#include "virtio/split_queue.h"

namespace nvmevm {

struct BlkQueueRunStats {
    bool enabled = false;       // the configuration passed validation
    bool broken = false;        // the queue ended in the "needs reset" state
    uint32_t popped = 0;        // chains popped
    uint32_t returned = 0;      // chains put in the used ring (all of them, unless the queue broke)
    uint32_t executed = 0;      // requests that reached the (simulated) engine
    uint32_t answered = 0;      // requests answered at once with a status
    uint32_t unanswerable = 0;  // chains returned with used length 0
    uint32_t interrupts = 0;
};

// Enables a queue over `ram` (as guest RAM at address 0) and processes everything available,
// with notifications handled as the device does (disable, drain, enable, re-check), at most
// `max_rounds` drain rounds. Every popped chain is returned.
[[nodiscard]] BlkQueueRunStats run_blk_queue(std::span<uint8_t> ram, const SplitQueueConfig& config,
                                             const BlkGeometry& geometry, int max_rounds = 4);

// The same, from one byte string (a fuzzer's input): the first 32 bytes choose the queue
// configuration and geometry, the rest is guest RAM.
[[nodiscard]] BlkQueueRunStats run_blk_queue_from_bytes(std::span<const uint8_t> data);

}  // namespace nvmevm
