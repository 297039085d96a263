#include "cli/bench_result.h"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <map>

namespace nvmevm {
namespace {

// A JSON reader just big enough for the guest's line: objects (nested ones flattened to
// "outer.inner" keys), arrays (items flattened to "array.0", "array.1", ...), strings without
// escapes beyond \" and \\, numbers, true/false/null.
// A hand-rolled one rather than a library: nvmevm links statically and this is its only JSON.
class FlatJson {
  public:
    explicit FlatJson(std::string_view text) : text_(text) {}

    bool parse(std::string& error) {
        skip_space();
        if (!object("")) {
            error = "bad JSON at byte " + std::to_string(pos_) + ": " + why_;
            return false;
        }
        return true;
    }
    // Where the object ended: the guest's text beyond it is not part of it.
    [[nodiscard]] size_t end() const { return pos_; }

    std::map<std::string, std::string> strings;
    std::map<std::string, double> numbers;
    // What each key last held: 'o' object, 'a' array, 's' string, 'n' number (or true/false),
    // '0' null; and each array's length.
    std::map<std::string, char> kinds;
    std::map<std::string, size_t> array_sizes;

  private:
    bool fail(const char* why) {
        why_ = why;
        return false;
    }
    void skip_space() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    bool take(char c) {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool string(std::string& out) {
        if (!take('"')) return fail("expected a string");
        while (pos_ < text_.size() && text_[pos_] != '"') {
            if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
            out += text_[pos_++];
        }
        if (pos_ >= text_.size()) return fail("unterminated string");
        ++pos_;
        return true;
    }
    bool value(const std::string& key) {
        skip_space();
        if (pos_ >= text_.size()) return fail("expected a value");
        const char c = text_[pos_];
        kinds[key] = c == '{' ? 'o' : c == '[' ? 'a' : c == '"' ? 's' : 'n';
        if (c == '{') return object(key + ".");
        if (c == '[') return array(key);
        if (c == '"') return string(strings[key]);
        for (const std::string_view word : {"true", "false", "null"}) {
            if (text_.substr(pos_, word.size()) == word) {
                pos_ += word.size();
                if (word != "null") numbers[key] = word == "true" ? 1 : 0;
                if (word == "null") kinds[key] = '0';
                return true;
            }
        }
        // strtod needs a terminated string; numbers are short.
        const std::string rest(text_.substr(pos_, 64));
        char* stop = nullptr;
        const double number = std::strtod(rest.c_str(), &stop);
        if (stop == rest.c_str()) return fail("expected a value");
        pos_ += static_cast<size_t>(stop - rest.c_str());
        numbers[key] = number;
        return true;
    }
    bool object(const std::string& prefix) {
        if (++depth_ > kMaxDepth) return fail("nested too deep");
        if (!take('{')) return fail("expected {");
        if (take('}')) return true;
        do {
            std::string key;
            if (!string(key)) return false;
            if (!take(':')) return fail("expected :");
            if (!value(prefix + key)) return false;
        } while (take(','));
        if (!take('}')) return fail("expected , or }");
        --depth_;
        return true;
    }
    bool array(const std::string& key) {
        if (++depth_ > kMaxDepth) return fail("nested too deep");
        if (!take('[')) return fail("expected [");
        size_t n = 0;
        if (!take(']')) {
            do {
                if (n == kMaxArrayItems) return fail("array too long");
                if (!value(key + "." + std::to_string(n))) return false;
                ++n;
            } while (take(','));
            if (!take(']')) return fail("expected , or ]");
        }
        array_sizes[key] = n;
        --depth_;
        return true;
    }

    // The guest's deepest value: the line, "devices", one device, its "lat_ns"; and one more
    // for nvmevm's own --json, which holds the line under "guest" (and reads back, in tests).
    static constexpr int kMaxDepth = 5;
    // Bounds what a line of untrusted text can make the reader store.
    static constexpr size_t kMaxArrayItems = kMaxBenchResultDevices;

    std::string_view text_;
    size_t pos_ = 0;
    int depth_ = 0;
    const char* why_ = "";
};

// The line holding `tag`, from the tag on; empty if none.
std::string_view find_tagged(std::string_view console, std::string_view tag) {
    const size_t at = console.find(tag);
    if (at == std::string_view::npos) return {};
    std::string_view line = console.substr(at + tag.size());
    const size_t newline = line.find('\n');
    if (newline != std::string_view::npos) line = line.substr(0, newline);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    return line;
}

double number_of(const FlatJson& json, const std::string& key) {
    const auto it = json.numbers.find(key);
    return it == json.numbers.end() ? 0.0 : it->second;
}

// A count from a double the guest wrote: negative and NaN read 0, too large saturates (a
// plain cast of those is undefined).
uint64_t count_of(const FlatJson& json, const std::string& key) {
    const double v = number_of(json, key);
    if (!(v > 0)) return 0;
    if (v >= 18446744073709551616.0) return UINT64_MAX;
    return static_cast<uint64_t>(v);
}

// The "devices" array (devices=N > 1), if there: every item an object with the numbers ops,
// iops, mbps and lat_ns.*. Nothing about its shape is taken on trust.
bool read_devices(const FlatJson& json, std::vector<BenchDeviceResult>& out, std::string& error) {
    const auto kind = json.kinds.find("devices");
    if (kind == json.kinds.end()) return true;
    const auto size = json.array_sizes.find("devices");
    if (kind->second != 'a' || size == json.array_sizes.end()) {
        error = "NVMEVM-BENCH line: \"devices\" is not an array";
        return false;
    }
    if (size->second > kMaxBenchResultDevices) {
        error = "NVMEVM-BENCH line: \"devices\" has more than " +
                std::to_string(kMaxBenchResultDevices) + " items";
        return false;
    }
    for (size_t i = 0; i < size->second; ++i) {
        const std::string item = "devices." + std::to_string(i);
        const auto item_kind = json.kinds.find(item);
        if (item_kind == json.kinds.end() || item_kind->second != 'o') {
            error = "NVMEVM-BENCH line: devices[" + std::to_string(i) + "] is not an object";
            return false;
        }
        for (const std::string field :
             {"ops", "iops", "mbps", "lat_ns.p50", "lat_ns.p99", "lat_ns.p999", "lat_ns.max"}) {
            if (!json.numbers.count(item + "." + field)) {
                error = "NVMEVM-BENCH line: devices[" + std::to_string(i) + "] has no number \"" +
                        field + "\"";
                return false;
            }
        }
        const auto number = [&](const char* field) { return number_of(json, item + "." + field); };
        out.push_back({count_of(json, item + ".ops"),
                       number("iops"),
                       number("mbps"),
                       {number("lat_ns.p50"), number("lat_ns.p99"), number("lat_ns.p999"),
                        number("lat_ns.max")}});
    }
    return true;
}

}  // namespace

std::optional<BenchResult> parse_bench_output(std::string_view console, std::string& error) {
    const std::string_view line = find_tagged(console, kBenchLineTag);
    if (line.empty()) {
        error = "the guest printed no NVMEVM-BENCH line";
        return std::nullopt;
    }
    if (console.find(kBenchLineTag, console.find(kBenchLineTag) + 1) != std::string_view::npos) {
        error = "the guest printed more than one NVMEVM-BENCH line";
        return std::nullopt;
    }
    FlatJson json(line);
    if (!json.parse(error)) {
        error = "NVMEVM-BENCH line: " + error;
        return std::nullopt;
    }
    BenchResult r;
    r.json = std::string(line.substr(0, json.end()));
    for (const char* key :
         {"ops", "elapsed_ns", "iops", "lat_ns.p50", "lat_ns.p99", "lat_ns.p999", "lat_ns.max"}) {
        if (!json.numbers.count(key)) {
            error = std::string("NVMEVM-BENCH line: no number \"") + key + "\"";
            return std::nullopt;
        }
    }
    const auto number = [&json](const char* key) { return number_of(json, key); };
    const auto count = [&json](const char* key) { return count_of(json, key); };
    r.rw = json.strings["rw"];
    r.mode = json.strings["mode"];
    r.bs = count("bs");
    r.misalign = count("misalign");
    r.qd = count("qd");
    r.jobs = count("jobs");
    r.ops = count("ops");
    r.elapsed_ns = count("elapsed_ns");
    r.iops = number("iops");
    r.mbps = number("mbps");
    r.lat_ns = {number("lat_ns.p50"), number("lat_ns.p99"), number("lat_ns.p999"),
                number("lat_ns.max")};
    r.kicks = count("kicks");
    r.interrupts = count("interrupts");
    r.errors = count("errors");
    if (!read_devices(json, r.devices, error)) return std::nullopt;
    return r;
}

}  // namespace nvmevm
