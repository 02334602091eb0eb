#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel test matrix, one kernel a line:
#
#	<kver> <vmlinuz> <KDIR>
#
# The matrix: Debian 11's 5.10 LTS kernel (scripts/bullseye.sh), Debian
# 12's two kernel series, the newest kernel of Debian sid (scripts/sid.sh),
# and a debug 6.12 kernel (scripts/debug-kernel.sh). A
# Debian 12 entry is an -amd64 kernel of the 6.1 or 6.12 series that
# scripts/debian-kernels.sh unpacked, image and headers, from its packages
# into its cache (scripts/deps.sh runs it); nothing is installed, /boot is
# not used. Versions are found at run time, never hard-coded. When the
# cache holds several kernels of one series, only the newest is kept.
#
# KERNELS="6.12" (space-separated substrings) keeps the kernels whose version
# contains one of the words, not followed by a digit: "6.1" selects
# 6.1.0-56-amd64 but not 6.12.117+deb12-amd64. The filter applies before
# the newest of each series is picked, so it can also select an older kernel.
#
# Exits 1, with a message on stderr, when the matrix is empty.
#
# With --cached (make kernels) it installs, fetches and builds nothing: the
# 5.10, sid and debug kernels are listed only when their caches already hold them
# (make check, make deps and the scripts above make them), else a note on
# stderr says so.
set -euo pipefail

cached=0
[ "${1:-}" != --cached ] || cached=1

series_re='^6\.(1|12)\.'

