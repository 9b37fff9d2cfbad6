#!/usr/bin/env bash
# Builds portrel (Release) if needed and runs it with the given arguments; with
# none, it prints the default view of the host's ports.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
# Warnings are errors only in the test build (scripts/test.sh): a newer or older
# compiler's new warning must not stop a user from building.
log=$(mktemp)
if ! { cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
         -DPORTREL_TESTS=OFF -DPORTREL_WERROR=OFF &&
       ninja -C "$root/build" portrel_cli; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "portrel: build failed (output above)" >&2
  rm -f "$log"
  exit 2
fi
rm -f "$log"
exec "$root/build/portrel" "$@"
