#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh <fuzz|soak>: what "make fuzz" and "make soak" do. Build the module
# and the selftests, then per kernel of the matrix (KERNELS filters it) boot
# a guest that runs only selftests/xpcopy_fuzz, and print its summary: the
# seed, copies, bytes, errnos seen per command, violations, and the
# runner's verdict (kernel log reports, pin balance).
#
#	fuzz	XPCOPY_FUZZ_SECONDS=$FUZZ_SECONDS (default 600) of fuzzing
#	soak	XPCOPY_FUZZ_COPIES=$SOAK_COPIES (default 1000000) successful
#		copies of mixed sizes, with the same concurrent events; no
#		time limit but the runner's (SOAK_TIMEOUT, default 14400 s)
#
# Environment: FUZZ_SEED (replay a seed), FUZZ_THREADS, KERNELS (default:
# the debug kernel for soak, Debian's 6.12 for fuzz), and what check.sh
# reads (QEMU_*, GUEST_APPEND, ...).
set -uo pipefail

mode=${1:?usage: fuzz.sh <fuzz|soak>}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
export XPCOPY_BUILD=$build
case $mode in
soak)	export KERNELS=${KERNELS:-debug} ;;
*)	export KERNELS=${KERNELS:-6.12}
	# the debug kernel only when KERNELS names it
	case $KERNELS in
	*debug*) ;;
	*) export XPCOPY_DEBUG=${XPCOPY_DEBUG:-0} ;;
	esac ;;
esac
case $mode in
fuzz)	export XPCOPY_FUZZ_SECONDS=${FUZZ_SECONDS:-600}
	export XPCOPY_FUZZ_COPIES=0
	limit=$((XPCOPY_FUZZ_SECONDS + 300)) ;;
soak)	export XPCOPY_FUZZ_SECONDS=0
	export XPCOPY_FUZZ_COPIES=${SOAK_COPIES:-1000000}
	limit=${SOAK_TIMEOUT:-14400} ;;
*)	echo "fuzz.sh: mode fuzz or soak" >&2; exit 2 ;;
esac
[ -z "${FUZZ_SEED:-}" ] || export XPCOPY_FUZZ_SEED=$FUZZ_SEED
[ -z "${FUZZ_THREADS:-}" ] || export XPCOPY_FUZZ_THREADS=$FUZZ_THREADS
export XPCOPY_TIMEOUT=$limit
export GUEST_TIMEOUT=$((limit + 600))
export XPCOPY_FILTER='xpcopy_fuzz:*'
export XPCOPY_VERBOSE=1

"$top/scripts/deps.sh" || exit 1
case $KERNELS in *7.*|*sid*) ;; *) export XPCOPY_SID=${XPCOPY_SID:-0} ;; esac
case $KERNELS in *5.10*) ;; *) export XPCOPY_BULLSEYE=${XPCOPY_BULLSEYE:-0} ;; esac
matrix=$("$top/scripts/kernels.sh") || exit 1
"$top/scripts/build-modules.sh" || echo "fuzz.sh: some module builds failed"
make -s -C "$top" selftests || exit 1
tests=$build/$mode/tests
mkdir -p "$tests"
rm -f "$tests"/*
cp "$build/selftests/bin/xpcopy_fuzz" "$tests/"

rc=0
while read -r kver _; do
	dir=$build/$mode/$kver
	mkdir -p "$dir"
	if [ ! -f "$build/$kver/xpcopy.ko" ]; then
		echo "$kver: FAILED: no module"; rc=1; continue
	fi
	XPCOPY_KO=$build/$kver/xpcopy.ko XPCOPY_TESTS_DIR=$tests \
		"$top/scripts/mkinitramfs.sh" "$kver" "$dir/initramfs.cpio.gz" || exit 1
	"$top/scripts/run-guest.sh" "$kver" "$dir/initramfs.cpio.gz" \
		"$dir/console.log" "$dir/out" >"$dir/run-guest.out" 2>&1
	r=$?
	echo "=== $mode on $kver (log: ${dir#"$top"/}/console.log)"
	grep -E '^# +(# )?(fuzz:|  [A-Za-z_()-]+ +[0-9]+:|violation|replay)' "$dir/console.log" |
		sed 's/^# *\(# \)\{0,1\}/    /'
	grep -E '^# live: ' "$dir/console.log" | tail -n 1 | sed 's/^/    last /'
	grep -E '^(not )?ok [0-9]+ xpcopy_fuzz|^ok [0-9]+ module_|^not ok [0-9]+ module_' "$dir/console.log" | sed 's/^/    /'
	echo "    kernel log reports: $(grep -c '^# dmesg: ' "$dir/console.log") suspicious lines"
	grep -m 20 '^# dmesg: ' "$dir/console.log" | sed 's/^/    /'
	tail -n 1 "$dir/run-guest.out" | sed 's/^/    /'
	[ $r = 0 ] || rc=1
done <<<"$matrix"
exit $rc
