#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# install-check.sh: what "make install-check" does, a static check of make
# check. The README's "Install on a real machine" steps as a user without
# root, in a copy of the tree (the files git knows, committed or not):
#
#   1. make, with the default KDIR: where the running kernel has no
#      headers (as on our CI machines), it must fail with one line naming
#      the package to install; where it has them, it must build
#   2. make KDIR=<headers>: builds xpcopy.ko (for that kernel: modinfo's
#      vermagic) and the programs, and installs nothing: no file of the
#      user's appears outside the copy (in /tmp, /var/tmp, /dev/shm or
#      the user's home)
#   3. make install DESTDIR=<dir> KDIR=<headers>: the module, xpcopy(1)
#      linked with libxpcopy.so.1, the library, its headers, xpcopy.pc, the
#      man pages, libxpcopy-cma.so in lib/xpcopy/ and the udev rule are
#      there, and xpcopy.pc builds a program against them
#   4. make uninstall DESTDIR=<dir> KDIR=<headers>: nothing is left in
#      <dir>, and still nothing outside the copy
#
# As root the steps run as the user nobody (setpriv), in a copy owned by
# it; as another user, as that user. Exit 0 when every step held.
#
# Environment: KDIR (default: the 6.12 kernel of scripts/kernels.sh, else
# its first), XPCOPY_BUILD.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bad=0
fail() { echo "install-check: FAIL: $*"; bad=$((bad + 1)); }
say() { echo "install-check: $*"; }

kdir=${KDIR:-}
if [ -z "$kdir" ]; then
	matrix=$(env -u KERNELS XPCOPY_DEBUG=0 XPCOPY_SID=0 "$top/scripts/kernels.sh" 2>/dev/null)
	kdir=$(awk '$1 ~ /^6\.12\./ { print $3; exit }' <<<"$matrix")
	[ -n "$kdir" ] || kdir=$(awk 'NR == 1 { print $3 }' <<<"$matrix")
fi
[ -n "$kdir" ] && [ -f "$kdir/Makefile" ] ||
	{ echo "install-check: no kernel headers to build against (KDIR, or scripts/kernels.sh: make deps)"; exit 1; }
krel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")

tmp=$(mktemp -d /tmp/xpcopy-install-check.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
src=$tmp/src dest=$tmp/dest home=$tmp/home
mkdir -p "$src" "$dest" "$home"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1"' sh {} |
	tar --null -T - -cf -) | tar -xf - -C "$src" ||
	{ echo "install-check: could not copy the tree"; exit 1; }

