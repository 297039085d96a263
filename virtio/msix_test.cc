#include "virtio/msix.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "devices/io_bus.h"

namespace nvmevm {
namespace {

struct Message {
    uint64_t address;
    uint32_t data;
    bool operator==(const Message&) const = default;
};

class FakeMsiSink final : public MsiSink {
  public:
    void deliver(uint64_t address, uint32_t data) override {
        std::lock_guard lock(mutex);
        messages.push_back({address, data});
    }
    size_t count() {
        std::lock_guard lock(mutex);
        return messages.size();
    }
    std::mutex mutex;
    std::vector<Message> messages;
};

class MsixTest : public ::testing::Test {
  protected:
    MsixTest() : table(4, sink) {}

    uint64_t read(uint64_t offset, size_t width) {
        uint8_t data[8] = {};
        table.read_table(offset, std::span<uint8_t>(data, width));
        return load_le(std::span<const uint8_t>(data, width));
    }
    void write(uint64_t offset, size_t width, uint64_t value) {
        uint8_t data[8] = {};
        store_le(std::span<uint8_t>(data, width), value);
        table.write_table(offset, std::span<const uint8_t>(data, width));
    }
    uint64_t pba() {
        uint8_t data[8] = {};
        table.read_pba(0, data);
        return load_le(data);
    }
    // What Linux does for one vector: address, data, then unmask.
    void program(uint32_t vector, uint64_t address, uint32_t data, bool unmask = true) {
        const uint64_t entry = MsixTable::kEntryBytes * vector;
        write(entry + MsixTable::kAddressLow, 4, address & 0xffffffff);
        write(entry + MsixTable::kAddressHigh, 4, address >> 32);
        write(entry + MsixTable::kData, 4, data);
        if (unmask) write(entry + MsixTable::kVectorControl, 4, 0);
    }

    FakeMsiSink sink;
    MsixTable table;
};

TEST(MsixTableSize, Bounds) {
    FakeMsiSink sink;
    EXPECT_THROW(MsixTable(0, sink), std::invalid_argument);
    EXPECT_THROW(MsixTable(2049, sink), std::invalid_argument);
    MsixTable largest(2048, sink);
    EXPECT_EQ(largest.table_bytes(), 2048u * 16);
    EXPECT_EQ(largest.pba_bytes(), 256u);
    MsixTable one(1, sink);
    EXPECT_EQ(one.pba_bytes(), 8u);  // the PBA is QWORDs
}

TEST_F(MsixTest, EntriesStartMasked) {
    // PCI 3.0 6.8.2.9: the Mask Bit's "state after reset is 1 (entry is masked)".
    for (uint32_t v = 0; v < 4; ++v) {
        EXPECT_TRUE(table.vector_masked(v));
        EXPECT_EQ(read(16 * v + MsixTable::kVectorControl, 4), 1u);
        EXPECT_EQ(read(16 * v, 8), 0u);
    }
    EXPECT_FALSE(table.enabled());
}

TEST_F(MsixTest, DisabledSignalsNothing) {
    program(1, 0xfee00000, 0x41);
    EXPECT_FALSE(table.signal(1));
    EXPECT_TRUE(sink.messages.empty());
    EXPECT_FALSE(table.pending(1));
}

TEST_F(MsixTest, UnmaskedVectorDeliversTableMessage) {
    program(2, 0x1'fee0'1000, 0x4051);
    table.set_control(true, false);
    EXPECT_TRUE(table.signal(2));
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0], (Message{0x1'fee0'1000, 0x4051}));
    EXPECT_FALSE(table.signal(4));  // no such vector
    EXPECT_EQ(sink.messages.size(), 1u);
}

TEST_F(MsixTest, MaskedVectorPendsUntilUnmasked) {
    program(3, 0xfee00000, 0x22, /*unmask=*/false);
    table.set_control(true, false);
    EXPECT_TRUE(table.signal(3));
    EXPECT_TRUE(sink.messages.empty());
    EXPECT_TRUE(table.pending(3));
    EXPECT_EQ(pba(), 0x8u);
    table.signal(3);  // a second event while pending is the same pending message
    write(16 * 3 + MsixTable::kVectorControl, 4, 0);
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0], (Message{0xfee00000, 0x22}));
    EXPECT_FALSE(table.pending(3));
    EXPECT_EQ(pba(), 0u);
}

TEST_F(MsixTest, FunctionMaskHoldsEveryVector) {
    // Linux enables MSI-X with the function masked, fills the table, then clears the mask.
    table.set_control(true, true);
    program(0, 0xfee00000, 0x30);
    program(1, 0xfee02000, 0x31);
    table.signal(0);
    table.signal(1);
    EXPECT_TRUE(sink.messages.empty());
    EXPECT_EQ(pba(), 0x3u);
    EXPECT_FALSE(table.vector_masked(0));  // the function mask leaves the vector bits alone
    table.set_control(true, false);
    ASSERT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(sink.messages[0].data, 0x30u);
    EXPECT_EQ(sink.messages[1].data, 0x31u);
    EXPECT_EQ(pba(), 0u);
}

