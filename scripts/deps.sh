#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing xpcopy needs, on Debian 12, extract
# the few files of the 6.12 kernel source the tests use (kselftest harness,
# checkpatch) into a cache outside the repository, and unpack the matrix's
# Debian 12 kernels into theirs (scripts/debian-kernels.sh; no kernel is
# installed). Idempotent: when everything is present it runs no apt at all
# and returns at once.
#
# Environment:
#	XPCOPY_SRC_CACHE  cache directory (default /var/tmp/xpcopy-src)
#	APT_LOCK_TIMEOUT  seconds to wait for another apt's lock (600)
set -euo pipefail

PACKAGES=(
	build-essential
	cpio
	busybox-static
	qemu-system-x86
	liburing-dev
	sparse
	gnuplot-nox
	# Debian 12's kernels of the matrix are not installed: their images
	# and headers are unpacked into a cache (scripts/debian-kernels.sh,
	# below). What their headers' packages depend on:
	gcc-12
	pahole
	linux-source-6.12
	pkg-config
	debootstrap
	# modinfo, which the install check reads a module's vermagic with
	kmod
	# the debug kernel (scripts/debug-kernel.sh)
	flex
	bison
	bc
	libelf-dev
	libssl-dev
	xz-utils
	# the Debian packages' static check (scripts/deb-check.sh)
	dpkg-dev
	debhelper
	dh-dkms
	lintian
)

# The files the tests take from the kernel source, relative to its top.
SRC_FILES=(
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
)

CACHE=${XPCOPY_SRC_CACHE:-/var/tmp/xpcopy-src}
SRC_NAME=linux-source-6.12
TARBALL=/usr/src/$SRC_NAME.tar.xz

say() { echo "deps: $*"; }

# apt-get that waits for another apt or dpkg (unattended-upgrades, a
# second make deps) instead of failing at once: DPkg::Lock::Timeout makes
# it wait for dpkg's locks; apt-get update's lock on the package lists is
# not covered by it (apt 2.6), so a failure that names a lock is tried
# again, every 5 s, for as long (APT_LOCK_TIMEOUT seconds, default 600).
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}
apt_get() {
	local end=$((SECONDS + APT_LOCK_TIMEOUT)) err rc said=
	err=$(mktemp)
	while :; do
		rc=0
		# stderr to the terminal and to $err; the status is apt-get's
		{ apt-get -o DPkg::Lock::Timeout="$APT_LOCK_TIMEOUT" "$@" 2>&1 1>&3 |
			tee "$err" >&2; } 3>&1 || rc=$?
		if [ $rc != 0 ] && [ $SECONDS -lt $end ] &&
		   grep -qE 'Could not get lock|Unable to lock' "$err"; then
			[ -n "$said" ] || say "another apt holds a lock: waiting (up to ${APT_LOCK_TIMEOUT}s)"
			said=1
			sleep 5
			continue
		fi
		rm -f "$err"
		return $rc
	done
}

# One dpkg-query for all packages; names it does not know are missing.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
		"${PACKAGES[@]}" 2>/dev/null | awk '$2 == "installed" { print $1 }' || true)
missing=()
for p in "${PACKAGES[@]}"; do
	grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		say "missing packages: ${missing[*]}; run this script as root" >&2
		exit 1
	fi
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_get update -q
	apt_get install -y -q --no-install-recommends "${missing[@]}"
else
	say "all ${#PACKAGES[@]} packages present"
fi

# Kernel source extraction. The version stamp makes a linux-source update
# refresh the cache.
src_version=$(dpkg-query -W -f='${Version}' "$SRC_NAME")
dest=$CACHE/$SRC_NAME
stamp=$dest/.xpcopy-version
need=0
[ "$(cat "$stamp" 2>/dev/null)" = "$src_version" ] || need=1
for f in "${SRC_FILES[@]}"; do
	[ -s "$dest/$f" ] || need=1
done

if [ $need = 1 ]; then
	[ -f "$TARBALL" ] || { say "$TARBALL not found" >&2; exit 1; }
	say "extracting ${#SRC_FILES[@]} files of $SRC_NAME $src_version into $dest"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.extract.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tar -xJf "$TARBALL" -C "$tmp" "${SRC_FILES[@]/#/$SRC_NAME/}"
	# Move the files into place only once all were extracted, so that an
	# interrupted run leaves no partial file behind.
	for f in "${SRC_FILES[@]}"; do
		mkdir -p "$(dirname "$dest/$f")"
		mv -f "$tmp/$SRC_NAME/$f" "$dest/$f"
	done
	echo "$src_version" >"$stamp"
else
	say "$SRC_NAME $src_version files present in $dest"
fi

# What the test pipeline runs, checked here so that a broken install shows
# up now rather than in the middle of a run.
for cmd in make gcc qemu-system-x86_64 busybox cpio gzip sparse; do
	command -v "$cmd" >/dev/null || { say "command $cmd not found" >&2; exit 1; }
done

# Debian 12's kernels of the matrix, image and headers, unpacked from their
# packages into a cache; never installed, so /boot and the boot loader stay
# as they are.
"$(dirname "$0")/debian-kernels.sh" >/dev/null ||
	{ say "scripts/debian-kernels.sh failed" >&2; exit 1; }
say "Debian 12 kernels in ${XPCOPY_KERNEL_CACHE:-/var/tmp/xpcopy-kernels}: $("$(dirname "$0")/debian-kernels.sh" --cached | cut -d' ' -f1 | tr '\n' ' ')"
