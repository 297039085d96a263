// What `bench` (mode_bench.cc) measures and prints: a log-linear latency histogram, a
// xorshift PRNG for offsets, and a line buffer with integer formatting (no libc).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

// Latencies in TSC ticks. Values below 64 have a bucket each; above, every power of two
// [2^e, 2^(e+1)) is split into 64 equal sub-buckets (relative error under 1/64). The largest
// value is also kept exactly.
class LatencyHistogram {
  public:
    static constexpr unsigned kSubBits = 6;
    static constexpr unsigned kSub = 1u << kSubBits;
    static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

    void clear();
    void add(uint64_t value) {
        ++counts_[bucket_of(value)];
        ++count_;
        if (value > max_) {
            max_ = value;
        }
    }
    void merge(const LatencyHistogram& other);
    uint64_t count() const { return count_; }
    uint64_t max() const { return max_; }
    // The value at fraction num/den of the samples (by rank, rounded up): the middle of its
    // bucket, never above max(). 0 when empty.
    uint64_t percentile(uint64_t num, uint64_t den) const;

    static unsigned bucket_of(uint64_t value) {
        if (value < kSub) {
            return static_cast<unsigned>(value);
        }
        auto top = static_cast<unsigned>(63 - __builtin_clzll(value));  // >= kSubBits
        unsigned shift = top - kSubBits;
        auto sub = static_cast<unsigned>((value >> shift) - kSub);
        return (shift + 1) * kSub + sub;
    }

  private:
    uint64_t counts_[kBuckets] = {};
    uint64_t count_ = 0;
    uint64_t max_ = 0;
};

// xorshift64* (Marsaglia; Vigna's multiplier): fast, good enough to scatter offsets.
class Xorshift {
  public:
    explicit Xorshift(uint64_t seed) : state_(seed == 0 ? 0x9e3779b97f4a7c15 : seed) {}
    uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1d;
    }
    // Uniform in [0, n) (multiply-high; n > 0).
    uint64_t below(uint64_t n) {
        return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }

  private:
    uint64_t state_;
};

// One output line built in memory, then written at once.
class LineBuffer {
  public:
    void str(const char* s);
    void u64(uint64_t value);
    // value / 10 with one decimal: 12345 -> "1234.5".
    void tenths(uint64_t value);
    const char* data() const { return buffer_; }
    size_t size() const { return length_; }

  private:
    void chr(char c) {
        if (length_ < sizeof(buffer_)) {
            buffer_[length_++] = c;
        }
    }
    char buffer_[2048] = {};  // bench's line with 8 devices takes about 1.4 KiB
    size_t length_ = 0;
};

// a * b / c with a 128-bit intermediate (divq; no libgcc), saturating at UINT64_MAX; c > 0.
// *remainder (if not null) gets a * b % c.
uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c, uint64_t* remainder = nullptr);
// ticks * 1e6 / tsc_khz (tsc_khz > 0).
inline uint64_t ticks_to_ns(uint64_t ticks, uint64_t tsc_khz) {
    return mul_div(ticks, 1'000'000, tsc_khz);
}

}  // namespace guest
