# shellcheck shell=bash disable=SC2034  # the LAB_* variables are read by scripts/lab-run.sh
# Crash consistency (docs/robustness.md), shared by the crash-uring and crash-nvme scenarios,
# which set cc_engine (uring or nvme) and source this file.
#
# L2 mounts an ext4 drive and loops: create a file of random content and size (1 KiB to 257
# KiB), fsync it and its folder, and only then print `CC-FSYNCED <run> create <name> <sha256>
# <size>`; now and then instead append to, replace (write name.new, fsync, rename over, fsync
# the folder) or delete an existing file, each reported the same way. Before an operation that
# changes a file L1 already knows, L2 prints `CC-BEGIN ...` and waits until the UART has sent
# the whole line (so it is in L1 before the first byte of the file changes).
# L1 (run.sh) does LAB_CC_KILLS times: boot L2 with nvmevm, wait for its first CC-FSYNCED, sleep
# 0.2-3 s, SIGKILL nvmevm (it must die of signal 9), count the block requests L1 still had in
# flight for it, then copy the disk (O_DIRECT), replay the journal on the copy (e2fsck -E
# journal_only), require `e2fsck -fn` clean on it, and check with debugfs that every file has
# the state its last CC-FSYNCED line gave (an operation begun but not reported may have happened
# or not; a partial append must keep the old bytes). The disk itself is left as the kill left it,
# so the next L2 boot replays the journal through nvmevm. Finally L2 boots once more, mounts and
# unmounts cleanly and powers off; then L1 and the host (fsck.ext4 -fn, debugfs) check the disk
# itself. LAB_CC_KILLS (host environment, default 4 to fit CI) sets the number of kills.
# Format: docs/lab.md "Writing a scenario". Needs e2fsprogs on the host.
# shellcheck source=tests/lab/vm-config.sh
source "$lab_src/vm-config.sh"

cc_kills=${LAB_CC_KILLS:-4}
# shellcheck disable=SC2154  # cc_engine: set by the scenario that sources this file
case $cc_engine in
    uring) cc_drive=/dev/vda cc_l1_dev=/dev/vda cc_drive_engine="" ;;
    nvme) cc_drive=/dev/ng0n1 cc_l1_dev=/dev/nvme0n1 cc_drive_engine='engine = "nvme"' LAB_L1_NVME=1 ;;
    *) echo "crash-consistency.sh: cc_engine must be uring or nvme" >&2; return 1 ;;
esac
LAB_DESCRIPTION="crash consistency, engine $cc_engine: ext4 on L1's $cc_drive, $cc_kills SIGKILLs of nvmevm during fsync loops, fsck + every fsynced file checked after each"
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_L1_DISK_MIB=64
LAB_NVME_DISK_MIB=64
# quiet: L2's boot log costs a VM exit per character; L2 boots once per kill.
LAB_L2_CMDLINE="$LAB_L2_CMDLINE quiet"
# A problem L1 finds prints an L1-CC-PROBLEM line and makes run.sh exit 1. (run.sh holds that
# string, but its echo in the log is a lab-script| line, which the verdict leaves out.)
LAB_EXPECT_MARKERS=("L1-CC-RESULT kills=$cc_kills fsck_clean=$cc_kills files_ok=$cc_kills"
    "L1-CC-FINAL fsck=clean files=ok" CC-UMOUNTED)
LAB_FORBID_MARKERS+=(CC-FAIL L1-CC-PROBLEM)
for cc_tool in e2fsck debugfs; do
    for cc_dir in /usr/sbin /sbin; do
        [[ -x $cc_dir/$cc_tool ]] && { LAB_L1_HOST_FILES+=("$cc_dir/$cc_tool"); break; }
    done
done

cc_host_image() { if [[ $cc_engine == nvme ]]; then echo "$LAB_NVME_DISK"; else echo "$LAB_DISK"; fi; }

lab_host_prepare() {
    command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing: install e2fsprogs" >&2; return 1; }
    # disk.img always (it is L2's disk under --l2-direct), nvme.img too for the NVMe engine.
    local img
    for img in "$LAB_DISK" "$(cc_host_image)"; do
        mkfs.ext4 -F -q -L labcc -E lazy_itable_init=0,lazy_journal_init=0 "$img" || return 1
    done
}

lab_vm_config() {
    lab_vm_config_head 1 128
    cat <<TOML

[[drive]]
id = "cc"
path = "$cc_drive"
$cc_drive_engine
TOML
}

