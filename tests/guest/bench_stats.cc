#include "bench_stats.h"

namespace guest {

void LatencyHistogram::clear() {
    for (uint64_t& c : counts_) {
        c = 0;
    }
    count_ = 0;
    max_ = 0;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (unsigned i = 0; i < kBuckets; ++i) {
        counts_[i] += other.counts_[i];
    }
    count_ += other.count_;
    if (other.max_ > max_) {
        max_ = other.max_;
    }
}

uint64_t LatencyHistogram::percentile(uint64_t num, uint64_t den) const {
    if (count_ == 0) {
        return 0;
    }
    uint64_t rest = 0;
    uint64_t rank = mul_div(count_, num, den, &rest);
    if (rest != 0) {
        ++rank;  // rounded up
    }
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen < rank) {
            continue;
        }
        if (i < kSub) {
            return i;
        }
        unsigned shift = i / kSub - 1;
        uint64_t low = uint64_t{kSub + i % kSub} << shift;
        uint64_t mid = low + ((uint64_t{1} << shift) >> 1);
        return mid < max_ ? mid : max_;
    }
    return max_;
}

void LineBuffer::str(const char* s) {
    while (*s != '\0') {
        chr(*s++);
    }
}

void LineBuffer::u64(uint64_t value) {
    char digits[20];
    unsigned n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) {
        chr(digits[--n]);
    }
}

void LineBuffer::tenths(uint64_t value) {
    u64(value / 10);
    chr('.');
    chr(static_cast<char>('0' + value % 10));
}

uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c, uint64_t* remainder) {
    uint64_t lo;
    uint64_t hi;
    asm("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b) : "cc");
    if (hi >= c) {
        if (remainder != nullptr) {
            *remainder = 0;
        }
        return ~uint64_t{0};  // the quotient would not fit (divq would fault)
    }
    uint64_t quotient;
    uint64_t rest;
    asm("divq %4" : "=a"(quotient), "=d"(rest) : "a"(lo), "d"(hi), "rm"(c) : "cc");
    if (remainder != nullptr) {
        *remainder = rest;
    }
    return quotient;
}

}  // namespace guest
