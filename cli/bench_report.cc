#include "cli/bench_report.h"

#include <cstdarg>
#include <cstdio>

namespace nvmevm {
namespace {

// printf into a std::string (GCC 12 has no <format>).
[[gnu::format(printf, 2, 3)]] void appendf(std::string& out, const char* format, ...) {
    va_list args, again;
    va_start(args, format);
    va_copy(again, args);
    char buffer[256];
    const int n = std::vsnprintf(buffer, sizeof buffer, format, args);
    if (n > 0 && static_cast<size_t>(n) < sizeof buffer) {
        out.append(buffer, static_cast<size_t>(n));
    } else if (n > 0) {  // a long path: format again into the string itself
        const size_t at = out.size();
        out.resize(at + static_cast<size_t>(n) + 1);
        std::vsnprintf(out.data() + at, static_cast<size_t>(n) + 1, format, again);
        out.resize(at + static_cast<size_t>(n));
    }
    va_end(again);
    va_end(args);
}

double per(uint64_t count, uint64_t ops) {
    return ops ? static_cast<double>(count) / static_cast<double>(ops) : 0.0;
}

// 1234567 -> "1.23M", as fio writes IOPS.
std::string short_count(double value) {
    std::string out;
    if (value >= 1e6)
        appendf(out, "%.2fM", value / 1e6);
    else if (value >= 1e3)
        appendf(out, "%.1fk", value / 1e3);
    else
        appendf(out, "%.0f", value);
    return out;
}

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

// One line per device when the guest drove several: where a throttled drive's latency shows
// beside an unthrottled one's.
void append_device_lines(std::string& out, const BenchResult& g) {
    for (size_t i = 0; i < g.devices.size(); ++i) {
        const BenchDeviceResult& d = g.devices[i];
        appendf(out,
                "  device %zu: IOPS=%s, BW=%.1fMB/s, %llu requests, lat (usec): p50=%.2f, "
                "p99=%.2f, p99.9=%.2f, max=%.2f\n",
                i, short_count(d.iops).c_str(), d.mbps, static_cast<unsigned long long>(d.ops),
                d.lat_ns.p50 / 1e3, d.lat_ns.p99 / 1e3, d.lat_ns.p999 / 1e3, d.lat_ns.max / 1e3);
    }
}

// ,"devices":[{"ops":N,"iops":F,"mbps":F,"lat_ns":{...}}, ...], or nothing for one device.
void append_device_json(std::string& out, const BenchResult& g) {
    if (g.devices.empty()) return;
    out += ",\"devices\":[";
    for (size_t i = 0; i < g.devices.size(); ++i) {
        const BenchDeviceResult& d = g.devices[i];
        appendf(out,
                "%s{\"ops\":%llu,\"iops\":%.1f,\"mbps\":%.3f,\"lat_ns\":{\"p50\":%.0f,"
                "\"p99\":%.0f,\"p999\":%.0f,\"max\":%.0f}}",
                i == 0 ? "" : ",", static_cast<unsigned long long>(d.ops), d.iops, d.mbps,
                d.lat_ns.p50, d.lat_ns.p99, d.lat_ns.p999, d.lat_ns.max);
    }
    out += "]";
}

// `prefix` and the sectors every offset was shifted by, or "" when they were not (as the guest
// prints it only then).
std::string misalign_word(const BenchResult& g, const char* prefix) {
    return g.misalign ? prefix + std::to_string(g.misalign) : std::string();
}

double iops_per_cpu_second(const BenchResult& g, const BenchHostFigures& h) {
    return h.cpu_ns ? static_cast<double>(g.ops) * 1e9 / static_cast<double>(h.cpu_ns) : 0.0;
}

}  // namespace

std::string format_bench_summary(const BenchResult& g, const BenchHostFigures& h) {
    std::string out;
    appendf(out, "bench: rw=%s bs=%llu%s qd=%llu jobs=%llu mode=%s vcpus=%u\n", g.rw.c_str(),
            static_cast<unsigned long long>(g.bs), misalign_word(g, " misalign=").c_str(),
            static_cast<unsigned long long>(g.qd), static_cast<unsigned long long>(g.jobs),
            g.mode.c_str(), h.vcpus);
    appendf(out, "  drive: %s\n", h.target.c_str());
    appendf(out, "  io: IOPS=%s, BW=%.1fMB/s (%.1fMiB/s), %llu requests in %.3f s, errors=%llu\n",
            short_count(g.iops).c_str(), g.mbps, g.mbps * 1e6 / (1 << 20),
            static_cast<unsigned long long>(g.ops), static_cast<double>(g.elapsed_ns) / 1e9,
            static_cast<unsigned long long>(g.errors));
    appendf(out, "  lat (usec): p50=%.2f, p99=%.2f, p99.9=%.2f, max=%.2f\n", g.lat_ns.p50 / 1e3,
            g.lat_ns.p99 / 1e3, g.lat_ns.p999 / 1e3, g.lat_ns.max / 1e3);
    append_device_lines(out, g);
    appendf(out, "  guest: kicks=%llu (%.3f/req), interrupts=%llu (%.3f/req)\n",
            static_cast<unsigned long long>(g.kicks), per(g.kicks, g.ops),
            static_cast<unsigned long long>(g.interrupts), per(g.interrupts, g.ops));
    const MachineCounters& c = h.counters;
    appendf(
        out,
        "  nvmevm: cpu=%.3f s for %.3f s of VM (%.0f%%), %.2f us/req, %s IOPS per CPU-second\n",
        static_cast<double>(h.cpu_ns) / 1e9, static_cast<double>(h.wall_ns) / 1e9,
        h.wall_ns ? 100.0 * static_cast<double>(h.cpu_ns) / static_cast<double>(h.wall_ns) : 0.0,
        g.ops ? static_cast<double>(h.cpu_ns) / 1e3 / static_cast<double>(g.ops) : 0.0,
        short_count(iops_per_cpu_second(g, h)).c_str());
    appendf(out,
            "  exits/req: KVM_RUN returns %.3f (interrupted %.3f, port I/O %.3f, MMIO %.3f); "
            "blk requests=%llu interrupts=%llu errors=%llu throttled=%llu stall kicks=%llu\n",
            per(c.kvm_run, g.ops), per(c.interrupted, g.ops), per(c.port_io, g.ops),
            per(c.mmio, g.ops), static_cast<unsigned long long>(c.blk_requests),
            static_cast<unsigned long long>(c.blk_interrupts),
            static_cast<unsigned long long>(c.blk_errors),
            static_cast<unsigned long long>(c.blk_throttled),
            static_cast<unsigned long long>(c.stall_kicks));
    return out;
}

std::string format_bench_json(const BenchResult& g, const BenchHostFigures& h) {
    const MachineCounters& c = h.counters;
    const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::string out = "{\"tool\":\"nvmevm bench\"";
    appendf(out, ",\"rw\":%s,\"bs\":%llu%s,\"qd\":%llu,\"jobs\":%llu,\"mode\":%s",
            json_string(g.rw).c_str(), u(g.bs), misalign_word(g, ",\"misalign\":").c_str(), u(g.qd),
            u(g.jobs), json_string(g.mode).c_str());
    appendf(out, ",\"vcpus\":%u,\"memory_mib\":%llu,\"target\":%s", h.vcpus, u(h.memory_mib),
            json_string(h.target).c_str());
    appendf(out, ",\"ops\":%llu,\"elapsed_ns\":%llu,\"iops\":%.1f,\"mbps\":%.3f", u(g.ops),
            u(g.elapsed_ns), g.iops, g.mbps);
    appendf(out, ",\"lat_ns\":{\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%.0f}", g.lat_ns.p50,
            g.lat_ns.p99, g.lat_ns.p999, g.lat_ns.max);
    appendf(out, ",\"kicks\":%llu,\"interrupts\":%llu,\"errors\":%llu", u(g.kicks), u(g.interrupts),
            u(g.errors));
    append_device_json(out, g);
    appendf(out, ",\"host\":{\"cpu_ns\":%llu,\"wall_ns\":%llu,\"iops_per_cpu_s\":%.1f", u(h.cpu_ns),
            u(h.wall_ns), iops_per_cpu_second(g, h));
    appendf(out,
            ",\"kvm_run\":%llu,\"interrupted\":%llu,\"port_io\":%llu,\"mmio\":%llu,"
            "\"exits_per_request\":%.4f",
            u(c.kvm_run), u(c.interrupted), u(c.port_io), u(c.mmio), per(c.kvm_run, g.ops));
    appendf(out,
            ",\"blk_requests\":%llu,\"blk_interrupts\":%llu,\"blk_errors\":%llu,"
            "\"blk_throttled\":%llu,\"stall_kicks\":%llu}",
            u(c.blk_requests), u(c.blk_interrupts), u(c.blk_errors), u(c.blk_throttled),
            u(c.stall_kicks));
    appendf(out, ",\"tsc_khz\":%llu", u(h.tsc_khz));
    out += ",\"guest_cmdline\":" + json_string(h.guest_cmdline);
    out += ",\"guest\":" + (g.json.empty() ? std::string("{}") : g.json) + "}\n";
    return out;
}

}  // namespace nvmevm
