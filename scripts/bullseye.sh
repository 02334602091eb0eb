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
# to stderr. What it shares with scripts/sid.sh is in scripts/lib/chroot.sh.
set -euo pipefail

suite=bullseye
cache=${XPCOPY_BULLSEYE_CACHE:-/var/tmp/xpcopy-bullseye}
refresh=${XPCOPY_BULLSEYE_REFRESH:-21600}
# shellcheck source=scripts/lib/chroot.sh
. "$(dirname "$0")/lib/chroot.sh"

# The newest 5.10 build is often only in bullseye-security.
chroot_ready "about a minute" "\
deb $mirror bullseye main
deb $mirror bullseye-updates main
deb ${mirror%/debian}/debian-security bullseye-security main"

# The kernel linux-image-amd64 points at today, e.g. 5.10.0-37-amd64.
chroot_kernel '5\.10\.[0-9][^ ]*-amd64' "bullseye's 5.10 kernel"

# Not /lib/modules/<kver>/build: bullseye's is an absolute symlink, which
# outside the chroot points into the host.
chroot_headers "/usr/src/linux-headers-$kver"

fuse=$cache/lib/modules/$kver/kernel/fs/fuse
if [ ! -f "$vmlinuz" ] || [ ! -e "$cache/boot/.fuse-kept-$kver" ]; then
	chroot_download "linux-image-$kver"
	# The image, and of its modules (about 300 MB) only FUSE's, which
	# the guest loads for the isolation test.
	dpkg-deb --fsys-tarfile "$dl"/linux-image-"$kver"_*.deb |
		tar -x -C "$dl" --wildcards "./boot/vmlinuz-$kver" \
		    "./lib/modules/$kver/kernel/fs/fuse/*"
	rm -rf "$cache"/boot/.fuse-kept-* "${cache:?}/lib"
	if [ -d "$dl/lib/modules/$kver/kernel/fs/fuse" ]; then
		mkdir -p "$(dirname "$fuse")"
		cp -r "$dl/lib/modules/$kver/kernel/fs/fuse" "$fuse"
	fi
	chroot_keep_vmlinuz "$dl/boot/vmlinuz-$kver"
	# Last: a run cut short before here leaves no mark, and the next
	# one fetches the image again.
	touch "$cache/boot/.fuse-kept-$kver"
fi

chroot_line
