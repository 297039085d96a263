# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# nvmevm's virtio-blk with read_only = true. The host makes an ext4 image holding one file and
# records its sha256; nvmevm gives L1's /dev/vda to L2 read-only. L2 must see a read-only disk,
# mount it with -o ro and read the file, and its writes must fail: to the filesystem and to
# /dev/vda. In L1, nvmevm must hold /dev/vda open read-only (/proc/PID/fdinfo).
# Those writes never leave L2: its kernel refuses every write to a disk offered with
# VIRTIO_BLK_F_RO itself (Linux 6.1: write() and O_DIRECT with EPERM, even after `blockdev
# --setrw`, which leaves the disk's own read-only flag set; BLKZEROOUT with EPERM; a shared
# writable mmap with EINVAL). So a second VM sends one: the test guest's `blk` suite on the same
# drive writes sector 0 (its ro-write check), which nvmevm must refuse with IOERR, logging it.
# On the host, the image must be byte-identical afterwards.
# Format: docs/lab.md "Writing a scenario". Needs e2fsprogs on the host.
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"
LAB_DESCRIPTION="virtio-blk: read_only drive, ext4 mounted ro in L2, writes refused, image unchanged"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_DISK_MIB=32
# The test guest's write: its answer (IOERR, sector 0 unchanged), nvmevm's refusal (logged at
# --log-level info), and the guest's exit status 0 (no check failed: nvmevm's exit code 16).
LAB_EXPECT_MARKERS=(L2-UP L2-CPUS=1 L2-VDA=present L2-VDA-RO=1 L2-MOUNT-RO=ok L2-FILE=ok
  L2-FS-WRITE=refused L2-DEV-WRITE=refused L2-UMOUNT=ok L2-POWEROFF
  L1-NVMEVM-VDA-ACCMODE=rdonly "PASS ro-write -> IOERR, sector 0 unchanged"
  "drive ro queue 0: request refused: write to a read-only disk" L1-TEST-GUEST-EXIT=16)
LAB_FORBID_MARKERS+=(L2-FAIL=)
# shellcheck disable=SC2154  # build_dir is scripts/lab-run.sh's
ro_guest=$build_dir/tests/guest/nvmevm-test-guest
LAB_L1_HOST_FILES=("$ro_guest")

# The one file in the image; L2 prints its sha256 and the host compares.
blk_ro_content() { busybox seq 1 20000; }

lab_host_prepare() {
    command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing: install e2fsprogs" >&2; return 1; }
    local src=$LAB_STAGE/ro-src
    rm -rf "$src"
    mkdir -p "$src/etc"
    blk_ro_content >"$src/etc/numbers.txt"
    mkfs.ext4 -F -q -L labro -d "$src" -E lazy_itable_init=0,lazy_journal_init=0 "$LAB_DISK"
    sha256sum <"$LAB_DISK" | cut -d' ' -f1 >"$LAB_STAGE/disk.sha256.before"
}

lab_vm_config() {
    lab_vm_config_head 1
    cat <<TOML

[[drive]]
id = "ro"
path = "/dev/vda"
read_only = true
TOML
}

lab_l1_run() {
    echo "guest=$ro_guest"
    cat <<'SH'
. /lab/lib.sh
# Once nvmevm runs: how does it hold /dev/vda open? (fdinfo flags are octal; O_ACCMODE = 3.)
lab_nvmevm_started() {
    for fd in /proc/$1/fd/*; do
        [ "$(readlink "$fd")" = /dev/vda ] || continue
        flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${fd##*/}")
        case $(( 0$flags & 3 )) in 0) mode=rdonly ;; 1) mode=wronly ;; *) mode=rdwr ;; esac
        echo "L1-NVMEVM-VDA-FD fd=${fd##*/} flags=$flags"
        echo "L1-NVMEVM-VDA-ACCMODE=$mode"
    done
}
lab_run_nvmevm /nvmevm run --config /lab/vm.toml || exit
# The test guest on the same drive, read-only: a write request that reaches nvmevm.
cat >/tmp/test-guest.toml <<TOML
[machine]
vcpus = 1
memory_mib = 64
[boot]
kernel = "$guest"
cmdline = "blk"
[[drive]]
id = "ro"
path = "/dev/vda"
read_only = true
TOML
/nvmevm run --config /tmp/test-guest.toml --log-level info
echo "L1-TEST-GUEST-EXIT=$?"
SH
}

lab_l2_init() {
    echo "want=$(blk_ro_content | sha256sum | cut -d' ' -f1)"
    cat <<'SH'
l2_report
fail() { echo "L2-FAIL=$*"; umount /mnt 2>/dev/null; poweroff -f; l2_stuck poweroff; }
[ -b /dev/vda ] && echo "L2-VDA=present" || fail "no /dev/vda"
echo "L2-VDA-RO=$(cat /sys/block/vda/ro)"
echo "L2-VDA-QUEUE discard_max=$(cat /sys/block/vda/queue/discard_max_bytes) wz_max=$(cat /sys/block/vda/queue/write_zeroes_max_bytes) wc=$(cat /sys/block/vda/queue/write_cache)"
mkdir -p /mnt
mount -t ext4 -o ro /dev/vda /mnt && echo "L2-MOUNT-RO=ok" || fail "mount -o ro"
got=$(sha256sum </mnt/etc/numbers.txt | cut -d' ' -f1)
[ "$got" = "$want" ] && echo "L2-FILE=ok" || echo "L2-FILE=mismatch got=$got want=$want"
echo x 2>/dev/null >/mnt/new.txt && echo "L2-FS-WRITE=succeeded" || echo "L2-FS-WRITE=refused"
umount /mnt && echo "L2-UMOUNT=ok" || fail "umount"
# Straight to the device: the guest kernel refuses, as the disk says it is read-only.
if dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=100 oflag=direct 2>/tmp/dd.err; then
    echo "L2-DEV-WRITE=succeeded"
else
    echo "L2-DEV-WRITE=refused ($(grep -v records /tmp/dd.err | tail -n 1))"
fi
echo "L2-POWEROFF"
poweroff -f
l2_stuck poweroff
SH
}

lab_host_check() {
    local before after
    before=$(cat "$LAB_STAGE/disk.sha256.before" 2>/dev/null)
    after=$(sha256sum <"$LAB_DISK" | cut -d' ' -f1)
    [[ -n $before && $before == "$after" ]] || echo "the image changed: sha256 ${before:-unknown} before, $after after"
    fsck.ext4 -fn "$LAB_DISK" >/dev/null 2>&1 || echo "fsck.ext4 -fn fails on the image"
}
