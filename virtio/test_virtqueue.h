// Test helper: a split virtqueue laid out in fake guest RAM (GuestMemory::wrap over a vector),
// driven from the driver's side. Tests add chains (direct or indirect), make them available,
// read back the used ring and set the driver's notification fields. Header-only, test code only.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "foundation/guest_memory.h"
#include "virtio/split_queue.h"
#include "virtio/virtio_defs.h"

namespace nvmevm::testing {

class TestVirtqueue {
  public:
    struct Buffer {
        uint64_t addr;
        uint32_t len;
        bool writable;
    };

    static constexpr uint64_t kDescTable = 0x1000;
    static constexpr uint64_t kBufferBase = 0x40000;

    explicit TestVirtqueue(uint16_t size = 16, bool event_idx = false, bool indirect = true,
                           size_t ram_bytes = 1 << 20)
        : ram_(ram_bytes), memory_(GuestMemory::wrap(ram_)), size_(size) {
        config_.size = size;
        config_.desc_table = GuestAddress{kDescTable};
        // Each part on its own page, after the largest possible descriptor table (16 KiB).
        config_.avail_ring = GuestAddress{kDescTable + 0x4000};
        config_.used_ring = GuestAddress{kDescTable + 0x6000};
        config_.event_idx = event_idx;
        config_.indirect_desc = indirect;
        next_free_ = kBufferBase;
    }

    [[nodiscard]] const GuestMemory& memory() const { return memory_; }
    [[nodiscard]] std::vector<uint8_t>& ram() { return ram_; }
    [[nodiscard]] const SplitQueueConfig& config() const { return config_; }
    [[nodiscard]] SplitQueueConfig& config() { return config_; }
    [[nodiscard]] uint16_t size() const { return size_; }

    // A zeroed buffer of `len` bytes in guest RAM.
    uint64_t alloc(uint64_t len, uint64_t align = 16) {
        next_free_ = (next_free_ + align - 1) / align * align;
        const uint64_t addr = next_free_;
        if (addr + len > ram_.size()) throw std::runtime_error("TestVirtqueue: out of RAM");
        std::memset(ram_.data() + addr, 0, len);
        next_free_ += len;
        return addr;
    }

    void write(uint64_t addr, const void* data, size_t len) {
        std::memcpy(ram_.data() + addr, data, len);
    }
    template <typename T>
    void write_obj(uint64_t addr, const T& value) {
        write(addr, &value, sizeof(T));
    }
    template <typename T>
    [[nodiscard]] T read_obj(uint64_t addr) const {
        T value;
        std::memcpy(&value, ram_.data() + addr, sizeof(T));
        return value;
    }
    [[nodiscard]] uint8_t byte(uint64_t addr) const { return ram_[addr]; }

    // Raw descriptor-table entry.
    void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        write_obj(kDescTable + 16ull * index, VirtqDesc{addr, len, flags, next});
    }

    // Chains `buffers` through consecutive free descriptor slots; returns the head. Not yet
    // available to the device.
    uint16_t add_direct(const std::vector<Buffer>& buffers) {
        const uint16_t head = next_desc_;
        for (size_t i = 0; i < buffers.size(); ++i) {
            const uint16_t index = take_desc();
            const bool more = i + 1 < buffers.size();
            const uint16_t flags = static_cast<uint16_t>(
                (buffers[i].writable ? VIRTQ_DESC_F_WRITE : 0) | (more ? VIRTQ_DESC_F_NEXT : 0));
            set_desc(index, buffers[i].addr, buffers[i].len, flags,
                     static_cast<uint16_t>(more ? (index + 1) % size_ : 0));
        }
        return head;
    }

    // Writes an indirect table for `buffers` into fresh RAM; returns its address.
    uint64_t write_indirect_table(const std::vector<Buffer>& buffers, uint64_t align = 16) {
        const uint64_t table = alloc(16 * buffers.size(), align);
        for (size_t i = 0; i < buffers.size(); ++i) {
            const bool more = i + 1 < buffers.size();
            const uint16_t flags = static_cast<uint16_t>(
                (buffers[i].writable ? VIRTQ_DESC_F_WRITE : 0) | (more ? VIRTQ_DESC_F_NEXT : 0));
            write_obj(table + 16 * i, VirtqDesc{buffers[i].addr, buffers[i].len, flags,
                                                static_cast<uint16_t>(more ? i + 1 : 0)});
        }
        return table;
    }

    // One descriptor pointing at an indirect table holding `buffers`; returns the head.
    uint16_t add_indirect(const std::vector<Buffer>& buffers, uint64_t align = 16) {
        const uint64_t table = write_indirect_table(buffers, align);
        const uint16_t head = take_desc();
        set_desc(head, table, static_cast<uint32_t>(16 * buffers.size()), VIRTQ_DESC_F_INDIRECT, 0);
        return head;
    }

    // Puts `head` in the available ring and bumps avail->idx (release, as a driver would).
    void make_available(uint16_t head) {
        const uint16_t idx = avail_idx();
        write_obj<uint16_t>(avail() + kAvailRingOffset + 2ull * (idx % size_), head);
        set_avail_idx(static_cast<uint16_t>(idx + 1));
    }
    uint16_t add_chain(const std::vector<Buffer>& buffers) {
        const uint16_t head = add_direct(buffers);
        make_available(head);
        return head;
    }
    uint16_t add_indirect_chain(const std::vector<Buffer>& buffers) {
        const uint16_t head = add_indirect(buffers);
        make_available(head);
        return head;
    }

    [[nodiscard]] uint16_t avail_idx() const {
        return read_obj<uint16_t>(avail() + kAvailIdxOffset);
    }
    void set_avail_idx(uint16_t idx) {
        std::atomic_thread_fence(std::memory_order_release);
        write_obj<uint16_t>(avail() + kAvailIdxOffset, idx);
    }
    void set_avail_ring_entry(uint16_t slot, uint16_t head) {
        write_obj<uint16_t>(avail() + kAvailRingOffset + 2ull * slot, head);
    }
    void set_avail_flags(uint16_t flags) {
        write_obj<uint16_t>(avail() + kAvailFlagsOffset, flags);
    }
    void set_used_event(uint16_t event) {
        write_obj<uint16_t>(avail() + used_event_offset(size_), event);
    }

    [[nodiscard]] uint16_t used_idx() const { return read_obj<uint16_t>(used() + kUsedIdxOffset); }
    [[nodiscard]] uint16_t used_flags() const {
        return read_obj<uint16_t>(used() + kUsedFlagsOffset);
    }
    [[nodiscard]] uint16_t avail_event() const {
        return read_obj<uint16_t>(used() + avail_event_offset(size_));
    }
    [[nodiscard]] VirtqUsedElem used_elem(uint16_t i) const {
        return read_obj<VirtqUsedElem>(used() + kUsedRingOffset + 8ull * (i % size_));
    }

  private:
    uint16_t take_desc() {
        const uint16_t index = next_desc_;
        next_desc_ = static_cast<uint16_t>((next_desc_ + 1) % size_);
        return index;
    }
    [[nodiscard]] uint64_t avail() const { return config_.avail_ring.value; }
    [[nodiscard]] uint64_t used() const { return config_.used_ring.value; }

    std::vector<uint8_t> ram_;
    GuestMemory memory_;
    uint16_t size_;
    SplitQueueConfig config_;
    uint16_t next_desc_ = 0;
    uint64_t next_free_ = 0;
};

}  // namespace nvmevm::testing
