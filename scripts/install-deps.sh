#!/usr/bin/env bash
# Installs every Debian package nvmevm's build, tests and lab need. Idempotent: installs only
# what is missing, so a second run takes a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  liburing-dev libnvme-dev libcli11-dev libtomlplusplus-dev libgtest-dev linux-libc-dev
  qemu-system-x86 busybox-static cpio lz4 zstd acpica-tools e2fsprogs fdisk dmsetup fio gnuplot-nox xz-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
