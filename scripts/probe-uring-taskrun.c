// Build: gcc -O2 -pthread -o /tmp/probe-uring-taskrun scripts/probe-uring-taskrun.c -luring
// Run:   /tmp/probe-uring-taskrun [iterations]
//
// Which io_uring setup flags let a completion end a running vCPU's KVM_RUN (EINTR through
// io_uring task_work)? The guest spins in ring 3 and never exits on its own; the vCPU thread's
// own ring carries one operation that completes while the vCPU is in the guest:
//   kick     the guest itself writes an ioeventfd that the ring polls (multishot), then spins
//   efd      another thread writes an eventfd that the ring polls (multishot) 2 ms later
//   timeout  IORING_OP_TIMEOUT of 2 ms
//   dio-tmp  a 4 KiB O_DIRECT read of a file on /tmp (block device interrupt completes it)
//   dio-shm  a 4 KiB O_DIRECT read of a file on /dev/shm (tmpfs: punted to an iou-wrk thread)
// A watchdog thread signals the vCPU thread after 300 ms, so a completion that cannot end
// KVM_RUN shows up as "watchdog" with ~300 ms latency. For each flag set the program prints
// how KVM_RUN ended, after how long, and whether the CQE was already in the CQ ring when
// KVM_RUN returned (before any io_uring_enter).
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int kvm, vm, vcpu, efd;
static struct kvm_run* run;
static uint8_t* mem;
static pid_t vcpu_tid;
static volatile int watchdog_armed;

static void on_sigusr1(int sig) {
    (void)sig;
}

static void* efd_writer(void* arg) {
    (void)arg;
    usleep(2000);
    uint64_t one = 1;
    if (write(efd, &one, 8) != 8) err(1, "write efd");
    return NULL;
}

static void setup_vm(void) {
    kvm = open("/dev/kvm", O_RDWR);
    if (kvm < 0) err(1, "/dev/kvm");
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    size_t msz = 64 << 20;
    mem =
        mmap(NULL, msz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct kvm_userspace_memory_region r = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = msz, .userspace_addr = (uint64_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) err(1, "memory region");
    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[100];
    } cp = {.c.nent = 100};
    ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cp);
    ioctl(vcpu, KVM_SET_CPUID2, &cp);
    uint64_t *pml4 = (void*)(mem + 0x1000), *pdpt = (void*)(mem + 0x2000),
             *pd = (void*)(mem + 0x3000);
    pml4[0] = 0x2000 | 7;
    pdpt[0] = 0x3000 | 7;
    for (int i = 0; i < 512; i++) pd[i] = (i * 0x200000ULL) | 0x87;
    efd = eventfd(0, EFD_NONBLOCK);
    struct kvm_ioeventfd io = {.addr = 0x500, .len = 1, .fd = efd, .flags = KVM_IOEVENTFD_FLAG_PIO};
    if (ioctl(vm, KVM_IOEVENTFD, &io) < 0) err(1, "ioeventfd");
}

// Ring-3, 64-bit guest: optionally 'out dx,al' (the kick), then spin forever.
static void reset_vcpu(int kick) {
    static const uint8_t code[] = {0xee, 0xeb, 0xfe};  // out dx,al ; jmp $
    memcpy(mem + 0x10000, code, sizeof code);
    struct kvm_sregs s;
    ioctl(vcpu, KVM_GET_SREGS, &s);
    struct kvm_segment seg = {.base = 0,
                              .limit = 0xffffffff,
                              .selector = 0x1b,
                              .present = 1,
                              .type = 11,
                              .dpl = 3,
                              .db = 0,
                              .s = 1,
                              .l = 1,
                              .g = 1};
    s.cs = seg;
    seg.type = 3;
    seg.selector = 0x23;
    seg.l = 0;
    seg.db = 1;
    s.ds = s.es = s.fs = s.gs = s.ss = seg;
    s.cr3 = 0x1000;
    s.cr4 = 0x20 | 0x600;
    s.cr0 = 0x80050033;
    s.efer = 0x500;
    ioctl(vcpu, KVM_SET_SREGS, &s);
    struct kvm_regs g = {.rip = kick ? 0x10000 : 0x10001,
                         .rdx = 0x500,
                         .rax = 1,
                         .rsp = 0x8000,
                         .rflags = 2 | (3 << 12)};
    ioctl(vcpu, KVM_SET_REGS, &g);
}

static int open_dio(const char* dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/probe-uring-taskrun.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) err(1, "mkstemp %s", path);
    unlink(path);
    static char buf[1 << 16];
    memset(buf, 0x5a, sizeof buf);
    if (write(fd, buf, sizeof buf) != sizeof buf) err(1, "fill");
    fsync(fd);
    int dfd = open(path, O_RDONLY);  // path is gone: reopen through /proc
    (void)dfd;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int d = open(proc, O_RDONLY | O_DIRECT);
    if (d < 0) err(1, "O_DIRECT %s", dir);
    close(fd);
    posix_fadvise(d, 0, 0, POSIX_FADV_DONTNEED);
    return d;
}

