#!/usr/bin/env bash
# The kernel matrix: portrel's kernel-dependent tests (scripts/kernels/guest.sh)
# on the kernels its users run. Each Debian kernel is fetched with apt into a
# cache (a private sources list and state: the host's apt setup and /boot are
# never touched), unpacked with dpkg-deb and booted under QEMU (TCG: no KVM
# needed) with a busybox initramfs that mounts the host's / read-only over
# virtio-9p under a tmpfs overlay (scripts/kernels/init). The guest's result is
# read from its console. The host's own kernel runs the same tests directly.
# Prints one line per kernel and exits non-zero when any test or guest failed.
#
#   bash scripts/kernels.sh [--ci] [--build DIR] [KERNEL...]
#
# KERNEL: 5.10 (Debian 11), 6.1 (Debian 12), 6.12 (Debian 12's newer kernel,
# the series Debian 13 runs), backports (the newest in trixie-backports), host;
# default: all of them. --ci: 6.1 and host, the bind rules in two base seeds
# (default ten), 900 s a guest. --build DIR: test the binaries of DIR (a build
# with PORTREL_TESTS=ON) instead of building build-kernels/build
# (RelWithDebInfo). Known failures, each explained, are listed in
# scripts/kernels/known-failures. Environment: PORTREL_KERNELS_CACHE, where debs
# and unpacked kernels are kept (default build-kernels/cache);
# PORTREL_KERNELS_LIMIT, the seconds a guest may run (default 2400);
# PORTREL_KERNELS_TESTS, a gtest filter that narrows the live tests run;
# PORTREL_JOBS, ninja's jobs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/scripts/kernels"
out="$root/build-kernels"
cache=${PORTREL_KERNELS_CACHE:-$out/cache}
limit=${PORTREL_KERNELS_LIMIT:-2400}
build="" bind_bases=10 kernels=()

die() {
  echo "portrel-kernels: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --ci) kernels+=(6.1 host) bind_bases=2 limit=${PORTREL_KERNELS_LIMIT:-900} ;;
    --build) build=$(cd "${2:?--build needs a directory}" && pwd); shift ;;
    5.10|6.1|6.12|backports|host) kernels+=("$1") ;;
    *) die "unknown argument $1 (kernels: 5.10 6.1 6.12 backports host)" ;;
  esac
  shift
done
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12 backports host)
[ "$(id -u)" = 0 ] || die "needs root (it runs the tests as root and QEMU reads the host's /)"
# A guest sees the host's / but its own /proc, /sys, /dev and /run.
for path in "$root" "$cache" "$build"; do
  case "$path/" in
    /proc/*|/sys/*|/dev/*|/run/*)
      die "$path is not seen by the guests: use a path outside /proc, /sys, /dev and /run" ;;
  esac
done

# Where each kernel comes from: the suite and the meta package whose
# dependency names the kernel image.
suite_of() {
  case "$1" in
    5.10) echo "bullseye-security linux-image-amd64" ;;
    6.1) echo "bookworm-security linux-image-amd64" ;;
    6.12) echo "bookworm-security linux-image-6.12-amd64" ;;
    backports) echo "trixie-backports linux-image-amd64" ;;
  esac
}

# The host's tools: portrel's build dependencies, QEMU, kmod (modprobe and
# depmod, also for the guests through the shared /) and cpio.
install_tools() {
  bash "$root/scripts/deps.sh"
  local missing=() p
  for p in qemu-system-x86 kmod cpio xz-utils zstd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "portrel-kernels: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>"$out/apt-install.err" ||
    die "cannot install ${missing[*]}: $(grep -m1 '^E:' "$out/apt-install.err" || tail -n1 "$out/apt-install.err")"
}

# apt with a state of its own under $cache/apt: only Debian's archive, signed
# with the keys of debian-archive-keyring.
aptc() {
  "$@" -o Dir::Etc::SourceList="$cache/apt/sources.list" \
    -o Dir::Etc::SourceParts="$cache/apt/sources.list.d" \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$cache/apt/preferences.d" \
    -o Dir::State::Lists="$cache/apt/lists" -o Dir::State::Status="$cache/apt/status" \
    -o Dir::Cache="$cache/apt/cache" -o APT::Sandbox::User=root -o Acquire::Languages=none \
    -o Acquire::Retries=2 -o Acquire::http::Timeout=30
}

refresh_lists() {
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" \
    "$cache/apt/sources.list.d" "$cache/apt/preferences.d" "$cache/debs" "$cache/kernels"
  touch "$cache/apt/status"
  local key=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "deb [signed-by=$key] http://deb.debian.org/debian bookworm main"
    echo "deb [signed-by=$key] http://deb.debian.org/debian-security bookworm-security main"
    echo "deb [signed-by=$key] http://deb.debian.org/debian-security bullseye-security main"
    echo "deb [signed-by=$key] http://deb.debian.org/debian trixie-backports main"
  } >"$cache/apt/sources.list"
  if ! aptc apt-get update -qq --error-on=any >"$cache/apt/update.log" 2>&1; then
    local why
    why=$(grep -m1 -E '^(E|W|Err):' "$cache/apt/update.log" || tail -n1 "$cache/apt/update.log")
    if ls "$cache"/kernels/*/ready >/dev/null 2>&1; then
      echo "portrel-kernels: cannot refresh the Debian archive's lists ($why): using the cache" >&2
    else
      die "cannot reach the Debian archive: $why"
    fi
  fi
}

