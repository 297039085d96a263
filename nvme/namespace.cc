#include "nvme/namespace.h"

#include <libnvme.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

#include "foundation/log.h"

namespace nvmevm {
namespace {

// MDTS is in units of the controller's minimum memory page size (CAP.MPSMIN), which only the
// controller's registers tell; 4 KiB is the minimum every controller supports and the unit the
// Linux driver assumes too. MDTS 0 means "no limit": the kernel's limit then applies.
constexpr uint64_t kMdtsUnit = 4096;
constexpr uint32_t kNoLimit = 1u << 20;  // 1 MiB when neither MDTS nor sysfs say anything
constexpr uint32_t kDefaultPages = 32;

[[noreturn]] void fail(int error, const std::string& what) {
    throw std::system_error(error, std::system_category(), what);
}

std::optional<uint64_t> read_sysfs_number(const std::string& file) {
    std::ifstream in(file);
    unsigned long long value = 0;
    if (!(in >> value)) return std::nullopt;
    return value;
}

std::string trimmed(const char* text, size_t size) {
    std::string s(text, strnlen(text, size));
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    for (char& c : s)
        if (c < 0x20 || c > 0x7e) c = '_';
    return s;
}

}  // namespace

NvmeNamespaceInfo identify_namespace(int fd, const std::string& path) {
    NvmeNamespaceInfo info;
    info.generic_path = path;
    __u32 nsid = 0;
    if (nvme_get_nsid(fd, &nsid) != 0) fail(errno, "NVME_IOCTL_ID " + path);
    info.format.nsid = nsid;

    nvme_id_ctrl ctrl{};
    int rc = nvme_identify_ctrl(fd, &ctrl);
    if (rc != 0)
        fail(rc < 0 ? errno : EIO,
             "Identify Controller on " + path +
                 (rc > 0 ? " (NVMe status " + std::to_string(rc) + ")" : std::string()));
    nvme_id_ns ns{};
    rc = nvme_identify_ns(fd, nsid, &ns);
    if (rc != 0)
        fail(rc < 0 ? errno : EIO,
             "Identify Namespace on " + path +
                 (rc > 0 ? " (NVMe status " + std::to_string(rc) + ")" : std::string()));

    // FLBAS bits 3:0 and 6:5 index the LBA format in use (Base 2.0, Figure 275).
    const unsigned index =
        (ns.flbas & NVME_NS_FLBAS_LOWER_MASK) | ((ns.flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 1);
    if (index > ns.nlbaf || index >= std::size(ns.lbaf))
        fail(EINVAL, path + ": Identify Namespace names LBA format " + std::to_string(index) +
                         " of " + std::to_string(ns.nlbaf + 1));
    const nvme_lbaf& lbaf = ns.lbaf[index];
    if (lbaf.ms != 0)
        fail(EOPNOTSUPP, path + ": the LBA format carries " + std::to_string(lbaf.ms) +
                             " bytes of metadata per block; nvmevm supports only formats without "
                             "metadata (reformat the namespace, e.g. nvme format --lbaf)");
    if (lbaf.ds < 9 || lbaf.ds > 12)
        fail(EOPNOTSUPP, path + ": logical blocks of 2^" + std::to_string(lbaf.ds) +
                             " bytes; nvmevm supports 512 B to 4 KiB");
    info.format.lba_shift = lbaf.ds;
    info.format.lba_count = ns.nsze;

    const uint16_t oncs = ctrl.oncs;
    info.write_zeroes = (oncs & NVME_CTRL_ONCS_WRITE_ZEROES) != 0;
    info.deallocate = (oncs & NVME_CTRL_ONCS_DSM) != 0;
    info.volatile_write_cache = (ctrl.vwc & NVME_CTRL_VWC_PRESENT) != 0;
    info.serial = trimmed(ctrl.sn, sizeof ctrl.sn);
    info.model = trimmed(ctrl.mn, sizeof ctrl.mn);
    std::copy(std::begin(ns.eui64), std::end(ns.eui64), info.eui64.begin());
    std::copy(std::begin(ns.nguid), std::end(ns.nguid), info.nguid.begin());

    uint64_t max_bytes = ctrl.mdts != 0 && ctrl.mdts < 20 ? kMdtsUnit << ctrl.mdts : kNoLimit;
    uint64_t pages = kDefaultPages;
    // The kernel's own limits for requests on this namespace (passthrough is bound by them too).
    const std::string queue = "/sys/block/" + nvme_block_name(path) + "/queue/";
    if (auto kb = read_sysfs_number(queue + "max_hw_sectors_kb"); kb && *kb != 0)
        max_bytes = std::min<uint64_t>(max_bytes, *kb * 1024);
    if (auto segments = read_sysfs_number(queue + "max_segments"); segments && *segments > 1)
        pages = *segments - 1;  // one spare: a buffer that is not page-aligned touches one more
    max_bytes = std::min<uint64_t>(max_bytes, kNoLimit);
    max_bytes = std::min<uint64_t>(max_bytes, pages * 4096);
    max_bytes &= ~uint64_t{info.format.lba_size() - 1};
    if (max_bytes == 0) fail(EINVAL, path + ": the transfer limit is below one logical block");
    info.max_transfer_bytes = static_cast<uint32_t>(max_bytes);
    info.max_pages = static_cast<uint32_t>(std::min<uint64_t>(pages, nvme::kMaxChunkSegments));
    return info;
}

NvmeNamespace::~NvmeNamespace() {
    // log-rule: setup (namespace discovery)
    logf(LogLevel::info,
         "nvme %s: read=%llu write=%llu flush=%llu dsm=%llu write_zeroes=%llu "
         "errors=%llu polled=%llu",
         info.generic_path.c_str(), static_cast<unsigned long long>(counters.read.load()),
         static_cast<unsigned long long>(counters.write.load()),
         static_cast<unsigned long long>(counters.flush.load()),
         static_cast<unsigned long long>(counters.dsm.load()),
         static_cast<unsigned long long>(counters.write_zeroes.load()),
         static_cast<unsigned long long>(counters.errors.load()),
         static_cast<unsigned long long>(counters.polled.load()));
}

void log_nvme_poll_support(const NvmeNamespaceInfo& info) {
    // poll_queues is the driver's module parameter (nvme.poll_queues=N on the kernel command
    // line); io_poll says whether this namespace's queue got the poll flag from it.
    const std::optional<uint64_t> poll_queues =
        read_sysfs_number("/sys/module/nvme/parameters/poll_queues");
    const std::optional<uint64_t> io_poll =
        read_sysfs_number("/sys/block/" + nvme_block_name(info.generic_path) + "/queue/io_poll");
    const std::string queues = poll_queues ? std::to_string(*poll_queues) : "unknown";
    const std::string polled = io_poll ? std::to_string(*io_poll) : "unknown";
    if (io_poll && *io_poll != 0) {
        // log-rule: setup (namespace discovery)
        logf(LogLevel::info,
             "nvme %s: polled completions on the NVMe driver's poll queues (nvme.poll_queues=%s)",
             info.generic_path.c_str(), queues.c_str());
        return;
    }
    // The kernel still takes IOPOLL passthrough then: the command goes to an interrupt-driven
    // queue, its completion is task work (which ends KVM_RUN like any other), and io_uring posts
    // the CQE only when this thread polls. Correct, but no faster than plain interrupts.
    // log-rule: setup (namespace discovery)
    logf(LogLevel::info,
         "nvme %s: the NVMe driver has no poll queues for this namespace (nvme.poll_queues=%s, "
         "io_poll %s): polled commands complete by interrupt, and only their reaping is polled; "
         "boot the host with nvme.poll_queues=N to poll the device itself",
         info.generic_path.c_str(), queues.c_str(), polled.c_str());
}

}  // namespace nvmevm
