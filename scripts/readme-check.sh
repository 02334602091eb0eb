#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# readme-check.sh: does every command README.md shows exist as shown?
# A static check of make check (make readme-check); no root, no guest.
#
# - Every make target in README.md (in its ```sh blocks and in `make ...`
#   spans of its text) is a target of the top Makefile.
# - Every "xpcopy COMMAND" in its ```sh blocks is a command of the CLI
#   (built here, into $XPCOPY_BUILD/readme-check/), and every --option
#   after it is one that "xpcopy COMMAND --help" lists.
# - The README is under 250 lines and every relative link in it (and in
#   docs/*.md) names a file of the tree.
#
# That they work as written is tested elsewhere: make, make KDIR=, make
# install and make uninstall (DESTDIR=) and the pkg-config line by make
# install-check (scripts/install-check.sh), dpkg-buildpackage by make
# deb-check, the README's xpcopy command lines as written in the MPI
# guest with the packages installed (readme: cases, scripts/mpi.sh), make
# bench (with the short size list) and make check by CI running them
# (.ci/run). Not run anywhere, for want of a host that loads modules:
# make load/unload, make bench-host, modprobe, dkms install, apt install.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=${XPCOPY_BUILD:-$top/build}/readme-check
readme=README.md
bad=0
fail() { echo "readme-check: $*"; bad=$((bad + 1)); }

n=$(wc -l <"$readme")
[ "$n" -lt 250 ] || fail "$readme has $n lines, not under 250"

# The lines of the ```sh blocks, comments and a leading sudo removed.
sh_lines() {
	awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$readme" |
		sed -e 's/[[:space:]]#.*//' -e 's/^sudo //'
}

# Make targets: the words after "make" up to the first that is not one
# (an option, VAR=value, a shell operator).
targets=$( { sh_lines | grep -E '^make( |$)'
	     grep -oE '`(sudo )?make [^`]*`' "$readme" | tr -d '`' | sed 's/^sudo //'
	   } | awk '{ for (i = 2; i <= NF; i++) {
			if ($i ~ /^[a-z][a-z0-9-]*$/) print $i; else break } }' | sort -u)
known=$(make -qp -f Makefile 2>/dev/null |
	awk -F: '/^[a-z][a-z0-9-]*:/ && !/:=/ { print $1 }' | sort -u)
for t in $targets; do
	grep -qx "$t" <<<"$known" || fail "make $t: no such target in the Makefile"
done
echo "make targets shown: ${targets//$'\n'/ }"

# The CLI's commands and options.
mkdir -p "$build"
if ! make -s -C userspace/cli O="$build" LIBO="$build/lib" >"$build/make.log" 2>&1; then
	cat "$build/make.log"
	fail "could not build the CLI"
else
	cli=$build/xpcopy
	cmds=$("$cli" help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
	uses=$(sh_lines | grep -oE '(^|[ /'"'"'"|;])xpcopy [a-z][^|;'"'"'"]*' |
		sed 's/^[^x]*//')
	while read -r _ sub rest; do
		[ -n "$sub" ] || continue
		grep -qx "$sub" <<<"$cmds" || { fail "xpcopy $sub: no such command"; continue; }
		help=$("$cli" "$sub" --help)
		for o in $(grep -oE -- '--[a-z][a-z-]*' <<<"$rest"); do
			grep -qE -- "(^|[ ,])$o([ =,]|$)" <<<"$help" ||
				fail "xpcopy $sub $o: no such option"
		done
		echo "xpcopy $sub:$(grep -oE -- ' --[a-z][a-z-]*' <<<" $rest" | tr -d '\n')"
	done <<<"$uses"
	[ -n "$uses" ] || fail "no xpcopy command found in $readme (is the check out of date?)"
fi

# Relative links of README.md and docs/*.md.
for f in "$readme" docs/*.md; do
	dir=$(dirname "$f")
	for l in $(grep -oE '\]\([^)#:]+(#[^)]*)?\)' "$f" | sed -e 's/^](//' -e 's/)$//' -e 's/#.*//'); do
		[ -e "$dir/$l" ] || fail "$f: link to $l, which does not exist"
	done
done

if [ "$bad" -gt 0 ]; then
	echo "readme-check: $bad problem(s)"
	exit 1
fi
echo "readme-check: $readme ($n lines): every make target, xpcopy command and option, and link exists"
