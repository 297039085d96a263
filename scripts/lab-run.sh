#!/usr/bin/env bash
# Runs one scenario of the nested Linux lab (docs/lab.md) and prints its verdict.
#
# usage: scripts/lab-run.sh SCENARIO [options]
#   SCENARIO            a name from tests/lab/scenarios/ (without .sh), or a path to such a file
#   --build-dir DIR     nvmevm's CMake build folder (default: <repo>/build); the lab works in DIR/lab
#   --timeout SECONDS   wall-clock limit for QEMU (default: the scenario's LAB_TIMEOUT_S, else 240)
#   --nvme              also give L1 an NVMe controller (as the scenario's LAB_L1_NVME=1 does)
#   --l2-direct         no nesting: boot the scenario's L2 kernel + initramfs directly under host
#                       QEMU TCG, to check the L2 side (markers, poweroff/reboot) without nvmevm
#   --check             only check the scenario (its markers are not written literally in what L1
#                       echoes: run.sh, the VM config, the kernel command lines); run nothing
#   --name NAME         the run's name for its log and stage folder (default: SCENARIO)
#   -v, --verbose       stream the console to stdout while it runs
#
# Environment: LAB_QEMU (QEMU binary), LAB_CACHE (kernel cache, default <repo>/lab-cache).
#
# Exit status: 0 pass, 1 fail, 2 usage, 77 skip (QEMU cannot run on this machine at all).
# Writes DIR/lab/SCENARIO.log (full console; .direct.log for --l2-direct), DIR/lab/SCENARIO.qemu.err
# (QEMU's own stderr) and DIR/lab/SCENARIO/ (staged initramfs trees, disk images).
set -euo pipefail

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab_src=$repo/tests/lab

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit "${1:-2}"; }
log() { echo "lab-run: $*" >&2; }
die() { log "error: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

scenario=""
run_name=""
check_only=0
build_dir=$repo/build
timeout_s=""
force_nvme=0
direct=0
verbose=0
while (($#)); do
  case $1 in
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --nvme) force_nvme=1; shift ;;
    --l2-direct) direct=1; shift ;;
    --check) check_only=1; shift ;;
    --name) run_name=${2:?--name needs a name}; shift 2 ;;
    -v | --verbose) verbose=1; shift ;;
    -h | --help) usage 0 ;;
    -*) log "unknown option $1"; usage ;;
    *) [[ -z $scenario ]] || usage; scenario=$1; shift ;;
  esac
done
[[ -n $scenario ]] || usage
if [[ -f $scenario ]]; then
  scenario_file=$(realpath "$scenario")
  scenario=$(basename "$scenario" .sh)
else
  scenario_file=$lab_src/scenarios/$scenario.sh
  [[ -f $scenario_file ]] || die "no scenario $scenario (have: $(find "$lab_src/scenarios" -name '*.sh' -printf '%f ' | sed 's/\.sh//g'))"
fi
build_dir=$(realpath -m "$build_dir")
[[ -z $run_name ]] || scenario=$run_name
t_start=$(now)