struct result {
    double latency_us;  // from submission to the KVM_RUN return that found the CQE (or gave up)
    int found;          // the CQE was in the CQ ring when KVM_RUN returned
    int by_watchdog;    // KVM_RUN only ended for good when the watchdog signalled
    int other_returns;  // KVM_RUN returns with nothing in the CQ ring (timer, preemption, ...)
    int after_enter;    // after giving up: the CQE appeared once io_uring_enter(GETEVENTS) ran
};

static volatile int watchdog_fired;
// Sends SIGUSR1 to the vCPU thread after 300 ms unless disarmed: the fallback exit.
static void* watchdog2(void* arg) {
    (void)arg;
    double t0 = now();
    while (watchdog_armed && now() - t0 < 0.3) usleep(1000);
    if (watchdog_armed) {
        watchdog_fired = 1;
        syscall(SYS_tgkill, getpid(), vcpu_tid, SIGUSR1);
    }
    return NULL;
}

static struct result one(unsigned flags, const char* mode) {
    struct io_uring ring;
    struct io_uring_params p = {.flags = flags};
    int rc = io_uring_queue_init_params(64, &ring, &p);
    if (rc < 0) errx(1, "ring flags %#x: %s", flags, strerror(-rc));
    static void* buf;
    if (!buf && posix_memalign(&buf, 4096, 4096)) err(1, "memalign");
    int dio = -1;
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
    int kick = 0;
    pthread_t writer;
    if (!strcmp(mode, "kick") || !strcmp(mode, "efd")) {
        io_uring_prep_poll_multishot(sqe, efd, POLLIN);
        kick = !strcmp(mode, "kick");
    } else if (!strcmp(mode, "timeout")) {
        io_uring_prep_timeout(sqe, &ts, 0, 0);
    } else {
        dio = open_dio(!strcmp(mode, "dio-tmp") ? "/tmp" : "/dev/shm");
        io_uring_prep_read(sqe, dio, buf, 4096, 0);
    }
    reset_vcpu(kick);
    uint64_t drain;
    while (read(efd, &drain, 8) == 8) {
    }
    watchdog_armed = 1;
    watchdog_fired = 0;
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog2, NULL);
    double t0 = now();
    io_uring_submit(&ring);
    if (!strcmp(mode, "efd")) pthread_create(&writer, NULL, efd_writer, NULL);
    struct result res = {0};
    for (;;) {
        int r = ioctl(vcpu, KVM_RUN, 0);
        double t = now();
        if (r < 0 && errno != EINTR) err(1, "KVM_RUN");
        if (io_uring_cq_ready(&ring) > 0) {
            res.found = 1;
            res.latency_us = (t - t0) * 1e6;
            break;
        }
        if (watchdog_fired) {
            res.by_watchdog = 1;
            res.latency_us = (t - t0) * 1e6;
            io_uring_get_events(&ring);
            res.after_enter = io_uring_cq_ready(&ring) > 0;
            break;
        }
        res.other_returns++;
    }
    watchdog_armed = 0;
    pthread_join(wd, NULL);
    if (!strcmp(mode, "efd")) pthread_join(writer, NULL);
    io_uring_queue_exit(&ring);
    if (dio >= 0) close(dio);
    return res;
}

int main(int argc, char** argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 5;
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {.sa_handler = on_sigusr1};
    sigaction(SIGUSR1, &sa, NULL);
    vcpu_tid = (pid_t)syscall(SYS_gettid);
    setup_vm();
    static const struct {
        unsigned flags;
        const char* name;
    } sets[] = {
        {0, "none"},
        {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "COOP_TASKRUN|TASKRUN_FLAG"},
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "SINGLE_ISSUER|DEFER_TASKRUN"},
    };
    const char* modes[] = {"kick", "efd", "timeout", "dio-tmp", "dio-shm"};
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            double sum = 0, worst = 0;
            int found = 0, wd = 0, other = 0, enter = 0;
            for (int i = 0; i < iters; i++) {
                struct result r = one(sets[s].flags, modes[m]);
                sum += r.latency_us;
                if (r.latency_us > worst) worst = r.latency_us;
                found += r.found;
                wd += r.by_watchdog;
                other += r.other_returns;
                enter += r.after_enter;
            }
            printf(
                "%-27s %-7s CQE seen on KVM_RUN return %2d/%d (mean %7.0f us, max %7.0f us); "
                "watchdog needed %2d/%d (then CQE after io_uring_enter %2d); other returns %d\n",
                sets[s].name, modes[m], found, iters, sum / iters, worst, wd, iters, enter, other);
        }
    }
    return 0;
}
