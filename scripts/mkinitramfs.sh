#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh <kver> <out.cpio.gz>
#
# Build the test initramfs for one kernel: busybox-static (its applet links
# are made at boot), /init and the runner from scripts/guest/, the module
# built for <kver> as /xpcopy.ko, every executable of the test directory in
# /tests/, and /xpcopy/config with the run's settings. cpio newc, gzip.
#
# Environment:
#	XPCOPY_BUILD	build directory (default: <repo>/build)
#	XPCOPY_KO	the module (default: $XPCOPY_BUILD/<kver>/xpcopy.ko);
#			a missing module is not an error here: the guest then
#			reports a failed module_load
#	XPCOPY_TESTS_DIR  test executables (default: $XPCOPY_BUILD/selftests/bin)
#	XPCOPY_MODE	"tests" (default) or "bench": what the guest runs
#	XPCOPY_BENCH_ARGS  arguments of xpcopy-bench in bench mode
#	XPCOPY_BENCH_THP  transparent huge pages setting for bench mode
#	XPCOPY_BENCH_NOTE the note xpcopy-bench records (the accelerator)
#	XPCOPY_INITRAMFS_EXTRA  directories whose contents are copied to / in
#			the initramfs, after everything else (space-separated)
#	XPCOPY_TIMEOUT, XPCOPY_VERBOSE, XPCOPY_FILTER, XPCOPY_EXCLUDE, XPCOPY_INSMOD,
#	XPCOPY_HUNG_TASK  written to /xpcopy/config for the guest runner
#			(see scripts/guest/run-tests.sh)
#	XPCOPY_FUZZ_*	exported by /xpcopy/config to the tests (the
#			fuzzer's seed, duration, copies: scripts/fuzz.sh)
set -euo pipefail

kver=${1:?usage: mkinitramfs.sh <kver> <out.cpio.gz>}
out=${2:?usage: mkinitramfs.sh <kver> <out.cpio.gz>}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
ko=${XPCOPY_KO:-$build/$kver/xpcopy.ko}
tests=${XPCOPY_TESTS_DIR:-$build/selftests/bin}

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "mkinitramfs: busybox not found" >&2; exit 1; }
if readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
	echo "mkinitramfs: $busybox is not static (install busybox-static)" >&2
	exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/xpcopy-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,out,tests,xpcopy}
cp "$busybox" "$stage/bin/busybox"
install -m 0755 "$top/scripts/guest/init" "$stage/init"
install -m 0755 "$top/scripts/guest/run-tests.sh" "$stage/xpcopy/run-tests.sh"
install -m 0755 "$top/scripts/guest/send-file.sh" "$stage/bin/xpcopy-send-file"
install -m 0755 "$top/scripts/guest/run-bench.sh" "$stage/xpcopy/run-bench.sh"
# The userspace programs (benchmark, examples) on the guest's PATH.
for p in "$build"/userspace/bin/*; do
	[ -f "$p" ] && [ -x "$p" ] && cp "$p" "$stage/usr/bin/"
done
[ "${XPCOPY_MODE:-tests}" = tests ] || echo "$XPCOPY_MODE" >"$stage/xpcopy/mode"
[ -z "${XPCOPY_BENCH_ARGS:-}" ] || printf '%s\n' "$XPCOPY_BENCH_ARGS" >"$stage/xpcopy/bench-args"
[ -z "${XPCOPY_BENCH_THP:-}" ] || echo "$XPCOPY_BENCH_THP" >"$stage/xpcopy/bench-thp"
[ -z "${XPCOPY_BENCH_NOTE:-}" ] || printf '%s\n' "$XPCOPY_BENCH_NOTE" >"$stage/xpcopy/bench-note"

# The kernel needs /dev/console before devtmpfs is mounted to give /init a
# console; cpio cannot hold device nodes unless made as root.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

# Modules of the kernel's own that the tests need where they are not
# built in (FUSE on 6.1), from the kernel cache (scripts/debian-kernels.sh).
mkdir -p "$stage/xpcopy/modules"
for base in "${XPCOPY_KERNEL_CACHE:-/var/tmp/xpcopy-kernels}/$kver" \
	    "${XPCOPY_BULLSEYE_CACHE:-/var/tmp/xpcopy-bullseye}"; do
	for m in "$base/lib/modules/$kver/kernel/fs/fuse/fuse.ko"*; do
		[ ! -f "$m" ] || cp "$m" "$stage/xpcopy/modules/"
	done
done

if [ -f "$ko" ]; then
	cp "$ko" "$stage/xpcopy.ko"
else
	echo "mkinitramfs: warning: no module $ko; the guest will fail module_load" >&2
fi

# Test executables, with the shared libraries of any that is not static
# (tests should be static; this keeps a dynamic one runnable all the same).
ntests=0
if [ -d "$tests" ]; then
	for t in "$tests"/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		cp "$t" "$stage/tests/"
		ntests=$((ntests + 1))
		if readelf -l "$t" 2>/dev/null | grep -q 'program interpreter'; then
			echo "mkinitramfs: warning: $(basename "$t") is not static; copying its libraries" >&2
			ldd "$t" | grep -o '/[^ ]*' | while read -r lib; do
				mkdir -p "$stage$(dirname "$lib")"
				cp -L "$lib" "$stage$lib"
			done
		fi
	done
fi
[ $ntests -gt 0 ] || echo "mkinitramfs: warning: no test executables in $tests" >&2

q() { printf '%q' "$1"; }
{
	echo "# written by mkinitramfs.sh for $kver"
	[ -z "${XPCOPY_TIMEOUT:-}" ] || echo "XPCOPY_TIMEOUT=$(q "$XPCOPY_TIMEOUT")"
	[ -z "${XPCOPY_VERBOSE:-}" ] || echo "XPCOPY_VERBOSE=$(q "$XPCOPY_VERBOSE")"
	[ -z "${XPCOPY_FILTER:-}" ] || echo "XPCOPY_FILTER=$(q "$XPCOPY_FILTER")"
	[ -z "${XPCOPY_EXCLUDE:-}" ] || echo "XPCOPY_EXCLUDE=$(q "$XPCOPY_EXCLUDE")"
	[ -z "${XPCOPY_INSMOD:-}" ] || echo "XPCOPY_INSMOD=$(q "$XPCOPY_INSMOD")"
	[ -z "${XPCOPY_HUNG_TASK:-}" ] || echo "XPCOPY_HUNG_TASK=$(q "$XPCOPY_HUNG_TASK")"
	# The fuzzer's settings (make fuzz, make soak), for the test itself.
	for v in ${!XPCOPY_FUZZ_@}; do echo "export $v=$(q "${!v}")"; done
} >"$stage/xpcopy/config"

for d in ${XPCOPY_INITRAMFS_EXTRA:-}; do
	cp -a "$d/." "$stage/"
done

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -6 -n >"$out.tmp"
mv -f "$out.tmp" "$out"
echo "mkinitramfs: $out ($(du -k "$out" | cut -f1) KiB, $ntests test executables${ko:+, module $( [ -f "$ko" ] && echo present || echo MISSING)})"
