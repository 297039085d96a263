// The null engine: no storage at all. Reads fill the guest's buffers with zeroes (as QEMU's
// null-co with read-zeroes=on), everything else succeeds untouched; no syscall. Completions
// still travel through IoRing::post() and reap(), so the device cannot tell it from real I/O
// and a benchmark with it measures exactly the VMM's own cost per request.
#pragma once

#include "storage/engine.h"

namespace nvmevm {

class NullBlockEngine final : public BlockEngine {
  public:
    // Made by NullBacking::make_engine; `read_only` is the backing's.
    NullBlockEngine(IoRing& ring, bool read_only);
    void submit(const BlockIo& io, IoCompletion* done) noexcept override;

  private:
    IoRing& ring_;
    bool read_only_;
};

}  // namespace nvmevm
