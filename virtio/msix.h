// MSI-X for one PCI function (PCI Local Bus Specification 3.0, 6.8.2 "MSI-X Capability and
// Table Structures"): the vector table, the Pending Bit Array, and the two function-level bits of
// the capability's Message Control register (MSI-X Enable, Function Mask). The capability itself
// lives in the function's configuration space (virtio/pci_transport.cc builds it); the owner
// forwards Message Control changes here with set_control().
//
// Thread-safety: every piece of state is an atomic, so signal() (called on vCPU threads when a
// request completes: the hot path) takes no lock and never waits for a guest's table access. The
// mask/pending hand-off between a signalling thread and a thread unmasking is the classic
// two-flag protocol (each side publishes its flag, then checks the other's), so an interrupt
// raised while masked is delivered exactly once after the unmask, whichever thread wins.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "foundation/log.h"

namespace nvmevm {

// Where MSI messages go: the VMM implements it with KVM_SIGNAL_MSI. Called from any thread,
// concurrently.
class MsiSink {
  public:
    virtual ~MsiSink() = default;
    virtual void deliver(uint64_t address, uint32_t data) = 0;
};

class MsixTable {
  public:
    // 6.8.2.3: Table Size is an 11-bit "N - 1" field.
    static constexpr uint32_t kMaxVectors = 2048;
    static constexpr uint64_t kEntryBytes = 16;
    // Entry layout (6.8.2.6-6.8.2.9): Message Address, Message Upper Address, Message Data,
    // Vector Control.
    static constexpr uint64_t kAddressLow = 0;
    static constexpr uint64_t kAddressHigh = 4;
    static constexpr uint64_t kData = 8;
    static constexpr uint64_t kVectorControl = 12;
    static constexpr uint32_t kVectorMasked = 0x1;

    // `vectors` in [1, kMaxVectors]; throws std::invalid_argument otherwise. `sink` must
    // outlive the table.
    MsixTable(uint32_t vectors, MsiSink& sink);

    [[nodiscard]] uint32_t size() const { return size_; }
    [[nodiscard]] uint64_t table_bytes() const { return kEntryBytes * size_; }
    [[nodiscard]] uint64_t pba_bytes() const { return 8 * pba_words(); }

    // Guest accesses, offsets relative to the start of the table / PBA. 6.8.2: "For all
    // accesses to MSI-X Table and MSI-X PBA fields, software must use aligned full DWORD or
    // aligned full QWORD transactions; otherwise, the result is undefined." Ours: any other
    // access, and any access out of range, reads zeroes and writes nothing.
    void read_table(uint64_t offset, std::span<uint8_t> data) const;
    void write_table(uint64_t offset, std::span<const uint8_t> data);
    void read_pba(uint64_t offset, std::span<uint8_t> data) const;
    void write_pba(uint64_t offset, std::span<const uint8_t> data);

    // Message Control's MSI-X Enable and Function Mask bits, as the guest last wrote them.
    // Unmasking delivers whatever became pending while masked.
    void set_control(bool enabled, bool function_masked);
    [[nodiscard]] bool enabled() const { return enabled_.load(); }
    [[nodiscard]] bool function_masked() const { return function_masked_.load(); }

    // Raises `vector`. Returns false when MSI-X is disabled or the vector does not exist
    // (nothing happens); otherwise the message is sent now or, while masked, its Pending bit is
    // set and it is sent on unmask.
    bool signal(uint32_t vector);

    // For tests and debugging.
    [[nodiscard]] bool pending(uint32_t vector) const;
    [[nodiscard]] bool vector_masked(uint32_t vector) const;

  private:
    struct Entry {
        std::atomic<uint32_t> address_low{0};
        std::atomic<uint32_t> address_high{0};
        std::atomic<uint32_t> data{0};
        // 6.8.2.9: the Mask Bit's "state after reset is 1 (entry is masked)".
        std::atomic<uint32_t> control{kVectorMasked};
    };

    [[nodiscard]] uint32_t pba_words() const { return (size_ + 63) / 64; }
    [[nodiscard]] bool masked(uint32_t vector) const;
    [[nodiscard]] uint32_t read_dword(uint64_t offset) const;
    void write_dword(uint64_t offset, uint32_t value);
    void send(uint32_t vector);
    // Sends `vector` if it is pending and may be sent now, clearing its Pending bit; at most
    // one of several racing callers sends.
    void deliver_if_pending(uint32_t vector);
    void log_bad_access(const char* what, uint64_t offset, size_t size);

    MsiSink& sink_;
    uint32_t size_;
    std::unique_ptr<Entry[]> entries_;
    std::unique_ptr<std::atomic<uint64_t>[]> pending_;
    std::atomic<bool> enabled_{false};
    std::atomic<bool> function_masked_{false};
    mutable RateLimiter log_limit_;
};

}  // namespace nvmevm
