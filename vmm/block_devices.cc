#include "vmm/block_devices.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "boot/acpi_tables.h"
#include "foundation/log.h"

namespace nvmevm {
namespace {

// Firmware's job, done by nvmevm: BAR 0 of the drive in PCI slot s lies at kBarBase + s * 1 MiB,
// inside the 32-bit window the DSDT's PCI0 _CRS describes.
constexpr uint64_t kBarBase = kMmioHoleStart;
constexpr uint64_t kBarStride = 1 << 20;
constexpr unsigned kFirstSlot = 1;  // slot 0 is the host bridge
constexpr uint16_t kPciCommandMemory = 0x2;
constexpr unsigned kRingEntries = 256;

void write_config32(PciDevice& device, uint32_t offset, uint32_t value) {
    const uint8_t bytes[4] = {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
                              static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
    device.config_write(offset, bytes);
}

// One line per limited drive: its limits, in the words `nvmevm bench` uses.
void log_rate_limits(const DriveConfig& drive) {
    if (!drive.rate_limits.any()) return;
    // log-rule: setup
    logf(LogLevel::info, "drive %s: I/O limits: %s", drive.id.c_str(),
         describe(drive.rate_limits).c_str());
}

}  // namespace

void KvmMsiSink::deliver(uint64_t address, uint32_t data) {
    if (!vm_.signal_msi(address, data))
        logf_limited(log_limit_, LogLevel::warn, "KVM refused MSI address 0x%llx data 0x%x",
                     static_cast<unsigned long long>(address), data);
}

BlockDevices::BlockDevices(const VmConfig& config, const GuestMemory& memory, const KvmVm& vm,
                           PciHost& pci, IoBus& mmio)
    : vm_(vm), mmio_(mmio), msi_(std::make_shared<KvmMsiSink>(vm)) {
    if (config.drives.empty()) return;
    try {
        add_drives(config, memory, pci);
    } catch (...) {
        unplug();  // the drives already on the PCI bus stay there
        throw;
    }
}

void BlockDevices::add_drives(const VmConfig& config, const GuestMemory& memory, PciHost& pci) {
    // Every backing is opened first: the engines decide how the vCPU rings are made.
    std::vector<DriveBacking> opened;
    unsigned ring_flags = 0;
    unsigned poll_ring_flags = 0;
    for (const DriveConfig& drive_config : config.drives) {
        opened.push_back(open_drive(drive_config));
        // NVMe passthrough commands need 128-byte SQEs and 32-byte CQEs. One ring per vCPU
        // serves every drive, so all of them get the larger entries (a few KiB per ring).
        if (opened.back().engine == DriveEngine::nvme)
            ring_flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
        // Polled drives (open_drive let them through only on passthrough) get a second ring
        // per vCPU (IORING_SETUP_IOPOLL is added there).
        if (drive_config.poll) poll_ring_flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
    }
    for (uint32_t i = 0; i < config.vcpus; ++i)
        services_.push_back(
            std::make_unique<BlkVcpuService>(memory, kRingEntries, ring_flags, poll_ring_flags));

    unsigned slot = kFirstSlot;
    for (size_t index = 0; index < config.drives.size(); ++index) {
        const DriveConfig& drive_config = config.drives[index];
        auto drive = std::make_unique<Drive>();
        drive->id = drive_config.id;
        drive->engine = opened[index].engine;
        drive->backing = std::move(opened[index].backing);
        const Backing& backing = *drive->backing;
        BlkDeviceOptions options;
        options.name = drive_config.id;
        options.queues =
            drive_config.queues != 0 ? drive_config.queues : static_cast<uint16_t>(config.vcpus);
        options.queue_size = drive_config.queue_size;
        options.logical_block_size = drive_config.logical_block_size;
        options.rate_limits = drive_config.rate_limits;
        drive->device = std::make_shared<VirtioBlk>(memory, drive->backing, options);
        if (const BlkBlockSizes& sizes = drive->device->block_sizes(); sizes.emulated()) {
            // log-rule: setup
            logf(LogLevel::info,
                 "drive %s: presenting %u-byte sectors on %u-byte blocks (logical_block_size): "
                 "the guest is told the physical block is %u bytes, and requests not aligned "
                 "to it are served by read-modify-write",
                 drive_config.id.c_str(), sizes.logical, backing.logical_block_size(),
                 backing.logical_block_size());
        }
        drive->transport = VirtioPciTransport::create(drive->device, msi_);
        drive->bar = std::make_unique<PciBarMapping>(mmio_, drive->transport->bar_device(),
                                                     VirtioPciTransport::bar_size(),
                                                     "drive " + drive_config.id);
        Drive& d = *drive;
        drives_.push_back(std::move(drive));
        // Cleared by unplug(): the transport outlives this object in the PCI host.
        d.transport->set_bar_callback(
            [this, &d](const PciBarChange& change) { on_bar_change(d, change); });
        for (uint16_t q = 0; q < options.queues; ++q)
            services_[q % config.vcpus]->add_queue(d.device, q, drive_config.poll);
        pci.add_device(slot, d.transport);

        // Place BAR 0 (64-bit) and turn on memory decoding, as firmware would.
        const uint64_t bar = kBarBase + slot * kBarStride;
        write_config32(*d.transport, 0x10, static_cast<uint32_t>(bar));
        write_config32(*d.transport, 0x14, static_cast<uint32_t>(bar >> 32));
        write_config32(*d.transport, 0x04, kPciCommandMemory);
        // log-rule: setup
        logf(LogLevel::info,
             "drive %s: %s, %llu bytes, engine %s%s, PCI 00:%02x.0, BAR 0x%llx, %u queues, "
             "%u-byte blocks",
             drive_config.id.c_str(), backing.path().c_str(),
             static_cast<unsigned long long>(backing.capacity()),
             std::string(to_string(d.engine)).c_str(),
             drive_config.poll ? " (polled completions, IORING_SETUP_IOPOLL)" : "", slot,
             static_cast<unsigned long long>(bar), options.queues, d.device->block_sizes().logical);
        log_rate_limits(drive_config);
        ++slot;
    }
    // Every engine has registered its files: from here on each ring takes only what its role
    // uses (docs/security.md).
    for (auto& service : services_) service->seal();
}

BlockDevices::~BlockDevices() {
    unplug();
}

void BlockDevices::unplug() noexcept {
    // The PCI host keeps the transports (and through them the devices and backings) until the
    // platform goes; a BAR write after this would otherwise call into a destroyed object.
    // The vCPUs have stopped: no configuration write runs concurrently.
    for (auto& drive : drives_) {
        drive->transport->set_bar_callback({});
        if (!drive->bar) continue;  // failed before it was made
        // noexcept when unbinding
        if (const auto mapped = drive->bar->mapped()) bind_doorbells(*drive, *mapped, false);
        drive->bar->unmap();
    }
}

VcpuWork* BlockDevices::vcpu_work(uint32_t index) {
    if (index >= services_.size() || services_[index]->empty()) return nullptr;
    return services_[index].get();
}

void BlockDevices::flush_all() const {
    for (const auto& drive : drives_) {
        if (drive->backing->read_only()) continue;
        if (const int rc = drive->backing->flush_sync(); rc < 0)
            // log-rule: at stop, once per drive
            logf(LogLevel::error, "drive %s: flush at stop failed: %s", drive->id.c_str(),
                 std::strerror(-rc));
    }
}

uint64_t BlockDevices::largest_writable_file() const {
    uint64_t largest = 0;
    for (const auto& drive : drives_)
        if (!drive->backing->read_only()) largest = std::max(largest, drive->backing->capacity());
    return largest;
}

bool BlockDevices::has_passthrough() const {
    return std::any_of(drives_.begin(), drives_.end(),
                       [](const auto& drive) { return drive->engine == DriveEngine::nvme; });
}

BlockDevices::Totals BlockDevices::totals() const {
    Totals totals;
    for (const auto& drive : drives_) {
        for (uint16_t q = 0; q < drive->device->queue_count(); ++q) {
            const BlkQueueStats& stats = drive->device->queue(q).stats();
            totals.requests += stats.requests.load(std::memory_order_relaxed);
            totals.interrupts += stats.interrupts.load(std::memory_order_relaxed);
            totals.errors += stats.errors.load(std::memory_order_relaxed);
        }
        if (const IoRateLimiter* limiter = drive->device->rate_limiter())
            totals.throttled += limiter->throttled();
        if (const ReadModifyWriteCounters* rmw = drive->device->rmw_counters()) {
            totals.read_modify_writes += rmw->partial_reads.load(std::memory_order_relaxed) +
                                         rmw->partial_writes.load(std::memory_order_relaxed) +
                                         rmw->bounced.load(std::memory_order_relaxed);
        }
    }
    return totals;
}

void BlockDevices::on_bar_change(Drive& drive, const PciBarChange& change) {
    if (change.index != 0) return;
    // Only what this drive bound and mapped itself is undone: while BAR 0 overlaps another
    // device it is decoded nowhere (devices/pci_bar_mapping.h), and the range there is not ours.
    if (const auto mapped = drive.bar->mapped()) bind_doorbells(drive, *mapped, false);
    if (const auto mapped = drive.bar->move_to(change.new_address))
        bind_doorbells(drive, *mapped, true);
}

void BlockDevices::bind_doorbells(Drive& drive, uint64_t bar, bool bind) {
    for (uint16_t q = 0; q < drive.device->queue_count(); ++q) {
        const uint64_t address = bar + VirtioPciTransport::notify_offset(q);
        // Length 0: any write width matches (KVM_CAP_IOEVENTFD_ANY_LENGTH); the driver writes 16
        // bits.
        if (bind) {
            try {
                vm_.add_mmio_eventfd(address, 0, drive.device->queue_eventfd(q));
            } catch (const std::exception& e) {
                // The doorbell still works through an MMIO exit (VirtioDevice::notify), slower.
                logf_limited(log_limit_, LogLevel::warn, "drive %s queue %u: no ioeventfd (%s)",
                             drive.id.c_str(), q, e.what());
            }
        } else {
            vm_.remove_mmio_eventfd(address, 0, drive.device->queue_eventfd(q));
        }
    }
}

}  // namespace nvmevm
