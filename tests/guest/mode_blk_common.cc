#include "mode_blk_common.h"

#include "cmdline.h"
#include "serial.h"

namespace guest {
namespace {

struct FeatureName {
    unsigned bit;
    const char* name;
};

constexpr FeatureName kFeatureNames[] = {
    {kBlkFSizeMax, "SIZE_MAX"},
    {kBlkFSegMax, "SEG_MAX"},
    {kBlkFGeometry, "GEOMETRY"},
    {kBlkFRo, "RO"},
    {kBlkFBlkSize, "BLK_SIZE"},
    {kBlkFFlush, "FLUSH"},
    {kBlkFTopology, "TOPOLOGY"},
    {kBlkFConfigWce, "CONFIG_WCE"},
    {kBlkFMq, "MQ"},
    {kBlkFDiscard, "DISCARD"},
    {kBlkFWriteZeroes, "WRITE_ZEROES"},
    {kBlkFLifetime, "LIFETIME"},
    {kBlkFSecureErase, "SECURE_ERASE"},
    {kVirtioFIndirectDesc, "INDIRECT_DESC"},
    {kVirtioFEventIdx, "EVENT_IDX"},
    {kVirtioFVersion1, "VERSION_1"},
    {kVirtioFAccessPlatform, "ACCESS_PLATFORM"},
    {kVirtioFRingPacked, "RING_PACKED"},
    {kVirtioFInOrder, "IN_ORDER"},
    {kVirtioFNotificationData, "NOTIFICATION_DATA"},
};

}  // namespace

BlkOptions blk_options_from(const Context& context) {
    BlkOptions options;
    Words words(start_info_cmdline(*context.start_info));
    Word word;
    while (words.next(&word)) {
        if (word.is("noevtidx")) {
            options.event_idx = false;
        } else if (word.is("noindirect")) {
            options.indirect = false;
        } else if (word.is("nomq")) {
            options.mq = false;
        } else if (word.is("irq")) {
            options.interrupts = true;
        }
    }
    return options;
}

bool blk_use_cpus(const Context& context) {
    Words words(start_info_cmdline(*context.start_info));
    Word word;
    while (words.next(&word)) {
        if (word.is("nosmp")) {
            return false;
        }
    }
    return true;
}

unsigned find_blk_devices(PciFunction* found) {
    unsigned count = pci_find(kVirtioVendor, kVirtioBlkModernDevice, found, kMaxBlkDevices);
    return count < kMaxBlkDevices ? count : kMaxBlkDevices;
}

void put_blk_line(PciAddress where, const char* text) {
    char name[6];
    pci_format(where, name);
    put_line_start("blk ");
    put_str(name);
    put_char(' ');
    put_str(text);
}

void put_feature_names(uint64_t features) {
    bool first = true;
    for (unsigned bit = 0; bit < 64; ++bit) {
        if ((features & feature_bit(bit)) == 0) {
            continue;
        }
        if (!first) {
            put_char(' ');
        }
        first = false;
        const char* name = nullptr;
        for (const FeatureName& known : kFeatureNames) {
            if (known.bit == bit) {
                name = known.name;
            }
        }
        if (name != nullptr) {
            put_str(name);
        } else {
            put_str("bit");
            put_dec(bit);
        }
    }
    if (first) {
        put_str("(none)");
    }
}

const char* blk_status_name(uint8_t status) {
    switch (status) {
        case kBlkSOk:
            return "OK";
        case kBlkSIoErr:
            return "IOERR";
        case kBlkSUnsupp:
            return "UNSUPP";
        case kBlkSTimeout:
            return "no completion (timeout, full ring or broken device)";
        default:
            return "invalid status byte";
    }
}

}  // namespace guest
