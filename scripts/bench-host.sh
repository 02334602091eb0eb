#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-host.sh: what "make bench-host" does. xpcopy-bench on this machine,
# not in a guest: real hardware figures. As root: build xpcopy.ko for the
# running kernel (make module) and the userspace programs, insmod it for the
# run, run xpcopy-bench, rmmod it, leave bench.json, bench.csv, bench.txt
# (and bench.png, with gnuplot) in bench-results/host/ and print the table.
# Installs nothing. Where it cannot run (not root, a kernel that cannot load
# modules, an xpcopy module already loaded) it says so in one line and
# fails before building anything.
#
# Environment:
#	BENCH_ARGS	arguments of xpcopy-bench (default: its defaults)
#	BENCH_RESULTS	results go to $BENCH_RESULTS/host (default:
#			<repo>/bench-results/host)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
results=${BENCH_RESULTS:-$top/bench-results}/host
fail() { echo "bench-host: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] ||
	fail "needs root, to load the module for the run: sudo make bench-host"
[ -e /proc/modules ] ||
	fail "the running kernel ($(uname -r)) cannot load modules (built without CONFIG_MODULES): make bench measures in a guest instead"
[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" != 1 ] ||
	fail "loading modules is disabled on this machine (kernel.modules_disabled=1)"
! grep -q '^xpcopy ' /proc/modules ||
	fail "an xpcopy module is loaded already: unload it (sudo make unload, or sudo modprobe -r xpcopy) so that the one just built is measured"

mkdir -p "$build"
make -s -C "$top" module >"$build/bench-host-module.log" 2>&1 ||
	{ cat "$build/bench-host-module.log" >&2; fail "make module failed"; }
make -s -C "$top" userspace

out=$(insmod "$top/xpcopy.ko" 2>&1) || {
	case $out in
	*[Kk]ey*) fail "insmod xpcopy.ko: $out (Secure Boot: sign the module with a key enrolled in MOK; see the README)" ;;
	*) fail "insmod xpcopy.ko: $out" ;;
	esac
}
trap 'rmmod xpcopy || echo "bench-host: rmmod xpcopy failed" >&2' EXIT

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
note="host, no VM: $(uname -r), ${cpu:-unknown cpu}, $(nproc) cpus"
echo "bench-host: $note; xpcopy.ko $(cat "$top/VERSION") loaded"
mkdir -p "$results"
rm -f "$results"/bench.{json,csv,txt,png}
# shellcheck disable=SC2086	# the arguments are words on purpose
"$build/userspace/bin/xpcopy-bench" ${BENCH_ARGS:-} --json "$results/bench.json" \
	--csv "$results/bench.csv" --note "$note" >"$results/bench.txt" 2>&1 ||
	{ cat "$results/bench.txt"; fail "xpcopy-bench failed"; }
if command -v gnuplot >/dev/null; then
	gnuplot -e "csv='$results/bench.csv'; out='$results/bench.png'; title='xpcopy-bench on the host, $(uname -r)'" \
		"$top/userspace/bench/plot.gp"
fi
cat "$results/bench.txt"
echo
echo "bench-host: results in $results: $(cd "$results" && ls | tr '\n' ' ')"
