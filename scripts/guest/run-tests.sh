#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The xpcopy test runner, inside the QEMU guest (busybox ash).
#
# Loads /xpcopy.ko, runs every test case of every executable in /tests/ on
# its own, under a timeout, checks the kernel log and the pin counters after
# each, unloads the module, prints one line per case:
#
#	ok N name
#	ok N name # SKIP reason
#	not ok N name # reason
#
# and finally
#
#	XPCOPY-RESULT kver=<uname -r> passed=N failed=N skipped=N
#
# Configuration: /xpcopy/config (written by mkinitramfs.sh), then kernel
# command line words xpct.<key>=<value> (timeout, verbose, filter, insmod,
# hung_task; commas stand for spaces), which win. Keys:
#
#	XPCOPY_TIMEOUT	seconds a case may run before it is killed (300)
#	XPCOPY_VERBOSE	1: print every case's output, not only failures'
#	XPCOPY_FILTER	space-separated shell patterns; only cases whose name
#			(bin:case) matches one run; empty: all
#	XPCOPY_INSMOD	module parameters for insmod
#	XPCOPY_HUNG_TASK  kernel.hung_task_timeout_secs, so that a task stuck
#			in D state is reported before its case times out (30)
#
# Files: every file a test leaves in $XPCOPY_OUT (/out) is sent back to the
# host over the console (see send_file), and so are results.tsv (number,
# status, seconds and name of each case) and, when a case failed, the whole
# kernel log as dmesg.log.

PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

XPCOPY_TIMEOUT=300
XPCOPY_VERBOSE=0
XPCOPY_FILTER=
XPCOPY_EXCLUDE=
XPCOPY_INSMOD=
XPCOPY_HUNG_TASK=30
[ -r /xpcopy/config ] && . /xpcopy/config

for w in $(cat /proc/cmdline); do
	case $w in
	xpct.timeout=*)	XPCOPY_TIMEOUT=${w#*=} ;;
	xpct.verbose=*)	XPCOPY_VERBOSE=${w#*=} ;;
	xpct.filter=*)	XPCOPY_FILTER=$(echo "${w#*=}" | tr ',' ' ') ;;
	xpct.exclude=*)	XPCOPY_EXCLUDE=$(echo "${w#*=}" | tr ',' ' ') ;;
	xpct.insmod=*)	XPCOPY_INSMOD=$(echo "${w#*=}" | tr ',' ' ') ;;
	xpct.hung_task=*) XPCOPY_HUNG_TASK=${w#*=} ;;
	esac
done

XPCOPY_OUT=/out
export XPCOPY_OUT
# Where a long case (the fuzzer) writes a line of progress as it goes.
XPCOPY_LIVE=/dev/console
export XPCOPY_LIVE
TMPDIR=/tmp
export TMPDIR

KVER=$(uname -r)
WORK=/tmp/xpcopy-run
mkdir -p "$WORK" "$XPCOPY_OUT"
DMESG_LOG=$WORK/dmesg.log	# the whole kernel log, chunk by chunk
RESULTS=$WORK/results.tsv	# one line per case
printf 'n\tstatus\tseconds\tname\n' >"$RESULTS"

BAD_RE='BUG:|WARNING:|Oops|KASAN|UBSAN|possible circular locking|possible recursive locking|INFO: task .* blocked|kmemleak|Call Trace'
export BAD_RE	# awk reads it from ENVIRON: no -v escape processing

n=0
passed=0
failed=0
skipped=0

# ---------------------------------------------------------------------------
# Reporting

# result <ok|fail|skip> <name> [reason]
# Also appends "<n> <status> <seconds> <name>" to $RESULTS (sent back to the
# host as results.tsv, tab-separated); the case's time is in $CASE_TIME.
CASE_TIME=0
result() {
	n=$((n + 1))
	printf '%s\t%s\t%s\t%s\n' "$n" "$1" "$CASE_TIME" "$2" >>"$RESULTS"
	case $1 in
	ok)	passed=$((passed + 1))
		echo "ok $n $2${3:+ # $3}" ;;
	skip)	skipped=$((skipped + 1))
		echo "ok $n $2 # SKIP ${3:-no reason given}" ;;
	*)	failed=$((failed + 1))
		echo "not ok $n $2 # ${3:-failed}" ;;
	esac
}

