#!/usr/bin/env bash
# Fetches and unpacks what the nested Linux lab needs (docs/lab.md): Debian's cloud kernel
# (bzImage + modules) and the ELF vmlinux extracted from it. Idempotent: everything lands in
# lab-cache/ at the repository root (or $LAB_CACHE) and a second run only checks it.
#
# usage: scripts/lab-prepare.sh [--refresh]
#   --refresh  ask apt again which kernel linux-image-cloud-amd64 points to today
#
# Writes lab-cache/lab.env, which scripts/lab-run.sh sources:
#   LAB_KVER, LAB_BZIMAGE, LAB_VMLINUX, LAB_MODDIR (flat folder of uncompressed .ko files)
# Environment: LAB_KERNEL_PKG=linux-image-X-cloud-amd64 picks a concrete package instead of
# the metapackage's current choice.
set -euo pipefail

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LAB_CACHE:-$repo/lab-cache}
refresh=0
for arg in "$@"; do
  case $arg in
    --refresh) refresh=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "lab-prepare: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Modules the lab loads, in insmod order (no modprobe: busybox has no depmod data for them).
# kvm needs irqbypass; virtio_blk needs the virtio stack below it. L1 loads them all (KVM for
# nvmevm, virtio_blk for the disk the host gives L1); L2 loads the virtio ones.
LAB_MODULES=(irqbypass kvm kvm-amd virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
  virtio_pci virtio_mmio virtio_blk)

log() { echo "lab-prepare: $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$cache"
# lab-run.sh may be started twice at once (two ctest runs); one of them prepares, the other waits.
exec 9>"$cache/.lock"
flock 9

# Fast path: a complete cache from an earlier run.
if [[ $refresh -eq 0 && -f $cache/lab.env ]]; then
  # shellcheck source=/dev/null
  source "$cache/lab.env"
  if [[ -f ${LAB_BZIMAGE:-} && -f ${LAB_VMLINUX:-} && -d ${LAB_MODDIR:-} ]]; then
    echo "$cache/lab.env"
    exit 0
  fi
fi

for tool in apt-get dpkg lz4 readelf; do
  command -v "$tool" >/dev/null || die "$tool is missing (run scripts/install-deps.sh)"
done

# 1. Which concrete kernel package: the one the cloud metapackage depends on.
pkg=${LAB_KERNEL_PKG:-}
if [[ -z $pkg ]]; then
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }') || true
fi
if [[ -z $pkg ]]; then
  # No apt lists (offline, or apt-get update never ran): fall back to a .deb fetched earlier.
  deb=$(find "$cache/debs" -name 'linux-image-*-cloud-amd64_*.deb' 2>/dev/null | sort | tail -n 1)
  [[ -n $deb ]] || die "cannot resolve linux-image-cloud-amd64 (try: apt-get update) and no cached .deb"
  pkg=$(basename "$deb" | cut -d_ -f1)
fi
kver=${pkg#linux-image-}
log "kernel package $pkg"

# 2. Download the .deb (no install: the host's /boot stays untouched).
mkdir -p "$cache/debs"
deb=$(find "$cache/debs" -name "${pkg}_*.deb" | sort | tail -n 1)
if [[ -z $deb ]]; then
  log "downloading $pkg"
  # APT::Sandbox::User=root: the _apt user could not write into a root-owned cache folder.
  (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
    die "apt-get download $pkg failed"
  deb=$(find "$cache/debs" -name "${pkg}_*.deb" | sort | tail -n 1)
  [[ -n $deb ]] || die "apt-get download left no .deb for $pkg"
fi

# 3. Unpack into a private tree.
kdir=$cache/kernel/$kver
if [[ ! -f $kdir/.unpacked ]]; then
  log "unpacking $(basename "$deb")"
  rm -rf "$kdir"
  mkdir -p "$kdir"
  dpkg -x "$deb" "$kdir/root"
  touch "$kdir/.unpacked"
fi
bzimage=$kdir/root/boot/vmlinuz-$kver
[[ -f $bzimage ]] || die "$bzimage missing from $deb"

# 4. The modules, flat and uncompressed (busybox insmod cannot read .ko.xz / .ko.zst).
moddir=$kdir/modules
mkdir -p "$moddir"
for m in "${LAB_MODULES[@]}"; do
  [[ -f $moddir/$m.ko ]] && continue
  src=$(find "$kdir/root/lib/modules/$kver" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -n 1)
  [[ -n $src ]] || die "module $m not found in $pkg"
  case $src in
    *.ko.xz) xz -dc "$src" >"$moddir/$m.ko.tmp" ;;
    *.ko.zst) zstd -qdc "$src" >"$moddir/$m.ko.tmp" ;;
    *) cp "$src" "$moddir/$m.ko.tmp" ;;
  esac
  mv "$moddir/$m.ko.tmp" "$moddir/$m.ko"
done

# 5. The ELF vmlinux inside the bzImage, for nvmevm's PVH boot path. The 6.1 cloud kernel's
# payload is LZ4 in the legacy frame format (magic 0x184C2102, bytes 02 21 4C 18). The magic
# bytes can also occur by chance elsewhere, so try each hit until one decompresses to an ELF
# file that carries the PVH entry note (Xen ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY).
has_pvh_note() {
  readelf -n "$1" 2>/dev/null | grep -Eq 'Xen.*(0x00000012|XEN_ELFNOTE_PHYS32_ENTRY)'
}
vmlinux=$kdir/vmlinux
if [[ ! -f $vmlinux ]]; then
  found=0
  while IFS=: read -r offset _; do
    # lz4 exits 1 on the bytes after the frame (the rest of the bzImage); the output is whole.
    tail -c +"$((offset + 1))" "$bzimage" | lz4 -dc >"$vmlinux.tmp" 2>/dev/null || true
    if [[ $(head -c 4 "$vmlinux.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] && has_pvh_note "$vmlinux.tmp"; then
      mv "$vmlinux.tmp" "$vmlinux"
      found=1
      log "vmlinux extracted from offset $offset ($(stat -c %s "$vmlinux") bytes, PVH note present)"
      break
    fi
  done < <(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$bzimage")
  rm -f "$vmlinux.tmp"
  [[ $found -eq 1 ]] || die "no LZ4 payload with a PVH-capable ELF vmlinux in $bzimage"
fi

cat >"$cache/lab.env.tmp" <<EOF
# written by scripts/lab-prepare.sh
LAB_KVER=$kver
LAB_BZIMAGE=$bzimage
LAB_VMLINUX=$vmlinux
LAB_MODDIR=$moddir
EOF
mv "$cache/lab.env.tmp" "$cache/lab.env"
log "ready: kernel $kver"
echo "$cache/lab.env"