lab_l1_run() {
    echo "kills=$cc_kills dev=$cc_l1_dev"
    cat <<'SH'
. /lab/lib.sh
d=${dev##*/}
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# The block requests L1 has in flight on the drive (nvmevm's; NVMe passthrough ones included).
busy() { cat /sys/kernel/debug/block/"$d"/hctx*/busy 2>/dev/null | wc -l; }
problem() { echo "L1-CC-PROBLEM i=$i $*"; bad=1; }
# check_copy MODE: copy the disk, replay its journal (MODE=replay), e2fsck -fn, compare every
# file with /tmp/cc-state and the iteration's CC lines; the state becomes what was found.
# Sets fsck= and files=.
check_copy() {
    fsck=clean files=ok
    dd if="$dev" of=/tmp/cc.img bs=1M iflag=direct 2>/dev/null || { fsck=nocopy files=nocopy; return; }
    if [ "$1" = replay ]; then
        e2fsck -p -E journal_only /tmp/cc.img >/tmp/cc-fsck.out 2>&1
        rc=$?
        [ "$rc" -le 1 ] || { fsck=replay-rc$rc; sed "s/^/L1-CC-FSCK /" /tmp/cc-fsck.out; }
    fi
    if ! e2fsck -fn /tmp/cc.img >/tmp/cc-fsck.out 2>&1; then
        fsck=rc$?
        sed "s/^/L1-CC-FSCK /" /tmp/cc-fsck.out | head -n 40
    fi
    rm -rf /tmp/cc-obs
    mkdir -p /tmp/cc-obs
    debugfs -R "rdump /cc /tmp/cc-obs" /tmp/cc.img >/dev/null 2>&1
    [ -d /tmp/cc-obs/cc ] || { files=nodir; return; }
    # O name sha size: what the copy holds.
    (cd /tmp/cc-obs/cc && ls | grep -v '\.new$' >/tmp/cc-names &&
        xargs -r sha256sum </tmp/cc-names >/tmp/cc-sums && xargs -r stat -c '%n %s' </tmp/cc-names >/tmp/cc-sizes)
    # S: the state so far; B/F: the operations L2 began/finished (fsynced) this time.
    { sed 's/^/S /' /tmp/cc-state
      tr -d '\r' <"$log" | awk '$1 == "CC-BEGIN" { print "B", $3, $4, $5, $6 } $1 == "CC-FSYNCED" { print "F", $3, $4, $5, $6 }'
      awk 'NR == FNR { size[$1] = $2; next } { print "O", $2, $1, size[$2] }' /tmp/cc-sizes /tmp/cc-sums
    } | awk -v out=/tmp/cc-state.new '
        $1 == "S" { cur[$2] = $3 " " $4; seen[$2] = 1; next }
        $1 == "B" { pend[$3] = $2 " " $4 " " $5; if (!($3 in cur)) cur[$3] = "? 0"; seen[$3] = 1; next }
        $1 == "F" { cur[$3] = ($2 == "delete") ? "- 0" : $4 " " $5; delete pend[$3]; seen[$3] = 1; nf++; next }
        $1 == "O" { obs[$2] = $3 " " $4; next }
        END {
            for (n in seen) {
                o = (n in obs) ? obs[n] : "- 0"
                split(cur[n], c, " "); split(o, f, " ")
                ok = (c[1] == "?" || o == cur[n])
                if (!ok && (n in pend)) {
                    split(pend[n], p, " ")
                    if (p[1] == "delete") ok = (f[1] == "-")
                    else ok = (o == p[2] " " p[3])
                    # An append cut short: the old bytes must be intact (the shell checks them).
                    if (!ok && p[1] == "append" && f[1] != "-" && f[2] + 0 > c[2] + 0 && f[2] + 0 < p[3] + 0) {
                        print "PREFIX", n, c[1], c[2]; ok = 1
                    }
                }
                if (c[1] != "?") checked++
                if (!ok) print "BAD", n, "expected", cur[n], ((n in pend) ? "or " pend[n] : ""), "found", o
                print n, f[1], f[2] >out
            }
            print "STATS", checked + 0, nf + 0
        }' >/tmp/cc-verdict
    while read -r what name sha size; do
        case $what in
            PREFIX)
                got=$(head -c "$size" "/tmp/cc-obs/cc/$name" | sha256sum | cut -d' ' -f1)
                [ "$got" = "$sha" ] || { files=bad; problem "$name: cut-short append lost the old bytes"; } ;;
            BAD) files=bad; problem "file $name $sha $size" ;;
        esac
    done </tmp/cc-verdict
    set -- $(grep '^STATS' /tmp/cc-verdict)
    checked=$2 fsynced=$3
    mv /tmp/cc-state.new /tmp/cc-state
}
# boot_l2 MODE: nvmevm in the background (console through tee into $log), pid in $pid.
boot_l2() {
    sed "s|^cmdline = \"\(.*\)\"\$|cmdline = \"\1 cc.run=$i cc.mode=$1\"|" /lab/vm.toml >/tmp/cc-vm.toml
    log=/tmp/cc-$i.log
    : >"$log"
    rm -f /tmp/cc-fifo
    mkfifo /tmp/cc-fifo
    tee "$log" </tmp/cc-fifo &
    tee_pid=$!
    /nvmevm run --config /tmp/cc-vm.toml >/tmp/cc-fifo 2>&1 &
    pid=$!
}
trap 'kill -TERM $pid 2>/dev/null' TERM INT
: >/tmp/cc-state
bad=0 fsck_clean=0 files_ok=0 killed=0 inflight_kills=0 pending_kills=0
i=1
while [ "$i" -le "$kills" ]; do
    boot_l2 write
    t0=$(cut -d' ' -f1 /proc/uptime)
    # L2 boots and mounts (replaying the journal the last kill left) before its first fsync.
    n=0
    while ! grep -q '^CC-FSYNCED' "$log" && kill -0 "$pid" 2>/dev/null && [ "$n" -lt 300 ]; do
        sleep 0.2
        n=$((n + 1))
    done
    if ! grep -q '^CC-FSYNCED' "$log"; then
        problem "L2 reported no fsynced file"
        # Where nvmevm's threads are (a stalled request shows here).
        kill -0 "$pid" 2>/dev/null && lab_dump_threads "$pid"
    fi
    ms=$((200 + RANDOM % 2801))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    comm=$(cat "/proc/$pid/comm" 2>/dev/null)
    inflight=$(busy)
    kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    status=$?
    wait "$tee_pid"
    t1=$(cut -d' ' -f1 /proc/uptime)
    # Was an operation under way (its CC-BEGIN printed, its CC-FSYNCED not)?
    last=$(tr -d '\r' <"$log" | grep -E '^CC-(BEGIN|FSYNCED) ' | tail -n 1 | cut -d' ' -f1)
    pending=no
    [ "$last" = CC-BEGIN ] && pending=yes pending_kills=$((pending_kills + 1))
    [ "$inflight" -gt 0 ] && inflight_kills=$((inflight_kills + 1))
    if [ "$comm" = nvmevm ] && [ "$status" = 137 ]; then
        killed=$((killed + 1))
    else
        problem "not a SIGKILL of nvmevm: comm=$comm status=$status"
    fi
    # The ring's requests may still finish after the process is gone: let L1's queue drain.
    n=0
    while [ "$(busy)" -gt 0 ] && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    check_copy replay
    [ "$fsck" = clean ] && fsck_clean=$((fsck_clean + 1)) || problem "fsck $fsck"
    [ "$files" = ok ] && files_ok=$((files_ok + 1)) || problem "files $files"
    echo "L1-CC-ITER i=$i killed_after=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s delay=${ms}ms signal=$((status - 128)) l1_inflight=$inflight op_pending=$pending fsynced=$fsynced checked=$checked fsck=$fsck files=$files"
    i=$((i + 1))
