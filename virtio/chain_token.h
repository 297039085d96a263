// The proof that a popped descriptor chain is owed an entry in the used ring.
//
// Guest input must never go unanswered (a chain that is popped and then forgotten hangs the
// guest's request forever), so the token is move-only and SplitQueue::push_used consumes it. A
// token destroyed while still owed is a VMM bug: it is counted in a process-wide leak counter
// that the tests check (cheap enough to stay on in release builds: one branch per destruction).
//
// The token also carries the queue's generation: a queue reset (driver reset of the device or of
// the queue) starts a new generation, and push_used drops tokens of an older one, so that an
// I/O completing after a reset cannot write into a ring the driver has re-allocated. After a
// reset, the owner of in-flight tokens calls forget() on them when their I/O ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace nvmevm {

class SplitQueue;

class ChainToken {
  public:
    ChainToken() = default;
    ChainToken(ChainToken&& other) noexcept
        : head_(other.head_),
          generation_(other.generation_),
          owed_(std::exchange(other.owed_, false)) {}
    ChainToken& operator=(ChainToken&& other) noexcept {
        if (this != &other) {
            note_leak_if_owed();
            head_ = other.head_;
            generation_ = other.generation_;
            owed_ = std::exchange(other.owed_, false);
        }
        return *this;
    }
    ChainToken(const ChainToken&) = delete;
    ChainToken& operator=(const ChainToken&) = delete;
    ~ChainToken() { note_leak_if_owed(); }

    [[nodiscard]] uint16_t head() const { return head_; }
    [[nodiscard]] uint32_t generation() const { return generation_; }
    // True until the chain is returned through SplitQueue::push_used (or forgotten).
    [[nodiscard]] bool owed() const { return owed_; }
    // Gives up the debt without answering: only for chains of a queue that has been reset, whose
    // ring the driver no longer expects answers in.
    void forget() { owed_ = false; }

    // Tokens destroyed while owed, since the process started. Tests expect this not to move.
    [[nodiscard]] static uint64_t leaks() { return leaks_.load(std::memory_order_relaxed); }

  private:
    friend class SplitQueue;
    ChainToken(uint16_t head, uint32_t generation)
        : head_(head), generation_(generation), owed_(true) {}
    void note_leak_if_owed() {
        if (owed_) leaks_.fetch_add(1, std::memory_order_relaxed);
    }

    uint16_t head_ = 0;
    uint32_t generation_ = 0;
    bool owed_ = false;
    static inline std::atomic<uint64_t> leaks_{0};
};

}  // namespace nvmevm
