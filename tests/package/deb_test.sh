#!/usr/bin/env bash
# Checks portrel as a Debian tool: `cmake --install` puts the man page and the
# completions where man and the shells look; `cpack -G DEB` makes one .deb whose
# Depends names the package of every shared library the binary needs (found by
# dpkg-shlibdeps) and which holds the tool only; and the binary taken out of it
# (dpkg -x, nothing installed) runs `doctor` and `who` without crashing.
set -euo pipefail
build=$1 cpack=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "package_deb: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in bin/portrel share/man/man1/portrel.1.gz share/bash-completion/completions/portrel \
         share/zsh/vendor-completions/_portrel share/fish/vendor_completions.d/portrel.fish \
         lib/libportrel.a; do
  [ -s "$tmp/prefix/$f" ] || fail "cmake --install did not install $f"
done
echo "cmake --install: binary, library, man page and completions in place"

if ! "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  fail "cpack -G DEB failed"
fi
debs=("$tmp"/pkg/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb, got: ${debs[*]}"
deb=${debs[0]}
depends=$(dpkg-deb -f "$deb" Depends)
echo "$(basename "$deb"): Depends: $depends"

# Each library the binary needs must be depended on, by the package that has it.
dep_names=$(tr ',|' '\n\n' <<<"$depends" | sed 's/^ *//; s/[ (].*//')
has_dep() { grep -qxF "$1" <<<"$dep_names"; }
for lib in libmnl0 libsqlite3-0; do has_dep "$lib" || fail "Depends lacks $lib"; done
for soname in $(readelf -d "$build/portrel" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  pkgs=$(dpkg -S "*/$soname" 2>/dev/null | sed 's/: .*//' | tr ',' '\n' |
         sed 's/^ *//; s/:.*//' | sort -u)
  [ -n "$pkgs" ] || fail "no installed package has $soname"
  found=""
  for p in $pkgs; do has_dep "$p" && found=$p; done
  [ -n "$found" ] || fail "Depends names none of the packages of $soname: $pkgs"
done

dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/bin/portrel ./usr/share/man/man1/portrel.1.gz \
         ./usr/share/bash-completion/completions/portrel \
         ./usr/share/zsh/vendor-completions/_portrel \
         ./usr/share/fish/vendor_completions.d/portrel.fish \
         ./usr/lib/systemd/system/portrel-record.service; do
  grep -qxF "$f" "$tmp/contents" || fail "the .deb lacks $f"
done
if grep -q 'libportrel\.a\|/include/' "$tmp/contents"; then
  fail "the .deb holds the library or its headers: they are not part of the tool"
fi
echo "dpkg-deb -c: binary, man page and completions; no library"

dpkg -x "$deb" "$tmp/root"
bin=$tmp/root/usr/bin/portrel
export PORTREL_STATE=off PORTREL_BPF_PINS=off  # leave this host's caches alone
"$bin" --version
rc=0
"$bin" doctor --format json >"$tmp/doctor.json" 2>"$tmp/doctor.err" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 3 ] || { cat "$tmp/doctor.err" >&2; fail "doctor exited $rc"; }
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/doctor.json" ||
  fail "doctor --format json printed no JSON"
rc=0
"$bin" who 1 >/dev/null 2>"$tmp/who.err" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 1 ] || { cat "$tmp/who.err" >&2; fail "who 1 exited $rc"; }
MANWIDTH=80 man -l "$tmp/root/usr/share/man/man1/portrel.1.gz" 2>&1 | grep -q 'EXIT STATUS' ||
  fail "man -l cannot read the packaged man page"
echo "dpkg -x: doctor --format json and who 1 ran; the packaged man page reads"
