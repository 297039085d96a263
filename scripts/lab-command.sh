#!/usr/bin/env bash
# Runs one command inside the nested lab's L1 (docs/lab.md), where kvm-amd gives a complete
# /dev/kvm, exactly as it would run on a host with one; prints its output and passes its
# verdict on. This is how a machine without /dev/kvm still runs every kvm test
# (tests/kvm/need.sh calls it) instead of skipping them.
#
# usage: scripts/lab-command.sh [--build-dir DIR] [--timeout SECONDS] -- COMMAND [ARGS...]
#   --build-dir DIR     nvmevm's build folder; the lab works in DIR/lab (default: the build
#                       folder of the nvmevm named in the arguments, else <repo>/build)
#   --timeout SECONDS   QEMU's wall-clock limit per try (default 240; NVMEVM_LAB_TIMEOUT overrides)
#   --carry PATH        also put this host file or folder into L1 (repeatable): a tool the
#                       command calls by name, such as valgrind and its /usr/libexec/valgrind
#
# What travels into L1, at the same paths: COMMAND, the folder it sits in (its helpers), every
# argument that names an existing file or folder, every existing absolute path quoted in a .toml
# among them (the test guest a config names), the host's bash and a set of host tools
# (tests/lab/host-command.sh). The environment's NVMEVM_*, ASAN_*, UBSAN_* and LSAN_* variables
# go along; the command runs in the same working folder.
#
# Exit status: 0 when the command exited 0 in L1; 77 when the lab cannot run here at all (no
# QEMU: scripts/lab-run.sh skips); 1 for anything else, the command's own 77 included (in the
# lab, whatever it needs is there, so a skip is a failure).
set -euo pipefail
repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

build_dir=""
carried=()
timeout_s=${NVMEVM_LAB_TIMEOUT:-240}
while (($#)); do
  case $1 in
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --carry) carried+=("$(realpath "${2:?--carry needs a path}")"); shift 2 ;;
    --) shift; break ;;
    *) echo "lab-command: unknown option $1 (usage: see the top of $0)" >&2; exit 2 ;;
  esac
done
(($#)) || { echo "lab-command: no command given" >&2; exit 2; }

# sh_quote WORD: WORD as one single-quoted POSIX shell word (busybox sh reads run.sh).
sh_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

command_path=$(command -v "$1") || { echo "lab-command: $1: not found" >&2; exit 2; }
command_path=$(realpath "$command_path")
files=("$command_path" "${carried[@]}")
[[ $command_path == "$repo"/* ]] && files+=("$(dirname "$command_path")")
words=$(sh_quote "$command_path")
for arg in "${@:2}"; do
  words+=" $(sh_quote "$arg")"
  [[ -e $arg && $arg != - ]] || continue
  # Relative paths travel too: the command runs in the same folder in L1.
  files+=("$(realpath -s "$arg")")
  if [[ $arg == *.toml && -f $arg ]]; then
    while IFS= read -r path; do
      [[ -e $path ]] && files+=("$path")
    done < <(grep -o '"/[^"]*"' "$arg" | tr -d '"')
  fi
  # The build folder: the one holding the nvmevm that the command runs.
  [[ -z $build_dir && ${arg##*/} == nvmevm && -x $arg ]] && build_dir=$(dirname "$(realpath "$arg")")
done
[[ -n $build_dir ]] || build_dir=$repo/build

env_lines=""
while IFS= read -r name; do
  env_lines+="$name=$(sh_quote "${!name}")"$'\n'
done < <(compgen -e | grep -E '^(NVMEVM_|ASAN_|UBSAN_|LSAN_)' | grep -v '^NVMEVM_IN_LAB$' || true)

# One name per command line, so that logs of different tests do not overwrite each other.
name=cmd-$(basename "$command_path" .sh)-$(printf '%s\n' "$@" | sha256sum | cut -c1-10)
mkdir -p "$build_dir/lab"
output=$build_dir/lab/$name/output.txt
# A second try only when L1 itself never finished (no LAB-EXIT line: TCG's L1 froze, seen
# about once in 60 runs on a loaded machine); a command that fails or hangs inside L1 still
# ends with L1's own verdict and is never retried.
for attempt in 1 2; do
  set +e
  LAB_COMMAND_SH=$words LAB_COMMAND_FILES=$(printf '%s\n' "${files[@]}" | sort -u) \
    LAB_COMMAND_ENV=$env_lines LAB_COMMAND_CWD=$(sh_quote "$PWD") \
    "$repo/scripts/lab-run.sh" "$repo/tests/lab/host-command.sh" --name "$name" \
    --build-dir "$build_dir" --timeout "$timeout_s" >"$build_dir/lab/$name.verdict" 2>&1
  lab_rc=$?
  set -e
  [[ $lab_rc -ne 0 && $lab_rc -ne 77 && $attempt -eq 1 ]] || break
  grep -q '^LAB-EXIT=' "$output" 2>/dev/null && break
  echo "== L1 did not finish (no LAB-EXIT line): trying once more"
  cp "$build_dir/lab/$name.log" "$build_dir/lab/$name.frozen.log" 2>/dev/null || true
done

# The command's own output, as ctest shows it for a test that ran here.
echo "== in the nested lab's L1 (no usable /dev/kvm here; log: $build_dir/lab/$name.log)"
if [[ -f $output ]]; then
  sed -n '/^LAB-COMMAND-OUTPUT-BEGIN$/,/^LAB-COMMAND-OUTPUT-END /p' "$output" | sed '1d;$d'
  status=$(sed -n 's/^LAB-COMMAND-OUTPUT-END status=//p' "$output" | tail -n 1)
fi
case $lab_rc in
  0) exit 0 ;;
  77) cat "$build_dir/lab/$name.verdict"; exit 77 ;;
  *)
    grep -E '^(LAB-PROBLEM|LAB-VERDICT|lab-run: error)' "$build_dir/lab/$name.verdict" || cat "$build_dir/lab/$name.verdict"
    echo "FAIL: in the lab, the command exited ${status:-without a status}" >&2
    exit 1
    ;;
esac
