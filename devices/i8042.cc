// Commands follow the IBM PC/AT Technical Reference (keyboard controller, section "Commands
// (I/O address hex 64)") and the PS/2 keyboard command set (section "Keyboard commands").
#include "devices/i8042.h"

namespace nvmevm {
namespace {

// Status register (port 0x64 read).
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;  // set by a passed self test (POST already ran)
constexpr uint8_t kStatusCommand = 0x08;     // last write went to port 0x64
constexpr uint8_t kStatusUnlocked = 0x10;    // keyboard not inhibited
// Input buffer full (0x02) is never set: every write is consumed at once.

// Controller commands (port 0x64 write).
constexpr uint8_t kCmdReadCommandByte = 0x20;
constexpr uint8_t kCmdWriteCommandByte = 0x60;
constexpr uint8_t kCmdSelfTest = 0xaa;
constexpr uint8_t kCmdKeyboardTest = 0xab;
constexpr uint8_t kCmdDisableKeyboard = 0xad;
constexpr uint8_t kCmdEnableKeyboard = 0xae;
constexpr uint8_t kCmdReadInputPort = 0xc0;
constexpr uint8_t kCmdReadOutputPort = 0xd0;
constexpr uint8_t kCmdWriteOutputPort = 0xd1;
constexpr uint8_t kCmdWriteKeyboardBuffer = 0xd2;
constexpr uint8_t kCmdPulseFirst = 0xf0;  // 0xf0-0xff: pulse output port bits 3:0 low

constexpr uint8_t kCommandByteKeyboardInt = 0x01;
constexpr uint8_t kCommandByteKeyboardDisabled = 0x10;
constexpr uint8_t kOutputPortReset = 0x01;  // active low: 0 holds the CPU in reset

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kPortTestPassed = 0x00;

// Keyboard commands and answers (port 0x60 write with no controller command pending).
constexpr uint8_t kKbdSetLeds = 0xed;
constexpr uint8_t kKbdScanCodeSet = 0xf0;
constexpr uint8_t kKbdIdentify = 0xf2;
constexpr uint8_t kKbdTypematic = 0xf3;
constexpr uint8_t kKbdReset = 0xff;
constexpr uint8_t kKbdAck = 0xfa;
constexpr uint8_t kKbdSelfTestPassed = 0xaa;
constexpr uint8_t kKbdId1 = 0xab;  // MF2 keyboard, translated
constexpr uint8_t kKbdId2 = 0x83;

constexpr size_t kOutputCapacity = 16;

}  // namespace

std::shared_ptr<I8042> I8042::create(VmControl& control, IrqLine* keyboard_irq) {
    return std::make_shared<I8042>(control, keyboard_irq);
}

I8042::I8042(VmControl& control, IrqLine* keyboard_irq)
    : control_(control), keyboard_irq_(keyboard_irq) {}

// The aliasing constructor: the port points into this object and shares its ownership.
std::shared_ptr<BusDevice> I8042::data_port() {
    return {shared_from_this(), &data_port_};
}
std::shared_ptr<BusDevice> I8042::command_port() {
    return {shared_from_this(), &command_port_};
}

void I8042::Port::read(uint64_t offset, std::span<uint8_t> data) {
    // Byte registers: anything but a one-byte access at the port itself reads all ones.
    if (offset != 0 || data.size() != 1) {
        for (auto& byte : data) byte = 0xff;
        return;
    }
    data[0] = command_ ? owner_.read_status() : owner_.read_data();
}

void I8042::Port::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset != 0 || data.size() != 1) return;
    if (command_) {
        owner_.write_command(data[0]);
    } else {
        owner_.write_data(data[0]);
    }
}

uint8_t I8042::read_status() {
    std::lock_guard lock(mutex_);
    uint8_t status = kStatusSystemFlag | kStatusUnlocked;
    if (!output_.empty()) status |= kStatusOutputFull;
    if (last_write_was_command_) status |= kStatusCommand;
    return status;
}

