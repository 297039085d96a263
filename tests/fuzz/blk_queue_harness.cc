#include "tests/fuzz/blk_queue_harness.h"

#include <cstring>
#include <vector>

namespace nvmevm {

namespace {

// Stands in for the engine: reads fill the buffers, writes are read, GET_ID is answered.
uint32_t simulate_engine(const BlkRequest& request) {
    switch (request.type()) {
        case BlkRequestType::read:
            for (const iovec& v : request.iovecs()) std::memset(v.iov_base, 0xA5, v.iov_len);
            break;
        case BlkRequestType::write: {
            volatile uint8_t sink = 0;
            for (const iovec& v : request.iovecs()) {
                const auto* p = static_cast<const uint8_t*>(v.iov_base);
                for (size_t i = 0; i < v.iov_len; ++i) sink = static_cast<uint8_t>(sink ^ p[i]);
            }
            break;
        }
        case BlkRequestType::get_id: {
            std::array<uint8_t, VIRTIO_BLK_ID_BYTES> id{};
            std::memcpy(id.data(), "nvmevm-fuzz", 11);
            return request.complete_get_id(id);
        }
        case BlkRequestType::flush:
        case BlkRequestType::discard:
        case BlkRequestType::write_zeroes:
            break;
    }
    return request.complete(VIRTIO_BLK_S_OK);
}

template <typename T>
T take(std::span<const uint8_t>& data) {
    T value{};
    const size_t n = std::min(sizeof(T), data.size());
    std::memcpy(&value, data.data(), n);
    data = data.subspan(n);
    return value;
}

}  // namespace

BlkQueueRunStats run_blk_queue(std::span<uint8_t> ram, const SplitQueueConfig& config,
                               const BlkGeometry& geometry, int max_rounds) {
    BlkQueueRunStats stats;
    GuestMemory memory = GuestMemory::wrap(ram);
    SplitQueue queue;
    if (queue.enable(config, memory) != QueueError::none) return stats;
    stats.enabled = true;

    DescriptorChain chain;
    BlkRequest request;
    for (int round = 0; round < max_rounds; ++round) {
        queue.disable_notifications();
        // At most one ring's worth per round: a driver adding forever cannot keep us here.
        for (uint32_t n = 0; n < queue.size(); ++n) {
            const PopResult popped = queue.pop(chain);
            if (popped != PopResult::chain) break;
            ++stats.popped;
            const BlkParseResult parsed = BlkRequest::parse(chain, memory, geometry, request);
            uint32_t used_len = 0;
            if (parsed.execute) {
                ++stats.executed;
                used_len = simulate_engine(request);
            } else {
                if (parsed.answer.status == nullptr) {
                    ++stats.unanswerable;
                } else {
                    ++stats.answered;
                }
                used_len = parsed.answer.deliver();
            }
            if (queue.push_used(std::move(chain.token()), used_len)) ++stats.returned;
        }
        queue.publish_used();
        if (queue.should_interrupt()) ++stats.interrupts;
        if (queue.broken() || !queue.enable_notifications()) break;
    }
    stats.broken = queue.broken();
    return stats;
}

BlkQueueRunStats run_blk_queue_from_bytes(std::span<const uint8_t> data) {
    SplitQueueConfig config;
    config.size = take<uint16_t>(data);
    const uint8_t flags = take<uint8_t>(data);
    config.event_idx = (flags & 1) != 0;
    config.indirect_desc = (flags & 2) != 0;
    config.desc_table = GuestAddress{take<uint16_t>(data)};
    config.avail_ring = GuestAddress{take<uint16_t>(data)};
    config.used_ring = GuestAddress{take<uint16_t>(data)};
    BlkGeometry geometry;
    geometry.capacity_sectors = take<uint32_t>(data);
    geometry.read_only = (flags & 4) != 0;
    geometry.discard = (flags & 8) != 0;
    geometry.write_zeroes = (flags & 16) != 0;
    geometry.max_discard_sectors = take<uint16_t>(data);
    geometry.max_discard_seg = take<uint8_t>(data);
    geometry.max_write_zeroes_sectors = take<uint16_t>(data);
    geometry.max_write_zeroes_seg = take<uint8_t>(data);
    std::vector<uint8_t> ram(data.begin(), data.end());
    return run_blk_queue(ram, config, geometry);
}

}  // namespace nvmevm
