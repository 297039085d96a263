// The TOML side of the config: syntax (toml++), schema (which tables and keys exist, and
// their types) and the value checks of cli/config_values. Walks every table in file order so
// that, of several mistakes, the first one in the file is the one reported.
#include <toml++/toml.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/config_loader.h"
#include "cli/config_values.h"

namespace nvmevm {
namespace {

namespace values = config_values;

const char* a_type(toml::node_type type) {
    switch (type) {
        case toml::node_type::none:
            return "nothing";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
    }
    return "something else";
}

using Entry = std::pair<const toml::key*, const toml::node*>;

bool before(const toml::source_position& a, const toml::source_position& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
}

// toml::table keeps keys sorted by name; users read files top to bottom.
std::vector<Entry> in_file_order(const toml::table& table) {
    std::vector<Entry> entries;
    for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return before(a.first->source().begin, b.first->source().begin);
    });
    return entries;
}

class Parser {
  public:
    explicit Parser(const std::filesystem::path& source)
        : file_(source.string()), base_(source.parent_path()) {}

    VmConfig parse(const toml::table& root) {
        VmConfig config;
        config.source = file_;
        const SourceLocation top{file_, 1, 1};
        config.vcpus_where = config.memory_where = config.kernel_where = top;
        config.initrd_where = config.cmdline_where = config.console_where = top;
        for (const auto& [key, node] : in_file_order(root)) {
            const std::string name(key->str());
            if (name == "machine") {
                machine(table(*key, *node), config);
            } else if (name == "boot") {
                boot(table(*key, *node), config);
            } else if (name == "console") {
                console(table(*key, *node), config);
            } else if (name == "drive") {
                drives(*key, *node, config);
            } else if (name == "sandbox") {
                sandbox(table(*key, *node), config);
            } else if (node->is_table()) {
                throw ConfigError(at(*node), "unknown table [" + name +
                                                 "]: the tables are [machine], [boot], "
                                                 "[console], [sandbox] and [[drive]]");
            } else {
                throw ConfigError(at(*key), "unknown key \"" + name +
                                                "\" at the top level: keys belong in [machine], "
                                                "[boot], [console] or [[drive]]");
            }
        }
        return config;
    }

  private:
    SourceLocation at(const toml::source_region& region) const {
        return SourceLocation{file_, region.begin.line, region.begin.column};
    }
    // Keys made implicitly (the "a" of [a.b]) may carry no position; fall back to line 1.
    SourceLocation at(const toml::key& key) const {
        if (key.source().begin.line == 0) return SourceLocation{file_, 1, 1};
        return at(key.source());
    }
    SourceLocation at(const toml::node& node) const {
        if (node.source().begin.line == 0) return SourceLocation{file_, 1, 1};
        return at(node.source());
    }

    const toml::table& table(const toml::key& key, const toml::node& node) const {
        if (const toml::table* t = node.as_table()) return *t;
        throw ConfigError(at(node), "[" + std::string(key.str()) + "] must be a table, not " +
                                        a_type(node.type()));
    }

    [[noreturn]] void unknown_key(const toml::key& key, std::string_view table,
                                  std::string_view known) const {
        throw ConfigError(at(key), "unknown key \"" + std::string(key.str()) + "\" in " +
                                       std::string(table) + " (known keys: " + std::string(known) +
                                       ")");
    }

    [[noreturn]] void wrong_type(const toml::key& key, const toml::node& node,
                                 std::string_view wanted) const {
        throw ConfigError(at(node), std::string(key.str()) + " must be " + std::string(wanted) +
                                        ", not " + a_type(node.type()));
    }

    int64_t integer(const toml::key& key, const toml::node& node) const {
        if (const auto* v = node.as_integer()) return v->get();
        wrong_type(key, node, "an integer");
    }
    const std::string& string(const toml::key& key, const toml::node& node) const {
        if (const auto* v = node.as_string()) return v->get();
        wrong_type(key, node, "a string");
    }
    bool boolean(const toml::key& key, const toml::node& node) const {
        if (const auto* v = node.as_boolean()) return v->get();
        wrong_type(key, node, "true or false");
    }

    void machine(const toml::table& table, VmConfig& config) const {
        for (const auto& [key, node] : in_file_order(table)) {
            const std::string name(key->str());
            if (name == "vcpus") {
                config.vcpus_where = at(*node);
                config.vcpus = values::vcpus(integer(*key, *node), config.vcpus_where);
            } else if (name == "memory_mib") {
                config.memory_where = at(*node);
                config.memory_mib = values::memory_mib(integer(*key, *node), config.memory_where);
            } else {
                unknown_key(*key, "[machine]", "vcpus, memory_mib");
            }
        }
    }

