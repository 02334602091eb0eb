#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# version.sh: the project's version, kept in one file, VERSION (X.Y.Z).
#
#   scripts/version.sh            print it
#   scripts/version.sh --check    fail, naming the file, when a place that
#                                 carries it by hand disagrees (make
#                                 userspace runs this)
#   scripts/version.sh --set X.Y.Z
#                                 write VERSION and every place below
#
# Read at build time: the module (Kbuild passes -DXPCOPY_VERSION, which
# MODULE_VERSION shows in modinfo) and libxpcopy (userspace/lib/Makefile:
# libxpcopy.so.X.Y.Z and xpcopy.pc). Written by --set, checked by --check,
# because they are installed or read as they are in the tree: dkms.conf
# (PACKAGE_VERSION), userspace/lib/xpcopy.h (XPCOPY_LIB_MAJOR, _MINOR),
# the man pages (the source field of .TH, "libxpcopy X.Y.Z") and the top
# entry of debian/changelog (a native package: its version is VERSION).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "${1:-}" = --set ]; then
	v=${2:?usage: version.sh --set X.Y.Z}
	[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version.sh: $v is not X.Y.Z" >&2; exit 1; }
	echo "$v" >VERSION
else
	v=$(cat VERSION)
	[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version.sh: VERSION holds '$v', not X.Y.Z" >&2; exit 1; }
fi
major=${v%%.*}
minor=${v#*.}
minor=${minor%%.*}

case ${1:-} in
"")
	echo "$v"
	;;
--set)
	sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$v\"/" dkms.conf
	sed -i -e "s/^\(#define XPCOPY_LIB_MAJOR\t\).*/\1$major/" \
	       -e "s/^\(#define XPCOPY_LIB_MINOR\t\).*/\1$minor/" userspace/lib/xpcopy.h
	sed -i "s/^\(\.TH .*\) \"libxpcopy [0-9.]*\" /\1 \"libxpcopy $v\" /" userspace/man/*.[1-8]
	sed -i "1s/^xpcopy ([^)]*)/xpcopy ($v)/" debian/changelog
	"$0" --check
	;;
--check)
	bad=
	grep -qx "PACKAGE_VERSION=\"$v\"" dkms.conf || bad+=" dkms.conf"
	grep -qP "^#define XPCOPY_LIB_MAJOR\t$major$" userspace/lib/xpcopy.h &&
		grep -qP "^#define XPCOPY_LIB_MINOR\t$minor$" userspace/lib/xpcopy.h ||
		bad+=" userspace/lib/xpcopy.h"
	head -n 1 debian/changelog | grep -q "^xpcopy ($v) " || bad+=" debian/changelog"
	for m in userspace/man/*.[1-8]; do
		grep -q "^\.TH .* \"libxpcopy $v\" " "$m" || bad+=" $m"
	done
	if [ -n "$bad" ]; then
		echo "version.sh: VERSION is $v, but not in:$bad (scripts/version.sh --set $v)" >&2
		exit 1
	fi
	;;
*)
	echo "usage: version.sh [--check | --set X.Y.Z]" >&2
	exit 2
	;;
esac
