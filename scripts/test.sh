#!/usr/bin/env bash
# Installs dependencies, builds with ASan+UBSan and warnings as errors, and runs
# every test: unit, live kernel (real processes, network namespaces) and CLI.
# Without arguments it then fuzzes each parser of untrusted bytes for a short
# while (scripts/fuzz.sh, 15 s each: a crash fails the run) and runs the
# kernel-dependent tests on Debian 12's kernel under QEMU and on the host
# (scripts/kernels.sh --ci, with these binaries); arguments go to ctest, and
# only ctest runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/deps.sh"
build="$root/build-test"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DPORTREL_SANITIZE=ON -DPORTREL_WERROR=ON -DPORTREL_TESTS=ON
ninja -C "$build"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
if [ $# -eq 0 ]; then
  bash "$root/scripts/fuzz.sh" 15
  bash "$root/scripts/kernels.sh" --ci --build "$build"
fi
