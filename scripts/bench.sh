#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh: what "make bench" does. Build the module for one kernel and the
# userspace programs, boot a QEMU guest that runs xpcopy-bench with the
# module loaded, bring its JSON, CSV and table back to bench-results/, draw
# the plot, and print the table.
#
# Environment:
#	BENCH_KERNEL	the kernel to run on (a KERNELS word; default 6.12)
#	BENCH_ARGS	arguments of xpcopy-bench (default: its defaults, sizes
#			64 B to 256 MiB in powers of 4, every method)
#	BENCH_ACCEL	auto (default): kvm when /dev/kvm works (QEMU starts
#			with -accel kvm), else tcg; or kvm, or tcg. The output,
#			the JSON's note and the plot's title say which ran
#	QEMU_CPU	with kvm, default host; with tcg, default
#			max,-fsrm,-erms: under TCG the emulated
#			"rep movsb" of -cpu max thrashes QEMU's software TLB
#			when source and destination are congruent modulo 1-2 MiB,
#			slowing every method by 10x or more; "max" brings it back
#	QEMU_MEM	guest memory in MiB (default 3072)
#	BENCH_THP	the guest's transparent huge page setting: always,
#			madvise or never (default: the kernel's, "always" on
#			Debian); the JSON records the setting in force
#	BENCH_RESULTS	where the results go (default: <repo>/bench-results)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
results=${BENCH_RESULTS:-$top/bench-results}
kernel=${BENCH_KERNEL:-6.12}

# KVM when it works: real figures (of a virtual machine); else TCG, whose
# figures are ratios within one run only.
kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	echo quit | timeout 30 qemu-system-x86_64 -accel kvm -machine none \
		-nodefaults -display none -monitor stdio >/dev/null 2>&1
}
case ${BENCH_ACCEL:-auto} in
auto)
	if kvm_works; then
		accel=kvm why="/dev/kvm works"
	else
		accel=tcg why="$([ -e /dev/kvm ] && echo "/dev/kvm does not work here" || echo "no /dev/kvm")"
	fi ;;
kvm)	kvm_works || { echo "bench: BENCH_ACCEL=kvm, but KVM does not work here (/dev/kvm)" >&2; exit 1; }
	accel=kvm why="BENCH_ACCEL=kvm" ;;
tcg)	accel=tcg why="BENCH_ACCEL=tcg" ;;
*)	echo "bench: BENCH_ACCEL=$BENCH_ACCEL: auto, kvm or tcg" >&2; exit 1 ;;
esac
export QEMU_ACCEL=$accel
if [ $accel = kvm ]; then
	export QEMU_CPU=${QEMU_CPU:-host}
	note="QEMU/KVM guest, -cpu $QEMU_CPU: a virtual machine on this host's hardware"
else
	export QEMU_CPU=${QEMU_CPU:-max,-fsrm,-erms}
	note="QEMU TCG guest (emulated CPU, no KVM): compare methods within this run only"
fi
export QEMU_MEM=${QEMU_MEM:-3072}
export GUEST_TIMEOUT=${GUEST_TIMEOUT:-3600}
export XPCOPY_BUILD=$build

"$top/scripts/deps.sh"
# Only a sid kernel needs the sid chroot, only 5.10 the bullseye chroot,
# only the debug kernel its build.
case $kernel in 6.*) export XPCOPY_SID=0 ;; esac
case $kernel in *5.10*) ;; *) export XPCOPY_BULLSEYE=0 ;; esac
case $kernel in *debug*) ;; *) export XPCOPY_DEBUG=0 ;; esac
line=$(KERNELS=$kernel "$top/scripts/kernels.sh" | head -n 1)
kver=${line%% *}
echo "bench: accelerator $accel ($why), kernel $kver, guest cpu $QEMU_CPU, ${QEMU_MEM} MiB"

# In a fresh clone nothing has made build/ yet.
mkdir -p "$build"
"$top/scripts/build-module.sh" "$kver" >"$build/bench-module.log" 2>&1 ||
	{ cat "$build/bench-module.log"; exit 1; }
make -s -C "$top" userspace

mkdir -p "$build/bench" "$results"
rm -f "$results"/bench.{json,csv,txt,png} "$results"/bench-latency.png
XPCOPY_MODE=bench XPCOPY_BENCH_ARGS=${BENCH_ARGS:-} XPCOPY_BENCH_THP=${BENCH_THP:-} \
XPCOPY_BENCH_NOTE=$note \
XPCOPY_TESTS_DIR=$build/bench/no-tests \
	"$top/scripts/mkinitramfs.sh" "$kver" "$build/bench/initramfs.cpio.gz"
set +e
"$top/scripts/run-guest.sh" "$kver" "$build/bench/initramfs.cpio.gz" \
	"$build/bench/console.log" "$results" >/dev/null
rc=$?
set -e
if [ ! -s "$results/bench.csv" ]; then
	echo "bench: the guest sent no results (run-guest exit $rc); see $build/bench/console.log" >&2
	tail -n 40 "$build/bench/console.log" >&2
	exit 1
fi

gnuplot -e "csv='$results/bench.csv'; out='$results/bench.png'; title='xpcopy-bench, $kver, QEMU $accel -cpu $QEMU_CPU'" \
	"$top/userspace/bench/plot.gp"
cat "$results/bench.txt"
echo
echo "bench: results in $results: $(cd "$results" && ls | tr '\n' ' ')"
echo "bench: accelerator: $accel ($why)$([ $accel = tcg ] && echo ': emulated, compare methods within this run only')"
[ $rc = 0 ] || { echo "bench: the run reported a failure (exit $rc)" >&2; exit 1; }
