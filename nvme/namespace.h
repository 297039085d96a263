// An NVMe namespace as the passthrough engine drives it: found from a drive path, opened as its
// generic character device (/dev/ngXnY), and identified once at startup (Identify Controller and
// Identify Namespace through libnvme's admin ioctls). Also the per-drive command counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "nvme/commands.h"
#include "nvme/device_path.h"

namespace nvmevm {

// What Identify tells us, and the kernel's limits for passthrough on this namespace.
struct NvmeNamespaceInfo {
    std::string generic_path;           // /dev/ngXnY
    nvme::Format format;                // nsid, LBA size, NSZE
    uint32_t max_transfer_bytes = 0;    // MDTS, the kernel's max_hw_sectors: one command's data
    uint32_t max_pages = 0;             // the kernel's max_segments for one command
    bool volatile_write_cache = false;  // VWC: Flush has something to do
    bool write_zeroes = false;          // ONCS bit 3
    bool deallocate = false;            // ONCS bit 2 (Dataset Management)
    std::string serial;                 // the controller's SN, trimmed
    std::array<uint8_t, 8> eui64{};
    std::array<uint8_t, 16> nguid{};
    std::string model;
};

// NVMe commands issued per drive, by opcode (every engine of the drive adds to the same ones).
struct NvmeCounters {
    std::atomic<uint64_t> read{0}, write{0}, flush{0}, dsm{0}, write_zeroes{0}, errors{0};
    // Of all those, the commands issued on a polled ring (IORING_SETUP_IOPOLL, `poll = true`).
    std::atomic<uint64_t> polled{0};
};

// The NVMe state an NvmeBacking holds for the passthrough engine (nvme/backing.h). Logs its
// counters when the backing goes, with the last of the drive's device and engines.
struct NvmeNamespace {
    explicit NvmeNamespace(NvmeNamespaceInfo identified) : info(std::move(identified)) {}
    ~NvmeNamespace();
    NvmeNamespace(const NvmeNamespace&) = delete;
    NvmeNamespace& operator=(const NvmeNamespace&) = delete;

    NvmeNamespaceInfo info;
    mutable NvmeCounters counters;
};

// Identify Controller and Identify Namespace on the open generic device `fd` (`path`), and the
// kernel's limits for passthrough on it. Throws std::system_error with a message that says
// what is missing or not supported.
[[nodiscard]] NvmeNamespaceInfo identify_namespace(int fd, const std::string& path);

// For a drive with `poll = true`: logs (info) whether the NVMe driver has poll queues for this
// namespace (/sys/module/nvme/parameters/poll_queues, /sys/block/nvmeXnY/queue/io_poll), since
// without them a polled command completes by interrupt and only its reaping is polled.
void log_nvme_poll_support(const NvmeNamespaceInfo& info);

}  // namespace nvmevm
