// Fakes for the collaborators devices get injected, for unit tests without KVM.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devices/irq.h"
#include "devices/output_sink.h"
#include "devices/vm_control.h"

namespace nvmevm::testing {

class FakeIrqLine final : public IrqLine {
  public:
    void set_level(bool asserted) override {
        level = asserted;
        history.push_back(asserted);
    }
    bool level = false;
    std::vector<bool> history;  // every call, in order
};

class FakeSink final : public OutputSink {
  public:
    void write(std::span<const uint8_t> bytes) override {
        data.insert(data.end(), bytes.begin(), bytes.end());
    }
    void flush() override { ++flushes; }
    [[nodiscard]] std::string text() const { return std::string(data.begin(), data.end()); }
    std::vector<uint8_t> data;
    int flushes = 0;
};

class FakeVmControl final : public VmControl {
  public:
    void request_stop(VmOutcome outcome) override { requests.push_back(std::move(outcome)); }
    std::vector<VmOutcome> requests;
};

}  // namespace nvmevm::testing
