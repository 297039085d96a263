// Port I/O, MMIO and TSC access for ring-3 guest code (IOPL is 3, so in/out need no
// privilege). MMIO goes through single plain mov instructions, which the hypervisor's
// instruction decoder handles; never through compiler-chosen code.
#pragma once

#include <stdint.h>

namespace guest {

inline void outb(uint16_t port, uint8_t value) {
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline void outw(uint16_t port, uint16_t value) {
    asm volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline void outl(uint16_t port, uint32_t value) {
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline uint8_t inb(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}
inline uint16_t inw(uint16_t port) {
    uint16_t value;
    asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}
inline uint32_t inl(uint16_t port) {
    uint32_t value;
    asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

inline uint8_t mmio_read8(uint64_t addr) {
    uint8_t value;
    asm volatile("movb (%1), %0" : "=q"(value) : "r"(addr) : "memory");
    return value;
}
inline uint32_t mmio_read32(uint64_t addr) {
    uint32_t value;
    asm volatile("movl (%1), %0" : "=r"(value) : "r"(addr) : "memory");
    return value;
}
inline uint64_t mmio_read64(uint64_t addr) {
    uint64_t value;
    asm volatile("movq (%1), %0" : "=r"(value) : "r"(addr) : "memory");
    return value;
}
inline void mmio_write8(uint64_t addr, uint8_t value) {
    asm volatile("movb %0, (%1)" : : "q"(value), "r"(addr) : "memory");
}
inline void mmio_write32(uint64_t addr, uint32_t value) {
    asm volatile("movl %0, (%1)" : : "r"(value), "r"(addr) : "memory");
}
inline void mmio_write64(uint64_t addr, uint64_t value) {
    asm volatile("movq %0, (%1)" : : "r"(value), "r"(addr) : "memory");
}

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t{hi} << 32) | lo;
}

inline void cpu_relax() {
    asm volatile("pause");
}

}  // namespace guest