# ---- QEMU must be able to run at all; that is the only reason to skip ----
# LAB_QEMU picks another QEMU build (a newer one, a debug one).
qemu=${LAB_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || skip "$qemu not installed (scripts/install-deps.sh installs it)"
qemu_cpu=(-M q35 -accel tcg -cpu "EPYC,+svm,+npt")
# -S keeps the CPU stopped; "quit" on the monitor ends it: proves QEMU starts this machine type.
if ! echo quit | timeout 30 "$qemu" "${qemu_cpu[@]}" -m 64 -nodefaults -display none -S \
  -monitor stdio >/dev/null 2>&1; then
  skip "$qemu cannot start a TCG q35 machine with SVM here"
fi

for tool in busybox cpio gcc lz4 flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (run scripts/install-deps.sh)"
done
busybox_bin=$(command -v busybox)
file -L "$busybox_bin" 2>/dev/null | grep -q 'statically linked' ||
  ldd "$busybox_bin" 2>&1 | grep -q 'not a dynamic executable' ||
  die "$busybox_bin is not static (install busybox-static)"

# ---- the kernel (cached in lab-cache/) ----
t0=$(now)
lab_env=$("$repo/scripts/lab-prepare.sh")
# shellcheck source=/dev/null
source "$lab_env"
t_prepare=$(since "$t0")

# ---- the scenario ----
LAB_DESCRIPTION=""
LAB_L2_KERNEL=bzimage
LAB_EXPECT_EXIT=0
LAB_EXPECT_MARKERS=()
# Lines that must not appear anywhere in the console (L1's or L2's).
LAB_FORBID_MARKERS=("Kernel panic" "BUG: " "Oops: " "LAB-INSMOD-FAILED" "L2-INSMOD-FAILED" "L2-STILL-RUNNING")
LAB_L1_NVME=0
LAB_L1_HOST_FILES=()
LAB_L2_BINARIES=()   # host programs packed into L2's initramfs with their libraries and loader
LAB_TIMEOUT_S=240    # QEMU's wall-clock limit unless --timeout gives one (ctest allows 400)
LAB_L1_DISK_MIB=64
LAB_NVME_DISK_MIB=64
LAB_NVME_LBS=512     # 512 or 4096: the NVMe namespace's LBA size
LAB_QEMU_TRACE=""    # QEMU trace events (patterns) to log into $LAB_QEMU_TRACE_LOG
LAB_L1_CMDLINE_EXTRA=""  # appended to L1's kernel command line (e.g. nvme.poll_queues=1)
# The paths L2's pieces have inside L1, for the scenario's lab_vm_config.
LAB_L2_INITRD_PATH=/lab/l2-initrd.cpio
LAB_L2_CMDLINE="console=ttyS0 reboot=k panic=-1"
unset -f lab_vm_config lab_l2_init lab_l1_run lab_host_prepare lab_host_check 2>/dev/null || true
# shellcheck source=/dev/null
source "$scenario_file"
((force_nvme)) && LAB_L1_NVME=1
timeout_s=${timeout_s:-$LAB_TIMEOUT_S}
case $LAB_L2_KERNEL in
  bzimage) LAB_L2_KERNEL_PATH=/lab/bzImage; l2_kernel_host=$LAB_BZIMAGE ;;
  vmlinux) LAB_L2_KERNEL_PATH=/lab/vmlinux; l2_kernel_host=$LAB_VMLINUX ;;
  none) LAB_L2_KERNEL_PATH=""; l2_kernel_host="" ;;
  *) die "$scenario_file: LAB_L2_KERNEL must be bzimage, vmlinux or none" ;;
esac
export LAB_L2_KERNEL_PATH LAB_L2_INITRD_PATH LAB_L2_CMDLINE
# ---- markers are output, never source ----
# L1 echoes run.sh and the VM config into the log (lab-script| and lab-config| lines, which the
# verdict leaves out), and the kernels print their command lines. A marker written literally in
# any of them could be "found" without anything having happened, so such a scenario is refused.
literal_markers() {
  local text m
  text=$(
    declare -F lab_l1_run >/dev/null && lab_l1_run
    declare -F lab_vm_config >/dev/null && lab_vm_config
    echo "$LAB_L2_CMDLINE"
    echo "${LAB_L1_CMDLINE_EXTRA:-}"
  )
  for m in "${LAB_EXPECT_MARKERS[@]}"; do
    [[ $text != *"$m"* ]] || echo "$scenario_file: marker '$m' is written literally in what L1 echoes (run.sh, the config or a command line); print it from what was observed"
  done
}
literal=$(literal_markers)
[[ -z $literal ]] || { echo "$literal" >&2; exit 1; }
((check_only)) && { log "scenario $scenario: markers ok"; exit 0; }

if ((direct)); then
  [[ -n $l2_kernel_host ]] || die "$scenario has no L2 (LAB_L2_KERNEL=none); nothing to boot directly"
  # The ELF vmlinux is for PVH-capable VMMs; QEMU's -kernel wants the bzImage (same kernel).
  l2_kernel_host=$LAB_BZIMAGE
fi

work=$build_dir/lab
stage=$work/$scenario
cache=$work/cache
mkdir -p "$stage" "$cache"
log_file=$work/$scenario.log
((direct)) && log_file=$work/$scenario.direct.log
err_file=${log_file%.log}.qemu.err

# ---- initramfs pieces ----
# Each initramfs is a concatenation of uncompressed newc cpio archives, which the kernel unpacks
# one after the other: the big, stable pieces (busybox + modules, the L2 kernel) are packed once
# and cached; only the small scenario piece is packed every run. No compression: under TCG,
# decompressing costs more than reading the bytes.