done
echo "L1-CC-RESULT kills=$killed fsck_clean=$fsck_clean files_ok=$files_ok kills_with_l1_inflight=$inflight_kills kills_with_op_pending=$pending_kills"
# Last boot: L2 replays the journal, unmounts cleanly, powers off. Then the disk itself, unreplayed.
boot_l2 verify
wait "$pid"
status=$?
wait "$tee_pid"
[ "$status" = 0 ] || problem "the verifying boot ended with $status"
check_copy verify
echo "L1-CC-FINAL fsck=$fsck files=$files checked=$checked"
[ "$fsck" = clean ] && [ "$files" = ok ] || bad=1
# For the host's own check of the image.
sed 's/^/L1-CC-EXPECT /' /tmp/cc-state
exit "$bad"
SH
}

lab_l2_init() {
    cat <<'SH'
l2_report
run=$(sed -n 's/.*cc\.run=\([0-9]*\).*/\1/p' /proc/cmdline)
mode=$(sed -n 's/.*cc\.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
fail() { echo "CC-FAIL run=$run $*"; poweroff -f; l2_stuck poweroff; }
# cc_say LINE: print LINE and wait until the UART has sent all of it (tx counts the bytes the
# serial driver handed to the UART: LINE, \r, \n), i.e. until nvmevm has passed it on to L1.
cc_tx() {
    cc_t=0
    while read -r port rest; do
        [ "$port" = 0: ] && cc_t=${rest##*tx:} && cc_t=${cc_t%% *}
    done </proc/tty/driver/serial
}
cc_say() {
    cc_tx
    want=$((cc_t + ${#1} + 2))
    echo "$1"
    k=0
    while cc_tx && [ "$cc_t" -lt "$want" ]; do
        k=$((k + 1))
        [ "$k" -lt 5000 ] || fail "the console did not send: tx=$cc_t want=$want"
    done
}
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || fail "mount"
echo "CC-MOUNTED run=$run mode=$mode uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ "$mode" = verify ]; then
    umount /mnt || fail "umount"
    echo "CC-UMOUNTED run=$run"
    poweroff -f
    l2_stuck poweroff
fi
mkdir -p /mnt/cc && sync /mnt/cc /mnt || fail "mkdir"
n=0
# cc.mode=write (under nvmevm in L1) runs until killed; without it (--l2-direct) 20 operations.
while [ "$mode" = write ] || [ "$n" -lt 20 ]; do
    n=$((n + 1))
    r=$((RANDOM % 10))
    # Low on space: delete.
    [ $((n % 4)) = 0 ] && [ "$(df -k /mnt | awk 'NR == 2 { print $4 }')" -lt 16384 ] && r=9
    op=create
    if [ "$r" -ge 7 ]; then
        # shellcheck disable=SC2046
        set -- $(ls /mnt/cc | grep -v '\.new$')
        if [ "$#" -ge 2 ]; then
            shift $((RANDOM % $#))
            t=$1
            case $r in 7) op=append ;; 8) op=replace ;; *) op=delete ;; esac
        fi
    fi
    size=$((1024 + RANDOM * 8 + RANDOM % 8))
    case $op in
    create)
        # A new name: whatever a cut-short create leaves is fine, so the line needs no sha256.
        t=r$run-$n
        echo "CC-BEGIN $run create $t - $size"
        head -c "$size" /dev/urandom >/tmp/cc.src
        cat /tmp/cc.src >"/mnt/cc/$t" && sync "/mnt/cc/$t" /mnt/cc || fail "create $t"
        sha=$(sha256sum </tmp/cc.src | cut -d' ' -f1) ;;
    append)
        head -c $((size / 4)) /dev/urandom >/tmp/cc.src
        sha=$(cat "/mnt/cc/$t" /tmp/cc.src | sha256sum | cut -d' ' -f1)
        size=$(($(wc -c <"/mnt/cc/$t") + size / 4))
        cc_say "CC-BEGIN $run append $t $sha $size"
        cat /tmp/cc.src >>"/mnt/cc/$t" && sync "/mnt/cc/$t" || fail "append $t" ;;
    replace)
        head -c "$size" /dev/urandom >/tmp/cc.src
        sha=$(sha256sum </tmp/cc.src | cut -d' ' -f1)
        cc_say "CC-BEGIN $run replace $t $sha $size"
        cat /tmp/cc.src >"/mnt/cc/$t.new" && sync "/mnt/cc/$t.new" &&
            mv "/mnt/cc/$t.new" "/mnt/cc/$t" && sync /mnt/cc || fail "replace $t" ;;
    delete)
        sha=- size=0
        cc_say "CC-BEGIN $run delete $t - 0"
        rm "/mnt/cc/$t" && sync /mnt/cc || fail "delete $t" ;;
    esac
    echo "CC-FSYNCED $run $op $t $sha $size"
done
umount /mnt || fail "umount"
echo "CC-UMOUNTED run=$run"
poweroff -f
l2_stuck poweroff
SH
}

