#include "virtio_blk.h"

#include "interrupts.h"
#include "io.h"
#include "smp.h"

namespace guest {
namespace {

// struct virtio_blk_config offsets (5.2.4).
constexpr uint32_t kCfgCapacity = 0;
constexpr uint32_t kCfgSizeMax = 8;
constexpr uint32_t kCfgSegMax = 12;
constexpr uint32_t kCfgCylinders = 16;
constexpr uint32_t kCfgHeads = 18;
constexpr uint32_t kCfgSectors = 19;
constexpr uint32_t kCfgBlkSize = 20;
constexpr uint32_t kCfgPhysicalBlockExp = 24;
constexpr uint32_t kCfgAlignmentOffset = 25;
constexpr uint32_t kCfgMinIoSize = 26;
constexpr uint32_t kCfgOptIoSize = 28;
constexpr uint32_t kCfgWriteback = 32;
constexpr uint32_t kCfgNumQueues = 34;
constexpr uint32_t kCfgMaxDiscardSectors = 36;
constexpr uint32_t kCfgMaxDiscardSeg = 40;
constexpr uint32_t kCfgDiscardSectorAlignment = 44;
constexpr uint32_t kCfgMaxWriteZeroesSectors = 48;
constexpr uint32_t kCfgMaxWriteZeroesSeg = 52;
constexpr uint32_t kCfgWriteZeroesMayUnmap = 56;

// How long one request may take before the driver gives up on the device: TSC cycles, about
// 10-20 s at the TSC rates of the project's machines (QEMU TCG's TSC runs at the host's).
constexpr uint64_t kTimeoutCycles = 30'000'000'000;
constexpr uint32_t kDefaultSegmentLimit = 4u << 20;

uint64_t address_of(const volatile void* p) {
    return reinterpret_cast<uintptr_t>(p);
}

bool data_written_by_device(uint32_t type) {
    return type == kBlkTIn || type == kBlkTGetId;
}

}  // namespace

bool BlkDevice::start(const PciFunction& function, const BlkOptions& options, const char** error) {
    started_ = false;
    broken_ = false;
    interrupts_ = false;
    queue_count_ = 0;
    offered_ = negotiated_ = 0;
    config_ = BlkConfig{};
    if (!transport_.attach(function, error)) {
        return false;
    }
    pci_enable(function.where, kPciCommandMemory | kPciCommandBusMaster | kPciCommandIntxDisable);

    // 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (re-read), setup, DRIVER_OK.
    if (!transport_.reset()) {
        *error = "device_status did not read 0 after reset";
        return false;
    }
    started_ = true;
    transport_.add_status(kVirtioStatusAcknowledge);
    transport_.add_status(kVirtioStatusDriver);
    offered_ = transport_.device_features();
    if ((offered_ & feature_bit(kVirtioFVersion1)) == 0) {
        transport_.add_status(kVirtioStatusFailed);
        *error = "device does not offer VIRTIO_F_VERSION_1";
        return false;
    }
    uint64_t wanted = feature_bit(kVirtioFVersion1) | feature_bit(kBlkFSizeMax) |
                      feature_bit(kBlkFSegMax) | feature_bit(kBlkFGeometry) | feature_bit(kBlkFRo) |
                      feature_bit(kBlkFBlkSize) | feature_bit(kBlkFFlush) |
                      feature_bit(kBlkFTopology) | feature_bit(kBlkFDiscard) |
                      feature_bit(kBlkFWriteZeroes);
    if (options.event_idx) {
        wanted |= feature_bit(kVirtioFEventIdx);
    }
    if (options.indirect) {
        wanted |= feature_bit(kVirtioFIndirectDesc);
    }
    if (options.mq) {
        wanted |= feature_bit(kBlkFMq);
    }
    negotiated_ = offered_ & wanted;
    transport_.set_driver_features(negotiated_);
    transport_.add_status(kVirtioStatusFeaturesOk);
    if ((transport_.status() & kVirtioStatusFeaturesOk) == 0) {
        transport_.add_status(kVirtioStatusFailed);
        *error = "device did not accept the features (FEATURES_OK cleared)";
        return false;
    }
    if (!read_config()) {
        transport_.add_status(kVirtioStatusFailed);
        *error = "device configuration unreadable";
        return false;
    }

    unsigned want_queues = 1;
    if (has(kBlkFMq) && config_.num_queues >= 2) {
        want_queues = Virtqueue::kMaxQueues;
    }
    if (transport_.num_queues() < want_queues) {
        want_queues = transport_.num_queues();
    }
    if (options.max_queues < want_queues) {
        want_queues = options.max_queues;
    }
    if (want_queues == 0) {
        transport_.add_status(kVirtioStatusFailed);
        *error = "common configuration num_queues is 0";
        return false;
    }
    if (options.interrupts && !start_interrupts(want_queues, error)) {
        transport_.add_status(kVirtioStatusFailed);
        return false;
    }
    for (unsigned i = 0; i < want_queues; ++i) {
        // Interrupt mode: queue i signals through MSI-X table entry i.
        uint16_t vector = interrupts_ ? static_cast<uint16_t>(i) : kVirtioNoVector;
        if (!queues_[i].init(&transport_, static_cast<uint16_t>(i), options.queue_memory + i, 0,
                             has(kVirtioFEventIdx), vector, error)) {
            transport_.add_status(kVirtioStatusFailed);
            return false;
        }
    }
    queue_count_ = want_queues;
    transport_.add_status(kVirtioStatusDriverOk);
    uint8_t status = transport_.status();
    if ((status & (kVirtioStatusNeedsReset | kVirtioStatusFailed)) != 0 ||
        (status & kVirtioStatusDriverOk) == 0) {
        *error = "device_status after DRIVER_OK shows NEEDS_RESET/FAILED or lost DRIVER_OK";
        return false;
    }
    return true;
}

bool BlkDevice::start_interrupts(unsigned queues, const char** error) {
    if (!interrupts_init()) {
        *error = "interrupts do not arrive (a self-IPI never showed up)";
        return false;
    }
    if (!msix_.attach(transport_.function(), error)) {
        return false;
    }
    if (msix_.table_size() < queues) {
        *error = "MSI-X table smaller than the number of queues";
        return false;
    }
    // Every queue's entry aimed at vCPU 0 until route_queue says otherwise; MSI-X on before
    // the queues get their vectors (the device checks them against the enabled table).
    for (unsigned i = 0; i < queues; ++i) {
        msix_.set_entry(i, cpu_apic_id(this_cpu()), cpu_event_vector(this_cpu()));
    }
    msix_.enable(true);
    interrupts_ = true;
    return true;
}

void BlkDevice::route_queue(unsigned queue, unsigned cpu) {
    if (interrupts_ && queue < queue_count_) {
        msix_.set_entry(queue, cpu_apic_id(cpu), cpu_event_vector(cpu));
    }
}

void BlkDevice::stop() {
    if (started_) {
        transport_.reset();
        started_ = false;
    }
    if (interrupts_) {
        for (unsigned i = 0; i < msix_.table_size() && i < Virtqueue::kMaxQueues; ++i) {
            msix_.mask_entry(i);
        }
        msix_.enable(false);
        interrupts_ = false;
    }
    queue_count_ = 0;
}

bool BlkDevice::read_config() {
    VirtioPci& t = transport_;
    if (t.device_region().length < 8) {
        return false;
    }
    config_.capacity = t.config64(kCfgCapacity);
    config_.size_max = t.config32(kCfgSizeMax);
    config_.seg_max = t.config32(kCfgSegMax);
    config_.cylinders = t.config16(kCfgCylinders);
    config_.heads = t.config8(kCfgHeads);
    config_.sectors = t.config8(kCfgSectors);
    config_.blk_size = t.config32(kCfgBlkSize);
    config_.physical_block_exp = t.config8(kCfgPhysicalBlockExp);
    config_.alignment_offset = t.config8(kCfgAlignmentOffset);
    config_.min_io_size = t.config16(kCfgMinIoSize);
    config_.opt_io_size = t.config32(kCfgOptIoSize);
    config_.writeback = t.config8(kCfgWriteback);
    config_.num_queues = t.config16(kCfgNumQueues);
    config_.max_discard_sectors = t.config32(kCfgMaxDiscardSectors);
    config_.max_discard_seg = t.config32(kCfgMaxDiscardSeg);
    config_.discard_sector_alignment = t.config32(kCfgDiscardSectorAlignment);
    config_.max_write_zeroes_sectors = t.config32(kCfgMaxWriteZeroesSectors);
    config_.max_write_zeroes_seg = t.config32(kCfgMaxWriteZeroesSeg);
    config_.write_zeroes_may_unmap = t.config8(kCfgWriteZeroesMayUnmap);
    return true;
}

uint32_t BlkDevice::segment_limit() const {
    if (has(kBlkFSizeMax) && config_.size_max != 0 && config_.size_max < kDefaultSegmentLimit) {
        return config_.size_max;
    }
    return kDefaultSegmentLimit;
}

unsigned BlkDevice::segments_limit() const {
    unsigned limit = BlkRequest::kMaxData;
    if (has(kBlkFSegMax) && config_.seg_max != 0 && config_.seg_max < limit) {
        limit = config_.seg_max;
    }
    return limit;
}

void BlkDevice::prepare(BlkRequest* request, uint32_t type, uint64_t sector, void* buffer,
                        uint32_t bytes, unsigned segments, bool indirect) const {
    request->header = BlkHeader{type, 0, sector};
    request->indirect = indirect && has(kVirtioFIndirectDesc);
    request->status = 0xff;
    request->done = false;
    request->result = kBlkSTimeout;
    request->used_len = 0;
    request->data_count = 0;
    if (bytes == 0) {
        return;
    }
    // Enough segments for the size limit, as many as asked for, no more than allowed;
    // segments stay whole sectors except the last.
    uint32_t limit = segment_limit();
    unsigned count = segments == 0 ? 1 : segments;
    unsigned needed = static_cast<unsigned>((uint64_t{bytes} + limit - 1) / limit);
    if (count < needed) {
        count = needed;
    }
    if (count > segments_limit()) {
        count = segments_limit();
    }
    uint32_t per = (bytes + static_cast<uint32_t>(count) - 1) / static_cast<uint32_t>(count);
    if (bytes >= kSectorSize * count) {
        per = (per + kSectorSize - 1) / kSectorSize * kSectorSize;
    }
    if (per > limit) {
        per = limit;  // the request then cannot carry all the bytes: submit refuses it
    }
    auto* at = static_cast<uint8_t*>(buffer);
    uint32_t left = bytes;
    bool writes = data_written_by_device(type);
    while (left > 0 && request->data_count < BlkRequest::kMaxData) {
        uint32_t len = left < per ? left : per;
        request->data[request->data_count++] = VirtqBuffer{address_of(at), len, writes};
        at += len;
        left -= len;
    }
    if (left > 0) {
        request->data_count = BlkRequest::kMaxData + 1;  // marks it unsubmittable
    }
}

bool BlkDevice::submit(unsigned queue, BlkRequest* request) {
    if (broken_ || queue >= queue_count_ || request->data_count > BlkRequest::kMaxData) {
        return false;
    }
    VirtqBuffer chain[Virtqueue::kMaxChain];
    unsigned n = 0;
    chain[n++] = VirtqBuffer{address_of(&request->header), sizeof(BlkHeader), false};
    uint32_t writable = 1;
    for (unsigned i = 0; i < request->data_count; ++i) {
        chain[n++] = request->data[i];
        if (request->data[i].device_writes) {
            writable += request->data[i].len;
        }
    }
    chain[n++] = VirtqBuffer{address_of(&request->status), 1, true};
    request->writable_bytes = writable;
    request->done = false;
    request->status = 0xff;
    return queues_[queue].add(chain, n, request->indirect, request);
}

void BlkDevice::kick(unsigned queue) {
    if (queue < queue_count_) {
        queues_[queue].kick();
    }
}

bool BlkDevice::poll(unsigned q) {
    if (q >= queue_count_) {
        return false;
    }
    bool any = false;
    void* token = nullptr;
    uint32_t len = 0;
    bool bad = false;
    while (queues_[q].pop_used(&token, &len, &bad)) {
        if (bad) {
            broken_ = true;
            continue;
        }
        auto* request = static_cast<BlkRequest*>(token);
        request->used_len = len;
        request->result = request->status;
        request->done = true;
        any = true;
    }
    return any;
}

bool BlkDevice::poll() {
    bool any = false;
    for (unsigned q = 0; q < queue_count_; ++q) {
        any = poll(q) || any;
    }
    return any;
}

uint64_t BlkDevice::wait_token(unsigned cpu) const {
    return interrupts_ ? irq_events(cpu) : 0;
}

void BlkDevice::wait_step(unsigned cpu, uint64_t token) {
    if (interrupts_) {
        irq_wait(cpu, token);
    } else {
        cpu_relax();
    }
}

bool BlkDevice::timed_out(uint64_t start) {
    if (broken_ || rdtsc() - start > kTimeoutCycles) {
        broken_ = true;
        return true;
    }
    return false;
}

uint8_t BlkDevice::execute(unsigned queue, BlkRequest* request) {
    if (!submit(queue, request)) {
        return kBlkSTimeout;
    }
    kick(queue);
    unsigned cpu = this_cpu();
    uint64_t start = rdtsc();
    while (!request->done) {
        uint64_t token = wait_token(cpu);
        if (poll(queue)) {
            continue;
        }
        if (timed_out(start)) {
            return kBlkSTimeout;
        }
        wait_step(cpu, token);
    }
    return request->result;
}

bool BlkDevice::wait_all() {
    for (unsigned q = 0; q < queue_count_; ++q) {
        kick(q);
    }
    unsigned cpu = this_cpu();
    uint64_t start = rdtsc();
    for (;;) {
        uint64_t token = wait_token(cpu);
        poll();
        bool busy = false;
        for (unsigned q = 0; q < queue_count_; ++q) {
            busy = busy || queues_[q].in_flight() != 0;
        }
        if (!busy) {
            return true;
        }
        if (timed_out(start)) {
            return false;
        }
        wait_step(cpu, token);
    }
}

bool BlkDevice::wait_queue(unsigned queue) {
    if (queue >= queue_count_) {
        return false;
    }
    kick(queue);
    unsigned cpu = this_cpu();
    uint64_t start = rdtsc();
    for (;;) {
        uint64_t token = wait_token(cpu);
        poll(queue);
        if (queues_[queue].in_flight() == 0) {
            return true;
        }
        if (timed_out(start)) {
            return false;
        }
        wait_step(cpu, token);
    }
}

}  // namespace guest
