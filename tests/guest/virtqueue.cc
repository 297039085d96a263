#include "virtqueue.h"

namespace guest {
namespace {

// struct virtq_desc (2.7.5).
struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);

constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
constexpr uint16_t kAvailNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT
constexpr uint16_t kUsedNoNotify = 1;      // VIRTQ_USED_F_NO_NOTIFY

// One queue's memory. Alignment: the descriptor table needs 16, the driver area 2 and the
// device area 4 (2.7); each gets its own page, which is more than enough.
struct alignas(4096) QueueMemory {
    VirtqDesc desc[Virtqueue::kMaxSize];
    // struct virtq_avail: flags, idx, ring[size], used_event (EVENT_IDX).
    alignas(4096) uint16_t avail[2 + Virtqueue::kMaxSize + 1];
    // struct virtq_used: flags, idx, ring[size] of {le32 id; le32 len}, avail_event. Kept as
    // 16-bit words (the 32-bit fields read as two halves once used idx covers them), so
    // every access has the array's own type.
    alignas(4096) uint16_t used[2 + 4 * Virtqueue::kMaxSize + 2];
    alignas(64) VirtqDesc indirect[Virtqueue::kMaxIndirect][Virtqueue::kMaxChain];
};

QueueMemory g_memory[Virtqueue::kMemorySets];

// Ring fields are shared with the device: every access is volatile, so the compiler neither
// caches, merges nor reorders them with each other.
volatile uint16_t* avail_field(QueueMemory& m, unsigned i) {
    return &m.avail[i];
}
volatile uint16_t* used_field(QueueMemory& m, unsigned i) {
    return &m.used[i];
}
uint32_t used_field32(QueueMemory& m, unsigned i) {
    return *used_field(m, i) | uint32_t{*used_field(m, i + 1)} << 16;
}

void full_fence() {
    // Orders the avail idx store before the following load of the device's suppression
    // state (x86 may otherwise satisfy the load before the store is visible).
    asm volatile("lock orq $0, (%%rsp)" : : : "memory", "cc");
}

uint64_t address_of(const void* p) {
    return reinterpret_cast<uintptr_t>(p);
}

// vring_need_event (2.7.10): true when new_idx has moved past event_idx since old_idx.
bool need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
    return static_cast<uint16_t>(new_idx - event_idx - 1) <
           static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace

bool Virtqueue::init(VirtioPci* transport, uint16_t index, unsigned memory, uint16_t limit,
                     bool event_idx, uint16_t msix_vector, const char** error) {
    if (index >= kMaxQueues || memory >= kMemorySets) {
        *error = "queue beyond the guest's memory for queues";
        return false;
    }
    uint16_t max = transport->queue_max_size(index);
    if (max == 0) {
        *error = "queue_size reads 0 (queue not available)";
        return false;
    }
    uint16_t cap = max < kMaxSize ? max : kMaxSize;
    if (limit != 0 && limit < cap) {
        cap = limit;
    }
    uint16_t size = 1;
    while (static_cast<uint16_t>(size * 2) <= cap && size * 2 <= kMaxSize) {
        size = static_cast<uint16_t>(size * 2);
    }

    transport_ = transport;
    index_ = index;
    memory_ = memory;
    size_ = size;
    event_idx_ = event_idx;
    interrupts_ = msix_vector != kVirtioNoVector;
    avail_idx_ = 0;
    kicked_avail_idx_ = 0;
    last_used_ = 0;
    in_flight_ = 0;
    stats_ = VirtqStats{};
    for (uint64_t& word : indirect_free_) {
        word = ~uint64_t{0};
    }
    QueueMemory& m = g_memory[memory];
    for (uint16_t i = 0; i < kMaxSize; ++i) {
        m.desc[i] = VirtqDesc{};
        next_free_[i] = static_cast<uint16_t>(i + 1);
        tokens_[i] = nullptr;
        chain_length_[i] = 0;
        indirect_table_[i] = -1;
    }
    for (auto& field : m.avail) {
        field = 0;
    }
    for (auto& field : m.used) {
        field = 0;
    }
    free_head_ = 0;
    num_free_ = size;
    // Polling: no used-buffer notifications wanted. Without EVENT_IDX the driver "MAY set
    // flags to 1"; with it, flags "MUST" be 0 and used_event says when (2.7.7.2), and
    // last_used - 1 stays behind whatever the device publishes (updated in pop_used).
    // Interrupts: flags 0, and used_event = last_used (the next used buffer notifies).
    *avail_field(m, 0) = event_idx || interrupts_ ? 0 : kAvailNoInterrupt;
    *avail_field(m, 2 + size) = used_event();
    return transport->setup_queue(index, size, address_of(m.desc), address_of(m.avail),
                                  address_of(m.used), msix_vector, error);
}

int Virtqueue::take_indirect_table() {
    for (unsigned w = 0; w < kMaxIndirect / 64; ++w) {
        if (indirect_free_[w] != 0) {
            auto bit = static_cast<unsigned>(__builtin_ctzll(indirect_free_[w]));
            indirect_free_[w] &= ~(uint64_t{1} << bit);
            return static_cast<int>(w * 64 + bit);
        }
    }
    return -1;
}

void Virtqueue::free_indirect_table(unsigned table) {
    indirect_free_[table / 64] |= uint64_t{1} << (table % 64);
}

bool Virtqueue::add(const VirtqBuffer* buffers, unsigned n, bool indirect, void* token) {
    if (n == 0 || n > kMaxChain || token == nullptr) {
        return false;
    }
    unsigned ring_descriptors = indirect ? 1 : n;
    if (ring_descriptors > num_free_) {
        return false;
    }
    int taken = indirect ? take_indirect_table() : -1;
    if (indirect && taken < 0) {
        return false;
    }
    QueueMemory& m = g_memory[memory_];
    uint16_t head = free_head_;
    if (indirect) {
        auto table = static_cast<unsigned>(taken);
        VirtqDesc* entries = m.indirect[table];
        for (unsigned i = 0; i < n; ++i) {
            bool last = i + 1 == n;
            entries[i].addr = buffers[i].addr;
            entries[i].len = buffers[i].len;
            entries[i].flags = static_cast<uint16_t>((buffers[i].device_writes ? kDescWrite : 0) |
                                                     (last ? 0 : kDescNext));
            entries[i].next = static_cast<uint16_t>(last ? 0 : i + 1);
        }
        VirtqDesc& d = m.desc[head];
        d.addr = address_of(entries);
        d.len = static_cast<uint32_t>(n * sizeof(VirtqDesc));
        d.flags = kDescIndirect;
        d.next = 0;
        free_head_ = next_free_[head];
        indirect_table_[head] = static_cast<int16_t>(table);
    } else {
        uint16_t at = head;
        for (unsigned i = 0; i < n; ++i) {
            bool last = i + 1 == n;
            VirtqDesc& d = m.desc[at];
            uint16_t next = next_free_[at];
            d.addr = buffers[i].addr;
            d.len = buffers[i].len;
            d.flags = static_cast<uint16_t>((buffers[i].device_writes ? kDescWrite : 0) |
                                            (last ? 0 : kDescNext));
            d.next = last ? 0 : next;
            at = next;
        }
        free_head_ = at;
        indirect_table_[head] = -1;
    }
    num_free_ = static_cast<uint16_t>(num_free_ - ring_descriptors);
    chain_length_[head] = static_cast<uint8_t>(ring_descriptors);
    tokens_[head] = token;
    ++in_flight_;
    ++stats_.chains;

    // The ring entry, then the index that publishes it: descriptor and entry stores are
    // ordered before the idx store (x86 TSO; volatile keeps the compiler in line; the asm
    // memory clobber covers the plain descriptor stores above).
    asm volatile("" : : : "memory");
    *avail_field(m, 2 + avail_idx_ % size_) = head;
    asm volatile("" : : : "memory");
    avail_idx_ = static_cast<uint16_t>(avail_idx_ + 1);
    *avail_field(m, 1) = avail_idx_;
    return true;
}

void Virtqueue::kick() {
    QueueMemory& m = g_memory[memory_];
    uint16_t old_idx = kicked_avail_idx_;
    uint16_t new_idx = avail_idx_;
    if (old_idx == new_idx) {
        return;  // nothing added since the last kick
    }
    kicked_avail_idx_ = new_idx;
    full_fence();
    bool notify;
    if (event_idx_) {
        uint16_t avail_event = *used_field(m, 2 + 4 * size_);
        notify = need_event(avail_event, new_idx, old_idx);
    } else {
        notify = (*used_field(m, 0) & kUsedNoNotify) == 0;
    }
    if (notify) {
        transport_->notify(index_);
        ++stats_.kicks;
    } else {
        ++stats_.suppressed;
    }
}

bool Virtqueue::pop_used(void** token, uint32_t* len, bool* bad) {
    *bad = false;
    QueueMemory& m = g_memory[memory_];
    if (*used_field(m, 1) == last_used_) {
        return false;
    }
    // used idx read before the element (x86 keeps loads in order; volatile keeps the compiler).
    unsigned element = 2 + 4 * (last_used_ % size_);
    uint32_t id = used_field32(m, element);
    uint32_t written = used_field32(m, element + 2);
    last_used_ = static_cast<uint16_t>(last_used_ + 1);
    if (event_idx_) {
        *avail_field(m, 2 + size_) = used_event();
        if (interrupts_) {
            // The new used_event must be visible before the caller's next look at used idx, or
            // the device may read the old one, send no interrupt, and the driver halt for
            // nothing (Linux's virtqueue_enable_cb: virtio_mb).
            full_fence();
        }
    }
    if (id >= size_ || tokens_[id] == nullptr) {
        *bad = true;
        return true;
    }
    uint16_t head = static_cast<uint16_t>(id);
    *token = tokens_[head];
    *len = written;
    tokens_[head] = nullptr;
    // Back onto the free list: the chain's descriptors, following the driver's own links
    // (next_free_ still holds them), never the table the device can see.
    uint16_t tail = head;
    for (unsigned i = 1; i < chain_length_[head]; ++i) {
        tail = next_free_[tail];
    }
    next_free_[tail] = free_head_;
    free_head_ = head;
    num_free_ = static_cast<uint16_t>(num_free_ + chain_length_[head]);
    if (indirect_table_[head] >= 0) {
        free_indirect_table(static_cast<unsigned>(indirect_table_[head]));
        indirect_table_[head] = -1;
    }
    --in_flight_;
    return true;
}

}  // namespace guest
