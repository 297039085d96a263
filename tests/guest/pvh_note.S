// The PVH boot note: an ELF note named "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (18), whose
// 4-byte descriptor is the 32-bit physical address where the VMM starts vCPU0 (entry.S).
// linker.ld puts this section in a PT_NOTE segment (and in the text PT_LOAD segment).

#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a", @note
    .balign 4
    .long 2f - 1f                 // namesz, including the terminating NUL
    .long 4f - 3f                 // descsz
    .long XEN_ELFNOTE_PHYS32_ENTRY
1:  .asciz "Xen"
2:  .balign 4
3:  .long pvh_entry
4:  .balign 4

    .section .note.GNU-stack, "", @progbits
