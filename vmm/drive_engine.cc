#include "vmm/drive_engine.h"

#include <cerrno>
#include <system_error>

#include "nvme/engine.h"
#include "storage/backing.h"
#include "storage/null_engine.h"
#include "storage/uring_engine.h"

namespace nvmevm {

std::string_view to_string(BlockEngineKind kind) {
    switch (kind) {
        case BlockEngineKind::uring:
            return "uring";
        case BlockEngineKind::null:
            return "null";
        case BlockEngineKind::nvme:
            return "nvme";
    }
    return "?";
}

bool parse_block_engine_kind(std::string_view text, BlockEngineKind& out) {
    for (BlockEngineKind kind :
         {BlockEngineKind::uring, BlockEngineKind::null, BlockEngineKind::nvme}) {
        if (text == to_string(kind)) {
            out = kind;
            return true;
        }
    }
    return false;
}

std::unique_ptr<BlockEngine> make_block_engine(BlockEngineKind kind, const BlockBackend& backend,
                                               IoRing& ring) {
    switch (kind) {
        case BlockEngineKind::uring:
            // A passthrough backing is a character device the uring engine cannot read.
            if (backend.nvme_namespace() != nullptr) break;
            return std::make_unique<UringBlockEngine>(backend, ring);
        case BlockEngineKind::null:
            return std::make_unique<NullBlockEngine>(backend, ring);
        case BlockEngineKind::nvme:
            return std::make_unique<NvmeBlockEngine>(backend, ring);
    }
    throw std::system_error(EINVAL, std::system_category(),
                            "block engine '" + std::string(to_string(kind)) +
                                "' cannot use the NVMe passthrough backing " + backend.path());
}

BlockEngineMaker block_engine_maker(BlockEngineKind kind, const BlockBackend& backend) {
    return [kind, &backend](IoRing& ring) { return make_block_engine(kind, backend, ring); };
}

}  // namespace nvmevm