# Keep a kernel if KERNELS is unset or names it.
wanted() {
	local f rest
	[ -n "${KERNELS:-}" ] || return 0
	for f in $KERNELS; do
		rest=${1#*"$f"}
		[ "$rest" != "$1" ] || continue
		[[ $rest =~ ^[0-9] ]] || return 0
	done
	return 1
}

# cached_chroot <cache> <headers' directory in the chroot, <kver> for the
# version>: the matrix line of the kernel that scripts/bullseye.sh's or
# scripts/sid.sh's cache holds, image and headers both, else nothing. Those
# scripts keep one kernel a cache; were there more, the last in the glob's
# (alphabetical) order would be taken.
cached_chroot() {
	local v k kdir line=
	for v in "$1"/boot/vmlinuz-*; do
		[ -f "$v" ] || continue
		k=${v##*/vmlinuz-}
		kdir=${2//"<kver>"/"$k"}
		[ -f "$1/root$kdir/Makefile" ] || continue
		line="$k $v chroot:$1/root:$kdir"
	done
	echo "$line"
}

matrix=$(
	"$(dirname "$0")/debian-kernels.sh" --cached |
	while read -r kver vmlinuz kdir; do
		[[ $kver =~ $series_re ]] || continue
		[ -e "$vmlinuz" ] && [ -f "$kdir/Makefile" ] || continue
		wanted "$kver" || continue
		echo "$kver $vmlinuz $kdir"
	done | sort -V |
	awk '{ split($1, v, "."); series = v[1] "." v[2]
	       if (!(series in last)) order[n++] = series
	       last[series] = $0 }
	     END { for (i = 0; i < n; i++) print last[order[i]] }'
)

# Debian 11's 5.10 LTS kernel, built in a bullseye chroot (its headers want
# gcc-10): XPCOPY_BULLSEYE=0 leaves it out. Its line names the chroot, as
# sid's does; it comes first, the oldest kernel of the matrix. Without
# --cached, scripts/bullseye.sh (a debootstrap the first time) runs in the
# background while scripts/sid.sh runs.
bull=
bull_pid=
bull_out=
if [ "${XPCOPY_BULLSEYE:-1}" != 0 ] && [ $cached = 1 ]; then
	bull_cache=${XPCOPY_BULLSEYE_CACHE:-/var/tmp/xpcopy-bullseye}
	bull=$(cached_chroot "$bull_cache" "/usr/src/linux-headers-<kver>")
	[ -n "$bull" ] ||
		echo "kernels.sh: no Debian 11 (5.10) kernel in $bull_cache yet (scripts/bullseye.sh makes it)" >&2
elif [ "${XPCOPY_BULLSEYE:-1}" != 0 ] && wanted 5.10; then
	bull_out=$(mktemp)
	"$(dirname "$0")/bullseye.sh" >"$bull_out" &
	bull_pid=$!
fi

# The newest kernel Debian ships (sid's), built in a chroot: XPCOPY_SID=0
# leaves it out. Its line names the chroot instead of a KDIR on the host.
if [ "${XPCOPY_SID:-1}" != 0 ] && [ $cached = 1 ]; then
	sid_cache=${XPCOPY_SID_CACHE:-/var/tmp/xpcopy-sid}
	sid=$(cached_chroot "$sid_cache" "/lib/modules/<kver>/build")
	if [ -z "$sid" ]; then
		echo "kernels.sh: no Debian sid kernel in $sid_cache yet (scripts/sid.sh makes it)" >&2
	elif wanted "${sid%% *}"; then
		matrix=$(printf '%s\n%s' "$matrix" "$sid" | sed '/^$/d')
	fi
elif [ "${XPCOPY_SID:-1}" != 0 ]; then
	sid=$("$(dirname "$0")/sid.sh") || { echo "kernels.sh: scripts/sid.sh failed" >&2; exit 1; }
	if wanted "${sid%% *}"; then
		matrix=$(printf '%s\n%s' "$matrix" "$sid" | sed '/^$/d')
	fi
fi

if [ -n "$bull_pid" ]; then
	if ! wait "$bull_pid"; then
		rm -f "$bull_out"
		echo "kernels.sh: scripts/bullseye.sh failed" >&2
		exit 1
	fi
	bull=$(cat "$bull_out")
	rm -f "$bull_out"
fi
if [ -n "$bull" ] && wanted "${bull%% *}"; then
	matrix=$(printf '%s\n%s' "$bull" "$matrix" | sed '/^$/d')
fi

# kernels.sh --debug-name: only the debug kernel's name, when the matrix
# has it (XPCOPY_DEBUG and KERNELS allow it), without building it.
if [ "${1:-}" = --debug-name ]; then
	[ "${XPCOPY_DEBUG:-1}" != 0 ] || exit 0
	name=$("$(dirname "$0")/debug-kernel.sh" --name)
	! wanted "$name" || echo "$name"
	exit 0
fi

# The debug kernel (scripts/debug-kernel.sh: KASAN, lockdep, kmemleak, fault
# injection), built from linux-source-6.12 and cached: XPCOPY_DEBUG=0 leaves
# it out. Its line names its build directory as the KDIR.
# Not built at all when KERNELS leaves it out.
if [ "${XPCOPY_DEBUG:-1}" != 0 ] && [ $cached = 1 ]; then
	dbg=
	for d in "${XPCOPY_DEBUG_CACHE:-/var/tmp/xpcopy-debug}"/obj-*; do
		[ -f "$d/.done" ] || continue
		dbg="$(cat "$d/.done") $d/arch/x86/boot/bzImage $d"
	done
	if [ -z "$dbg" ]; then
		echo "kernels.sh: no debug kernel built yet (scripts/debug-kernel.sh builds it)" >&2
	elif wanted "${dbg%% *}"; then
		matrix=$(printf '%s\n%s' "$matrix" "$dbg" | sed '/^$/d')
	fi
elif [ "${XPCOPY_DEBUG:-1}" != 0 ] &&
   wanted "$("$(dirname "$0")/debug-kernel.sh" --name)"; then
	dbg=$("$(dirname "$0")/debug-kernel.sh") ||
		{ echo "kernels.sh: scripts/debug-kernel.sh failed" >&2; exit 1; }
	if wanted "${dbg%% *}"; then
		matrix=$(printf '%s\n%s' "$matrix" "$dbg" | sed '/^$/d')
	fi
fi

if [ -z "$matrix" ]; then
	echo "kernels.sh: no kernel of the matrix" \
	     "matches${KERNELS:+ KERNELS=\"$KERNELS\"} (run scripts/deps.sh)" >&2
	exit 1
fi
echo "$matrix"
