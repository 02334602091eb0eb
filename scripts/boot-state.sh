#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# boot-state.sh: a listing of the host's boot files and bootloader
# configuration, to compare before and after make check (scripts/check.sh:
# the case host_boot_unchanged). One line per file, directory or symlink
# under the paths: type, mode, size, SHA-256 of a regular file's content
# (or "unreadable"), path, and a symlink's target. A path that does not
# exist gives one line "absent PATH". Times are left out: a file rewritten
# with the same content is the same. An initramfs image (initrd.img-*) is
# listed by name only: Debian's initramfs-tools rebuilds the images of the
# installed kernels whenever a package with an initramfs hook is installed
# (busybox, which make deps installs, is one), which changes neither which
# kernels boot nor how; a new or removed image still shows.
#
# Environment: XPCOPY_BOOT_PATHS, the paths (default: /boot, GRUB's
# configuration in /etc/default/grub, /etc/default/grub.d/ and /etc/grub.d/;
# /boot holds /boot/grub/grub.cfg and, where mounted there, the EFI system
# partition).
set -uo pipefail

paths=${XPCOPY_BOOT_PATHS:-/boot /etc/default/grub /etc/default/grub.d /etc/grub.d}

for p in $paths; do
	if [ ! -e "$p" ] && [ ! -L "$p" ]; then
		echo "absent $p"
		continue
	fi
	find "$p" -printf '%y\t%m\t%s\t%p\t%l\n' | LC_ALL=C sort -t "$(printf '\t')" -k 4 |
	while IFS=$'\t' read -r kind mode size path target; do
		sum=-
		case $kind:$path in
		f:*/initrd.img-*)
			echo "$kind - - content-not-compared $path"
			continue ;;
		esac
		if [ "$kind" = f ]; then
			sum=$(sha256sum <"$path" 2>/dev/null | cut -c1-64)
			[ -n "$sum" ] || sum=unreadable
		fi
		[ "$kind" = d ] && size=-
		echo "$kind $mode $size $sum $path${target:+ -> $target}"
	done
done