TEST_F(MsixTest, PendingStaysWhileVectorMaskedAfterFunctionUnmask) {
    table.set_control(true, true);
    program(0, 0xfee00000, 0x30, /*unmask=*/false);
    table.signal(0);
    table.set_control(true, false);
    EXPECT_TRUE(sink.messages.empty());
    EXPECT_TRUE(table.pending(0));
    write(MsixTable::kVectorControl, 4, 0);
    EXPECT_EQ(sink.messages.size(), 1u);
}

TEST_F(MsixTest, QwordAccesses) {
    write(16, 8, 0x0000'0001'fee0'0004);         // address low and high at once
    write(16 + 8, 8, uint64_t{0} << 32 | 0x77);  // data 0x77, control 0: unmasked
    EXPECT_EQ(read(16, 8), 0x0000'0001'fee0'0004u);
    EXPECT_EQ(read(24, 8), 0x77u);
    table.set_control(true, false);
    table.signal(1);
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0], (Message{0x1'fee0'0004, 0x77}));
}

TEST_F(MsixTest, ReservedBitsReadZero) {
    write(0, 4, 0xfee00003);  // address bits 1:0 are DWORD alignment, always 0
    EXPECT_EQ(read(0, 4), 0xfee00000u);
    write(MsixTable::kVectorControl, 4, 0xfffffffe);  // only the mask bit exists
    EXPECT_EQ(read(MsixTable::kVectorControl, 4), 0u);
    write(MsixTable::kVectorControl, 4, 0xffffffff);
    EXPECT_EQ(read(MsixTable::kVectorControl, 4), 1u);
}

