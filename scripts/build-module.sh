#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh <kver> [check]
#
# Build the out-of-tree module for one kernel of the matrix. Kbuild, module/
# and include/ are mirrored into build/<kver>/src/ (a file is copied only when
# its content changed, so kbuild rebuilds only what changed) and built with
# make -C /lib/modules/<kver>/build M=build/<kver>/src modules; the result is
# copied to build/<kver>/xpcopy.ko. A failed build removes that file, so that
# no stale module is ever tested.
#
# With "check", the module is built from scratch in build/<kver>/check/ with
# W=1 C=1 (extra gcc warnings, sparse), and any warning or error line in the
# output fails the build; the lines are kept in build/<kver>/check.log.
#
# Environment:
#	XPCOPY_MODULE_SRC  directory holding Kbuild, module/, include/
#			   (default: the repository)
#	JOBS		   parallel jobs for kbuild (default: nproc)
set -euo pipefail

kver=${1:?usage: build-module.sh <kver> [check]}
mode=${2:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
srcdir=${XPCOPY_MODULE_SRC:-$top}
build=${XPCOPY_BUILD:-$top/build}
kdir=/lib/modules/$kver/build
jobs=${JOBS:-$(nproc)}

[ -f "$kdir/Makefile" ] || { echo "build-module: no $kdir" >&2; exit 1; }

case $mode in
build)	dest=$build/$kver/src ;;
check)	dest=$build/$kver/check ;;
*)	echo "build-module: unknown mode $mode" >&2; exit 2 ;;
esac

# Mirror the module sources into $dest.
mirror() {
	local f rel
	mkdir -p "$dest"
	(cd "$srcdir" && find Kbuild module include -type f \
		! -name '*.o' ! -name '*.ko' ! -name '*.mod' ! -name '*.mod.c' \
		! -name '.*.cmd' ! -name Module.symvers ! -name modules.order) \
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
# Kernel API differences, found by compiling probes (module/compat.h). The
# probes take a kbuild run; they are run again only when they or the
# kernel's headers changed.
probe_key=$(
	cd "$top/scripts" &&
	{ cat compat-probe.sh compat/*.c 2>/dev/null
	  echo "$kdir"
	  stat -L -c '%n %s %Y' "$kdir/Makefile" "$kdir/Module.symvers" \
		"$kdir/include/generated/autoconf.h" 2>/dev/null
	} | sha256sum | cut -d' ' -f1)
if [ ! -f "$dest/module/compat_probed.h" ] ||
   [ "$(cat "$dest/.compat-probe-key" 2>/dev/null)" != "$probe_key" ]; then
	"$top/scripts/compat-probe.sh" "$kdir" "$dest/module/compat_probed.h"
	echo "$probe_key" >"$dest/.compat-probe-key"
fi

if [ "$mode" = build ]; then
	rm -f "$build/$kver/xpcopy.ko"
	make -C "$kdir" M="$dest" -j"$jobs" modules
	cp "$dest/xpcopy.ko" "$build/$kver/xpcopy.ko"
	echo "build-module: $build/$kver/xpcopy.ko"
	exit 0
fi

# check: a full build, so that every file is compiled and checked.
log=$build/$kver/check.log
make -C "$kdir" M="$dest" clean >/dev/null
set +e
make -C "$kdir" M="$dest" -j"$jobs" W=1 C=1 modules >"$log" 2>&1
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
