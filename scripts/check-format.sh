#!/usr/bin/env bash
# Fails, naming the files, when clang-format would change any of nvmevm's C/C++ sources.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.c' 2>/dev/null || find . -path ./build\* -prune -o \( -name '*.cc' -o -name '*.h' -o -name '*.c' \) -print)
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "clang-format would change: ${bad[*]}" >&2
  echo "fix with: clang-format -i ${bad[*]}" >&2
  exit 1
fi
echo "clang-format: ${#files[@]} files clean"
