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
# configuration is never touched. Progress goes to stderr. What it shares
# with scripts/bullseye.sh is in scripts/lib/chroot.sh.
set -euo pipefail

suite=sid
cache=${XPCOPY_SID_CACHE:-/var/tmp/xpcopy-sid}
refresh=${XPCOPY_SID_REFRESH:-21600}
# shellcheck source=scripts/lib/chroot.sh
. "$(dirname "$0")/lib/chroot.sh"

chroot_ready "about 30 s"

# The kernel linux-image-amd64 points at today, e.g. 7.2.13+deb14-amd64.
chroot_kernel '[0-9][^ ]*-amd64' "sid's kernel"

chroot_headers "/lib/modules/$kver/build"

if [ ! -f "$vmlinuz" ]; then
	chroot_download "linux-binary-$kver"
	dpkg -x "$dl"/linux-binary-"$kver"_*.deb "$dl/x"
	chroot_keep_vmlinuz "$dl/x/usr/lib/modules/$kver/vmlinuz"
fi

chroot_line