# The host: fsck.ext4 -fn on the image L2 last unmounted, and every file as L1 last saw it.
lab_host_check() {
    local img out rc dir name sha size got n
    img=$(cc_host_image)
    out=$(fsck.ext4 -fn "$img" 2>&1)
    rc=$?
    ((rc == 0)) || echo "fsck.ext4 -fn $img exited $rc: $(echo "$out" | tr '\n' '|' | cut -c1-400)"
    dir=$LAB_STAGE/cc-files
    rm -rf "$dir"
    mkdir -p "$dir"
    debugfs -R "rdump /cc $dir" "$img" >/dev/null 2>&1
    n=0
    while read -r name sha size; do
        n=$((n + 1))
        if [[ $sha == - ]]; then
            [[ ! -e $dir/cc/$name ]] || echo "/cc/$name is in the image, L1 saw it deleted"
            continue
        fi
        got=$(sha256sum <"$dir/cc/$name" 2>/dev/null | cut -d' ' -f1)
        [[ $got == "$sha" && $(stat -c %s "$dir/cc/$name" 2>/dev/null) == "$size" ]] ||
            echo "/cc/$name in the image: sha256 ${got:-missing}, L1 saw $sha ($size bytes)"
    done < <(sed -n 's/^L1-CC-EXPECT //p' "$LAB_CONSOLE")
    ((n > 0)) || echo "no L1-CC-EXPECT lines: nothing to check in the image"
    n=$(grep -c '^L1-CC-ITER .* signal=9 ' "$LAB_CONSOLE")
    ((n == cc_kills)) || echo "$n kills by SIGKILL, expected $cc_kills"
}
