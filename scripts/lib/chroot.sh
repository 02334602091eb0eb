# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# lib/chroot.sh: the cached Debian chroot of scripts/bullseye.sh and
# scripts/sid.sh, sourced by both.
#
# A kernel whose headers need another toolchain than the host's has its
# modules built in a chroot of the Debian suite that ships it, cached
# outside the repository. What the two scripts do alike is here: make or
# refresh that chroot, resolve the kernel its linux-image-amd64 points at
# today (never a hard-coded version), install that kernel's headers, fetch
# its image into the cache and print the matrix line. What differs stays in
# each script: the suite and its apt sources, which kernels it may resolve,
# where the headers are, which package holds the image and what of that
# package the cache keeps.
#
# A script sets, before it sources this file,
#
#	suite	the suite, as debootstrap names it; also the prefix of the
#		progress lines
#	cache	the cache directory; the chroot is $cache/root
#	refresh	seconds after which the chroot's package lists are refreshed
#
# and then calls, in this order, chroot_ready, chroot_kernel,
# chroot_headers, chroot_download and chroot_keep_vmlinuz (when the cache
# does not hold the image yet), and chroot_line. The host's own apt
# configuration is never touched; progress goes to stderr.

: "${suite:?}" "${cache:?}" "${refresh:?}"
root=$cache/root
# A suite's Release file, sid's often, can be past its Valid-Until date.
apt_opts=(-o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)

log() { echo "$suite: $*" >&2; }

# The Debian mirror the host uses, or the default one.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive "$@"; }

# chroot_ready <how long debootstrap takes> [<sources.list>]
#
# Takes the cache's lock, held until the script ends, so that two runs do
# not build or update one chroot at once. Makes the chroot with debootstrap
# when there is none, with <sources.list> as its apt sources if given (else
# debootstrap's, which name the suite alone), and refreshes its package
# lists when they are older than $refresh seconds.
chroot_ready() {
	local now last

	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9

	if [ ! -x "$root/usr/bin/apt-get" ]; then
		if ! command -v debootstrap >/dev/null; then
			log "installing debootstrap"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
		fi
		log "debootstrap $suite into $root ($1)"
		rm -rf "$root.new"
		debootstrap --variant=minbase "$suite" "$root.new" "$mirror" \
			>"$cache/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
		[ -z "${2:-}" ] || printf '%s\n' "$2" >"$root.new/etc/apt/sources.list"
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
}

# chroot_kernel <sed pattern of the version> <what it is, for the error>
#
# Sets kver to the kernel linux-image-amd64 points at today, the version
# in its dependency linux-image-<version> that the pattern matches, and
# vmlinuz to where the cache keeps that kernel's image.
chroot_kernel() {
	kver=$(in_root apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
		sed -n 's/^ *Depends: linux-image-\('"$1"'\)$/\1/p' | head -n 1)
	[ -n "$kver" ] || { log "cannot resolve $2"; exit 1; }
	vmlinuz=$cache/boot/vmlinuz-$kver
}

# chroot_headers <kdir>
#
# Sets kdir, the directory of $kver's headers inside the chroot, and
# installs them there, with make, and sparse for make check's C=1 build,
# unless they are there already.
chroot_headers() {
	local old

	kdir=$1
	if [ ! -f "$root$kdir/Makefile" ] || [ ! -x "$root/usr/bin/sparse" ]; then
		log "installing linux-headers-$kver in the chroot"
		in_root apt-get "${apt_opts[@]}" -y -qq install --no-install-recommends \
			"linux-headers-$kver" make sparse >"$cache/apt.log" 2>&1 ||
			{ tail -n 20 "$cache/apt.log" >&2; exit 1; }
		# Headers of a kernel that was replaced go away.
		for old in "$root"/lib/modules/*; do
			[ "$(basename "$old")" = "$kver" ] && continue
			[ -d "$old" ] || continue
			in_root apt-get "${apt_opts[@]}" -y -qq purge \
				"linux-headers-$(basename "$old")" >&2 || true
		done
	fi
}

# chroot_download <package>
#
# Downloads <package> from the chroot's archive into dl, a new directory
# under the chroot's /tmp: apt-get download runs inside the chroot, which
# knows the suite's packages, and writes where it is run.
chroot_download() {
	log "fetching the image of $kver"
	dl=$root/tmp/xpcopy-dl
	rm -rf "$dl"
	mkdir -p "$dl"
	in_root sh -c "cd /tmp/xpcopy-dl && apt-get ${apt_opts[*]} -qq download $1" >&2
}

# chroot_keep_vmlinuz <file>
#
# Makes <file>, the image unpacked from what chroot_download fetched, the
# cache's one vmlinuz (a replaced kernel's goes away), then removes the
# download. The copy is renamed into place, so that an interrupted run
# leaves no partial image that a later run would take for the whole one.
chroot_keep_vmlinuz() {
	mkdir -p "$cache/boot"
	rm -f "$cache"/boot/vmlinuz-*
	cp "$1" "$vmlinuz.tmp"
	mv "$vmlinuz.tmp" "$vmlinuz"
	rm -rf "$dl"
}

# chroot_line: the matrix line, <kver> <vmlinuz> chroot:<root>:<kdir>.
chroot_line() {
	echo "$kver $vmlinuz chroot:$root:$kdir"
}