if [ "$(id -u)" = 0 ]; then
	uid=$(id -u nobody) gid=$(id -g nobody)
	chown -R "$uid:$gid" "$src" "$dest" "$home"
	as_user() { setpriv --reuid="$uid" --regid="$gid" --clear-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" "$@"; }
	say "as the user nobody, in $src"
else
	uid=$(id -u)
	as_user() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" "$@"; }
	say "as $(id -un), in $src"
fi
run() {	# run <log> make args...: in the copy, as the user; the log kept
	local log=$tmp/$1; shift
	(cd "$src" && as_user "$@") >"$log" 2>&1
}
touch "$tmp/stamp"
sleep 1

# Files of the user's, new since the stamp, outside the copy and DESTDIR.
outside() {
	{ find /tmp /var/tmp /dev/shm -xdev -user "$uid" -newer "$tmp/stamp" \
		-not -path "$tmp" -not -path "$tmp/*" 2>/dev/null
	  find "$home" -mindepth 1 2>/dev/null; } | head -n 20
}

# 1. make with the default KDIR.
run make1.log make
rc=$?
running=/lib/modules/$(uname -r)/build
if [ -f "$running/Makefile" ]; then
	if [ $rc = 0 ]; then
		say "make: built against the running kernel's headers ($running)"
	else
		fail "make against the running kernel's headers ($running): exit $rc"
		tail -n 20 "$tmp/make1.log"
	fi
else
	# One line of ours, besides make's own "make: *** [...] Error 1".
	grep -v '^make\(\[[0-9]*\]\)\{0,1\}: \*\*\* ' "$tmp/make1.log" >"$tmp/make1.ours"
	lines=$(wc -l <"$tmp/make1.ours")
	if [ $rc != 0 ] && [ "$lines" = 1 ] &&
	   grep -q "install linux-headers-$(uname -r)" "$tmp/make1.ours"; then
		say "make without the running kernel's headers: exit $rc, one line: $(cat "$tmp/make1.ours")"
	else
		fail "make without the running kernel's headers: exit $rc, $lines line(s) (want one naming linux-headers-$(uname -r)):"
		tail -n 20 "$tmp/make1.log"
	fi
fi

# 2. make KDIR=<headers>.
if run make2.log make KDIR="$kdir"; then
	vermagic=$(modinfo -F vermagic "$src/xpcopy.ko" 2>/dev/null | cut -d' ' -f1)
	progs=
	for p in build/userspace/bin/xpcopy build/userspace/bin/xpcopy-bench \
		 build/userspace/lib/libxpcopy.so.1 build/userspace/lib/libxpcopy-cma.so; do
		[ -e "$src/$p" ] || progs+=" $p"
	done
	if [ "$vermagic" = "$krel" ] && [ -z "$progs" ]; then
		say "make KDIR=$kdir: xpcopy.ko (vermagic $vermagic) and the programs"
	else
		fail "make KDIR=$kdir: xpcopy.ko vermagic '$vermagic' (want $krel), missing:${progs:- nothing}"
	fi
else
	fail "make KDIR=$kdir failed:"
	tail -n 20 "$tmp/make2.log"
fi
left=$(outside)
[ -z "$left" ] || fail "make wrote outside the tree: $(echo $left)"

# 3. make install DESTDIR=.
if run install.log make install DESTDIR="$dest" KDIR="$kdir"; then
	missing=
	for f in "lib/modules/$krel/updates/xpcopy.ko*" usr/local/bin/xpcopy \
		 usr/local/lib/libxpcopy.so.1 usr/local/lib/libxpcopy.so \
		 usr/local/lib/libxpcopy.a usr/local/lib/xpcopy/libxpcopy-cma.so \
		 usr/local/include/xpcopy/xpcopy.h \
		 usr/local/include/xpcopy/linux/xpcopy.h \
		 usr/local/lib/pkgconfig/xpcopy.pc usr/local/share/man/man1/xpcopy.1 \
		 usr/local/share/man/man3/xpcopy_open.3 usr/local/share/man/man7/libxpcopy.7 \
		 usr/lib/udev/rules.d/70-xpcopy.rules; do
		# shellcheck disable=SC2086
		ls -d "$dest"/$f >/dev/null 2>&1 || missing+=" $f"
	done
	needed=$(readelf -d "$dest/usr/local/bin/xpcopy" 2>/dev/null |
		 sed -n 's/.*(NEEDED).*\[\(libxpcopy[^]]*\)\]/\1/p')
	n=$(find "$dest" ! -type d | wc -l)
	if [ -z "$missing" ] && [ "$needed" = libxpcopy.so.1 ]; then
		say "make install DESTDIR=: $n files, xpcopy needs $needed"
	else
		fail "make install DESTDIR=: missing:${missing:- nothing}; xpcopy needs '${needed:-no libxpcopy}'"
	fi
	# The README's pkg-config line, against what was installed.
	# (DESTDIR is a staging root: pkg-config's sysroot.)
	pc="env PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/local/lib/pkgconfig pkg-config"
	# ldd's output is read whole: "ldd | grep -q" under pipefail fails
	# whenever grep stops reading before ldd is done (SIGPIPE).
	if (cd "$tmp" && as_user sh -c "cc \$($pc --cflags xpcopy) -o $src/build/app \
		$src/userspace/examples/lib-copy.c \$($pc --libs xpcopy)") >"$tmp/cc.log" 2>&1 &&
	   env LD_LIBRARY_PATH="$dest/usr/local/lib" ldd "$src/build/app" >"$tmp/ldd.log" 2>&1 &&
	   grep -q "libxpcopy.so.1 => $dest/" "$tmp/ldd.log"; then
		say "cc \$(pkg-config --cflags xpcopy) app.c \$(pkg-config --libs xpcopy): builds, links libxpcopy.so.1"
	else
		fail "a program does not build with the installed xpcopy.pc, or does not link libxpcopy.so.1 from it:"
		cat "$tmp/cc.log" "$tmp/ldd.log" 2>/dev/null
	fi
	rm -f "$src/build/app"
else
	fail "make install DESTDIR=$dest KDIR=$kdir failed:"
	tail -n 20 "$tmp/install.log"
fi

# 4. make uninstall DESTDIR=.
if run uninstall.log make uninstall DESTDIR="$dest" KDIR="$kdir"; then
	rest=$(cd "$dest" && find . -mindepth 1 | sort)
	if [ -z "$rest" ]; then
		say "make uninstall DESTDIR=: nothing left in DESTDIR"
	else
		fail "make uninstall DESTDIR= left $(wc -l <<<"$rest") entries: $(head -n 20 <<<"$rest" | tr '\n' ' ')"
	fi
else
	fail "make uninstall DESTDIR=$dest KDIR=$kdir failed:"
	tail -n 20 "$tmp/uninstall.log"
fi
left=$(outside)
[ -z "$left" ] || fail "make install/uninstall wrote outside the tree and DESTDIR: $(echo $left)"

if [ $bad -gt 0 ]; then
	echo "install-check: $bad problem(s)"
	exit 1
fi
echo "install-check: make builds as a user and installs nothing; make install and uninstall DESTDIR= leave nothing behind"