TEST_F(MsixTest, OddAccessesIgnored) {
    write(0, 4, 0x12345678 & ~3u);
    write(0, 2, 0xffff);        // not DWORD or QWORD
    write(2, 4, 0xffffffff);    // misaligned
    write(4, 8, ~uint64_t{0});  // QWORD not QWORD-aligned
    write(1, 1, 0xff);
    EXPECT_EQ(read(0, 4), 0x12345678u & ~3u);
    EXPECT_EQ(read(4, 4), 0u);
    EXPECT_EQ(read(0, 2), 0u);  // odd reads see zeroes
    EXPECT_EQ(read(2, 4), 0u);
    write(table.table_bytes(), 4, 1);  // past the end
    EXPECT_EQ(read(table.table_bytes(), 4), 0u);
    EXPECT_EQ(read(table.table_bytes() - 4, 8), 0u);  // straddles the end
    uint8_t junk[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    table.write_pba(0, junk);  // the PBA is read-only
    EXPECT_EQ(pba(), 0u);
    uint8_t out[4] = {1, 1, 1, 1};
    table.read_pba(8, out);  // past the one-QWORD PBA
    EXPECT_EQ(load_le(out), 0u);
}

TEST_F(MsixTest, PbaDwordReads) {
    FakeMsiSink big_sink;
    MsixTable big(70, big_sink);
    big.set_control(true, false);
    big.signal(65);  // entries start masked: both pend
    big.signal(33);
    uint8_t dword[4];
    big.read_pba(4, dword);
    EXPECT_EQ(load_le(dword), 0x2u);  // vector 33 is bit 1 of the high DWORD
    big.read_pba(8, dword);
    EXPECT_EQ(load_le(dword), 0x2u);  // vector 65
    EXPECT_TRUE(big_sink.messages.empty());
}

// Spins `n` steps.
void spin(int n) {
    std::atomic<int> steps{0};
    while (steps.load(std::memory_order_relaxed) < n) steps.fetch_add(1, std::memory_order_relaxed);
}

// Waits until `value` reaches `target`: spinning, and yielding now and then, for a machine with
// one free core.
void wait_for(const std::atomic<int>& value, int target) {
    for (unsigned i = 1; value.load() < target; ++i) {
        if (i % 4096 == 0) std::this_thread::yield();
    }
}

void write_table_dword(MsixTable& table, uint64_t offset, uint32_t value) {
    uint8_t data[4];
    store_le(std::span<uint8_t>(data), value);
    table.write_table(offset, data);
}

void set_mask_bit(MsixTable& table, uint32_t vector, bool masked) {
    write_table_dword(table, MsixTable::kEntryBytes * vector + MsixTable::kVectorControl,
                      masked ? MsixTable::kVectorMasked : 0);
}

bool any_pending(const MsixTable& table) {
    for (uint64_t offset = 0; offset < table.pba_bytes(); offset += 8) {
        uint8_t word[8];
        table.read_pba(offset, word);
        if (load_le(word) != 0) return true;
    }
    return false;
}

// "" when the messages from the `from`-th on are exactly one per vector (message data = vector
// number); else the first vector with another count.
std::string not_one_per_vector(FakeMsiSink& sink, size_t from, uint32_t vectors) {
    std::vector<int> per_vector(vectors, 0);
    std::lock_guard lock(sink.mutex);
    for (size_t i = from; i < sink.messages.size(); ++i) ++per_vector.at(sink.messages[i].data);
    for (uint32_t v = 0; v < vectors; ++v) {
        if (per_vector[v] != 1) {
            return "vector " + std::to_string(v) + ": " + std::to_string(per_vector[v]) +
                   " message(s)";
        }
    }
    return "";
}

// One thread signals every vector of a 2048-vector table once per pass (so nothing coalesces),
// while the other keeps masking and unmasking: the Function Mask in even passes, the Mask Bit
// of the vector being signalled in odd ones. Each unmask races a signal, which may have seen the
// vector masked and be about to set its Pending bit, or have set it. Whatever the interleaving,
// its message must be sent exactly once: by the unmask (6.8.3.4: "If a masked vector has its
// Pending bit Set, and the vector is unmasked, the function must schedule sending the
// associated message") or, when the unmask fell between the signal's mask check and its
// Pending store, by the signal's own second look. Two checks, both exact:
// - after each unmask, once the signal in flight has returned, no Pending bit is set: one left
//   is a message stranded until some later unmask (a lost interrupt, as far as a guest knows);
// - each pass delivers exactly 2048 messages, one per vector: fewer is a lost message, more a
//   duplicate.
TEST(MsixRace, EverySignalRacingAnUnmaskIsDeliveredExactlyOnce) {
    constexpr uint32_t kVectors = 2048;
    constexpr int kPasses = 100;
    constexpr int kSignals = static_cast<int>(kVectors);
    FakeMsiSink sink;
    MsixTable table(kVectors, sink);
    for (uint32_t v = 0; v < kVectors; ++v) {
        write_table_dword(table, MsixTable::kEntryBytes * v + MsixTable::kAddressLow, 0xfee00000);
        write_table_dword(table, MsixTable::kEntryBytes * v + MsixTable::kData, v);
        set_mask_bit(table, v, false);
    }
    table.set_control(true, false);
    std::atomic<int> go{-1};   // the pass the signaller may start
    std::atomic<int> done{0};  // signals made so far, all passes
    std::thread signaller([&] {
        for (int pass = 0; pass < kPasses; ++pass) {
            wait_for(go, pass);
            for (uint32_t v = 0; v < kVectors; ++v) {
                // A pause of varying length between signals: the other thread gets to each
                // signal in turn, at a different point of it each time.
                spin(static_cast<int>(64 + v * 37 % 128));
                table.signal(v);
                done.store(done.load() + 1);
            }
        }
    });
    int races = 0;
    int stranded = 0;
    int wrong_passes = 0;
    std::string first_stranded;
    std::string first_wrong_pass;
    for (int pass = 0; pass < kPasses; ++pass) {
        const bool function_mask = pass % 2 == 0;
        const int end = (pass + 1) * kSignals;
        const size_t before = sink.count();
        go.store(pass);
        for (int seen = done.load(); seen < end; seen = done.load()) {
            const auto vector = static_cast<uint32_t>(seen % kSignals);  // being signalled or next
            // Masked for a while (of varying length), so that the signal may see it masked and
            // the unmask may fall anywhere in the signal, between its check and its store too.
            if (function_mask) {
                table.set_control(true, true);
                spin(races % 64);
                table.set_control(true, false);
            } else {
                set_mask_bit(table, vector, true);
                spin(races % 64);
                set_mask_bit(table, vector, false);
            }
            ++races;
            const int after_unmask = done.load();
            if (after_unmask == end) break;
            wait_for(done, after_unmask + 1);  // the signal in flight at the unmask returned
            if (function_mask ? any_pending(table) : table.pending(vector)) {
                if (stranded++ == 0) {
                    first_stranded =
                        "pass " + std::to_string(pass) + ", vector " + std::to_string(vector);
                }
                table.set_control(true, false);  // sends it, so that the pass count stays exact
            }
        }
        wait_for(done, end);
        if (std::string problem = not_one_per_vector(sink, before, kVectors); !problem.empty()) {
            if (wrong_passes++ == 0)
                first_wrong_pass = "pass " + std::to_string(pass) + ", " + problem;
        }
    }
    signaller.join();
    EXPECT_EQ(stranded, 0) << "Pending bits left after an unmask (of " << races
                           << " raced); first: " << first_stranded;
    EXPECT_EQ(wrong_passes, 0) << "passes without exactly one message per vector; first: "
                               << first_wrong_pass;
    EXPECT_EQ(sink.count(), size_t{kVectors} * kPasses);
    EXPECT_FALSE(any_pending(table));
}

}  // namespace
}  // namespace nvmevm
