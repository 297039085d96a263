#include "virtio/blk_device.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "virtio/virtio_defs.h"

namespace nvmevm {
namespace {

// Limits we advertise. SEG_MAX must not exceed what BlkRequest accepts (128 data segments);
// discard/write-zeroes ranges per request no more than kMaxBlkRanges.
constexpr uint32_t kSegMax = 128;
constexpr uint32_t kMaxRangeSectors = 1u << 22;  // 2 GiB per range: fallocate ranges are cheap
constexpr uint32_t kRangesPerRequest = 16;

constexpr uint64_t bit(unsigned n) {
    return uint64_t{1} << n;
}

}  // namespace

VirtioBlk::VirtioBlk(const GuestMemory& memory, std::shared_ptr<const Backing> backing,
                     const BlkDeviceOptions& options)
    : backing_(std::move(backing)), options_(options) {
    options_.queue_size = std::clamp<uint16_t>(options_.queue_size, 2, SplitQueue::kMaxSize);
    if (options_.queues == 0) options_.queues = 1;
    const std::optional<BlkBlockSizes> sizes =
        present_block_size(backing_->logical_block_size(), options.logical_block_size);
    if (!sizes) {
        throw std::system_error(
            EINVAL, std::system_category(),
            "drive " + options.name + ": cannot present " +
                std::to_string(options.logical_block_size) + "-byte blocks on a backing of " +
                std::to_string(backing_->logical_block_size()) + "-byte blocks");
    }
    sizes_ = *sizes;

    drive_.name = options.name;
    if (options.rate_limits.any()) {
        limiter_ = std::make_unique<IoRateLimiter>(options.rate_limits, monotonic_ns());
        drive_.limiter = limiter_.get();
    }
    // An emulated drive ends at the backing's last whole block: a read-modify-write of a
    // partial one would read and write beyond the end.
    const uint64_t usable = sizes_.emulated()
                                ? backing_->capacity() / sizes_.backing * sizes_.backing
                                : backing_->capacity();
    drive_.geometry.capacity_sectors = usable >> kVirtioBlkSectorShift;
    if (sizes_.emulated()) {
        rmw_locks_ = std::make_shared<BlockRangeLocks>();
        rmw_counters_ = std::make_unique<ReadModifyWriteCounters>();
    }
    drive_.geometry.read_only = backing_->read_only();
    drive_.geometry.discard = backing_->supports_discard() && !backing_->read_only();
    drive_.geometry.write_zeroes = backing_->supports_write_zeroes() && !backing_->read_only();
    drive_.geometry.max_discard_sectors = kMaxRangeSectors;
    drive_.geometry.max_discard_seg = kRangesPerRequest;
    drive_.geometry.max_write_zeroes_sectors = kMaxRangeSectors;
    drive_.geometry.max_write_zeroes_seg = kRangesPerRequest;
    drive_.geometry.alignment_sectors = sizes_.alignment_sectors;
    const std::string& serial = backing_->serial();
    std::memcpy(drive_.id.data(), serial.data(), std::min(serial.size(), drive_.id.size()));

    features_ = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_EVENT_IDX) | bit(VIRTIO_F_INDIRECT_DESC) |
                bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_BLK_SIZE) |
                bit(VIRTIO_BLK_F_TOPOLOGY) | bit(VIRTIO_BLK_F_MQ);
    // Only a backing with a volatile cache needs FLUSH (an NVMe namespace without VWC does not):
    // without the feature the driver treats every completed write as stable.
    if (backing_->needs_flush()) features_ |= bit(VIRTIO_BLK_F_FLUSH);
    if (drive_.geometry.read_only) features_ |= bit(VIRTIO_BLK_F_RO);
    if (drive_.geometry.discard) features_ |= bit(VIRTIO_BLK_F_DISCARD);
    if (drive_.geometry.write_zeroes) features_ |= bit(VIRTIO_BLK_F_WRITE_ZEROES);

    config_.capacity = drive_.geometry.capacity_sectors;
    config_.seg_max = kSegMax;
    // A presented block smaller than the backing's makes the backing's the physical block, so
    // that Linux aligns its I/O to it (virtio/blk_block_size.h).
    config_.blk_size = sizes_.logical;
    config_.topology.physical_block_exp = sizes_.physical_block_exp;
    config_.topology.min_io_size = sizes_.min_io_size;
    config_.topology.opt_io_size = 0;
    config_.num_queues = options_.queues;
    config_.max_discard_sectors = kMaxRangeSectors;
    config_.max_discard_seg = kRangesPerRequest;
    // In sectors; Linux makes it the discard granularity: whole units of the backing (an
    // emulated drive shrinks a discard to the whole blocks inside it).
    config_.discard_sector_alignment =
        std::max(sizes_.backing, sizes_.logical) >> kVirtioBlkSectorShift;
    config_.max_write_zeroes_sectors = kMaxRangeSectors;
    config_.max_write_zeroes_seg = kRangesPerRequest;
    config_.write_zeroes_may_unmap = 1;

    for (uint16_t i = 0; i < options_.queues; ++i) {
        queues_.push_back(std::make_unique<BlkQueue>(memory, drive_, i));
        UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!efd) throw std::system_error(errno, std::generic_category(), "eventfd");
        eventfds_.push_back(std::move(efd));
    }
}

void VirtioBlk::read_config(uint64_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), 0);
    if (offset >= sizeof(config_)) return;
    const size_t n = std::min<uint64_t>(data.size(), sizeof(config_) - offset);
    std::memcpy(data.data(), reinterpret_cast<const uint8_t*>(&config_) + offset, n);
}

void VirtioBlk::write_config(uint64_t, std::span<const uint8_t>) {
    // Only `writeback` is writable, and only with CONFIG_WCE, which we do not offer: every
    // write is ignored (the cache mode is always writeback with FLUSH).
}

bool VirtioBlk::activate(uint64_t features, std::span<const VirtqueueConfig> queues,
                         VirtioInterrupt& interrupt) {
    bool ok = true;
    for (size_t i = 0; i < queues.size() && i < queues_.size(); ++i) {
        const VirtqueueConfig& q = queues[i];
        if (!q.enabled) continue;
        SplitQueueConfig config;
        config.size = q.size;
        config.desc_table = GuestAddress{q.desc};
        config.avail_ring = GuestAddress{q.driver};
        config.used_ring = GuestAddress{q.device};
        config.event_idx = (features & bit(VIRTIO_F_EVENT_IDX)) != 0;
        config.indirect_desc = (features & bit(VIRTIO_F_INDIRECT_DESC)) != 0;
        ok = queues_[i]->activate(config, interrupt) && ok;
    }
    // Chains the driver queued before DRIVER_OK (it may) get served once the owner looks.
    for (size_t i = 0; i < queues_.size(); ++i) notify(static_cast<uint16_t>(i));
    return ok;
}

void VirtioBlk::reset() {
    for (auto& queue : queues_) queue->reset();
}

bool VirtioBlk::quiesced() const {
    return std::none_of(queues_.begin(), queues_.end(),
                        [](const auto& q) { return q->in_flight(); });
}

void VirtioBlk::notify(uint16_t queue) {
    if (queue >= eventfds_.size()) return;
    // Wake the owning vCPU thread the same way its ioeventfd would.
    const uint64_t one = 1;
    (void)!::write(eventfds_[queue].get(), &one, sizeof one);
}

bool VirtioBlk::needs_reset() const {
    return std::any_of(queues_.begin(), queues_.end(), [](const auto& q) { return q->broken(); });
}

}  // namespace nvmevm
