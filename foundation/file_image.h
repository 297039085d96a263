// A whole file mapped read-only: kernels and initrds are copied into guest RAM straight from
// the page cache, without a heap copy that would stay in nvmevm's RSS.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "foundation/mapping.h"

namespace nvmevm {

class FileImage {
  public:
    // Throws std::system_error naming the file when it cannot be opened or mapped.
    static FileImage open(const std::filesystem::path& path);

    [[nodiscard]] std::span<const uint8_t> bytes() const {
        return {static_cast<const uint8_t*>(mapping_.get()), mapping_.size()};
    }

  private:
    Mapping mapping_;  // empty for an empty file
};

}  // namespace nvmevm
