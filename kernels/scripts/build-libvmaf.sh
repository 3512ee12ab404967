#!/usr/bin/env bash
# Builds Netflix's libvmaf `vmaf` tool (release, asm and AVX-512 paths on) from a source
# snapshot, for head-to-head speed runs: `shotfarm bench vmaf --libvmaf PATH`.
#
#   kernels/scripts/build-libvmaf.sh PREFIX [TARBALL]
#
# TARBALL defaults to /work/shared/vmaf/libvmaf-f85a853.tar.gz (libvmaf/ + model/ at
# commit f85a853). meson, ninja and nasm come from the package registry when missing
# (Debian: apt-get install meson ninja-build nasm). The last line printed is the path of
# the installed `vmaf` tool.
set -euo pipefail

usage() { echo "usage: $0 PREFIX [TARBALL]   (builds libvmaf into PREFIX, prints PREFIX/bin/vmaf)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
tarball=${2:-/work/shared/vmaf/libvmaf-f85a853.tar.gz}
[ -f "$tarball" ] || { echo "no libvmaf source snapshot at $tarball: pass its path as the second argument" >&2; exit 1; }

missing=()
command -v meson >/dev/null || missing+=(meson)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v nasm >/dev/null || missing+=(nasm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get)" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y "${missing[@]}" >&2 \
    || { echo "cannot install ${missing[*]}: install meson, ninja and nasm (>= 2.14) yourself" >&2; exit 1; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xzf "$tarball" -C "$work"
[ -f "$work/libvmaf/meson.build" ] || { echo "$tarball holds no libvmaf/meson.build" >&2; exit 1; }

meson setup "$work/build" "$work/libvmaf" --buildtype release --prefix "$prefix" --libdir lib \
  -Denable_asm=true -Denable_avx512=true -Denable_tests=false -Denable_docs=false \
  -Denable_tools=true -Dbuilt_in_models=true -Ddefault_library=static >&2
ninja -C "$work/build" >&2
ninja -C "$work/build" install >&2
[ -x "$prefix/bin/vmaf" ] || { echo "the build installed no $prefix/bin/vmaf" >&2; exit 1; }
echo "$prefix/bin/vmaf"
