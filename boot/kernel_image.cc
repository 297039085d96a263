#include "boot/kernel_image.h"

#include "boot/bzimage.h"
#include "boot/elf_image.h"
#include "boot/pvh_elf.h"

namespace nvmevm {

KernelInfo probe_kernel(std::span<const uint8_t> image) {
    if (image.empty()) throw BootError("not a kernel: the file is empty");
    if (has_elf_magic(image)) {
        const PvhElf pvh = parse_pvh_elf(image);
        return {KernelFormat::pvh_elf, pvh.load_end, kPvhInitrdAddrMax};
    }
    if (has_bzimage_magic(image)) {
        const BzImage bz = parse_bzimage(image);
        return {KernelFormat::bzimage, bz.load_end, bz.initrd_addr_max};
    }
    throw BootError("not a kernel: neither a bzImage (no \"HdrS\" at 0x202) nor an ELF file");
}

EntryState load_kernel(const GuestMemory& memory, const BootInputs& inputs) {
    switch (probe_kernel(inputs.kernel).format) {
        case KernelFormat::bzimage:
            return load_bzimage(memory, inputs);
        case KernelFormat::pvh_elf:
            return load_pvh_elf(memory, inputs);
    }
    throw BootError("unknown kernel format");
}

}  // namespace nvmevm