# Print a file, each line prefixed with "# <tag>".
show() {
	sed "s/^/# $2/" "$1"
}

# send_file <path> [name]: send a file back to the host over the console.
send_file() {
	xpcopy-send-file "$@"
}

# Seconds since boot, in $UPTIME. A builtin read, not date: under TCG a
# debug kernel spends 50-150 ms on every program the runner starts, and
# that, not the cases, was a third of its run.
UPTIME=0
uptime_s() {
	local rest
	read -r UPTIME rest </proc/uptime
	UPTIME=${UPTIME%.*}
}

# ---------------------------------------------------------------------------
# Checks after each case

# Take the kernel messages since the previous call (dmesg -c reads and clears
# in one step: no message falls between two checks) into $WORK/dmesg.new,
# appending them to the whole log. Returns 0 when none is suspicious; the
# suspicious chunk is then in $WORK/dmesg.new.
dmesg_clean() {
	dmesg -c >"$WORK/dmesg.new" 2>/dev/null
	awk -v logf="$DMESG_LOG" '
	     { print >>logf }
	     '"$JUDGE_AWK"'
	     $0 ~ ENVIRON["BAD_RE"] { found = 1 }
	     END { exit found }' "$WORK/dmesg.new"
}

# The chunk in $WORK/dmesg.new as judged: without the runner's marks and,
# once a case wrote "XPCOPY-EXPECT oom-report" to /dev/kmsg (a memory
# cgroup test, whose limit makes the kernel print an out-of-memory report),
# without each such report's header and trace (from "invoked oom-killer"
# to the trace's "</TASK>", at most 80 lines); once it wrote "XPCOPY-EXPECT
# alloc-failure" (a test that makes allocations fail on purpose), without
# the allocator's warnings about them ("vmalloc error:" or "page allocation
# failure:" to "</TASK>") and kmemleak's line about its own bookkeeping
# allocation that failed ("Cannot allocate a scan area"). Everything else
# counts.
JUDGE_AWK='
	/XPCOPY-MARK/ { next }
	/XPCOPY-EXPECT oom-report/ { oom = 1; next }
	/XPCOPY-EXPECT alloc-failure/ { alloc = 1; next }
	oom && /invoked oom-killer/ { skip = 80 }
	alloc && /vmalloc error:|page allocation failure:/ { skip = 80 }
	alloc && /kmemleak: Cannot allocate a scan area/ { next }
	skip > 0 { skip--; if (/<\/TASK>/) skip = 0; next }'
dmesg_judged() {
	awk "$JUDGE_AWK"' { print }' "$WORK/dmesg.new"
}

