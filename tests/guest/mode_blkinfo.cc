// `blkinfo`: every modern virtio-blk device on bus 0, its BARs and virtio capabilities, the
// features it offers and the ones the driver would take, its configuration fields and queue
// sizes. Starts each device (through DRIVER_OK, no requests) and resets it again.
#include "mode_blk_common.h"
#include "serial.h"

namespace guest {
namespace {

BlkDevice g_info_device;

void put_region(PciAddress where, const char* name, const VirtioRegion& region) {
    put_blk_line(where, name);
    if (!region.found) {
        put_str(": none\n");
        return;
    }
    put_str(": cap ");
    put_hex(region.cap_offset);
    put_str(" bar ");
    put_dec(region.bar);
    put_str(" offset ");
    put_hex(region.offset);
    put_str(" length ");
    put_hex(region.length);
    put_str(" at ");
    put_hex(region.address);
    put_char('\n');
}

void put_field(PciAddress where, const char* name, uint64_t value) {
    put_blk_line(where, name);
    put_char('=');
    put_dec(value);
    put_char('\n');
}

void describe(const PciFunction& function, const BlkOptions& options) {
    PciAddress where = function.where;
    put_blk_line(where, "virtio-blk: revision ");
    put_dec(function.revision);
    put_str(" subsystem ");
    put_hex(function.subsystem);
    put_char('\n');
    for (unsigned i = 0; i < kPciBars; ++i) {
        const PciBarInfo& bar = function.bars[i];
        if (!bar.present) {
            continue;
        }
        put_blk_line(where, "bar");
        put_dec(i);
        put_str(bar.io ? " io " : bar.is64 ? " mem64 " : " mem32 ");
        put_hex(bar.address);
        put_str(bar.prefetchable ? " prefetchable\n" : "\n");
    }

    BlkDevice& device = g_info_device;
    const char* error = nullptr;
    bool ok = device.start(function, options, &error);
    VirtioPci& transport = device.transport();
    put_region(where, "common", transport.common());
    put_region(where, "notify", transport.notify_region());
    put_blk_line(where, "notify_off_multiplier=");
    put_dec(transport.notify_off_multiplier());
    put_str(transport.has_msix() ? " msix=yes\n" : " msix=no\n");
    put_region(where, "isr", transport.isr_region());
    put_region(where, "device", transport.device_region());
    if (!ok) {
        put_blk_line(where, "start failed: ");
        put_str(error);
        put_char('\n');
        device.stop();
        return;
    }
    put_blk_line(where, "offered: ");
    put_hex(device.offered());
    put_char(' ');
    put_feature_names(device.offered());
    put_char('\n');
    put_blk_line(where, "negotiated: ");
    put_hex(device.negotiated());
    put_char(' ');
    put_feature_names(device.negotiated());
    put_char('\n');
    const BlkConfig& c = device.config();
    put_field(where, "capacity", c.capacity);
    put_field(where, "size_max", c.size_max);
    put_field(where, "seg_max", c.seg_max);
    put_field(where, "blk_size", c.blk_size);
    put_field(where, "num_queues", c.num_queues);
    put_field(where, "writeback", c.writeback);
    put_field(where, "max_discard_sectors", c.max_discard_sectors);
    put_field(where, "max_discard_seg", c.max_discard_seg);
    put_field(where, "discard_sector_alignment", c.discard_sector_alignment);
    put_field(where, "max_write_zeroes_sectors", c.max_write_zeroes_sectors);
    put_field(where, "max_write_zeroes_seg", c.max_write_zeroes_seg);
    put_field(where, "write_zeroes_may_unmap", c.write_zeroes_may_unmap);
    put_field(where, "common num_queues", transport.num_queues());
    for (unsigned q = 0; q < device.queue_count(); ++q) {
        put_blk_line(where, "queue ");
        put_dec(q);
        put_str(": size ");
        put_dec(device.queue(q).size());
        put_str(" notify at ");
        put_hex(transport.notify_address(static_cast<uint16_t>(q)));
        put_char('\n');
    }
    device.stop();
}

}  // namespace

void mode_blkinfo(const Context& context) {
    PciFunction found[kMaxBlkDevices];
    unsigned count = find_blk_devices(found);
    put_line_start("blkinfo: ");
    put_dec(count);
    put_str(" virtio-blk device(s)\n");
    BlkOptions options = blk_options_from(context);
    for (unsigned i = 0; i < count; ++i) {
        describe(found[i], options);
    }
}

}  // namespace guest
