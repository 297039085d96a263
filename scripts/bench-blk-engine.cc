// Cost per 4 KiB request through a block engine, outside any VM: what the vCPU thread pays per
// request for submission and completion, and the latency the backing adds.
//
// Build (after building nvmevm in build/, or any build dir):
//   g++ -O2 -std=c++20 -I. -o /tmp/bench-blk-engine scripts/bench-blk-engine.cc
//       build/storage/libnvmevm_storage.a build/foundation/libnvmevm_foundation.a -luring -pthread
// Run:
//   /tmp/bench-blk-engine ENGINE DIR QD SECONDS [read|write]
//   e.g. /tmp/bench-blk-engine uring /dev/shm 1 3 ; /tmp/bench-blk-engine null - 32 3
// Prints IOPS, mean wall time per request, and process CPU time per request (user + sys of all
// threads, including the kernel's iou-wrk threads, which belong to the process).
//
// The loop is the vCPU thread's in miniature: completions are reaped from the CQ ring, each
// completed request is replaced by a new one, the batch is submitted with one io_uring_enter,
// and the thread blocks only when nothing has completed.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "foundation/guest_memory.h"
#include "foundation/io_ring.h"
#include "foundation/mapping.h"
#include "foundation/unique_fd.h"
#include "storage/engine.h"
#include "storage/file_backing.h"
#include "storage/null_backing.h"
#include "vmm/vm_config.h"

using namespace nvmevm;

namespace {

constexpr uint64_t kFileSize = 256ull << 20;
constexpr uint64_t kBlock = 4096;

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto sec = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return sec(usage.ru_utime) + sec(usage.ru_stime);
}

struct Bench;

// One in-flight slot: a request that resubmits itself when it completes.
struct Slot final : IoCompletion {
    Bench* bench = nullptr;
    iovec segment{};
    void complete(int32_t result) noexcept override;
};

struct Bench {
    BlockEngine* engine = nullptr;
    BlockOp op = BlockOp::read;
    std::mt19937_64 rng{42};
    uint64_t completed = 0;
    uint64_t in_flight = 0;
    uint64_t errors = 0;
    bool stopping = false;
    void issue(Slot& slot) {
        const uint64_t offset = (rng() % (kFileSize / kBlock)) * kBlock;
        ++in_flight;
        engine->submit(op == BlockOp::read ? BlockIo::read(offset, {&slot.segment, 1})
                                           : BlockIo::write(offset, {&slot.segment, 1}),
                       &slot);
    }
};

void Slot::complete(int32_t result) noexcept {
    ++bench->completed;
    --bench->in_flight;
    if (result != static_cast<int32_t>(kBlock)) ++bench->errors;
    if (!bench->stopping) bench->issue(*this);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s uring|null DIR QD SECONDS [read|write]\n", argv[0]);
        return 2;
    }
    const std::string kind_name = argv[1];
    const std::string dir = argv[2];
    const int depth = std::atoi(argv[3]);
    const double seconds = std::atof(argv[4]);
    const bool write = argc > 5 && std::string(argv[5]) == "write";

    const std::optional<DriveEngine> kind = parse_drive_engine(kind_name);
    if (kind != DriveEngine::uring && kind != DriveEngine::null) return 2;
    std::string path;
    std::shared_ptr<const Backing> backend = NullBacking::make(kFileSize);
    if (kind != DriveEngine::null) {
        path = dir + "/nvmevm-bench.XXXXXX";
        UniqueFd fd(::mkstemp(path.data()));
        std::vector<uint8_t> chunk(1 << 20, 0x5a);
        for (uint64_t done = 0; done < kFileSize; done += chunk.size())
            if (::write(fd.get(), chunk.data(), chunk.size()) != ssize_t(chunk.size())) return 1;
        ::fsync(fd.get());
        BackingOptions options;
        options.path = path;
        backend = FileBacking::open(options);
    }

    Mapping ram = Mapping::anonymous(64 << 20);
    GuestMemory memory = GuestMemory::wrap({static_cast<uint8_t*>(ram.get()), 64 << 20});
    std::memset(ram.get(), 1, 64 << 20);
    IoRing ring(256);
    ring.register_guest_memory(memory);
    auto engine = backend->make_engine(ring);

    Bench bench;
    bench.engine = engine.get();
    bench.op = write ? BlockOp::write : BlockOp::read;
    std::vector<Slot> slots(static_cast<size_t>(depth));
    for (size_t i = 0; i < slots.size(); ++i) {
        slots[i].bench = &bench;
        slots[i].segment = {static_cast<uint8_t*>(ram.get()) + i * kBlock, kBlock};
    }

    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    for (Slot& slot : slots) bench.issue(slot);
    uint64_t iterations = 0;
    for (;;) {
        (void)ring.submit();
        ++iterations;
        if ((iterations & 255) == 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= seconds)
            break;
        if (ring.reap() == 0 && ring.wait(1) < 0) return 1;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    bench.stopping = true;
    const uint64_t n = bench.completed;  // counted before the drain below
    std::printf(
        "%s %s %s QD%d: %.0f IOPS, %.2f us wall/request, %.2f us CPU/request, errors %llu\n",
        kind_name.c_str(), kind == DriveEngine::null ? "-" : dir.c_str(), write ? "write" : "read",
        depth, double(n) / wall, wall * 1e6 / double(n), cpu * 1e6 / double(n),
        static_cast<unsigned long long>(bench.errors));
    // Let what is in flight finish before the slots go away.
    while (bench.in_flight != 0) {
        if (ring.reap() == 0 && ring.wait(1) < 0) return 1;
    }
    engine.reset();
    if (!path.empty()) ::unlink(path.c_str());
    return 0;
}