# Outstanding FOLL_PIN pins: nr_foll_pin_acquired - nr_foll_pin_released,
# and lockdep's switch (debug_locks), in one program: PINS_ACQ, PINS_REL
# (empty without the counters) and DEBUG_LOCKS (empty without lockdep).
# Writing stat_refresh folds the per-cpu counter deltas first.
PINS_ACQ=
PINS_REL=
DEBUG_LOCKS=
LOCKDEP_STATS=
[ -r /proc/lockdep_stats ] && LOCKDEP_STATS=/proc/lockdep_stats
read_state() {
	local v
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	v=$(awk '$1 == "nr_foll_pin_acquired" { a = $2 }
		 $1 == "nr_foll_pin_released" { r = $2 }
		 $1 == "debug_locks:" { d = $2 }
		 END { print a ":" r ":" d }' /proc/vmstat $LOCKDEP_STATS)
	PINS_ACQ=${v%%:*}
	v=${v#*:}
	PINS_REL=${v%%:*}
	DEBUG_LOCKS=${v#*:}
}

# After read_state: returns 0 when the pins are back to the baseline,
# retrying for 1 s: a process's pins may be released a little after it
# exited. Counters that could be read before and not now are a failure.
pins_balanced() {
	local i=0
	[ -n "$PINS_BASE" ] || return 0
	while :; do
		[ -n "$PINS_ACQ" ] && [ -n "$PINS_REL" ] || return 1
		[ $((PINS_ACQ - PINS_REL)) = "$PINS_BASE" ] && return 0
		i=$((i + 1))
		[ $i -ge 10 ] && return 1
		usleep 100000
		read_state
	done
}

# The range of the module's text, as 16 hex digits (for kmemleak's
# backtraces once the module is gone): MOD_TEXT_LO and MOD_TEXT_HI. Always
# returns 0.
MOD_TEXT_LO=
MOD_TEXT_HI=
mod_text_range() {
	local base size
	base=$(cat /sys/module/xpcopy/sections/.text 2>/dev/null) || return 0
	size=$(cat /sys/module/xpcopy/coresize 2>/dev/null) || return 0
	MOD_TEXT_LO=$(printf '%016x' "$base")
	MOD_TEXT_HI=$(printf '%016x' $((base + size)))
	return 0
}

# After read_state: lockdep's on-off switch, 0 once it reported something
# (or hit its limits); "on" when the kernel has no lockdep at all.
debug_locks_on() {
	[ -n "$LOCKDEP_STATS" ] || return 0
	[ "$DEBUG_LOCKS" = 1 ]
}

# Kill what a case left behind: the harness runs each test in a child of its
# own process group, which a timeout does not reach. Kernel threads have no
# executable; the runner, its parent (init) and the baseline stay.
kill_strays() {
	local d p
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = 1 ] || [ "$p" = $$ ] && continue
		case " $BASELINE_PIDS " in *" $p "*) continue ;; esac
		[ -e "$d/exe" ] && kill -9 "$p" 2>/dev/null
	done
}

# check_after <name> <status> <reason> <output file>
# Runs the kernel log and pin checks, then reports the case.
check_after() {
	local name=$1 status=$2 reason=$3 out=$4 extra=
	kill_strays
	if ! dmesg_clean; then
		[ "$status" = fail ] && extra="$reason; " || extra=
		status=fail
		reason="${extra}kernel log: $(dmesg_judged |
			grep -E -o "$BAD_RE" | head -n 1)"
		DMESG_BAD=1
	else
		DMESG_BAD=0
	fi
	read_state
	# A lockdep kernel turns its checking off after the first report it
	# makes (debug_locks 0): every later case would pass unchecked.
	if [ "$DEBUG_LOCKS_OK" = 1 ] && ! debug_locks_on; then
		[ "$status" = fail ] && extra="$reason; " || extra=
		status=fail
		reason="${extra}lockdep turned itself off (debug_locks 0)"
		DEBUG_LOCKS_OK=0
	fi
	if ! pins_balanced; then
		[ "$status" = fail ] && extra="$reason; " || extra=
		status=fail
		if [ -z "$PINS_ACQ" ] || [ -z "$PINS_REL" ]; then
			reason="${extra}the pin counters in /proc/vmstat could not be read"
		else
			reason="${extra}pins leaked: nr_foll_pin_acquired=$PINS_ACQ nr_foll_pin_released=$PINS_REL (difference before: $PINS_BASE)"
			# Judge the next cases on their own pins.
			PINS_BASE=$((PINS_ACQ - PINS_REL))
		fi
	fi
	result "$status" "$name" "$reason"
	CASE_TIME=0
	if [ -n "$out" ] && [ -s "$out" ] &&
	   { [ "$status" = fail ] || [ "$XPCOPY_VERBOSE" = 1 ]; }; then
		show "$out" "  "
	fi
	[ "$DMESG_BAD" = 1 ] && show "$WORK/dmesg.new" "dmesg: "
	return 0
}

# ---------------------------------------------------------------------------
# Test cases

# Is <name> selected by XPCOPY_FILTER, and not left out by XPCOPY_EXCLUDE?
# Cases left out are counted in EXCLUDED, not reported one by one.
EXCLUDED=0
selected() {
	local p r=1
	set -f		# the patterns are for case, not for file names
	if [ -z "$XPCOPY_FILTER" ]; then
		r=0
	else
		for p in $XPCOPY_FILTER; do
			# shellcheck disable=SC2254
			case $1 in $p) r=0 ;; esac
		done
	fi
	if [ $r = 0 ]; then
		for p in $XPCOPY_EXCLUDE; do
			# shellcheck disable=SC2254
			case $1 in $p) r=1; EXCLUDED=$((EXCLUDED + 1)) ;; esac
		done
	fi
	set +f
	return $r
}