    void boot(const toml::table& table, VmConfig& config) const {
        // Until a kernel key is seen, a "missing kernel" error points at the [boot] table.
        config.kernel_where = at(table);
        for (const auto& [key, node] : in_file_order(table)) {
            const std::string name(key->str());
            if (name == "kernel") {
                config.kernel_where = at(*node);
                config.kernel =
                    values::path("kernel", string(*key, *node), base_, config.kernel_where);
            } else if (name == "initrd") {
                config.initrd_where = at(*node);
                config.initrd =
                    values::path("initrd", string(*key, *node), base_, config.initrd_where);
            } else if (name == "cmdline") {
                config.cmdline_where = at(*node);
                config.cmdline = string(*key, *node);
                values::cmdline(config.cmdline, config.cmdline_where);
            } else {
                unknown_key(*key, "[boot]", "kernel, initrd, cmdline");
            }
        }
    }

    void console(const toml::table& table, VmConfig& config) const {
        for (const auto& [key, node] : in_file_order(table)) {
            if (key->str() == "output") {
                values::console(config, string(*key, *node), base_, at(*node));
            } else {
                unknown_key(*key, "[console]", "output");
            }
        }
    }

    void sandbox(const toml::table& table, VmConfig& config) const {
        config.sandbox_where = at(table);
        for (const auto& [key, node] : in_file_order(table)) {
            const std::string name(key->str());
            if (name == "enabled") {
                // true / false, or the string "auto".
                if (const auto* flag = node->as_boolean())
                    config.sandbox.mode = flag->get() ? SandboxMode::on : SandboxMode::off;
                else
                    config.sandbox.mode = values::sandbox_mode(string(*key, *node), at(*node));
            } else if (name == "uid") {
                config.sandbox.uid = values::sandbox_id("uid", integer(*key, *node), at(*node));
            } else if (name == "gid") {
                config.sandbox.gid = values::sandbox_id("gid", integer(*key, *node), at(*node));
            } else if (name == "cgroup") {
                config.sandbox.cgroup = string(*key, *node);
                values::cgroup(config.sandbox.cgroup, at(*node));
            } else {
                unknown_key(*key, "[sandbox]", "enabled, uid, gid, cgroup");
            }
        }
    }

    void drives(const toml::key& key, const toml::node& node, VmConfig& config) const {
        if (node.is_table()) {
            throw ConfigError(at(node),
                              "drives are a list: write [[drive]] (two brackets), not [drive]");
        }
        const toml::array* list = node.as_array();
        if (list == nullptr) {
            throw ConfigError(at(key), "drive must be a list of [[drive]] tables, not " +
                                           std::string(a_type(node.type())));
        }
        std::set<std::string> ids;
        for (const toml::node& element : *list) {
            const toml::table* t = element.as_table();
            if (t == nullptr) {
                throw ConfigError(at(element), "each drive must be a table ([[drive]]), not " +
                                                   std::string(a_type(element.type())));
            }
            DriveConfig d = drive(*t);
            if (!ids.insert(d.id).second) {
                throw ConfigError(d.where, "drive id \"" + d.id + "\" is used twice");
            }
            config.drives.push_back(std::move(d));
        }
    }

