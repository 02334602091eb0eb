#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh: the debug guest kernel, for the test matrix.
#
# Built from the installed linux-source-6.12 package with
# x86_64_defconfig + kvm_guest.config + scripts/debug-kernel/debug.config
# (KASAN, lockdep, kmemleak, fault injection, ...), out of tree, and cached
# outside the repository (default /var/tmp/xpcopy-debug). The cache is keyed
# by the source package's version, the config fragment and the build recipe
# (the commands below, named by $recipe): the key is part of the kernel's
# release string, so a change to any builds a new kernel and the old one is
# removed. Prints one matrix line:
#
#	<kver> <vmlinuz> <kdir>
#
# <kdir> is the build directory, which holds the Module.symvers an
# out-of-tree module build needs ("make bzImage modules" writes it).
# Progress goes to stderr, the build's output to <cache>/obj-<key>.log.
# With --name it only prints the <kver> it builds (or built), at once.
#
# Environment:
#	XPCOPY_DEBUG_CACHE  the cache directory (default /var/tmp/xpcopy-debug)
#	JOBS		    parallel jobs (default: nproc)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${XPCOPY_DEBUG_CACHE:-/var/tmp/xpcopy-debug}
tarball=/usr/src/linux-source-6.12.tar.xz
fragment=$here/debug-kernel/debug.config
jobs=${JOBS:-$(nproc)}

log() { echo "debug-kernel: $*" >&2; }

[ -f "$tarball" ] || { log "no $tarball (scripts/deps.sh installs linux-source-6.12)"; exit 1; }
srcver=$(dpkg-query -W -f '${Version}' linux-source-6.12)
# Change this when the configure or build commands below change.
recipe="defconfig+kvm_guest+fragment; bzImage modules; v1"
key=$( { echo "$srcver"; echo "$recipe"; cat "$fragment"; } | sha256sum | cut -c1-8)

upstream=${srcver%%-*}
name=$upstream-xpcopy-debug-$key
if [ "${1:-}" = --name ]; then
	echo "$name"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

src=$cache/src-$srcver
obj=$cache/obj-$key

# What the hardening tests need (issue #6): without any of these the debug
# kernel is no debug kernel, and its tests would skip or prove nothing.
required="KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_VM DEBUG_KMEMLEAK
	HARDENED_USERCOPY FAILSLAB FAIL_PAGE_ALLOC FAULT_INJECTION_USERCOPY
	FAIL_FUNCTION KPROBES_ON_FTRACE USERFAULTFD TRANSPARENT_HUGEPAGE HUGETLBFS"
check_required() {
	local opt lost=
	for opt in $required; do
		grep -qx "CONFIG_$opt=y" "$1" || lost+=" CONFIG_$opt"
	done
	[ -z "$lost" ] && return 0
	log "$1 lacks what the tests need:$lost"
	return 1
}

if [ -f "$obj/.done" ]; then
	check_required "$obj/.config" || exit 1
	kver=$(cat "$obj/.done")
	echo "$kver $obj/arch/x86/boot/bzImage $obj"
	exit 0
fi

# Older builds and sources are replaced, not kept.
for d in "$cache"/obj-* "$cache"/src-*; do
	[ -e "$d" ] || continue
	[ "$d" = "$obj" ] || [ "$d" = "$src" ] || { log "removing old $d"; rm -rf "$d"; }
done

if [ ! -f "$src/.done" ]; then
	log "extracting linux-source-6.12 $srcver"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xf "$tarball" -C "$src.tmp" --strip-components=1
	touch "$src.tmp/.done"
	mv "$src.tmp" "$src"
fi

# An interrupted build goes on where it stopped: kbuild rebuilds only what
# is missing or out of date.
t0=$(date +%s)
mkdir -p "$obj"
klog=$cache/obj-$key.log
log "configuring in $obj (log: $klog)"
{
	make -C "$src" O="$obj" x86_64_defconfig
	make -C "$src" O="$obj" kvm_guest.config
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment"
	make -C "$src" O="$obj" LOCALVERSION="-xpcopy-debug-$key" olddefconfig
} >"$klog" 2>&1 || { log "configuration failed: see $klog"; exit 1; }

# Every option of the fragment must have survived olddefconfig (a missing
# dependency silently drops one).
missing=
while IFS= read -r line; do
	case $line in
	CONFIG_*=n) opt=${line%=n}
		grep -q "^$opt=" "$obj/.config" && missing+=" $line" ;;
	CONFIG_*=*) grep -qxF "$line" "$obj/.config" || missing+=" $line" ;;
	esac
done <"$fragment"
[ -z "$missing" ] || log "note: not as the fragment asks (dependencies):$missing"
check_required "$obj/.config" || exit 1

log "building bzImage and modules with -j$jobs (about 10 minutes on 2 cores)"
make -C "$src" O="$obj" LOCALVERSION="-xpcopy-debug-$key" -j"$jobs" bzImage modules \
	>>"$klog" 2>&1 || { log "build failed: see $klog"; tail -n 20 "$klog" >&2; exit 1; }
kver=$(make -s -C "$src" O="$obj" LOCALVERSION="-xpcopy-debug-$key" kernelrelease 2>/dev/null | tail -n 1)
[ "$kver" = "$name" ] || log "note: the kernel calls itself $kver, not $name"
echo "$kver" >"$obj/.done"
log "built $kver in $(( $(date +%s) - t0 )) s"
echo "$kver $obj/arch/x86/boot/bzImage $obj"
