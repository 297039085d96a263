// Register behaviour follows the TI/National PC16550D datasheet ("UART with FIFOs"), section
// 8 (registers): table 2 (register summary), table 4 (interrupt control functions), section
// 8.6 (loopback). Quoted where a rule is enforced.
#include "devices/serial.h"

namespace nvmevm {
namespace {

// Register offsets (DLAB = LCR bit 7 switches offsets 0 and 1 to the divisor latch).
constexpr uint64_t kRbrThr = 0;
constexpr uint64_t kIer = 1;
constexpr uint64_t kIirFcr = 2;
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

constexpr uint8_t kIerRxData = 0x01;       // ERBFI
constexpr uint8_t kIerThre = 0x02;         // ETBEI
constexpr uint8_t kIerLineStatus = 0x04;   // ELSI
constexpr uint8_t kIerModemStatus = 0x08;  // EDSSI
constexpr uint8_t kIerMask = 0x0f;         // bits 7:4 are always 0 on a 16550A

constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirThre = 0x02;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirFifosEnabled = 0xc0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1f;  // bits 7:5 are always 0

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrThre = 0x20;
constexpr uint8_t kLsrTemt = 0x40;

constexpr uint8_t kMsrDcts = 0x01;
constexpr uint8_t kMsrDdsr = 0x02;
constexpr uint8_t kMsrTeri = 0x04;
constexpr uint8_t kMsrDdcd = 0x08;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;

}  // namespace

Serial16550::Serial16550(std::shared_ptr<OutputSink> sink, IrqLine& irq)
    : sink_(sink ? std::move(sink) : std::make_shared<NullSink>()), irq_(irq) {}

void Serial16550::read(uint64_t offset, std::span<uint8_t> data) {
    // The registers are bytes; a wider access reads consecutive registers, one byte each.
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        const uint64_t reg = offset + i;
        data[i] = reg < kPortCount ? read_register(reg) : 0xff;
    }
    update_irq();
}

void Serial16550::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        const uint64_t reg = offset + i;
        if (reg < kPortCount) write_register(reg, data[i]);
    }
    update_irq();
}

size_t Serial16550::queue_input(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    size_t accepted = 0;
    while (accepted < bytes.size() && rx_.size() < rx_capacity()) rx_.push_back(bytes[accepted++]);
    update_irq();
    return accepted;
}

void Serial16550::flush_output() {
    sink_->flush();
}

uint8_t Serial16550::read_register(uint64_t reg) {
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (reg) {
        case kRbrThr: {
            if (dlab) return dll_;
            if (rx_.empty()) return 0;
            const uint8_t byte = rx_.front();
            rx_.pop_front();
            return byte;
        }
        case kIer:
            return dlab ? dlm_ : ier_;
        case kIirFcr: {
            const uint8_t id = interrupt_id();
            // Table 4: the THRE interrupt is reset by "reading the IIR register (if source of
            // interrupt)" or by writing THR.
            if (id == kIirThre) thre_pending_ = false;
            return static_cast<uint8_t>(id | (fifo_enabled_ ? kIirFifosEnabled : 0));
        }
        case kLcr:
            return lcr_;
        case kMcr:
            return mcr_;
        case kLsr: {
            uint8_t lsr = kLsrThre | kLsrTemt;  // output is instant: THR and shifter are empty
            if (!rx_.empty()) lsr |= kLsrDataReady;
            if (overrun_) lsr |= kLsrOverrun;
            overrun_ = false;  // "The OE indicator is reset whenever the CPU reads the LSR"
            return lsr;
        }
        case kMsr: {
            const uint8_t msr = static_cast<uint8_t>(modem_inputs() | msr_delta_);
            msr_delta_ = 0;  // delta bits are reset when the CPU reads the MSR
            return msr;
        }
        case kScr:
            return scr_;
        default:
            return 0xff;
    }
}

