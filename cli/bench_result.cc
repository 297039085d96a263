#include "cli/bench_result.h"

#include <cctype>
#include <cstdlib>
#include <map>

namespace nvmevm {
namespace {

// A JSON reader just big enough for the guest's line: objects (nested ones flattened to
// "outer.inner" keys), strings without escapes beyond \" and \\, numbers, true/false/null.
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
        if (c == '{') return object(key + ".");
        if (c == '"') return string(strings[key]);
        for (const std::string_view word : {"true", "false", "null"}) {
            if (text_.substr(pos_, word.size()) == word) {
                pos_ += word.size();
                if (word != "null") numbers[key] = word == "true" ? 1 : 0;
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
        if (++depth_ > 4) return fail("nested too deep");
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
    const auto number = [&json](const char* key) {
        const auto it = json.numbers.find(key);
        return it == json.numbers.end() ? 0.0 : it->second;
    };
    const auto count = [&number](const char* key) {
        const double v = number(key);
        return v > 0 ? static_cast<uint64_t>(v) : uint64_t{0};
    };
    r.rw = json.strings["rw"];
    r.mode = json.strings["mode"];
    r.bs = count("bs");
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
    return r;
}

}  // namespace nvmevm
