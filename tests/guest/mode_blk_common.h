// What the virtio-blk modes (`blk`, `blkinfo`) share: finding the devices, the command-line
// options, printing per-device lines.
#pragma once

#include <stdint.h>

#include "modes.h"
#include "pci.h"
#include "virtio_blk.h"

namespace guest {

inline constexpr unsigned kMaxBlkDevices = 8;

// The options the command line sets (noevtidx, noindirect, nomq, irq).
BlkOptions blk_options_from(const Context& context);
// False when the command line says `nosmp`: the blk suite then drives both queues from vCPU 0.
bool blk_use_cpus(const Context& context);

// Finds the modern virtio-blk functions on bus 0; returns how many (at most kMaxBlkDevices
// are stored).
unsigned find_blk_devices(PciFunction* found);

// "nvmevm test guest: blk 00:SS " + text.
void put_blk_line(PciAddress where, const char* text);

// Feature bits by name, space-separated (unknown bits as "bit<N>").
void put_feature_names(uint64_t features);

const char* blk_status_name(uint8_t status);

}  // namespace guest
