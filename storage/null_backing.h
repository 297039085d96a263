// A backing with no storage, for the null engine (storage/null_engine.h), which it makes:
// `capacity` bytes that read as zeroes and take every write, discard and write zeroes. With a
// path (engine = "null" on a file), it has that file's shape: the device advertises what it
// would for the file, and no request touches it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "storage/backing.h"

namespace nvmevm {

class NullBacking final : public Backing {
  public:
    // No file at all: 512-byte blocks, discard and write zeroes supported (there is nothing to
    // do), `serial` cut to 20 bytes.
    [[nodiscard]] static std::shared_ptr<NullBacking> make(uint64_t capacity,
                                                           std::string serial = "nvmevm-null");
    // Advertises `traits` (those of a file the drive names) and does no I/O.
    [[nodiscard]] static std::shared_ptr<NullBacking> shaped_like(BackingTraits traits);
    // Use make() or shaped_like().
    explicit NullBacking(BackingTraits traits) : Backing(std::move(traits)) {}

    // Backing: nothing to do, so everything succeeds.
    [[nodiscard]] int flush_sync() const noexcept override { return 0; }
    [[nodiscard]] int discard_sync(uint64_t, uint64_t) const noexcept override { return 0; }
    [[nodiscard]] int write_zeroes_sync(uint64_t, uint64_t) const noexcept override { return 0; }
    // A NullBlockEngine on `ring`.
    [[nodiscard]] std::unique_ptr<BlockEngine> make_engine(IoRing& ring) const override;
};

}  // namespace nvmevm
