#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bullseye.sh: Debian 11's kernel (Linux 5.10 LTS), for the test matrix.
#
# Its headers were built with gcc-10, which Debian 12 does not have, so
# modules for it are built in a bullseye chroot, cached outside the
# repository (default /var/tmp/xpcopy-bullseye), as scripts/sid.sh does for
# sid. This script makes or refreshes that chroot (bullseye and
# bullseye-security), resolves the newest 5.10 kernel they carry today
# (through linux-image-amd64's dependency, never a hard-coded version),
# installs its headers there, fetches its image, and prints one matrix line:
#
#	<kver> <vmlinuz> chroot:<root>:<kdir inside the chroot>
#
# The package lists are refreshed at most every XPCOPY_BULLSEYE_REFRESH
# seconds (default 6 h); a kernel that was replaced is removed from the
# cache. The host's own apt configuration is never touched. Progress goes
# to stderr.
set -euo pipefail

cache=${XPCOPY_BULLSEYE_CACHE:-/var/tmp/xpcopy-bullseye}
root=$cache/root
refresh=${XPCOPY_BULLSEYE_REFRESH:-21600}
apt_opts=(-o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)

log() { echo "bullseye: $*" >&2; }

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
	log "debootstrap bullseye into $root (about a minute)"
	rm -rf "$root.new"
	debootstrap --variant=minbase bullseye "$root.new" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
	# The newest 5.10 build is often only in bullseye-security.
	cat >"$root.new/etc/apt/sources.list" <<-SOURCES
	deb $mirror bullseye main
	deb $mirror bullseye-updates main
	deb ${mirror%/debian}/debian-security bullseye-security main
	SOURCES
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

# The kernel linux-image-amd64 points at today, e.g. 5.10.0-37-amd64.
kver=$(in_root apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
	sed -n 's/^ *Depends: linux-image-\(5\.10\.[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
[ -n "$kver" ] || { log "cannot resolve bullseye's 5.10 kernel"; exit 1; }

# Not /lib/modules/<kver>/build: bullseye's is an absolute symlink, which
# outside the chroot points into the host.
kdir=/usr/src/linux-headers-$kver
if [ ! -f "$root$kdir/Makefile" ] || [ ! -x "$root/usr/bin/sparse" ]; then
	log "installing linux-headers-$kver in the chroot"
	in_root apt-get "${apt_opts[@]}" -y -qq install --no-install-recommends \
		"linux-headers-$kver" make sparse >"$cache/apt.log" 2>&1 ||
		{ tail -n 20 "$cache/apt.log" >&2; exit 1; }
	# Headers of a 5.10 kernel that was replaced go away.
	for old in "$root"/lib/modules/*; do
		[ "$(basename "$old")" = "$kver" ] && continue
		[ -d "$old" ] || continue
		in_root apt-get "${apt_opts[@]}" -y -qq purge \
			"linux-headers-$(basename "$old")" >&2 || true
	done
fi

vmlinuz=$cache/boot/vmlinuz-$kver
fuse=$cache/lib/modules/$kver/kernel/fs/fuse
if [ ! -f "$vmlinuz" ] || [ ! -e "$cache/boot/.fuse-kept-$kver" ]; then
	log "fetching the image of $kver"
	dl=$root/tmp/xpcopy-dl
	rm -rf "$dl"
	mkdir -p "$dl"
	in_root sh -c "cd /tmp/xpcopy-dl && apt-get ${apt_opts[*]} -qq download linux-image-$kver" >&2
	# The image, and of its modules (about 300 MB) only FUSE's, which
	# the guest loads for the isolation test.
	dpkg-deb --fsys-tarfile "$dl"/linux-image-"$kver"_*.deb |
		tar -x -C "$dl" --wildcards "./boot/vmlinuz-$kver" \
		    "./lib/modules/$kver/kernel/fs/fuse/*"
	mkdir -p "$cache/boot"
	rm -rf "$cache"/boot/vmlinuz-* "$cache"/boot/.fuse-kept-* "$cache/lib"
	if [ -d "$dl/lib/modules/$kver/kernel/fs/fuse" ]; then
		mkdir -p "$(dirname "$fuse")"
		cp -r "$dl/lib/modules/$kver/kernel/fs/fuse" "$fuse"
	fi
	cp "$dl/boot/vmlinuz-$kver" "$vmlinuz.tmp"
	mv "$vmlinuz.tmp" "$vmlinuz"
	touch "$cache/boot/.fuse-kept-$kver"
	rm -rf "$dl"
fi

echo "$kver $vmlinuz chroot:$root:$kdir"
