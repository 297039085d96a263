#include "virtio/msix.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "vmm/io_bus.h"

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

// A signalling thread races a thread that masks and unmasks: no message may be lost (every
// signal is delivered or still pending) and none may be duplicated beyond the signals sent.
TEST_F(MsixTest, ConcurrentSignalAndUnmaskLoseNothing) {
    program(0, 0xfee00000, 0x40);
    table.set_control(true, false);
    constexpr int kSignals = 20000;
    std::atomic<bool> done{false};
    std::thread signaller([&] {
        for (int i = 0; i < kSignals; ++i) table.signal(0);
        done = true;
    });
    while (!done) {
        write(MsixTable::kVectorControl, 4, 1);
        write(MsixTable::kVectorControl, 4, 0);
    }
    signaller.join();
    write(MsixTable::kVectorControl, 4, 0);
    EXPECT_FALSE(table.pending(0));
    EXPECT_GE(sink.count(), 1u);
    EXPECT_LE(sink.count(), static_cast<size_t>(kSignals));
    // The last signal happened after every mask: it must have been delivered, not stranded.
    const size_t before = sink.count();
    table.signal(0);
    EXPECT_EQ(sink.count(), before + 1);
}

}  // namespace
}  // namespace nvmevm