uint8_t I8042::read_data() {
    std::lock_guard lock(mutex_);
    if (!output_.empty()) {
        last_output_ = output_.front();
        output_.pop_front();
    }
    update_irq();
    return last_output_;
}

void I8042::write_command(uint8_t value) {
    std::lock_guard lock(mutex_);
    last_write_was_command_ = true;
    pending_command_ = 0;
    switch (value) {
        case kCmdReadCommandByte:
            push_output(command_byte_);
            break;
        case kCmdWriteCommandByte:
        case kCmdWriteOutputPort:
        case kCmdWriteKeyboardBuffer:
            pending_command_ = value;
            break;
        case kCmdSelfTest:
            push_output(kSelfTestPassed);
            break;
        case kCmdKeyboardTest:
            push_output(kPortTestPassed);
            break;
        case kCmdDisableKeyboard:
            command_byte_ |= kCommandByteKeyboardDisabled;
            break;
        case kCmdEnableKeyboard:
            command_byte_ = static_cast<uint8_t>(command_byte_ & ~kCommandByteKeyboardDisabled);
            break;
        case kCmdReadInputPort:
            push_output(0x00);
            break;
        case kCmdReadOutputPort:
            push_output(output_port_);
            break;
        default:
            // 0xf0-0xff pulse the output port bits whose command bit is 0; bit 0 is the CPU
            // reset line, so 0xfe (the one Linux sends) resets the machine.
            if (value >= kCmdPulseFirst && !(value & kOutputPortReset)) {
                request_reset("i8042 reset pulse");
            }
            // Other commands (AUX port 0xa7-0xa9/0xd3/0xd4, password, ...) are not supported
            // and, as on a single-port controller, ignored.
            break;
    }
    update_irq();
}

void I8042::write_data(uint8_t value) {
    std::lock_guard lock(mutex_);
    last_write_was_command_ = false;
    const uint8_t command = pending_command_;
    pending_command_ = 0;
    switch (command) {
        case kCmdWriteCommandByte:
            command_byte_ = value;
            break;
        case kCmdWriteOutputPort:
            output_port_ = value;
            if (!(value & kOutputPortReset)) request_reset("i8042 output port reset");
            break;
        case kCmdWriteKeyboardBuffer:
            push_output(value);
            break;
        default:
            keyboard_command(value);
            break;
    }
    update_irq();
}

void I8042::keyboard_command(uint8_t value) {
    if (pending_keyboard_ != 0) {
        // The parameter byte of LED, typematic or scan code set commands: acknowledged. For
        // "get scan code set" (parameter 0) the keyboard also reports its set: 2.
        const uint8_t command = pending_keyboard_;
        pending_keyboard_ = 0;
        push_output(kKbdAck);
        if (command == kKbdScanCodeSet && value == 0) push_output(0x02);
        return;
    }
    switch (value) {
        case kKbdSetLeds:
        case kKbdTypematic:
        case kKbdScanCodeSet:
            pending_keyboard_ = value;
            push_output(kKbdAck);
            break;
        case kKbdIdentify:
            push_output(kKbdAck);
            push_output(kKbdId1);
            push_output(kKbdId2);
            break;
        case kKbdReset:
            push_output(kKbdAck);
            push_output(kKbdSelfTestPassed);
            break;
        default:
            push_output(kKbdAck);
            break;  // enable, disable, defaults, echo-less rest
    }
}

void I8042::push_output(uint8_t value) {
    // A guest that never reads cannot grow the buffer: the oldest answers win, like the
    // controller's one-byte output buffer that is not refilled while full.
    if (output_.size() < kOutputCapacity) output_.push_back(value);
}

void I8042::request_reset(const char* why) {
    control_.request_stop(VmOutcome{VmEnd::reset, 0, why});
}

void I8042::update_irq() {
    if (keyboard_irq_ == nullptr) return;
    const bool level = !output_.empty() && (command_byte_ & kCommandByteKeyboardInt);
    if (level == irq_level_) return;
    irq_level_ = level;
    keyboard_irq_->set_level(level);
}

}  // namespace nvmevm
