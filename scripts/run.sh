#!/usr/bin/env bash
# Builds portrel (Release) if needed and runs it with the given arguments; with
# none, it prints the default view of the host's ports.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DPORTREL_TESTS=OFF >/dev/null
ninja -C "$root/build" portrel_cli >/dev/null
exec "$root/build/portrel" "$@"
