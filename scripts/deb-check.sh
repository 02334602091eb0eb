#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-check.sh: what "make deb-check" does, a static check of make check.
# Build the Debian packages from a copy of the tree (the files git knows,
# committed or not) with dpkg-buildpackage -us -uc -b, check that it gives
# xpcopy-dkms, libxpcopy1, libxpcopy-dev and xpcopy-tools, and run lintian
# on them: any error (E:) fails. Skips, saying why, where the tools are
# missing (scripts/deps.sh installs them). Leaves the packages and
# lintian's report in $XPCOPY_BUILD/deb/, and in deb/tree.sha256 a hash of
# the tree they were built from.
#
# deb-check.sh --debs: only make sure that $XPCOPY_BUILD/deb/ holds the
# packages of this tree as it is (the MPI guest installs two of them):
# build them, without lintian, when they are missing or were built from
# another tree. Exit 0 they are there, 1 they did not build, 3 they cannot
# be built here (the reason on stdout).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${XPCOPY_BUILD:-$top/build}/deb
debs_only=
[ "${1:-}" = --debs ] && debs_only=1

# The files the packages are built from: those git knows, committed or
# not, that exist.
tree_files() {
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1"' sh {})
}
tree_id() { (cd "$top" && tree_files | xargs -0 sha256sum | sha256sum | cut -c1-64); }

pkgs="xpcopy-dkms libxpcopy1 libxpcopy-dev xpcopy-tools"
tools="dpkg-buildpackage dh dh_dkms"
[ -n "$debs_only" ] || tools+=" lintian"
missing=
for t in $tools; do
	command -v "$t" >/dev/null || missing+=" $t"
done
if [ -n "$missing" ]; then
	echo "deb-check: skipped: no$missing (scripts/deps.sh installs dpkg-dev, debhelper, dh-dkms, lintian)"
	[ -n "$debs_only" ] && exit 3
	exit 0
fi

id=$(tree_id)
if [ -n "$debs_only" ] && [ "$(cat "$out/tree.sha256" 2>/dev/null)" = "$id" ]; then
	have=1
	for p in $pkgs; do
		ls "$out/${p}"_*.deb >/dev/null 2>&1 || have=
	done
	if [ -n "$have" ]; then
		echo "deb-check: the packages of this tree are in $out"
		exit 0
	fi
fi

rm -rf "$out"
mkdir -p "$out/xpcopy"
(cd "$top" && tree_files | tar --null -T - -cf -) | tar -xf - -C "$out/xpcopy" ||
	{ echo "deb-check: could not copy the tree"; exit 1; }

echo "deb-check: dpkg-buildpackage -us -uc -b in $out/xpcopy"
if ! (cd "$out/xpcopy" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log"
	echo "deb-check: dpkg-buildpackage failed (log: $out/build.log)"
	exit 1
fi
bad=0
for p in $pkgs; do
	deb=$(ls "$out"/"${p}"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		echo "deb-check: no $p package"
		bad=1
		continue
	fi
	echo "deb-check: $(basename "$deb"): $(dpkg-deb -c "$deb" | grep -c -v '/$') files"
done

[ "$bad" = 0 ] && echo "$id" >"$out/tree.sha256"
[ -z "$debs_only" ] || exit $bad

changes=$(ls "$out"/xpcopy_*.changes 2>/dev/null | head -n 1)
[ -n "$changes" ] || { echo "deb-check: no .changes file"; exit 1; }
# lintian refuses to run as root unless told (it unpacks untrusted input).
lintian --allow-root --tag-display-limit 0 "$changes" >"$out/lintian.txt" 2>&1
sed 's/^/    /' "$out/lintian.txt"
errors=$(grep -c '^E: ' "$out/lintian.txt")
echo "deb-check: lintian: $errors error(s), $(grep -c '^W: ' "$out/lintian.txt") warning(s)"
[ "$errors" = 0 ] || bad=1
exit $bad
