#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh <kver> [check]
#
# Build the out-of-tree module for one kernel of the matrix. Kbuild, VERSION,
# module/ and include/ are mirrored into build/<kver>/src/ (a file is copied only when
# its content changed, so kbuild rebuilds only what changed) and built with
# make -C <its headers> M=build/<kver>/src modules (the headers: those
# scripts/debian-kernels.sh unpacked, else /lib/modules/<kver>/build); the result is
# copied to build/<kver>/xpcopy.ko. A failed build removes that file, so that
# no stale module is ever tested.
#
# With "check", the module is built from scratch in build/<kver>/check/ with
# W=1 C=1 (extra gcc warnings, sparse), and any warning or error line in the
# output fails the build; the lines are kept in build/<kver>/check.log.
#
# Environment:
#	XPCOPY_MODULE_SRC  directory holding Kbuild, VERSION, module/, include/
#			   (default: the repository)
#	JOBS		   parallel jobs for kbuild (default: nproc)
#	XPCOPY_NO_MOUNTNS  1: build in a chroot (sid, bullseye) without a private mount
#			   namespace, as where unshare -m fails (to test that)
set -euo pipefail

kver=${1:?usage: build-module.sh <kver> [check]}
mode=${2:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
srcdir=${XPCOPY_MODULE_SRC:-$top}
build=${XPCOPY_BUILD:-$top/build}
# Debian 12's kernels: their headers as scripts/debian-kernels.sh unpacked
# them; else headers installed on the host.
kdir=${XPCOPY_KERNEL_CACHE:-/var/tmp/xpcopy-kernels}/$kver/usr/src/linux-headers-$kver
[ -f "$kdir/Makefile" ] || kdir=/lib/modules/$kver/build
jobs=${JOBS:-$(nproc)}

# A kernel whose headers need another toolchain than the host's (Debian
# sid's, scripts/sid.sh: a newer one; Debian 11's 5.10, scripts/bullseye.sh:
# gcc-10) is built inside its chroot: there the build tree is
# bind-mounted at /xpcopy-build and scripts/ at /xpcopy-scripts, in a
# private mount namespace that vanishes with the build; where there is none
# (unshare -m fails when / is not a mount point), in the current one, at
# names of this process's own, unmounted after each step.
# The bullseye chroot's headers are named by /usr/src: its
# /lib/modules/<kver>/build is an absolute symlink.
root=
if [ ! -f "$kdir/Makefile" ]; then
	for rk in "${XPCOPY_SID_CACHE:-/var/tmp/xpcopy-sid}/root:$kdir" \
		  "${XPCOPY_BULLSEYE_CACHE:-/var/tmp/xpcopy-bullseye}/root:/usr/src/linux-headers-$kver"; do
		if [ -f "${rk%%:*}${rk#*:}/Makefile" ]; then
			root=${rk%%:*}
			kdir=${rk#*:}
			break
		fi
	done
fi
# The debug kernel (scripts/debug-kernel.sh) is its cached build directory.
for d in "${XPCOPY_DEBUG_CACHE:-/var/tmp/xpcopy-debug}"/obj-*; do
	[ "$(cat "$d/.done" 2>/dev/null)" = "$kver" ] && kdir=$d
done
[ -f "$root$kdir/Makefile" ] || { echo "build-module: no $kdir" >&2; exit 1; }

case $mode in
build)	dest=$build/$kver/src ;;
check)	dest=$build/$kver/check ;;
*)	echo "build-module: unknown mode $mode" >&2; exit 2 ;;
esac

# Mirror the module sources into $dest.
mirror() {
	local f rel
	mkdir -p "$dest"
	(cd "$srcdir" && find Kbuild VERSION module include -type f \
		! -name '*.o' ! -name '*.ko' ! -name '*.mod' ! -name '*.mod.c' \
		! -name '.*.cmd' ! -name Module.symvers ! -name modules.order \
		! -name compat_probed.h) \
		>"$dest/.sources"
	while read -r rel; do
		if ! cmp -s "$srcdir/$rel" "$dest/$rel"; then
			mkdir -p "$(dirname "$dest/$rel")"
			cp "$srcdir/$rel" "$dest/$rel"
		fi
	done <"$dest/.sources"
	# Sources deleted from the repository go away here too.
	(cd "$dest" && find module include -type f \( -name '*.[ch]' -o -name Makefile \) 2>/dev/null) |
	while read -r rel; do
		[ "$rel" = module/compat_probed.h ] && continue
		grep -qxF -- "$rel" "$dest/.sources" || rm -f "$dest/$rel"
	done
}

