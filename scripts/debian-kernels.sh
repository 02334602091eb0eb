#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debian-kernels.sh [--cached]
#
# Debian 12's two kernel series of the test matrix (6.1: linux-image-amd64,
# 6.12: linux-image-6.12-amd64), unpacked from their packages into a cache,
# never installed: the host's /boot, /lib/modules and boot loader stay as
# they are. Prints one line per kernel, as scripts/kernels.sh does:
#
#	<kver> <cache>/<kver>/boot/vmlinuz-<kver> <cache>/<kver>/usr/src/linux-headers-<kver>
#
# The newest kernel of each series is resolved at run time through the
# metapackages' dependencies (apt-cache; the metapackages themselves are not
# installed). A kernel not yet in the cache is fetched with apt-get download
# (linux-image-<kver>, linux-headers-<kver>, its -common headers and its
# linux-kbuild) and unpacked with dpkg-deb -x; the headers' one absolute
# path (the Makefile's include of the -common headers) is pointed into the
# cache. A failed download is tried again after apt-get update, as root.
# Kernels the cache holds that are no longer the newest stay, unlisted.
#
# With --cached it fetches nothing and lists what the cache holds (the
# newest of each series).
#
# Environment:
#	XPCOPY_KERNEL_CACHE  the cache (default /var/tmp/xpcopy-kernels)
set -euo pipefail

cache=${XPCOPY_KERNEL_CACHE:-/var/tmp/xpcopy-kernels}
metas="linux-headers-amd64 linux-headers-6.12-amd64"
log() { echo "debian-kernels: $*" >&2; }

line() {
	local k=$1
	echo "$k $cache/$k/boot/vmlinuz-$k $cache/$k/usr/src/linux-headers-$k"
}

if [ "${1:-}" = --cached ]; then
	for d in "$cache"/*/.done; do
		[ -e "$d" ] || continue
		k=$(cat "$d")
		[[ $k =~ ^6\.(1|12)\. ]] && line "$k"
	done | sort -V |
	awk '{ split($1, v, "."); series = v[1] "." v[2]
	       if (!(series in last)) order[n++] = series
	       last[series] = $0 }
	     END { for (i = 0; i < n; i++) print last[order[i]] }'
	exit 0
fi

# linux-headers-amd64 depends on linux-headers-<kver>.
kver_of() {
	apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: linux-headers-\([0-9].*-amd64\)$/\1/p' | head -n 1
}

fetch() {
	local k=$1 tmp hdr deps p
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "linux-image-$k" "linux-headers-$k") >&2 || return 1
	hdr=$(ls "$tmp"/linux-headers-"$k"_*.deb)
	deps=$(dpkg-deb -f "$hdr" Depends | tr ',|' '\n\n' |
		sed -n 's/^ *\(linux-headers-[^ ]*-common\|linux-kbuild-[^ ]*\).*/\1/p' | sort -u)
	# shellcheck disable=SC2086
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download $deps) >&2 || return 1
	mkdir "$tmp/root"
	for p in "$tmp"/*.deb; do
		dpkg-deb -x "$p" "$tmp/root"
	done
	[ -f "$tmp/root/boot/vmlinuz-$k" ] || { log "no boot/vmlinuz-$k in linux-image-$k"; return 1; }
	# The guests load no module of the image's (about 500 MB) but FUSE's,
	# for the isolation test where FUSE is not built in (6.1): the rest
	# is not kept.
	mods=$tmp/root/lib/modules/$k/kernel
	[ ! -d "$mods/fs/fuse" ] || mv "$mods/fs/fuse" "$tmp/fuse"
	rm -rf "$mods"
	if [ -d "$tmp/fuse" ]; then
		mkdir -p "$mods/fs"
		mv "$tmp/fuse" "$mods/fs/fuse"
	fi
	touch "$tmp/root/.fuse-kept"
	sed -i "s|^include /usr/src/|include $cache/$k/usr/src/|" \
		"$tmp/root/usr/src/linux-headers-$k/Makefile"
	grep -q "^include $cache/$k/usr/src/linux-headers-.*-common/Makefile$" \
		"$tmp/root/usr/src/linux-headers-$k/Makefile" ||
		{ log "linux-headers-$k: its Makefile is not the expected include line"; return 1; }
	echo "$k" >"$tmp/root/.done"
	rm -rf "${cache:?}/$k"
	mv "$tmp/root" "$cache/$k"
}

# Unpacked and complete: a cache from before FUSE's module was kept is
# unpacked again.
have() {
	[ "$(cat "$cache/$1/.done" 2>/dev/null)" = "$1" ] &&
		[ -e "$cache/$1/.fuse-kept" ]
}

locked=
for meta in $metas; do
	k=$(kver_of "$meta")
	[ -n "$k" ] || { log "apt-cache knows no dependency of $meta (apt-get update?)"; exit 1; }
	if ! have "$k" && [ -z "$locked" ]; then
		# One fetch at a time; the lock only when something is missing,
		# so that a user who cannot write the cache can read it.
		mkdir -p "$cache" && exec 9>"$cache/.lock" ||
			{ log "cannot write $cache: run scripts/deps.sh as root"; exit 1; }
		flock 9
		locked=1
	fi
	if ! have "$k"; then
		log "unpacking Debian's $k (linux-image-$k and its headers) into $cache/$k"
		if ! fetch "$k"; then
			[ "$(id -u)" = 0 ] || { log "could not download $k's packages"; exit 1; }
			log "download failed: apt-get update, then once more"
			apt-get -q -o DPkg::Lock::Timeout=600 update >&2
			k=$(kver_of "$meta")
			fetch "$k" || { log "could not download $k's packages"; exit 1; }
		fi
	fi
	line "$k"
done
