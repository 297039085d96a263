// A virtio-blk driver (virtio 1.2, 5.2) over the modern PCI transport, from ring 3: feature
// negotiation, the device configuration, and requests (header, data, status byte) on up to
// two split virtqueues.
//
// Waiting is one function (BlkDevice::wait_step). Polling (the default) spins on the used
// rings. With interrupts (BlkOptions::interrupts, the `irq` word) every queue gets an MSI-X
// table entry aimed at the vCPU that drives it (vector VECTOR_CPU_EVENT + vCPU), and waiting
// halts that vCPU in ring 0 until an interrupt (interrupts.h), after the usual check of the
// used ring. Different queues may be driven from different vCPUs at the same time: all
// per-queue state is in the Virtqueue, and poll/wait_queue touch only their own queue.
#pragma once

#include <stdint.h>

#include "msix.h"
#include "pci.h"
#include "virtio_pci.h"
#include "virtqueue.h"

namespace guest {

inline constexpr uint16_t kVirtioVendor = 0x1af4;
inline constexpr uint16_t kVirtioBlkModernDevice = 0x1042;  // 0x1040 + device ID 2
inline constexpr uint32_t kSectorSize = 512;

// Feature bits (5.2.3).
inline constexpr unsigned kBlkFSizeMax = 1;
inline constexpr unsigned kBlkFSegMax = 2;
inline constexpr unsigned kBlkFGeometry = 4;
inline constexpr unsigned kBlkFRo = 5;
inline constexpr unsigned kBlkFBlkSize = 6;
inline constexpr unsigned kBlkFFlush = 9;
inline constexpr unsigned kBlkFTopology = 10;
inline constexpr unsigned kBlkFConfigWce = 11;
inline constexpr unsigned kBlkFMq = 12;
inline constexpr unsigned kBlkFDiscard = 13;
inline constexpr unsigned kBlkFWriteZeroes = 14;
inline constexpr unsigned kBlkFLifetime = 15;
inline constexpr unsigned kBlkFSecureErase = 16;

// Request types and status values (5.2.6).
inline constexpr uint32_t kBlkTIn = 0;
inline constexpr uint32_t kBlkTOut = 1;
inline constexpr uint32_t kBlkTFlush = 4;
inline constexpr uint32_t kBlkTGetId = 8;
inline constexpr uint32_t kBlkTDiscard = 11;
inline constexpr uint32_t kBlkTWriteZeroes = 13;
inline constexpr uint8_t kBlkSOk = 0;
inline constexpr uint8_t kBlkSIoErr = 1;
inline constexpr uint8_t kBlkSUnsupp = 2;
// Not a device status: the request did not complete in time (or the device broke the ring).
inline constexpr uint8_t kBlkSTimeout = 0xf0;
inline constexpr uint32_t kBlkIdBytes = 20;
inline constexpr uint32_t kBlkWriteZeroesUnmap = 1;  // virtio_blk_discard_write_zeroes.flags

// struct virtio_blk_config, the fields the driver uses (read per the negotiated features).
struct BlkConfig {
    uint64_t capacity = 0;  // in 512-byte sectors
    uint32_t size_max = 0;
    uint32_t seg_max = 0;
    uint16_t cylinders = 0;
    uint8_t heads = 0;
    uint8_t sectors = 0;
    uint32_t blk_size = 0;
    uint8_t physical_block_exp = 0;
    uint8_t alignment_offset = 0;
    uint16_t min_io_size = 0;
    uint32_t opt_io_size = 0;
    uint8_t writeback = 0;
    uint16_t num_queues = 0;
    uint32_t max_discard_sectors = 0;
    uint32_t max_discard_seg = 0;
    uint32_t discard_sector_alignment = 0;
    uint32_t max_write_zeroes_sectors = 0;
    uint32_t max_write_zeroes_seg = 0;
    uint8_t write_zeroes_may_unmap = 0;
};

// What the driver negotiates when offered (the command line turns parts off).
struct BlkOptions {
    bool event_idx = true;
    bool indirect = true;
    bool mq = true;           // use a second queue when MQ is offered
    bool interrupts = false;  // MSI-X and halting instead of polling
    // Ring memory (Virtqueue::kMemorySets): queue i uses set queue_memory + i, at most
    // max_queues queues. Devices driven at the same time (bench devices=) need sets apart.
    unsigned queue_memory = 0;
    unsigned max_queues = Virtqueue::kMaxQueues;
};

// struct virtio_blk_req's header (device-readable).
struct BlkHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(BlkHeader) == 16);

