#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-check.sh: what "make deb-check" does, a static check of make check.
# Build the Debian packages from a copy of the tree (the files git knows,
# committed or not) with dpkg-buildpackage -us -uc -b, check that it gives
# xpcopy-dkms, libxpcopy1, libxpcopy-dev and xpcopy-tools, and run lintian
# on them: any error (E:) fails. Skips, saying why, where the tools are
# missing (scripts/deps.sh installs them). Leaves the packages and
# lintian's report in $XPCOPY_BUILD/deb/.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${XPCOPY_BUILD:-$top/build}/deb

missing=
for t in dpkg-buildpackage dh dh_dkms lintian; do
	command -v "$t" >/dev/null || missing+=" $t"
done
if [ -n "$missing" ]; then
	echo "deb-check: skipped: no$missing (scripts/deps.sh installs dpkg-dev, debhelper, dh-dkms, lintian)"
	exit 0
fi

rm -rf "$out"
mkdir -p "$out/xpcopy"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1"' sh {} |
	tar --null -T - -cf -) | tar -xf - -C "$out/xpcopy" ||
	{ echo "deb-check: could not copy the tree"; exit 1; }

echo "deb-check: dpkg-buildpackage -us -uc -b in $out/xpcopy"
if ! (cd "$out/xpcopy" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log"
	echo "deb-check: dpkg-buildpackage failed (log: $out/build.log)"
	exit 1
fi
bad=0
for p in xpcopy-dkms libxpcopy1 libxpcopy-dev xpcopy-tools; do
	deb=$(ls "$out"/"${p}"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		echo "deb-check: no $p package"
		bad=1
		continue
	fi
	echo "deb-check: $(basename "$deb"): $(dpkg-deb -c "$deb" | grep -c -v '/$') files"
done

changes=$(ls "$out"/xpcopy_*.changes 2>/dev/null | head -n 1)
[ -n "$changes" ] || { echo "deb-check: no .changes file"; exit 1; }
# lintian refuses to run as root unless told (it unpacks untrusted input).
lintian --allow-root --tag-display-limit 0 "$changes" >"$out/lintian.txt" 2>&1
sed 's/^/    /' "$out/lintian.txt"
errors=$(grep -c '^E: ' "$out/lintian.txt")
echo "deb-check: lintian: $errors error(s), $(grep -c '^W: ' "$out/lintian.txt") warning(s)"
[ "$errors" = 0 ] || bad=1
exit $bad