# Downloads PACKAGE from SUITE into $cache/debs unless it is there; prints the file.
download() {
  local package=$1 suite=$2 file
  file=$(ls "$cache/debs/${package}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    (cd "$cache/debs" && aptc apt-get download -qq "$package/$suite" >"$cache/download.log" 2>&1) ||
      die "cannot download $package from $suite: $(grep -m1 -E '^(E|W):' "$cache/download.log" || tail -n1 "$cache/download.log")"
    file=$(ls "$cache/debs/${package}"_*.deb | head -n1)
  fi
  echo "$file"
}

# The first stanza's Depends of PACKAGE in SUITE, one name a line.
depends() {
  aptc apt-cache show "$1/$2" 2>/dev/null | awk '/^$/ {exit} /^Depends:/ {sub(/^Depends: /, ""); print}' |
    tr ',' '\n' | sed -e 's/^ *//' -e 's/[ |].*//'
}

# A static busybox (Debian 12's busybox-static) for the initramfs.
busybox_binary() {
  local dir="$cache/busybox" deb
  if [ ! -x "$dir/bin/busybox" ]; then
    rm -rf "$dir"
    deb=$(download busybox-static bookworm) || exit 1
    dpkg-deb -x "$deb" "$dir"
  fi
  echo "$dir/bin/busybox"
}

# Fetches and unpacks KERNEL (once) and makes its initramfs; prints the
# kernel's directory: root/ (the unpacked packages, with modules.dep),
# release, vmlinuz, initrd.gz.
prepare_kernel() {
  local kernel=$1 suite meta image abi dir
  read -r suite meta <<<"$(suite_of "$kernel")"
  image=$(depends "$meta" "$suite" | grep -m1 '^linux-image-' || true)
  if [ -z "$image" ]; then
    # Offline: the newest kernel of this series already unpacked.
    dir=$(ls -d "$cache/kernels/$kernel-"* 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$dir" ] && [ -e "$dir/ready" ] || die "$kernel: no $meta in $suite"
    echo "portrel-kernels: $kernel: no $meta in $suite's lists: using $dir" >&2
    fresh_initrd "$dir" || exit 1
    echo "$dir"
    return
  fi
  abi=${image#linux-image-}
  dir="$cache/kernels/$kernel-$abi"
  if [ ! -e "$dir/ready" ]; then
    echo "portrel-kernels: $kernel: fetching $image from $suite" >&2
    rm -rf "$dir"
    mkdir -p "$dir/root"
    local p deb
    for p in "$image" $(depends "$image" "$suite" | grep -- "-$abi\$" || true); do
      deb=$(download "$p" "$suite") || exit 1
      dpkg-deb -x "$deb" "$dir/root"
    done
    # Debian 13's packages have usr/lib/modules only: kmod looks in lib/modules.
    [ -e "$dir/root/lib" ] || ln -s usr/lib "$dir/root/lib"
    local release
    release=$(ls "$dir/root/lib/modules")
    [ "$(echo "$release" | wc -l)" = 1 ] || die "$kernel: not one release in $image: $release"
    depmod -b "$dir/root" "$release"
    echo "$release" >"$dir/release"
    local vmlinuz
    for vmlinuz in "$dir/root/boot/vmlinuz-$release" "$dir/root/lib/modules/$release/vmlinuz" ""; do
      [ -z "$vmlinuz" ] || [ -e "$vmlinuz" ] && break
    done
    [ -n "$vmlinuz" ] || die "$kernel: no vmlinuz in $image"
    ln -sf "$vmlinuz" "$dir/vmlinuz"
    touch "$dir/ready"
  fi
  fresh_initrd "$dir" || exit 1
  echo "$dir"
}

# Makes DIR's initramfs again when init, or this script, is newer than it.
fresh_initrd() {
  local dir=$1
  if [ ! -e "$dir/initrd.gz" ] || [ "$here/init" -nt "$dir/initrd.gz" ] ||
     [ "${BASH_SOURCE[0]}" -nt "$dir/initrd.gz" ]; then
    make_initrd "$dir" "$(cat "$dir/release")" || exit 1
  fi
}

# The initramfs of the kernel in DIR: busybox, init, and the modules (with
# their dependencies, uncompressed, in load order) that init needs to mount
# the host's / under an overlay, and those of the protocols under test.
make_initrd() {
  local dir=$1 release=$2 stage bb loads
  bb=$(busybox_binary) || exit 1
  loads=$(for m in virtio_pci 9pnet_virtio 9p overlay; do
            modprobe -d "$dir/root" -S "$release" --show-depends "$m" || exit 1
          done) || die "$release: modprobe cannot resolve the virtio, 9p and overlay modules"
  # The protocols portrel reads through a diag module its users' kernels
  # load on demand (the guest has no modprobe): vsock (and its loopback
  # transport, for a connection), SCTP and DCCP (and its IPv4 and IPv6
  # halves, which socket() would load). A kernel without one tests the
  # fallback.
  loads+=$'\n'$(for m in vsock_diag vsock_loopback sctp_diag dccp_diag dccp_ipv4 dccp_ipv6; do
                  modprobe -d "$dir/root" -S "$release" --show-depends "$m" 2>/dev/null
                done)
  stage=$(mktemp -d "$cache/initrd-XXXXXX")
  mkdir -p "$stage/bin" "$stage/modules"
  cp "$bb" "$stage/bin/busybox"
  cp "$here/init" "$stage/init"
  chmod 755 "$stage/init"
  : >"$stage/modules/order"
  local line path name
  while read -r line; do
    case "$line" in
      insmod\ *) path=$(echo "$line" | awk '{print $2}') ;;
      *) continue ;;  # builtin
    esac
    name=$(basename "$path")
    name=${name%.xz}
    name=${name%.zst}
    grep -qx "$name" "$stage/modules/order" && continue
    case "$path" in
      *.xz) xz -dc "$path" >"$stage/modules/$name" ;;
      *.zst) zstd -qdc "$path" >"$stage/modules/$name" ;;
      *) cp "$path" "$stage/modules/$name" ;;
    esac
    echo "$name" >>"$stage/modules/order"
  done <<<"$loads"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initrd.gz"
  rm -rf "$stage"
}

