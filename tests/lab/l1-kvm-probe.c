// The nested lab's own KVM smoke test, run inside L1 (built static by scripts/lab-run.sh).
// It proves that L1's /dev/kvm (kvm-amd on QEMU TCG's emulated SVM) runs guest code: a
// real-mode guest writes "OK\n" to port 0x3f8 and halts; we check the bytes and the HLT exit.
// Prints "LAB-KVM-PROBE=ok" on success and exits 0, else prints why and exits 1.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char* what) {
    perror(what);
    printf("LAB-KVM-PROBE=fail (%s)\n", what);
    return 1;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) return fail("open /dev/kvm");
    printf("kvm api %d, max vcpus %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0),
           ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS));
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) return fail("KVM_CREATE_VM");

    // mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; mov al,10; out dx,al; hlt
    static const uint8_t code[] = {0xba, 0xf8, 0x03, 0xb0, 'O',  0xee, 0xb0,
                                   'K',  0xee, 0xb0, '\n', 0xee, 0xf4};
    const size_t mem_size = 0x1000;
    uint8_t* mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return fail("mmap guest memory");
    memcpy(mem, code, sizeof code);
    struct kvm_userspace_memory_region region = {.slot = 0,
                                                 .guest_phys_addr = 0x1000,
                                                 .memory_size = mem_size,
                                                 .userspace_addr = (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run* run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) return fail("mmap kvm_run");

    // Real mode, CS base 0, so the guest starts at physical 0x1000.
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) return fail("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = 0x1000, .rflags = 0x2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) return fail("KVM_SET_REGS");

    char out[8] = {0};
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x3f8 && n < sizeof out - 1) {
            out[n++] = *((char*)run + run->io.data_offset);
        } else if (run->exit_reason == KVM_EXIT_HLT) {
            if (strcmp(out, "OK\n") != 0) {
                printf("LAB-KVM-PROBE=fail (guest wrote '%s')\n", out);
                return 1;
            }
            printf("guest wrote OK and halted\nLAB-KVM-PROBE=ok\n");
            return 0;
        } else {
            printf("LAB-KVM-PROBE=fail (exit reason %u)\n", run->exit_reason);
            return 1;
        }
    }
    printf("LAB-KVM-PROBE=fail (no HLT)\n");
    return 1;
}
