#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mpi-root.sh: the Debian root of the MPI guest, cached outside the repo.
#
# A minbase debootstrap of Debian 12 with Open MPI (openmpi-bin,
# libopenmpi-dev) and liburing2, two unprivileged users (mpi, uid 1000;
# other, uid 1001), documentation and locales removed, packed as an
# uncompressed cpio. The cache directory is named after a hash of the
# package list and this script, so that changing either builds a new root:
#
#	/var/tmp/xpcopy-mpi-root-<hash>/{root/,root.cpio}
#
# Building a new one removes the others that were not used for a day.
# Prints the cache directory on stdout; progress on stderr. Exit 1 when the
# root cannot be built (no debootstrap, no mirror): make check then skips the
# MPI phase and says why.
#
# Environment:
#	XPCOPY_MPI_CACHE_BASE	where caches go (default /var/tmp)
#	XPCOPY_MPI_MIRROR	Debian mirror (default: the host's, or
#				deb.debian.org)
set -euo pipefail

suite=bookworm
# liburing2: a dependency of the package xpcopy-tools, which the guest
# installs with dpkg -i (no network there).
pkgs="openmpi-bin libopenmpi-dev liburing2"
self=$(readlink -f "$0")
hash=$( { echo "$suite $pkgs"; cat "$self"; } | sha256sum | cut -c1-12)
cache=${XPCOPY_MPI_CACHE_BASE:-/var/tmp}/xpcopy-mpi-root-$hash
root=$cache/root

log() { echo "mpi-root: $*" >&2; }

mirror=${XPCOPY_MPI_MIRROR:-$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

touch "$cache/.used"
if [ -f "$cache/root.cpio" ]; then
	echo "$cache"
	exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap is not installed"; exit 1; }
[ "$(id -u)" = 0 ] || { log "building the root needs root (debootstrap, chroot)"; exit 1; }

in_root() { chroot "$root.new" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive "$@"; }

start=$(date +%s)
rm -rf "$root.new" "$root"
log "debootstrap --variant=minbase $suite into $root (about a minute)"
debootstrap --variant=minbase "$suite" "$root.new" "$mirror" \
	>"$cache/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
log "installing $pkgs"
in_root apt-get -qq update >"$cache/apt.log" 2>&1 &&
in_root apt-get -y -qq install --no-install-recommends $pkgs >>"$cache/apt.log" 2>&1 ||
	{ tail -n 20 "$cache/apt.log" >&2; exit 1; }
in_root apt-get clean
in_root useradd -m -u 1000 -s /bin/sh mpi
in_root useradd -m -u 1001 -s /bin/sh other
# Not needed to run MPI programs: documentation, locales, apt's lists.
rm -rf "$root.new"/usr/share/{doc,man,info,locale}/* \
	"$root.new"/var/lib/apt/lists/* "$root.new"/var/cache/apt/*.bin
mv "$root.new" "$root"

# Roots of other versions of this script or package list, unused for a
# day (another checkout may still be using one), are stale.
for old in "${XPCOPY_MPI_CACHE_BASE:-/var/tmp}"/xpcopy-mpi-root-*; do
	[ "$old" != "$cache" ] && [ -d "$old" ] || continue
	[ -z "$(find "$old/.used" -mmin -1440 2>/dev/null)" ] || continue
	log "removing the stale $old"
	rm -rf "$old"
done

log "packing $cache/root.cpio"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc --reproducible --quiet) >"$cache/root.cpio.tmp"
mv -f "$cache/root.cpio.tmp" "$cache/root.cpio"
log "done in $(($(date +%s) - start))s: $(du -sm "$cache/root.cpio" | cut -f1) MiB"
echo "$cache"