# Builds the test binaries unless --build named them.
build_tests() {
  [ -n "$build" ] && return
  build="$out/build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPORTREL_TESTS=ON >/dev/null
  nice -n 19 ninja -C "$build" -j "${PORTREL_JOBS:-$(nproc)}" live_tests unit_tests portrel_cli
}

qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ]; then kill -- "$qemu_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Boots KERNEL's directory DIR and runs guest.sh in it; the console goes to LOG.
boot() {
  local dir=$1 log=$2 release
  release=$(cat "$dir/release")
  timeout --kill-after=20 "$limit" qemu-system-x86_64 \
    -accel tcg -cpu max -m 2G -smp 2 -nographic -no-reboot -nic none \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.gz" \
    -fsdev "local,id=host,path=/,security_model=none,readonly=on,multidevs=remap" \
    -device virtio-9p-pci,fsdev=host,mount_tag=host \
    -append "console=ttyS0 panic=-1 loglevel=4 portrel.run=$here/guest.sh \
portrel.modules=$dir/root/lib/modules/$release portrel.build=$build \
portrel.bind_bases=$bind_bases portrel.limit=$inner portrel.live=${PORTREL_KERNELS_TESTS:-}" \
    </dev/null >"$log" 2>&1 &
  qemu_pid=$!
  local code=0
  wait "$qemu_pid" || code=$?
  qemu_pid=""
  if [ "$code" = 124 ]; then echo "portrel-kernels: guest stopped after $limit s" >>"$log"; fi
  return 0
}

# The guest's own limit for each test binary: the rest is for booting and doctor.
inner=$((limit > 240 ? limit - 120 : limit / 2))
mkdir -p "$out/logs"
install_tools
need_vm=""
for k in "${kernels[@]}"; do [ "$k" = host ] || need_vm=1; done
if [ -n "$need_vm" ]; then
  refresh_lists
  dirs=()
  for k in "${kernels[@]}"; do
    d=""
    if [ "$k" != host ]; then d=$(prepare_kernel "$k") || exit 1; fi
    dirs+=("$d")
  done
