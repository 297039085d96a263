#include "storage/null_backing.h"

#include "storage/null_engine.h"

namespace nvmevm {

std::shared_ptr<NullBacking> NullBacking::make(uint64_t capacity, std::string serial) {
    BackingTraits traits;
    traits.path = "null";
    traits.capacity = capacity;
    traits.discard = true;
    traits.write_zeroes = true;
    if (serial.size() > 20) serial.resize(20);
    traits.serial = std::move(serial);
    return std::make_shared<NullBacking>(std::move(traits));
}

std::shared_ptr<NullBacking> NullBacking::shaped_like(BackingTraits traits) {
    return std::make_shared<NullBacking>(std::move(traits));
}

std::unique_ptr<BlockEngine> NullBacking::make_engine(IoRing& ring) const {
    // The engine needs nothing of the backing after this: it keeps no reference to it.
    return std::make_unique<NullBlockEngine>(ring, read_only());
}

}  // namespace nvmevm