// struct virtio_blk_discard_write_zeroes, one segment of a DISCARD or WRITE_ZEROES request.
struct BlkRange {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};
static_assert(sizeof(BlkRange) == 16);

// One request. It must stay where it is (identity-mapped memory: .bss or the stack) until
// done: the device reads the header and writes the status byte in place.
struct BlkRequest {
    static constexpr unsigned kMaxData = Virtqueue::kMaxChain - 2;

    BlkHeader header{};
    VirtqBuffer data[kMaxData];
    unsigned data_count = 0;
    bool indirect = false;
    volatile uint8_t status = 0xff;  // written by the device
    // Filled on completion.
    bool done = false;
    uint8_t result = kBlkSTimeout;  // status, or kBlkSTimeout
    uint32_t used_len = 0;          // the used element's len
    uint32_t writable_bytes = 0;    // data the device may write + 1 (status): what len should be
};

class BlkDevice {
  public:
    // Attaches the transport and runs the initialization sequence (3.1.1) through DRIVER_OK,
    // with the queues set up. False with *error set on any failure; the device is then left
    // reset or FAILED.
    bool start(const PciFunction& function, const BlkOptions& options, const char** error);
    // Resets the device (its queue memory may then be reused). Safe to call twice.
    void stop();

    VirtioPci& transport() { return transport_; }
    uint64_t offered() const { return offered_; }
    uint64_t negotiated() const { return negotiated_; }
    bool has(unsigned bit) const { return (negotiated_ & feature_bit(bit)) != 0; }
    const BlkConfig& config() const { return config_; }
    unsigned queue_count() const { return queue_count_; }
    const Virtqueue& queue(unsigned i) const { return queues_[i]; }
    // Set once a request timed out or the device returned a bad used element: the rings can
    // no longer be trusted, so callers stop sending requests.
    bool broken() const { return broken_; }

    // Largest data bytes per segment and segments per request the device accepts (SIZE_MAX,
    // SEG_MAX if negotiated), capped by the driver's own limits.
    uint32_t segment_limit() const;
    unsigned segments_limit() const;

    // Fills `request` for type at sector with `bytes` of data at `buffer`, split into up to
    // `segments` descriptors (fewer if the limits say so). Direction follows the type.
    void prepare(BlkRequest* request, uint32_t type, uint64_t sector, void* buffer, uint32_t bytes,
                 unsigned segments = 1, bool indirect = false) const;

    // Adds the request to `queue` (no notification). False when the ring is full or the
    // request does not fit in a chain.
    bool submit(unsigned queue, BlkRequest* request);
    void kick(unsigned queue);
    // Submits, kicks, and waits for this one request: its result.
    uint8_t execute(unsigned queue, BlkRequest* request);
    // Kicks every queue and waits until nothing is in flight; false on timeout.
    bool wait_all();
    // Kicks `queue` and waits until nothing is in flight on it (it alone is looked at, so
    // another vCPU may drive another queue meanwhile); false on timeout.
    bool wait_queue(unsigned queue);
    // Collects completions from every queue, or from one; true if any request completed.
    bool poll();
    bool poll(unsigned queue);

    bool interrupts() const { return interrupts_; }
    // Interrupt mode: aims `queue`'s MSI-X entry at vCPU cpu (the one that will wait for it).
    void route_queue(unsigned queue, unsigned cpu);

  private:
    // What a wait must not miss: the calling vCPU's interrupt count, read before polling.
    uint64_t wait_token(unsigned cpu) const;
    // One step of waiting for the device: spin, or (interrupts) halt until an interrupt came
    // after `token` was read.
    void wait_step(unsigned cpu, uint64_t token);
    bool start_interrupts(unsigned queues, const char** error);
    bool read_config();
    bool timed_out(uint64_t start);

    VirtioPci transport_;
    uint64_t offered_ = 0;
    uint64_t negotiated_ = 0;
    BlkConfig config_;
    unsigned queue_count_ = 0;
    Virtqueue queues_[Virtqueue::kMaxQueues];
    Msix msix_;
    bool interrupts_ = false;
    volatile bool broken_ = false;  // may be set from any vCPU driving a queue
    bool started_ = false;
};

}  // namespace guest
