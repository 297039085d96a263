// The test guest's ELF as read-only data (cli/embedded_guest.h). NVMEVM_EMBEDDED_GUEST is the
// path of the stripped copy cli/CMakeLists.txt makes; the build reassembles this file whenever
// that copy changes (OBJECT_DEPENDS).
#ifdef NVMEVM_EMBEDDED_GUEST
    .section .rodata.nvmevm_guest, "a"
    .balign 64
    .globl nvmevm_embedded_guest_start
nvmevm_embedded_guest_start:
    .incbin NVMEVM_EMBEDDED_GUEST
    .globl nvmevm_embedded_guest_end
nvmevm_embedded_guest_end:
#endif
    .section .note.GNU-stack, "", @progbits
