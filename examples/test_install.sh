#!/usr/bin/env bash
# Installs the built library into a scratch prefix, builds examples/ against it
# with find_package(portrel), and checks that the example finds a listener it
# did not create itself but this script did (a python listener on loopback).
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
listener=""
cleanup() { [ -n "$listener" ] && kill "$listener" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
flags=""
if grep -q '^PORTREL_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  flags="-fsanitize=address,undefined"
fi
cmake -S "$src/examples" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
ninja -C "$tmp/build" >/dev/null
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(60)' > "$tmp/port" &
listener=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
out=$("$tmp/build/listeners")
if ! grep -q "^tcp 127.0.0.1:$port inode [0-9]* held by $listener/fd" <<<"$out"; then
  echo "example did not report the listener on 127.0.0.1:$port held by pid $listener" >&2
  echo "$out" >&2
  exit 1
fi
echo "example found 127.0.0.1:$port held by $listener"