# list_cases <bin>: print the harness names of its cases, one a line, in the
# order the harness runs them ("FIXTURE.TEST" or "FIXTURE.VARIANT.TEST";
# TEST() tests are in fixture "global"), each of which "<bin> -r <name>"
# runs; LIST-FAILED when the listing failed. Prints "-" for a program that
# does not list its cases: it is run once, as one case, and its TAP lines
# judge it (a "not ok" among them fails it).
#
# The selftests list their cases themselves, with "--xpcopy-cases"
# (selftests/xpcopy_test.h), from the harness's own lists; a program that
# can has a line "--xpcopy-cases lists the cases" in it. The layout of
# the harness's -l table is no interface (it may change with the harness);
# a listing that disagreed with the harness would show, since a name the
# harness does not know runs no test and fails its case.
list_cases() {
	local bin=$1 out
	if ! grep -q -F -e '--xpcopy-cases lists the cases' "$bin"; then
		echo -
		return 0
	fi
	if ! out=$(timeout -k 5 60 "$bin" --xpcopy-cases 2>/dev/null) ||
	   [ -z "$out" ]; then
		echo LIST-FAILED
		return 0
	fi
	echo "$out"
}

# tap_verdict <output file>: what a case's TAP lines say, read by one
# program. TAP_VERDICT: none (no "ok"/"not ok" line), notok (one "not ok"),
# skip (an "ok ... # SKIP"), xfail (an "ok ... # XFAIL") or ok;
# TAP_SKIP: the text after the first "# SKIP" (also a harness comment's);
# TAP_XFAIL: the text after the first XFAIL's "# XFAIL".
TAP_VERDICT=
TAP_SKIP=
TAP_XFAIL=
tap_verdict() {
	awk '/^(not )?ok [0-9]+ / { any = 1 }
		/^not ok [0-9]+ / { notok = 1 }
		/^ok [0-9]+ .* # SKIP/ { skip = 1 }
		/^ok [0-9]+ .* # XFAIL/ && !xfail {
			xfail = 1; x = $0; sub(/.* # XFAIL */, "", x)
		}
		index($0, "# SKIP") && !sr {
			sr = 1; s = $0; sub(/.*# SKIP */, "", s)
		}
		END {
			if (!any) w = "none"
			else if (notok) w = "notok"
			else if (skip) w = "skip"
			else if (xfail) w = "xfail"
			else w = "ok"
			printf "%s\n%s\n%s\n", w, s, x
		}' "$1" >"$WORK/tap"
	{ read -r TAP_VERDICT; read -r TAP_SKIP; read -r TAP_XFAIL; } <"$WORK/tap"
}

# run_case <bin> <harness name or ->
run_case() {
	local bin=$1 case=$2 name rc start elapsed status reason out
	name=$(basename "$bin")
	[ "$case" = - ] || name="$name:$case"
	selected "$name" || return 0

	out=$WORK/out
	echo "XPCOPY-MARK $((n + 1)) $name" >/dev/kmsg
	uptime_s
	start=$UPTIME
	# In a command substitution with stderr to /dev/null, so that the
	# shell's "Terminated" when the timeout kills the case stays out of
	# the console. (busybox ash ignores the redirections of a subshell
	# inside a redirected { } group: no such construct here.)
	if [ "$case" = - ]; then
		rc=$(cd /tmp && exec 2>/dev/null &&
		     timeout -k 5 "$XPCOPY_TIMEOUT" "$bin" >"$out" 2>&1 </dev/null
		     echo $?)
	else
		rc=$(cd /tmp && exec 2>/dev/null &&
		     timeout -k 5 "$XPCOPY_TIMEOUT" "$bin" -r "$case" >"$out" 2>&1 </dev/null
		     echo $?)
	fi
	uptime_s
	elapsed=$((UPTIME - start))
	CASE_TIME=$elapsed
	if [ "$XPCOPY_VERBOSE" = 1 ] || [ "$elapsed" -ge 10 ]; then
		echo "# $name: exit $rc after ${elapsed}s"
	fi

	reason=
	case $rc in 0|4) tap_verdict "$out" ;; esac
	case $rc in
	0)	status=ok
		if [ "$case" != - ] && [ "$TAP_VERDICT" = none ]; then
			status=fail
			reason="no test ran: the harness knows no case $case"
		elif [ "$TAP_VERDICT" = notok ]; then
			status=fail
			reason="exit 0 but the TAP output says not ok"
		elif [ "$TAP_VERDICT" = skip ]; then
			status=skip
		elif [ "$TAP_VERDICT" = xfail ]; then
			reason="XFAIL $TAP_XFAIL"
		fi ;;
	4)	status=skip ;;
	124|137|143)
		status=fail
		if [ "$elapsed" -ge "$XPCOPY_TIMEOUT" ]; then
			reason="timeout: killed after ${elapsed}s"
		else
			reason="killed by signal $((rc - 128))"
		fi ;;
	*)	status=fail
		if [ $rc -gt 128 ]; then
			reason="killed by signal $((rc - 128))"
		else
			reason="exit code $rc"
		fi ;;
	esac
	if [ "$status" = skip ]; then
		reason=$TAP_SKIP
		[ -n "$reason" ] || reason="exit code 4, no reason given"
	fi
	check_after "$name" "$status" "$reason" "$out"
}

