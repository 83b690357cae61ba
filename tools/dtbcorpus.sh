#!/usr/bin/env bash
# dtbcorpus.sh - build a corpus of device tree blobs nobody here wrote, for
# cross-checking build/host/fdtinfo (tools/fdtcheck.py) and seeding the fuzzer.
#
#   tools/dtbcorpus.sh [OUTDIR]      (default build/dtb-corpus; re-running is a no-op)
#
# 1. Linux 6.1 boards from Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz):
#    every RISC-V .dts and the arm64 boards of a few vendors with interesting
#    memory maps (Raspberry Pi 4 dma-ranges, HiSilicon NUMA distance maps, Amlogic
#    and NVIDIA reserved-memory pools), compiled as Linux's scripts/Makefile.lib
#    does: cpp -nostdinc -I scripts/dtc/include-prefixes -undef -D__DTS__
#    -x assembler-with-cpp, then dtc -O dtb -b 0 -i <dir> -i include-prefixes.
# 2. QEMU dumps (-M virt,dumpdtb=F) over many -smp/-m/NUMA settings, plus the
#    sifive_u and spike machines.  QEMU pads these to 1 MiB, past totalsize.
# 3. The project's own dts/ boards when build/dts/*.dtb exist.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
out=${1:-$build/dtb-corpus}
src=$build/linux-dts
tarball=/usr/src/linux-source-6.1.tar.xz
stamp_version=3		# the corpus; bump to rebuild it
linux_version=2		# the extracted Linux sources
arm64_vendors="broadcom hisilicon amlogic nvidia rockchip"

