#!/usr/bin/env bash
# Install everything the build and the tests need, from Debian only, and cache the
# upstream libfdt sources (from Debian's linux-source-6.1) under build/libfdt-src.
# Re-running it when everything is present does nothing.
set -euo pipefail

# Bump when the extracted set changes so caches are rebuilt.
stamp_version=2

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}

pkgs=(gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf qemu-system-misc opensbi
      device-tree-compiler libfdt-dev linux-source-6.1 libcmocka-dev clang lld
      libclang-rt-14-dev python3 python3-libfdt xz-utils cpp make gcc
      gdb-multiarch chromium fonts-dejavu-core libjemalloc2 libtcmalloc-minimal4
      libmimalloc2.0 valgrind)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq || true
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Upstream libfdt for the RISC-V build, taken from the Linux source tarball.
src=$build/libfdt-src
if [ "$(cat "$src/.done" 2>/dev/null)" != "$stamp_version" ]; then
	echo "deps: extracting libfdt from linux-source-6.1"
	tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
	[ -n "$tarball" ] || { echo "deps: /usr/src/linux-source-6.1.tar.xz missing" >&2; exit 1; }
	rm -rf "$src" && mkdir -p "$src"
	# libfdt_env.h is left out: the kernel supplies a freestanding one
	# (kernel/libfdt_env.h) and host builds use libfdt-dev's.
	tar -xJf "$tarball" -C "$src" --strip-components=4 \
		--exclude='*/libfdt_env.h' --wildcards 'linux-source-6.1/scripts/dtc/libfdt/*'
	echo "$stamp_version" > "$src/.done"
fi
