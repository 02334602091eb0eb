#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sid.sh: the newest kernel Debian ships (sid's), for the test matrix.
#
# Its headers need a newer gcc and glibc than Debian 12 has, so modules for
# it are built in a sid chroot, cached outside the repository (default
# /var/tmp/xpcopy-sid). This script makes or refreshes that chroot, resolves
# the kernel sid carries today (never a hard-coded version), installs its
# headers there, fetches its image, and prints one matrix line:
#
#	<kver> <vmlinuz> chroot:<root>:<kdir inside the chroot>
#
# The package lists are refreshed at most every XPCOPY_SID_REFRESH seconds
# (default 6 h), so a new sid kernel is picked up the same day; a kernel
# that was replaced is removed from the cache. The host's own apt
# configuration is never touched. Progress goes to stderr.
set -euo pipefail

cache=${XPCOPY_SID_CACHE:-/var/tmp/xpcopy-sid}
root=$cache/root
refresh=${XPCOPY_SID_REFRESH:-21600}
# The sid Release file is often past its Valid-Until date.
apt_opts=(-o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)

log() { echo "sid: $*" >&2; }

# The Debian mirror the host uses, or the default one.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive "$@"; }

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ ! -x "$root/usr/bin/apt-get" ]; then
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
	fi
	log "debootstrap sid into $root (about 30 s)"
	rm -rf "$root.new"
	debootstrap --variant=minbase sid "$root.new" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
	rm -rf "$root"
	mv "$root.new" "$root"
	rm -f "$cache/.updated"
fi

now=$(date +%s)
last=$(cat "$cache/.updated" 2>/dev/null || echo 0)
if [ $((now - last)) -ge "$refresh" ]; then
	log "apt-get update in the chroot"
	in_root apt-get "${apt_opts[@]}" -qq update >"$cache/apt.log" 2>&1 ||
		{ tail -n 20 "$cache/apt.log" >&2; exit 1; }
	echo "$now" >"$cache/.updated"
fi

# The kernel linux-image-amd64 points at today, e.g. 7.2.13+deb14-amd64.
kver=$(in_root apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
	sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
[ -n "$kver" ] || { log "cannot resolve sid's kernel"; exit 1; }

kdir=/lib/modules/$kver/build
if [ ! -f "$root$kdir/Makefile" ] || [ ! -x "$root/usr/bin/sparse" ]; then
	log "installing linux-headers-$kver in the chroot"
	in_root apt-get "${apt_opts[@]}" -y -qq install --no-install-recommends \
		"linux-headers-$kver" make sparse >"$cache/apt.log" 2>&1 ||
		{ tail -n 20 "$cache/apt.log" >&2; exit 1; }
	# Headers of a sid kernel that was replaced go away.
	for old in "$root"/lib/modules/*; do
		[ "$(basename "$old")" = "$kver" ] && continue
		[ -d "$old" ] || continue
		in_root apt-get "${apt_opts[@]}" -y -qq purge \
			"linux-headers-$(basename "$old")" >&2 || true
	done
fi

vmlinuz=$cache/boot/vmlinuz-$kver
if [ ! -f "$vmlinuz" ]; then
	log "fetching the image of $kver"
	dl=$root/tmp/xpcopy-dl
	rm -rf "$dl"
	mkdir -p "$dl"
	in_root sh -c "cd /tmp/xpcopy-dl && apt-get ${apt_opts[*]} -qq download linux-binary-$kver" >&2
	dpkg -x "$dl"/linux-binary-"$kver"_*.deb "$dl/x"
	mkdir -p "$cache/boot"
	rm -f "$cache"/boot/vmlinuz-*
	cp "$dl/x/usr/lib/modules/$kver/vmlinuz" "$vmlinuz.tmp"
	mv "$vmlinuz.tmp" "$vmlinuz"
	rm -rf "$dl"
fi

echo "$kver $vmlinuz chroot:$root:$kdir"
