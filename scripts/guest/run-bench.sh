#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of "make bench": load the module, run xpcopy-bench with the
# arguments in /xpcopy/bench-args, send its JSON, CSV and table back to the
# host, and end with the XPCOPY-RESULT line run-guest.sh waits for (one
# "case": the benchmark ran and verified every byte, or it did not).

KVER=$(uname -r)
OUT=/out
mkdir -p "$OUT"
args=$(cat /xpcopy/bench-args 2>/dev/null)
note=$(cat /xpcopy/bench-note 2>/dev/null)
[ -n "$note" ] ||
	note="QEMU TCG guest (emulated CPU, no KVM): compare methods within this run only"
passed=0
failed=0

dmesg -n 1
if insmod /xpcopy.ko; then
	echo "bench: module loaded; xpcopy-bench $args"
else
	echo "bench: insmod failed; the xpcopy methods will be skipped"
fi
grep -o -w -E 'erms|fsrm' /proc/cpuinfo | sort -u | tr '\n' ' ' |
	sed 's/^/bench: guest cpu flags: /; s/$/\n/'
thp=$(cat /xpcopy/bench-thp 2>/dev/null)
[ -z "$thp" ] || echo "$thp" >/sys/kernel/mm/transparent_hugepage/enabled ||
	echo "bench: cannot set THP to $thp"
echo "bench: THP $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"

# shellcheck disable=SC2086	# the arguments are words on purpose
if xpcopy-bench $args --json "$OUT/bench.json" --csv "$OUT/bench.csv" \
	--note "$note" \
	>"$OUT/bench.txt" 2>&1; then
	passed=1
else
	echo "bench: xpcopy-bench exited with $?"
	failed=1
fi
cat "$OUT/bench.txt"
for f in bench.json bench.csv bench.txt; do
	[ -f "$OUT/$f" ] && xpcopy-send-file "$OUT/$f" "$f"
done
if dmesg | grep -E 'BUG:|WARNING:|Oops|Call Trace' >/dev/null; then
	echo "bench: the kernel log has reports:"
	dmesg | grep -E -A20 'BUG:|WARNING:|Oops'
	failed=$((failed + 1))
fi
echo "XPCOPY-RESULT kver=$KVER passed=$passed failed=$failed skipped=0"
