// A function on nvmevm's PCI bus 0, as the host bridge sees it: 256 bytes of configuration
// space (PCI Local Bus Specification 3.0, chapter 6). The host bridge (devices/pci_host.h)
// checks every guest access before it gets here.
#pragma once

#include <cstdint>
#include <span>

namespace nvmevm {

inline constexpr uint32_t kPciConfigSpaceSize = 256;

class PciDevice {
  public:
    virtual ~PciDevice() = default;
    // Guaranteed by the caller: 1 <= data.size() <= 4 and offset + data.size() <=
    // kPciConfigSpaceSize; the access may be unaligned within its dword (e.g. 2 bytes at
    // offset 1). Calls are serialized by the host bridge, and a device must not call back
    // into it.
    virtual void config_read(uint32_t offset, std::span<uint8_t> data) = 0;
    virtual void config_write(uint32_t offset, std::span<const uint8_t> data) = 0;
};

}  // namespace nvmevm
