#!/usr/bin/env bash
# Installs the Debian 12 packages portrel builds and tests with (as root).
# Skips apt entirely when everything is already there.
set -euo pipefail
packages=(g++ cmake ninja-build pkg-config libmnl-dev libfmt-dev nlohmann-json3-dev
          libcli11-dev libsqlite3-dev libgtest-dev libgmock-dev iproute2 netbase procps
          lsof net-tools python3 clang llvm libbpf-dev bpftool libgraphviz-dev
          dpkg-dev man-db zsh fish nginx-light socat
          libcpp-httplib-dev prometheus
          podman runc conmon netavark aardvark-dns iptables nftables catatonit busybox-static
          clang-16 libclang-rt-16-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "portrel: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Packages install their services (nginx) without starting them: the tests
  # start their own, on loopback, and stop them.
  policy=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$made_policy" ]; then rm -f "$policy"; fi
fi