# pack_dir DIR OUT: a newc archive of DIR's contents, owned by root whoever runs this.
pack_dir() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2.tmp"
  mv "$2.tmp" "$2"
}

# fresh_piece NAME KEY: true when cache/NAME.cpio was packed from inputs described by KEY.
fresh_piece() { [[ -f $cache/$1.cpio && -f $cache/$1.key && $(cat "$cache/$1.key") == "$2" ]]; }
mark_piece() { echo "$2" >"$cache/$1.key"; }
stat_key() { stat -L -c '%n %s %Y' "$@"; }

# base piece: busybox (every applet as a symlink), the modules and their insmod order.
# $1 = l1 or l2; L2 gets the virtio modules only (it needs no KVM).
build_base() {
  local which=$1 mods=() m dir
  mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mmio virtio_blk)
  [[ $which == l1 ]] && mods=(irqbypass kvm kvm-amd "${mods[@]}")
  local key
  key=$(stat_key "$busybox_bin" "$lab_src/l1-kvm-probe.c"; for m in "${mods[@]}"; do stat_key "$LAB_MODDIR/$m.ko"; done; echo "${mods[*]}")
  fresh_piece "$which-base" "$key" && return 0
  dir=$cache/$which-base
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,lab,lib/modules/lab}
  cp "$busybox_bin" "$dir/bin/busybox"
  local applet
  while read -r applet; do
    [[ -e $dir/$applet || -L $dir/$applet ]] || ln -s /bin/busybox "$dir/$applet"
  done < <("$busybox_bin" --list-full | grep -v '^bin/busybox$')
  for m in "${mods[@]}"; do
    cp "$LAB_MODDIR/$m.ko" "$dir/lib/modules/lab/"
    echo "$m" >>"$dir/lib/modules/lab/order"
  done
  if [[ $which == l1 ]]; then
    # Static, so it needs nothing else in L1.
    gcc -O2 -static -o "$dir/bin/l1-kvm-probe" "$lab_src/l1-kvm-probe.c"
  fi
  pack_dir "$dir" "$cache/$which-base.cpio"
  mark_piece "$which-base" "$key"
}

# kernel piece: L2's kernel at /lab/bzImage or /lab/vmlinux inside L1.
build_kernel_piece() {
  local name=l2-$LAB_L2_KERNEL key dir
  key=$(stat_key "$l2_kernel_host")
  fresh_piece "$name" "$key" && return 0
  dir=$cache/$name
  rm -rf "$dir"
  mkdir -p "$dir/lab"
  cp "$l2_kernel_host" "$dir$LAB_L2_KERNEL_PATH"
  pack_dir "$dir" "$cache/$name.cpio"
  mark_piece "$name" "$key"
}

# copy_with_libs BIN DEST_ROOT DEST: BIN as DEST_ROOT/DEST plus every shared library ldd lists
# and the ELF interpreter, each at the same absolute path as on the host (L1 has no other
# userland). A dynamic program whose loader or libraries are missing fails with a bare "not
# found" from busybox, so all of them must come along.
copy_with_libs() {
  local bin=$1 root=$2 dest=$3 lib interp
  mkdir -p "$root$(dirname "$dest")"
  # Without debug sections: nvmevm's RelWithDebInfo build is 25 MiB of which 3 are code, and
  # every byte is packed into the initramfs and read by TCG (the symbol table stays).
  objcopy --strip-debug "$bin" "$root$dest" 2>/dev/null || cp "$bin" "$root$dest"
  ldd "$bin" >/dev/null 2>&1 || return 0  # static: nothing more to copy
  interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  while read -r lib; do
    [[ -n $lib ]] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
    [[ -z $interp ]] || echo "$interp"
  )
}