# ---------------------------------------------------------------------------
# Main

echo
echo "# xpcopy guest runner on $KVER, $(nproc) cpus, timeout ${XPCOPY_TIMEOUT}s${XPCOPY_FILTER:+, filter: $XPCOPY_FILTER}${XPCOPY_EXCLUDE:+, excluded: $XPCOPY_EXCLUDE}"

[ -w /proc/sys/kernel/hung_task_timeout_secs ] &&
	echo "$XPCOPY_HUNG_TASK" >/proc/sys/kernel/hung_task_timeout_secs

# Processes that were there before any test: not strays.
BASELINE_PIDS=
for d in /proc/[0-9]*; do
	[ -e "$d/exe" ] && BASELINE_PIDS="$BASELINE_PIDS ${d#/proc/}"
done

# A kernel that reported a problem while booting, before the module came
# (seen once: a KASAN report in an early interrupt of the debug kernel under
# TCG), or whose lockdep had already switched itself off, would judge every
# case wrongly. The runner then runs none: it prints XPCOPY-BADBOOT with
# the reason, and make check boots the kernel again (scripts/check.sh).
# kmemleak's "initialized" line matches BAD_RE and is no report.
BOOT_OK_RE='kmemleak: Kernel memory leak detector initialized'
BOOT_BAD=
if ! dmesg_clean; then
	if dmesg_judged | grep -E "$BAD_RE" | grep -q -v -E "$BOOT_OK_RE"; then
		echo "# the kernel reported a problem while booting, before any test:"
		show "$WORK/dmesg.new" "boot: "
		BOOT_BAD="a kernel report while booting"
	fi
fi

read_state
if [ -n "$PINS_ACQ" ] && [ -n "$PINS_REL" ]; then
	PINS_BASE=$((PINS_ACQ - PINS_REL))
	[ "$PINS_BASE" = 0 ] || echo "# pins outstanding before the tests: $PINS_BASE; checking against that"
else
	PINS_BASE=
	echo "# /proc/vmstat has no nr_foll_pin_* counters: pin check disabled"
fi

DEBUG_LOCKS_OK=1
if [ -r /proc/lockdep_stats ]; then
	if debug_locks_on; then
		echo "# lockdep is on (debug_locks 1) and checked after every case"
	else
		BOOT_BAD="${BOOT_BAD:+$BOOT_BAD; }lockdep off before the tests (debug_locks 0)"
	fi
fi
if [ -n "$BOOT_BAD" ]; then
	echo "XPCOPY-BADBOOT kver=$KVER: $BOOT_BAD; no case was run"
	exit 3
fi

# kmemleak: what the kernel leaked before the module came is cleared from
# the report, so that the scan after rmmod shows what is new.
KMEMLEAK=/sys/kernel/debug/kmemleak
if [ -w "$KMEMLEAK" ]; then
	echo scan >"$KMEMLEAK" 2>/dev/null
	echo clear >"$KMEMLEAK" 2>/dev/null
else
	KMEMLEAK=
fi