void Serial16550::write_register(uint64_t reg, uint8_t value) {
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (reg) {
        case kRbrThr:
            if (dlab) {
                dll_ = value;
            } else {
                // Writing THR resets the THRE interrupt; the byte leaves at once and THR is empty
                // again, which sets it anew. Lower the line in between so that an edge-triggered
                // IOAPIC pin (ISA IRQ 4) sees a fresh edge for every byte.
                thre_pending_ = false;
                update_irq();
                transmit(value);
                thre_pending_ = true;
            }
            break;
        case kIer:
            if (dlab) {
                dlm_ = value;
            } else {
                const uint8_t old = ier_;
                ier_ = value & kIerMask;
                // Enabling ETBEI while THR is empty raises a THRE interrupt: Linux's
                // serial8250_do_startup tests exactly this and otherwise marks the port buggy.
                if ((ier_ & kIerThre) && !(old & kIerThre)) thre_pending_ = true;
            }
            break;
        case kIirFcr: {
            const bool enable = (value & kFcrEnable) != 0;
            // Changing the FIFO enable bit clears the FIFOs (FCR bit 0 description).
            if (enable != fifo_enabled_ || (value & kFcrClearRx)) rx_.clear();
            fifo_enabled_ = enable;
            // Bit 2 (clear XMIT) has nothing to clear; bits 7:6 (RX trigger level) do not matter
            // because received data raises its interrupt as soon as one byte is there.
            break;
        }
        case kLcr:
            lcr_ = value;
            break;
        case kMcr:
            set_mcr(value);
            break;
        case kLsr:
            break;  // LSR and MSR writes are for factory test only; ignored
        case kMsr:
            break;
        case kScr:
            scr_ = value;
            break;
        default:
            break;
    }
}

void Serial16550::transmit(uint8_t byte) {
    if (mcr_ & kMcrLoop) {
        // Section 8.6: in loopback mode "the transmitter Serial Output is set to the Marking
        // state" and the transmitted data is received immediately.
        if (rx_.size() < rx_capacity()) {
            rx_.push_back(byte);
        } else {
            overrun_ = true;
        }
        return;
    }
    sink_->write(std::span<const uint8_t>(&byte, 1));
}

void Serial16550::set_mcr(uint8_t value) {
    const uint8_t before = modem_inputs();
    mcr_ = value & kMcrMask;
    const uint8_t after = modem_inputs();
    const uint8_t changed = before ^ after;
    if (changed & kMsrCts) msr_delta_ |= kMsrDcts;
    if (changed & kMsrDsr) msr_delta_ |= kMsrDdsr;
    if (changed & kMsrDcd) msr_delta_ |= kMsrDdcd;
    // TERI reports only the trailing edge of RI (RI went from active to inactive).
    if ((before & kMsrRi) && !(after & kMsrRi)) msr_delta_ |= kMsrTeri;
}

uint8_t Serial16550::modem_inputs() const {
    if (!(mcr_ & kMcrLoop)) return kMsrDcd | kMsrDsr | kMsrCts;  // a connected, ready line
    // Section 8.6: in loopback "the four modem control inputs (CTS, DSR, RI, and DCD) are
    // internally connected to the four modem control outputs (RTS, DTR, OUT1, and OUT2)".
    uint8_t inputs = 0;
    if (mcr_ & kMcrRts) inputs |= kMsrCts;
    if (mcr_ & kMcrDtr) inputs |= kMsrDsr;
    if (mcr_ & kMcrOut1) inputs |= kMsrRi;
    if (mcr_ & kMcrOut2) inputs |= kMsrDcd;
    return inputs;
}

size_t Serial16550::rx_capacity() const {
    return fifo_enabled_ ? kFifoSize : 1;
}

uint8_t Serial16550::interrupt_id() const {
    // Table 4, highest priority first. The character timeout indication (0x0c) is never used:
    // data raises "received data available" as soon as it is there, which Linux handles alike.
    if ((ier_ & kIerLineStatus) && overrun_) return kIirLineStatus;
    if ((ier_ & kIerRxData) && !rx_.empty()) return kIirRxData;
    if ((ier_ & kIerThre) && thre_pending_) return kIirThre;
    if ((ier_ & kIerModemStatus) && msr_delta_ != 0) return kIirModemStatus;
    return kIirNoInterrupt;
}

void Serial16550::update_irq() {
    // OUT2 gates the interrupt on real PC boards; like other VMMs we do not model that gate
    // (Linux sets OUT2 anyway), so the line follows the pending interrupt alone.
    const bool level = interrupt_id() != kIirNoInterrupt;
    if (level == irq_level_) return;
    irq_level_ = level;
    irq_.set_level(level);
}

}  // namespace nvmevm