# binaries piece: the scenario's LAB_L2_BINARIES (host programs such as /usr/bin/fio) at their
# host paths, with every library ldd lists and the ELF interpreter, packed once per set of
# programs and kept while neither they nor their libraries change (Debian's fio brings 84 MB of
# libraries: packing them every run would cost more than the scenario's own piece).
l2_bin_piece=""
build_l2_binaries() {
  ((${#LAB_L2_BINARIES[@]})) || return 0
  local f name key dir
  for f in "${LAB_L2_BINARIES[@]}"; do
    [[ -f $f && -x $f ]] || die "$scenario_file: LAB_L2_BINARIES names $f, which is not an executable file"
  done
  name=l2-bin-$(printf '%s\n' "${LAB_L2_BINARIES[@]}" | sha256sum | cut -c1-12)
  key=$(for f in "${LAB_L2_BINARIES[@]}"; do
    stat_key "$f"
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
      while read -r lib; do stat_key "$lib"; done
  done)
  l2_bin_piece=$cache/$name.cpio
  fresh_piece "$name" "$key" && return 0
  dir=$cache/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  for f in "${LAB_L2_BINARIES[@]}"; do copy_with_libs "$f" "$dir" "$f"; done
  pack_dir "$dir" "$l2_bin_piece"
  rm -rf "$dir"  # the archive is all a run needs; the tree would be a second copy on disk
  mark_piece "$name" "$key"
}

t0=$(now)
build_base l2
build_l2_binaries
l2_root=$stage/l2root
rm -rf "$l2_root" "$stage/l1root"
if [[ $LAB_L2_KERNEL != none ]]; then
  declare -F lab_l2_init >/dev/null || die "$scenario_file defines no lab_l2_init"
  mkdir -p "$l2_root"
  { cat "$lab_src/l2-prologue.sh"; lab_l2_init; } >"$l2_root/init"
  chmod 755 "$l2_root/init"
  pack_dir "$l2_root" "$stage/l2-scenario.cpio"
  cat "$cache/l2-base.cpio" ${l2_bin_piece:+"$l2_bin_piece"} "$stage/l2-scenario.cpio" >"$stage/l2-initrd.cpio"
fi

l1_initrd=$stage/l1-initrd.cpio
if ((!direct)); then
  build_base l1
  l1_root=$stage/l1root
  mkdir -p "$l1_root/lab"
  cp "$lab_src/l1-init.sh" "$l1_root/init"
  chmod 755 "$l1_root/init"
  # Helpers a scenario's run.sh may source (lab_run_nvmevm: nvmevm with its threads watched).
  cp "$lab_src/l1-lib.sh" "$l1_root/lab/lib.sh"
  # L1 gives up on the scenario a minute before the host does, so the log still gets a verdict.
  l1_timeout=$((timeout_s > 120 ? timeout_s - 60 : timeout_s / 2))
  echo "LAB_L1_TIMEOUT=$l1_timeout" >"$l1_root/lab/scenario.env"
  if declare -F lab_l1_run >/dev/null; then
    lab_l1_run >"$l1_root/lab/run.sh"
  else
    echo "exec /nvmevm run --config /lab/vm.toml" >"$l1_root/lab/run.sh"
  fi
  # /nvmevm as a word of its own (not the tail of a host path such as build/nvmevm).
  if grep -qE '(^|[[:space:];&|(])/nvmevm([[:space:];&|)]|$)' "$l1_root/lab/run.sh"; then
    nvmevm_bin=$build_dir/nvmevm
    [[ -x $nvmevm_bin ]] || die "$nvmevm_bin not built (cmake --build $build_dir)"
    copy_with_libs "$nvmevm_bin" "$l1_root" /nvmevm
  fi
  # Host files a scenario wants in L1 at the same path (a reference VMM, its firmware, ...).
  for f in "${LAB_L1_HOST_FILES[@]}"; do
    if [[ -d $f ]]; then
      mkdir -p "$l1_root$(dirname "$f")"
      cp -rL "$f" "$l1_root$f"
    elif [[ -x $f ]]; then
      copy_with_libs "$f" "$l1_root" "$f"
    else
      [[ -f $f ]] || die "$scenario_file: LAB_L1_HOST_FILES names $f, which does not exist"
      mkdir -p "$l1_root$(dirname "$f")"
      cp -L "$f" "$l1_root$f"
    fi
  done
  if declare -F lab_vm_config >/dev/null; then
    lab_vm_config >"$l1_root/lab/vm.toml"
  fi
  pieces=("$cache/l1-base.cpio")
  if [[ $LAB_L2_KERNEL != none ]]; then
    build_kernel_piece
    pieces+=("$cache/l2-$LAB_L2_KERNEL.cpio")
    cp "$stage/l2-initrd.cpio" "$l1_root$LAB_L2_INITRD_PATH"
  fi
  pack_dir "$l1_root" "$stage/l1-scenario.cpio"
  cat "${pieces[@]}" "$stage/l1-scenario.cpio" >"$l1_initrd"
fi
t_build=$(since "$t0")

# ---- disks for L1 (scenarios may use them; lab_host_check can read them afterwards) ----
# Fresh, zeroed images every run, so a check on the host sees only what this run wrote.
disk=$stage/disk.img
nvme_disk=$stage/nvme.img
rm -f "$disk" "$nvme_disk"
truncate -s "${LAB_L1_DISK_MIB}M" "$disk"
# discard=unmap: a discard in L1 (and so one nvmevm passes on from L2) punches a hole in the
# image, which a host check can see.
disk_args=(-drive "id=d0,file=$disk,format=raw,if=none,cache=unsafe,discard=unmap" -device "virtio-blk-pci,drive=d0")
if ((LAB_L1_NVME)); then
  truncate -s "${LAB_NVME_DISK_MIB}M" "$nvme_disk"
  # discard=unmap as for the virtio disk: a Dataset Management deallocate punches a hole.
  nvme_drive="id=n0,file=$nvme_disk,format=raw,if=none,discard=unmap"
  if [[ ${LAB_NVME_LBS:-512} == 512 ]]; then
    disk_args+=(-drive "$nvme_drive" -device "nvme,drive=n0,serial=labnvme")
  else
    # Another LBA size: the namespace is a separate nvme-ns device on the controller's bus.
    disk_args+=(-drive "$nvme_drive" -device "nvme,id=nvme0,serial=labnvme"
      -device "nvme-ns,drive=n0,bus=nvme0,nsid=1,logical_block_size=$LAB_NVME_LBS,physical_block_size=$LAB_NVME_LBS")
  fi
fi

if declare -F lab_host_prepare >/dev/null; then
  # The scenario's own preparation of the images (a filesystem, known contents), on the host.
  # With --l2-direct, L2 gets the same disk.img as its /dev/vda.
  LAB_DISK=$disk LAB_NVME_DISK=$nvme_disk LAB_STAGE=$stage lab_host_prepare ||
    die "$scenario_file: lab_host_prepare failed"
fi

# ---- run ----
if ((direct)); then
  # The same CPU count and memory size as the scenario gives nvmevm.
  vcpus=$(lab_vm_config | awk -F= '/^vcpus/ { gsub(/ /, "", $2); print $2 }')
  memory=$(lab_vm_config | awk -F= '/^memory_mib/ { gsub(/ /, "", $2); print $2 }')
  qemu_args=("${qemu_cpu[@]}" -m "${memory:-256}" -smp "${vcpus:-1}" -kernel "$l2_kernel_host"
    -initrd "$stage/l2-initrd.cpio" -append "$LAB_L2_CMDLINE" "${disk_args[@]}")
else
  # L1's own boot chatter is mostly noise here; loglevel=4 keeps warnings and errors.
  # no_timer_check: on a loaded host, TCG can be too slow for the kernel's IO-APIC timer check,
  # which then panics ("IO-APIC + timer doesn't work!") before /init.
  # -smp 1: with two L1 CPUs, a 2-vCPU L2 sometimes loses wake-ups and hangs (both vCPUs
  # halted in kvm_vcpu_block), triple-faults or soft-locks; with QEMU as L1's VMM just as with
  # nvmevm, and every time under -accel tcg,thread=single. It is TCG's emulated SVM taking an
  # interrupt from the other L1 CPU while in guest mode (docs/lab.md "Known quirks"). With one
  # L1 CPU, L2's two vCPUs are two L1 threads on it, still a real SMP guest.
  qemu_args=("${qemu_cpu[@]}" -m 2048 -smp 1 -kernel "$LAB_BZIMAGE" -initrd "$l1_initrd"
    -append "console=ttyS0 panic=-1 loglevel=4 no_timer_check${LAB_L1_CMDLINE_EXTRA:+ $LAB_L1_CMDLINE_EXTRA}" "${disk_args[@]}")
fi
qemu_args+=(-nodefaults -display none -no-reboot -serial stdio)
# QEMU trace events the scenario asks for (LAB_QEMU_TRACE="pci_nvme_io_cmd ..."), into a file
# that lab_host_check reads as $LAB_QEMU_TRACE_LOG.
trace_log=$stage/qemu-trace.log
rm -f "$trace_log"
for event in ${LAB_QEMU_TRACE:-}; do qemu_args+=(-trace "enable=$event"); done
[[ -n ${LAB_QEMU_TRACE:-} ]] && qemu_args+=(-D "$trace_log")

log "scenario $scenario: ${LAB_DESCRIPTION:-}$( ((direct)) && echo ' [L2 directly under QEMU, no nvmevm]')"
log "console -> $log_file"
t0=$(now)
set +e
if ((verbose)); then
  timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null 2>"$err_file" | tee "$log_file"
  qemu_rc=${PIPESTATUS[0]}
else
  timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null >"$log_file" 2>"$err_file"
  qemu_rc=$?
fi
set -e
t_run=$(since "$t0")

# ---- verdict ----
# The guest's tty turns \n into \r\n; compare without the \r. Markers are matched in what ran
# printed, never in the scenario's own text that L1 echoes (lab-script| and lab-config| lines).
console=$stage/console.txt
tr -d '\r' <"$log_file" >"$console"
clean=$stage/output.txt
grep -av -e '^lab-script| ' -e '^lab-config| ' "$console" >"$clean" || true
problems=()
[[ $qemu_rc -eq 124 || $qemu_rc -eq 137 ]] && problems+=("QEMU timed out after ${timeout_s}s")
[[ $qemu_rc -ne 0 && $qemu_rc -ne 124 && $qemu_rc -ne 137 ]] && problems+=("QEMU exited with $qemu_rc (see $err_file)")

got_exit=""
if ((direct)); then
  # Without nvmevm, the kernel's last words say how L2 ended.
  if grep -q 'reboot: Power down' "$clean"; then got_exit=0
  elif grep -q 'reboot: Restarting system' "$clean"; then got_exit=3
  fi
  [[ $got_exit == "$LAB_EXPECT_EXIT" ]] ||
    problems+=("L2 ended as exit ${got_exit:-unknown} would say, expected $LAB_EXPECT_EXIT")
else
  grep -q '^LAB-L1-UP' "$clean" || problems+=("L1 never reached its /init")
  got_exit=$(sed -n 's/^LAB-EXIT=//p' "$clean" | tail -n 1)
  if [[ -z $got_exit ]]; then
    problems+=("no LAB-EXIT line: L1 did not finish the scenario")
  elif [[ $got_exit != "$LAB_EXPECT_EXIT" ]]; then
    problems+=("exit status $got_exit, expected $LAB_EXPECT_EXIT")
  fi
fi
for m in "${LAB_EXPECT_MARKERS[@]}"; do
  # L1-side markers cannot appear in a direct L2 boot.
  ((direct)) && [[ $m == LAB-* || $m == L1-* ]] && continue
  grep -qF -- "$m" "$clean" || problems+=("marker missing: $m")
done
for m in "${LAB_FORBID_MARKERS[@]}"; do
  if grep -qF -- "$m" "$clean"; then
    problems+=("forbidden line present: $(grep -F -m 1 -- "$m" "$clean")")
  fi
done
if declare -F lab_host_check >/dev/null && ((!direct)); then
  # A scenario's own check of what the guests left behind (disk images, ...): prints problems.
  while IFS= read -r p; do
    [[ -n $p ]] && problems+=("$p")
  done < <(LAB_DISK=$disk LAB_NVME_DISK=$nvme_disk LAB_STAGE=$stage LAB_CONSOLE=$clean LAB_QEMU_TRACE_LOG=$trace_log lab_host_check || echo "lab_host_check failed")
fi

echo "---- $scenario: key lines ($log_file) ----"
grep -E '^(LAB-|L1-|L2-)|reboot: |Kernel panic|nvmevm' "$clean" | cut -c1-200 | head -n 80 || true
timing="prepare ${t_prepare}s, build ${t_build}s, qemu ${t_run}s, total $(since "$t_start")s"
if ((${#problems[@]})); then
  echo "---- last 40 console lines ----"
  tail -n 40 "$clean"
  # QEMU's warnings about EPYC features TCG lacks are expected; show anything else.
  if grep -qv "TCG doesn't support requested feature" "$err_file"; then
    echo "---- QEMU stderr ----"
    grep -v "TCG doesn't support requested feature" "$err_file" | tail -n 10
  fi
  for p in "${problems[@]}"; do echo "LAB-PROBLEM: $p"; done
  echo "LAB-VERDICT $scenario FAIL ($timing)"
  exit 1
fi
echo "LAB-VERDICT $scenario PASS exit=$got_exit ($timing)"
