#!/usr/bin/env bash
# The layering rule (docs/architecture.md): a folder includes only itself and folders below it.
# The order, lowest first, is written here and nowhere else. Exits 1 and names every include
# that points up (file:line), 0 when there is none.
#   scripts/check-layers.sh [REPO]
set -euo pipefail
repo=${1:-$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
layers="foundation devices boot storage nvme virtio vmm cli"

cd "$repo"
# shellcheck disable=SC2086  # the layer names are folder names
files=$(find $layers -maxdepth 1 -type f \( -name '*.h' -o -name '*.cc' \) | sort)
[[ -n $files ]] || { echo "check-layers: no source files under $repo" >&2; exit 2; }
# file:line:#include "folder/name.h" -> one verdict per include that points up or out.
# shellcheck disable=SC2086
grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' $files |
  awk -v layers="$layers" '
    BEGIN { n = split(layers, order, " "); for (i = 1; i <= n; i++) rank[order[i]] = i }
    {
      split($0, at, ":"); file = at[1]; line = at[2]
      match($0, /"[^"]*"/); target = substr($0, RSTART + 1, RLENGTH - 2)
      split(file, f, "/"); split(target, t, "/")
      if (!(t[1] in rank)) { printf "%s:%s: includes \"%s\", outside every layer\n", file, line, target; bad = 1 }
      else if (rank[t[1]] > rank[f[1]]) {
        printf "%s:%s: %s/ includes \"%s\": %s/ is above %s/\n", file, line, f[1], target, t[1], f[1]; bad = 1
      }
    }
    END { exit bad }' >&2 || {
  echo "check-layers: includes point up (order, lowest first: $layers)" >&2
  exit 1
}
echo "check-layers: $(wc -l <<<"$files") files, every include points down ($layers)"
