// The virtio-blk device (virtio 1.2, 5.2): its features, its configuration space, and its
// queues. Which vCPU thread serves which queue, and through which engine, is the machine's
// business (virtio/blk_vcpu_service.h); the transport is virtio-pci.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "foundation/unique_fd.h"
#include "storage/backing.h"
#include "storage/block_range_locks.h"
#include "storage/rmw_engine.h"
#include "virtio/blk_block_size.h"
#include "virtio/blk_defs.h"
#include "virtio/blk_queue.h"
#include "virtio/virtio_device.h"

namespace nvmevm {

struct BlkDeviceOptions {
    std::string name;           // the drive id, for log lines
    uint16_t queues = 1;        // VIRTIO_BLK_F_MQ num_queues
    uint16_t queue_size = 256;  // the largest size the driver may choose (<= 1024)
    // The block size presented to the guest (virtio/blk_block_size.h): 0 for the backing's own.
    uint32_t logical_block_size = 0;
    // I/O limits for the whole drive, all queues together (none: no limiter at all).
    IoRateLimits rate_limits;
};

class VirtioBlk final : public VirtioDevice {
  public:
    // Advertises what `backing` can do, and shares its ownership: the engines the vCPU threads
    // make from it (BlkVcpuService) may outlive whoever opened it. Throws std::system_error
    // (eventfds; EINVAL for a logical_block_size that is not a power of two from 512 to 4096).
    VirtioBlk(const GuestMemory& memory, std::shared_ptr<const Backing> backing,
              const BlkDeviceOptions& options);

    [[nodiscard]] uint16_t device_type() const override { return VIRTIO_ID_BLOCK; }
    [[nodiscard]] uint64_t offered_features() const override { return features_; }
    [[nodiscard]] uint16_t queue_count() const override {
        return static_cast<uint16_t>(queues_.size());
    }
    [[nodiscard]] uint16_t max_queue_size() const override { return options_.queue_size; }
    void read_config(uint64_t offset, std::span<uint8_t> data) override;
    void write_config(uint64_t offset, std::span<const uint8_t> data) override;
    [[nodiscard]] bool activate(uint64_t features, std::span<const VirtqueueConfig> queues,
                                VirtioInterrupt& interrupt) override;
    void reset() override;
    // No queue has a request in flight.
    [[nodiscard]] bool quiesced() const override;
    void notify(uint16_t queue) override;

    // The machine binds each queue's doorbell to this eventfd (KVM ioeventfd) and polls it on the
    // owning vCPU thread's ring.
    [[nodiscard]] int queue_eventfd(uint16_t queue) const { return eventfds_[queue].get(); }
    [[nodiscard]] BlkQueue& queue(uint16_t index) { return *queues_[index]; }
    [[nodiscard]] const std::shared_ptr<const Backing>& backing() const { return backing_; }
    [[nodiscard]] const BlkBlockSizes& block_sizes() const { return sizes_; }
    // The blocks its writes hold while they run, shared by the engines of every vCPU thread that
    // serves a queue of it (storage/rmw_engine.h); null unless the drive presents sectors smaller
    // than its backing's blocks.
    [[nodiscard]] const std::shared_ptr<BlockRangeLocks>& rmw_locks() const { return rmw_locks_; }
    // What those engines did; null when the drive emulates nothing.
    [[nodiscard]] ReadModifyWriteCounters* rmw_counters() const { return rmw_counters_.get(); }
    [[nodiscard]] bool needs_reset() const;
    // The drive's limiter; null without limits.
    [[nodiscard]] IoRateLimiter* rate_limiter() const { return limiter_.get(); }

  private:
    std::shared_ptr<const Backing> backing_;
    BlkDeviceOptions options_;
    BlkBlockSizes sizes_;
    std::shared_ptr<BlockRangeLocks> rmw_locks_;
    std::unique_ptr<ReadModifyWriteCounters> rmw_counters_;
    std::unique_ptr<IoRateLimiter> limiter_;  // before drive_, which points at it
    BlkDriveInfo drive_;
    VirtioBlkConfig config_{};
    uint64_t features_ = 0;
    std::vector<std::unique_ptr<BlkQueue>> queues_;
    std::vector<UniqueFd> eventfds_;
};

}  // namespace nvmevm