mirror

# Run a command where the kernel's headers are; $M and $S name the build
# tree and scripts/ as that command sees them.
if [ -z "$root" ]; then
	M=$dest
	S=$top/scripts
	in_kbuild() { "$@"; }
elif [ "${XPCOPY_NO_MOUNTNS:-0}" != 1 ] && unshare -m true 2>/dev/null; then
	M=/xpcopy-build
	S=/xpcopy-scripts
	in_kbuild() {
		unshare -m sh -ec '
			r=$1 d=$2 s=$3; shift 3
			mkdir -p "$r/xpcopy-build" "$r/xpcopy-scripts"
			mount --bind "$d" "$r/xpcopy-build"
			mount --bind "$s" "$r/xpcopy-scripts"
			mount -t proc proc "$r/proc"
			exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
		' sh "$root" "$dest" "$top/scripts" "$@"
	}
else
	# No private mount namespace: unshare -m fails where / is not a mount
	# point (a build chroot or container: "cannot change root filesystem
	# propagation"). The same bind mounts then go into the current
	# namespace, under names of this process's own, and come off again
	# when the command ends, whatever its end; /proc is mounted only if
	# it is not yet, and then taken off too.
	echo "build-module: no private mount namespace (unshare -m fails here); bind mounts in $root, undone after each step" >&2
	M=/xpcopy-build.$$
	S=/xpcopy-scripts.$$
	in_kbuild() {
		(
			r=$root
			m=() p=
			undo() {
				local i
				for ((i = ${#m[@]} - 1; i >= 0; i--)); do
					umount "${m[i]}" || umount -l "${m[i]}" || true
				done
				rmdir "$r$M" "$r$S" 2>/dev/null || true
			}
			trap undo EXIT
			mkdir -p "$r$M" "$r$S"
			mount --bind "$dest" "$r$M" && m+=("$r$M")
			mount --bind "$top/scripts" "$r$S" && m+=("$r$S")
			if ! mountpoint -q "$r/proc"; then
				mount -t proc proc "$r/proc" && m+=("$r/proc")
			fi
			chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
		)
	}
fi
# Kernel API differences, found by compiling probes (module/compat.h). The
# probes take a kbuild run; they are run again only when they or the
# kernel's headers changed.
probe_key=$(
	cd "$top/scripts" &&
	{ cat compat-probe.sh compat/*.c 2>/dev/null
	  echo "$root$kdir"
	  stat -L -c '%n %s %Y' "$root$kdir/Makefile" "$root$kdir/Module.symvers" \
		"$root$kdir/include/generated/autoconf.h" 2>/dev/null
	} | sha256sum | cut -d' ' -f1)
if [ ! -f "$dest/module/compat_probed.h" ] ||
   [ "$(cat "$dest/.compat-probe-key" 2>/dev/null)" != "$probe_key" ]; then
	in_kbuild "$S/compat-probe.sh" "$kdir" "$M/module/compat_probed.h"
	echo "$probe_key" >"$dest/.compat-probe-key"
fi

if [ "$mode" = build ]; then
	rm -f "$build/$kver/xpcopy.ko"
	in_kbuild make -C "$kdir" M="$M" -j"$jobs" modules
	cp "$dest/xpcopy.ko" "$build/$kver/xpcopy.ko"
	echo "build-module: $build/$kver/xpcopy.ko"
	exit 0
fi

# check: a full build, so that every file is compiled and checked.
log=$build/$kver/check.log
in_kbuild make -C "$kdir" M="$M" clean >/dev/null
set +e
in_kbuild make -C "$kdir" M="$M" -j"$jobs" W=1 C=1 modules >"$log" 2>&1
rc=$?
set -e
cat "$log"
bad=$(grep -E -i 'warning|error' "$log" | grep -v -E '^make(\[[0-9]+\])?: (Entering|Leaving) directory' || true)
if [ $rc != 0 ] || [ -n "$bad" ]; then
	echo "build-module: $kver: W=1 C=1 build failed (make exit $rc); offending lines:" >&2
	echo "${bad:-(none: see $log)}" >&2
	exit 1
fi
echo "build-module: $kver: W=1 C=1 build clean"