    DriveConfig drive(const toml::table& table) const {
        DriveConfig d;
        d.where = at(table);
        d.path_where = d.where;
        bool has_id = false;
        const toml::key* size_key = nullptr;  // size_mib, checked once the engine is known
        for (const auto& [key, node] : in_file_order(table)) {
            const std::string name(key->str());
            if (name == "id") {
                d.id = string(*key, *node);
                values::drive_id(d.id, at(*node));
                has_id = true;
            } else if (name == "path") {
                d.path_where = at(*node);
                d.path = values::path("path", string(*key, *node), base_, d.path_where);
            } else if (name == "read_only") {
                d.read_only = boolean(*key, *node);
            } else if (name == "engine") {
                d.engine_where = at(*node);
                d.engine = values::engine(string(*key, *node), d.engine_where);
            } else if (name == "queues") {
                d.queues = values::drive_queues(integer(*key, *node), at(*node));
            } else if (name == "queue_size") {
                d.queue_size = values::queue_size(integer(*key, *node), at(*node));
            } else if (name == "serial") {
                d.serial = string(*key, *node);
                values::serial(d.serial, at(*node));
            } else if (name == "direct") {
                d.direct = boolean(*key, *node);
            } else if (name == "logical_block_size") {
                d.logical_block_size = values::logical_block_size(integer(*key, *node), at(*node));
            } else if (name == "poll") {
                d.poll_where = at(*node);
                d.poll = boolean(*key, *node);
            } else if (name == "rate_limit") {
                d.rate_limits = rate_limit(*key, *node);
            } else if (name == "size_mib") {
                d.null_size_mib = values::null_size_mib(integer(*key, *node), at(*node));
                size_key = key;
            } else {
                unknown_key(*key, "[[drive]]",
                            "id, path, read_only, engine, queues, queue_size, serial, direct, "
                            "size_mib, logical_block_size, poll, rate_limit");
            }
        }
        if (!has_id) throw ConfigError(d.where, "drive has no id: add id = \"...\"");
        // The null engine completes every request without touching a file (for measuring
        // the VMM alone), so it is the one engine that needs no path.
        if (d.path.empty() && d.engine != DriveEngine::null) {
            throw ConfigError(d.where, "drive \"" + d.id + "\" has no path: add path = \"...\"");
        }
        // A drive with a path has the size of its file or device; only a null drive without
        // one needs to be told its size.
        if (size_key != nullptr && (d.engine != DriveEngine::null || !d.path.empty())) {
            throw ConfigError(at(*size_key),
                              "size_mib applies only to engine = \"null\" drives without a path");
        }
        // After the loop: the engine may come after poll in the file.
        if (d.poll) values::poll_engine(d.engine, d.poll_where);
        return d;
    }

    // [drive.rate_limit]: ops = { ... } and / or bandwidth = { ... } (docs/rate-limits.md).
    IoRateLimits rate_limit(const toml::key& key, const toml::node& node) const {
        IoRateLimits limits;
        for (const auto& [name_key, value] : in_file_order(table(key, node))) {
            const std::string name(name_key->str());
            if (name == "ops") {
                limits.ops = bucket("ops", *name_key, *value);
            } else if (name == "bandwidth") {
                limits.bytes = bucket("bandwidth", *name_key, *value);
            } else {
                unknown_key(*name_key, "[drive.rate_limit]", "ops, bandwidth");
            }
        }
        if (!limits.any()) {
            throw ConfigError(at(node),
                              "rate_limit sets no limit: give ops = { size = N, refill_time_ms = "
                              "MS } and/or bandwidth = { size = BYTES, refill_time_ms = MS }");
        }
        return limits;
    }

    TokenBucketConfig bucket(const std::string& what, const toml::key& key,
                             const toml::node& node) const {
        TokenBucketConfig bucket;
        bool has_size = false, has_refill = false;
        for (const auto& [name_key, value] : in_file_order(table(key, node))) {
            const std::string name(name_key->str());
            const std::string full = what + "." + name;
            if (name == "size") {
                bucket.size = values::bucket_size(full, integer(*name_key, *value), at(*value));
                has_size = true;
            } else if (name == "refill_time_ms") {
                bucket.refill_time_ns =
                    values::bucket_refill_ms(full, integer(*name_key, *value), at(*value)) *
                    1'000'000;
                has_refill = true;
            } else if (name == "one_time_burst") {
                bucket.one_time_burst =
                    values::bucket_burst(full, integer(*name_key, *value), at(*value));
            } else {
                unknown_key(*name_key, "rate_limit." + what,
                            "size, refill_time_ms, one_time_burst");
            }
        }
        // A burst (or a size) alone describes no bucket: what would refill it, and how fast?
        if (!has_size || !has_refill) {
            throw ConfigError(at(node), "rate_limit." + what + " needs both size and " +
                                            "refill_time_ms (the bucket holds size tokens and " +
                                            "refills them every refill_time_ms)");
        }
        return bucket;
    }

    std::string file_;
    std::filesystem::path base_;
};

}  // namespace

VmConfig parse_config(std::string_view text, const std::filesystem::path& source) {
    toml::table root;
    try {
        root = toml::parse(text, source.string());
    } catch (const toml::parse_error& e) {
        const SourceLocation where{source.string(), e.source().begin.line, e.source().begin.column};
        throw ConfigError(where, "TOML syntax error: " + std::string(e.description()));
    }
    return Parser(source).parse(root);
}

}  // namespace nvmevm