# Extract only the device tree sources and headers we need (one pass over the tarball).
extract_linux() {
	[ "$(cat "$src/.done" 2>/dev/null)" = "$linux_version" ] && return 0
	[ -f "$tarball" ] || { echo "dtbcorpus: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 1; }
	echo "dtbcorpus: extracting device trees from $(basename "$tarball")"
	rm -rf "$src" && mkdir -p "$src"
	local pats=("linux-source-6.1/arch/riscv/boot/dts/*" "linux-source-6.1/include/dt-bindings/*"
		    "linux-source-6.1/include/uapi/linux/input-event-codes.h"
		    "linux-source-6.1/scripts/dtc/include-prefixes/*"
		    "linux-source-6.1/arch/arm/boot/dts/bcm*" "linux-source-6.1/arch/arm/boot/dts/rk*")
	for v in $arm64_vendors; do pats+=("linux-source-6.1/arch/arm64/boot/dts/$v/*"); done
	tar -xJf "$tarball" -C "$src" --strip-components=1 --wildcards "${pats[@]}"
	echo "$linux_version" > "$src/.done"
}

# Compile one Linux .dts the way Linux does; prints nothing on success.
compile_dts() {
	local dts=$1 dtb=$2 tmp=$out/.tmp.dts
	cpp -nostdinc -I "$src/scripts/dtc/include-prefixes" -I "$(dirname "$dts")" -undef \
		-D__DTS__ -x assembler-with-cpp -o "$tmp" "$dts" 2>/dev/null &&
	dtc -q -O dtb -o "$dtb" -b 0 -i "$(dirname "$dts")" \
		-i "$src/scripts/dtc/include-prefixes" "$tmp" 2>/dev/null
}

linux_boards() {
	local ok=0 bad=0 dts name
	for dts in "$src"/arch/riscv/boot/dts/*/*.dts; do
		name=linux-riscv-$(basename "$dts" .dts).dtb
		if compile_dts "$dts" "$out/$name"; then ok=$((ok + 1)); else bad=$((bad + 1)); rm -f "$out/$name"; fi
	done
	for v in $arm64_vendors; do
		for dts in "$src"/arch/arm64/boot/dts/"$v"/*.dts; do
			name=linux-arm64-$v-$(basename "$dts" .dts).dtb
			if compile_dts "$dts" "$out/$name"; then ok=$((ok + 1)); else bad=$((bad + 1)); rm -f "$out/$name"; fi
		done
	done
	rm -f "$out/.tmp.dts"
	echo "dtbcorpus: linux: $ok compiled, $bad skipped (cpp/dtc failed)"
}

# One QEMU dump: qemu_dump NAME MACHINE ARGS...
qemu_dump() {
	local name=$1 machine=$2; shift 2
	qemu-system-riscv64 -M "$machine,dumpdtb=$out/qemu-$name.dtb" -display none "$@" \
		>/dev/null 2>&1 || { echo "dtbcorpus: qemu $name failed" >&2; rm -f "$out/qemu-$name.dtb"
				     qemu_failed=$((qemu_failed + 1)); }
}

# NUMA arguments: numa_args MEM_PER_NODE_LIST CPUS_PER_NODE; nodes get equal shares.
numa_args() {
	local sizes=$1 cpn=$2 i=0 s args=()
	for s in $sizes; do
		args+=(-object "memory-backend-ram,id=m$i,size=$s")
		if [ "$cpn" -gt 0 ]; then
			args+=(-numa "node,nodeid=$i,cpus=$((i * cpn))-$((i * cpn + cpn - 1)),memdev=m$i")
		else
			args+=(-numa "node,nodeid=$i,memdev=m$i")
		fi
		i=$((i + 1))
	done
	echo "${args[@]}"
}

qemu_dumps() {
	local smp m n
	for smp in 1 2 3 4 8 16 32 64 128; do
		for m in 128M 1G 6G 16G; do qemu_dump "virt-smp$smp-m$m" virt -smp "$smp" -m "$m"; done
	done
	# shellcheck disable=SC2046
	{
	qemu_dump virt-numa2 virt -smp 4 -m 2G $(numa_args "1G 1G" 2)
	qemu_dump virt-numa2-dist virt -smp 4 -m 6G $(numa_args "2G 4G" 2) -numa dist,src=0,dst=1,val=30
	qemu_dump virt-numa4-dist virt,aia=aplic-imsic -smp 8 -m 8G $(numa_args "2G 2G 2G 2G" 2) \
		-numa dist,src=0,dst=1,val=15 -numa dist,src=0,dst=2,val=25 -numa dist,src=0,dst=3,val=35 \
		-numa dist,src=1,dst=2,val=20 -numa dist,src=1,dst=3,val=30 -numa dist,src=2,dst=3,val=40
	# QEMU 7.2 cannot wire a PLIC for 4 sockets: 4-node boards use the AIA.
	# Asymmetric: 0->1 and 1->0 differ.  Once one pair is asymmetric QEMU 7.2
	# wants both directions of every pair ("please provide distances for both
	# directions of all node pairs"), so all twelve are given.
	qemu_dump virt-numa4-asym virt,aia=aplic-imsic -smp 8 -m 4G $(numa_args "1G 1G 1G 1G" 2) \
		-numa dist,src=0,dst=1,val=30 -numa dist,src=1,dst=0,val=40 \
		-numa dist,src=0,dst=2,val=20 -numa dist,src=2,dst=0,val=20 \
		-numa dist,src=0,dst=3,val=20 -numa dist,src=3,dst=0,val=20 \
		-numa dist,src=1,dst=2,val=20 -numa dist,src=2,dst=1,val=20 \
		-numa dist,src=1,dst=3,val=20 -numa dist,src=3,dst=1,val=20 \
		-numa dist,src=2,dst=3,val=20 -numa dist,src=3,dst=2,val=20
	qemu_dump virt-numa4-smp16 virt,aia=aplic-imsic -smp 16 -m 16G $(numa_args "4G 4G 4G 4G" 4)
	# Uneven nodes (QEMU virt refuses a node without harts).
	qemu_dump virt-numa2-uneven virt -smp 3 -m 3G \
		-object memory-backend-ram,id=m0,size=2560M -object memory-backend-ram,id=m1,size=512M \
		-numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1-2,memdev=m1
	}
	for n in aia=aplic aia=aplic-imsic aclint=on; do qemu_dump "virt-$n" "virt,$n" -smp 4 -m 1G; done
	for smp in 2 3 4 5; do qemu_dump "sifive_u-smp$smp" sifive_u -smp "$smp" -m 8G; done
	qemu_dump sifive_u-m1G sifive_u -smp 2 -m 1G
	for smp in 1 2 4 8; do qemu_dump "spike-smp$smp" spike -smp "$smp" -m 2G; done
	qemu_dump spike-m6G spike -smp 2 -m 6G
	echo "dtbcorpus: qemu: $(ls "$out"/qemu-*.dtb 2>/dev/null | wc -l) dumps, $qemu_failed failed"
}

own_boards() {
	local f n=0
	for f in "$build"/dts/*.dtb; do
		[ -f "$f" ] || continue
		cp "$f" "$out/project-$(basename "$f")"
		n=$((n + 1))
	done
	echo "dtbcorpus: project dts/: $n boards"
}

if [ "$(cat "$out/.done" 2>/dev/null)" = "$stamp_version" ]; then
	own_boards >/dev/null
	exit 0
fi
mkdir -p "$out"
extract_linux
linux_boards
qemu_failed=0
qemu_dumps
own_boards
# Every QEMU setting above is one QEMU accepts: a failed dump is a bug here.
[ "$qemu_failed" -eq 0 ] || { echo "dtbcorpus: $qemu_failed QEMU dumps failed" >&2; exit 1; }
echo "$stamp_version" > "$out/.done"
echo "dtbcorpus: $(ls "$out"/*.dtb | wc -l) blobs in $out"