fi
build_tests
[ -x "$build/live_tests" ] && [ -x "$build/unit_tests" ] && [ -x "$build/portrel" ] ||
  die "$build has no live_tests, unit_tests and portrel (configure it with -DPORTREL_TESTS=ON)"

# The failures of KERNEL that scripts/kernels/known-failures explains, one
# test name a line.
known_failures() {
  awk -v k="$1" '$1 == k { sub(/:$/, "", $2); print $2 }' "$here/known-failures" | sort -u
}

table="$out/kernels.md"
{
  echo "| kernel | release | bpf parts | not loaded | passed | failed | skipped | UDP SO_REUSEPORT rule | TCP ::ffff:0.0.0.0 found | TCP first bind sets shortcut | seconds |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$table"
printf '%-10s %-24s %-5s %-20s %6s %-14s %7s %-12s %-10s %-11s %7s\n' \
  KERNEL RELEASE PARTS "NOT LOADED" PASSED FAILED SKIPPED "UDP RULE" "MAPPED ANY" "FIRST BIND" SECONDS
field() { echo "$result" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
status=0
for i in "${!kernels[@]}"; do
  k=${kernels[$i]}
  log="$out/logs/$k.log"
  started=$(date +%s)
  if [ "$k" = host ]; then
    timeout --kill-after=20 "$limit" bash "$here/guest.sh" "$build" "$bind_bases" "$inner" \
      "${PORTREL_KERNELS_TESTS:-}" \
      >"$log" 2>&1 || true
  else
    boot "${dirs[$i]}" "$log"
  fi
  seconds=$(($(date +%s) - started))
  result=$(tr -d '\r' <"$log" | grep -a '^portrel-kernels: result ' | tail -n1 || true)
  if [ -z "$result" ]; then
    why=$(tr -d '\r' <"$log" | grep -a -E '^portrel-kernels: (init|guest)' | tail -n1 || true)
    [ -n "$why" ] || why=$(tr -d '\r' <"$log" | grep -a -v '^[[:space:]]*$' | tail -n1 || true)
    printf '%-10s no result: %s (console in %s)\n' "$k" "${why:-an empty console}" "$log"
    echo "| $k | ? | | | | no result | | | | | $seconds |" >>"$table"
    status=1
    continue
  fi
  failed=$(tr -d '\r' <"$log" | sed -n 's/^portrel-kernels: failed \([^ :]*\).*/\1/p' | sort -u)
  known=$(known_failures "$k")
  unexpected=$(comm -23 <(echo "$failed") <(echo "$known") | grep . || true)
  explained=$(comm -12 <(echo "$failed") <(echo "$known") | grep . || true)
  fixed=$(comm -13 <(echo "$failed") <(echo "$known") | grep . || true)
  # A test binary without a report (a crash, a timeout) says nothing of its tests.
  if echo "$failed" | grep -q -v -e '\.' -e '^$'; then fixed=""; fi
  count() { if [ -z "$1" ]; then echo 0; else echo "$1" | wc -l; fi; }
  shown="$(count "$failed")"
  [ -z "$explained" ] || shown="$shown ($(count "$explained") known)"
  printf '%-10s %-24s %-5s %-20s %6s %-14s %7s %-12s %-10s %-11s %7s\n' "$k" "$(field kernel)" \
    "$(field parts)" "$(field refused)" "$(field passed)" "$shown" \
    "$(field skipped)" "$(field udp_rule)" "$(field tcp_mapped_any)" "$(field tcp_first_bind)" "$seconds"
  echo "| $k | $(field kernel) | $(field parts) | $(field refused | sed 's/,/, /g') | $(field passed) | $shown | $(field skipped) | $(field udp_rule) | $(field tcp_mapped_any) | $(field tcp_first_bind) | $seconds |" >>"$table"
  for t in $unexpected; do
    echo "    failed: $(tr -d '\r' <"$log" | awk -v t="portrel-kernels: failed $t" \
      'index($0, t) == 1 { sub(/^portrel-kernels: failed /, ""); print; exit }')"
  done
  for t in $explained; do
    echo "    known:  $t ($(awk -v k="$k" -v t="$t" '$1 == k && ($2 == t || $2 == t ":") {
      $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$here/known-failures"))"
  done
  for t in $fixed; do
    echo "    no longer fails: $t (remove it from scripts/kernels/known-failures)"
  done
  if [ -n "$unexpected" ] || [ -n "$fixed" ]; then status=1; fi
done
echo "portrel-kernels: console logs in $out/logs, the table in $table" >&2
exit "$status"