# The kernel's own modules the tests need (FUSE where it is not built in).
for m in /xpcopy/modules/*.ko*; do
	[ ! -f "$m" ] || insmod "$m" || echo "# insmod $m failed"
done

# module_load
echo "XPCOPY-MARK $((n + 1)) module_load" >/dev/kmsg
# shellcheck disable=SC2086
if insmod /xpcopy.ko $XPCOPY_INSMOD >"$WORK/out" 2>&1; then
	MODULE_LOADED=1
	check_after module_load ok "" "$WORK/out"
else
	MODULE_LOADED=0
	check_after module_load fail "insmod failed: $(head -n 1 "$WORK/out")" "$WORK/out"
fi
[ "$XPCOPY_VERBOSE" = 1 ] && ls -l /dev/xpcopy 2>&1 | sed 's/^/# /'

for bin in /tests/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	cases=$(list_cases "$bin")
	if [ "$cases" = LIST-FAILED ] || [ -z "$cases" ]; then
		name=$(basename "$bin"):list
		if selected "$name"; then
			timeout -k 5 60 "$bin" --xpcopy-cases >"$WORK/out" 2>&1
			check_after "$name" fail "'$(basename "$bin") --xpcopy-cases' listed no test case" "$WORK/out"
		fi
		continue
	fi
	for c in $cases; do
		run_case "$bin" "$c"
	done
done
[ -e /tests ] && [ -n "$(ls /tests)" ] || echo "# no test binaries in /tests"

# module_unload
echo "XPCOPY-MARK $((n + 1)) module_unload" >/dev/kmsg
if [ "$MODULE_LOADED" = 0 ]; then
	check_after module_unload skip "the module was not loaded" ""
elif mod_text_range && rmmod xpcopy >"$WORK/out" 2>&1; then
	check_after module_unload ok "" "$WORK/out"
else
	check_after module_unload fail "rmmod failed: $(head -n 1 "$WORK/out")" "$WORK/out"
fi

# kmemleak after rmmod: objects the module allocated and lost. The scan
# reports objects older than 5 s that nothing points at; a leak's backtrace
# names the module's functions ("[xpcopy]"), or, once the module is gone,
# bare addresses inside the range its text occupied (6.12's %pS prints such
# an address as "0xffffffffc0..."; older kernels wrote "[<...>]"). Any
# leak fails the case in any event: the scan's "kmemleak: N new suspected
# memory leaks" is a kernel log report (BAD_RE); the count says whose.
if [ -n "$KMEMLEAK" ]; then
	echo "XPCOPY-MARK $((n + 1)) kmemleak_after_rmmod" >/dev/kmsg
	if [ "$MODULE_LOADED" = 0 ]; then
		check_after kmemleak_after_rmmod skip "the module was not loaded" ""
	else
		sleep 6
		echo scan >"$KMEMLEAK"
		echo scan >"$KMEMLEAK"
		cat "$KMEMLEAK" >"$WORK/kmemleak" 2>&1
		nleak=$(grep -c '^unreferenced object' "$WORK/kmemleak")
		ours=$(awk -v lo="$MOD_TEXT_LO" -v hi="$MOD_TEXT_HI" '
			/^unreferenced object/ { obj = $0 }
			/\[xpcopy\]/ { print obj; next }
			function ours(a) {
				while (length(a) < 16) a = "0" a
				return a >= lo && a < hi
			}
			lo != "" && match($0, /\[<[0-9a-f]+>\]/) {
				if (ours(substr($0, RSTART + 2, RLENGTH - 4))) print obj
				next
			}
			lo != "" && match($0, /^ +0x[0-9a-f]+$/) {
				a = $0; sub(/^ +0x/, "", a)
				if (ours(a)) print obj
			}' "$WORK/kmemleak" | sort -u | wc -l)
		if [ "$ours" -gt 0 ]; then
			check_after kmemleak_after_rmmod fail "kmemleak: $ours of the module's objects leaked" "$WORK/kmemleak"
		else
			[ "$nleak" = 0 ] || echo "# kmemleak: $nleak object(s) reported, none of the module's"
			check_after kmemleak_after_rmmod ok "" "$WORK/kmemleak"
		fi
	fi
fi

[ "$EXCLUDED" = 0 ] || echo "# $EXCLUDED case(s) left out by XPCOPY_EXCLUDE ($XPCOPY_EXCLUDE)"

# Files back to the host.
for f in "$XPCOPY_OUT"/*; do
	[ -f "$f" ] && send_file "$f"
done
send_file "$RESULTS" results.tsv
[ "$failed" -gt 0 ] && send_file "$DMESG_LOG" dmesg.log

dmesg -n 1
echo "XPCOPY-RESULT kver=$KVER passed=$passed failed=$failed skipped=$skipped"
