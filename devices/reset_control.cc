#include "devices/reset_control.h"

namespace nvmevm {
namespace {

// RST_CNT bits (Intel ICH9 datasheet, 13.7.5 "RST_CNT - Reset Control Register"):
constexpr uint8_t kSysRst = 0x02;   // 1: the reset RST_CPU asks for is a full system reset
constexpr uint8_t kRstCpu = 0x04;   // writing 1 starts the reset
constexpr uint8_t kFullRst = 0x08;  // 1: power cycle instead of a warm reset
constexpr uint8_t kWritable = kSysRst | kRstCpu | kFullRst;

}  // namespace

void ResetControl::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (auto& byte : data) byte = 0xff;
    if (offset == 0 && data.size() == 1) data[0] = value_;
}

void ResetControl::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset != 0 || data.size() != 1) return;
    std::lock_guard lock(mutex_);
    value_ = data[0] & kWritable;
    // Every kind of reset (warm, hard, full) ends the VM the same way: nvmevm does not reboot
    // a guest, it reports VmEnd::reset. Linux writes SYS_RST first and SYS_RST|RST_CPU next.
    if (value_ & kRstCpu) control_.request_stop(VmOutcome{VmEnd::reset, 0, "reset via port 0xcf9"});
}

}  // namespace nvmevm
