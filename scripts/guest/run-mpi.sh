#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The MPI guest's runner (Debian root, dash): unmodified Debian Open MPI
# over libxpcopy-cma. Mode (/xpcopy/mode): "check" (TAP lines, then
# XPCOPY-RESULT like run-tests.sh) or "bench" (ping-pong bandwidth over
# plain CMA, vader's two copies, and xpcopy through the library; CSV files
# sent back to the host).
#
# Everything MPI runs as the unprivileged user mpi (uid 1000); the other
# user (uid 1001) is a stranger. Checks run with Yama ptrace_scope 3, where
# every process_vm_readv between processes fails with EPERM.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
bb=/xpcopy/busybox
LIB=/usr/local/lib/libxpcopy-cma.so
MODE=$(cat /xpcopy/mode 2>/dev/null || echo check)
KVER=$(uname -r)
W=/tmp/mpi-run
mkdir -p "$W" /out
chmod 1777 "$W"
STATS=/sys/class/misc/xpcopy/stats

n=0 passed=0 failed=0 skipped=0
result() {
	n=$((n + 1))
	case $1 in
	ok)	passed=$((passed + 1)); echo "ok $n $2${3:+ # $3}" ;;
	skip)	skipped=$((skipped + 1)); echo "ok $n $2 # SKIP $3" ;;
	*)	failed=$((failed + 1)); echo "not ok $n $2 # $3" ;;
	esac
}
show() { sed 's/^/#   /' "$1"; }
copies() { cat $STATS/copies 2>/dev/null || echo 0; }

as_user() {	# as_user <uid> cmd...: the user's uid, gid and groups
	u=$1; shift
	setpriv --reuid="$u" --regid="$u" --init-groups \
		env HOME="$(getent passwd "$u" | cut -d: -f6)" "$@"
}

# mpirun as user mpi, 2 ranks on shared memory (vader) with CMA as the
# single-copy mechanism; more mpirun arguments in $MPI_ARGS.
MPIRUN_BASE="mpirun --allow-run-as-root --bind-to none --mca pml ob1 --mca btl self,vader"
mpi() {
	np=$1; mech=$2; shift 2
	# shellcheck disable=SC2086
	as_user 1000 timeout -k 5 600 $MPIRUN_BASE -np "$np" --oversubscribe \
		--mca btl_vader_single_copy_mechanism "$mech" $MPI_ARGS "$@"
}

# start_other <env...>: a cma-test target as user other (with the library
# preloaded), its READY line in $READY.
start_other() {
	rm -f "$W/tin" "$W/tout"
	mkfifo -m 666 "$W/tin"
	as_user 1001 env LD_PRELOAD=$LIB "$@" cma-test target 21 <"$W/tin" >"$W/tout" 2>&1 &
	exec 7>"$W/tin"
	i=0
	while ! grep -q READY "$W/tout" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	READY=$(grep READY "$W/tout")
	set -- $READY
	TPID=$2 TADDR=$3 TLEN=$4
}
stop_other() { echo quit >&7; exec 7>&-; wait; }

echo
echo "# xpcopy MPI guest runner on $KVER, $(nproc) cpus, mode $MODE"
echo "# $(mpirun --version 2>&1 | head -n 1)"

if $bb insmod /xpcopy.ko >"$W/out" 2>&1 && [ -c /dev/xpcopy ]; then
	result ok module_load
else
	result fail module_load "insmod failed: $(head -n 1 "$W/out")"
	echo "XPCOPY-RESULT kver=$KVER passed=$passed failed=$failed skipped=$skipped"
	exit 1
fi

# mode explore: a script of the developer's (scripts/mpi.sh explore FILE).
if [ "$MODE" = explore ]; then
	. /xpcopy/explore.sh
	echo "XPCOPY-RESULT kver=$KVER passed=$passed failed=$failed skipped=$skipped"
	exit 0
fi

# ---------------------------------------------------------------------------
if [ "$MODE" = bench ]; then
	# Rounds of the three runs one after the other, so that a change of
	# load on the host hits all three alike; a last xpcopy round at
	# ptrace_scope 3 (which cannot be lowered again), where CMA fails.
	SIZES=$(cat /xpcopy/bench-args 2>/dev/null || echo "-s 4096 -m 4194304 -i 20")
	ROUNDS=$(cat /xpcopy/bench-rounds 2>/dev/null || echo 3)
	echo 0 >/proc/sys/kernel/yama/ptrace_scope
	round=1 runs=
	while [ $round -le "$ROUNDS" ]; do
		runs="$runs cma:$round none:$round xpcopy:$round"
		round=$((round + 1))
	done
	for rr in $runs xpcopy:scope3; do
		run=${rr%%:*} tag=${rr#*:}
		mech=cma; MPI_ARGS=
		[ $run = none ] && mech=none
		[ $run = xpcopy ] && MPI_ARGS="-x LD_PRELOAD=$LIB -x XPCOPY_CMA_STATS=1"
		[ "$tag" = scope3 ] && echo 3 >/proc/sys/kernel/yama/ptrace_scope
		c0=$(copies)
		# shellcheck disable=SC2086
		mpi 2 $mech mpi-pingpong -c $SIZES >"$W/$run.out" 2>"$W/$run.err"
		rc=$?
		echo "# $run round $tag (ptrace_scope $(cat /proc/sys/kernel/yama/ptrace_scope)): exit $rc, xpcopy copies $c0 -> $(copies)"
		show "$W/$run.out"; show "$W/$run.err"
		grep -E '^[0-9]+,' "$W/$run.out" >"/out/mpi-$run-$tag.csv"
		if [ $rc = 0 ] && grep -q 'every byte right' "$W/$run.out" &&
		   ! grep -q 'errno = ' "$W/$run.err"; then
			result ok "bench_${run}_$tag"
		else
			result fail "bench_${run}_$tag" "exit $rc or bad bytes or CMA errors"
		fi
	done
	for f in /out/*; do [ -f "$f" ] && sh /xpcopy/send-file.sh "$f"; done
	echo "XPCOPY-RESULT kver=$KVER passed=$passed failed=$failed skipped=$skipped"
	exit 0
fi

# ---------------------------------------------------------------------------
# check

# cma_tap <prefix> <file>: the TAP lines of a cma-test run as our results.
cma_tap() {
	grep -E '^(not )?ok [0-9]+ ' "$2" | while read -r st a b rest; do
		if [ "$st" = ok ]; then
			echo "ok $1:$b"
		else
			echo "not ok $1:$(echo "$rest" | cut -d' ' -f1) # $(echo "$rest" | sed 's/^[^#]*# *//')"
		fi
	done >"$W/tap"
	while read -r line; do
		case $line in
		"ok "*)	result ok "${line#ok }" ;;
		*)	name=${line#not ok }; result fail "${name%% \#*}" "${name#* \# }" ;;
		esac
	done <"$W/tap"
}

# Unmodified Debian Open MPI, vader with CMA (used in 0. and 3.).
PP="mpi-pingpong -s 1024 -m 1048576 -i 4"
A2A="mpi-alltoall -m 262144 -i 2"
mpi_case() {	# mpi_case <name> <np> <with lib: 0|1> prog...
	name=$1 np=$2 lib=$3; shift 3
	MPI_ARGS=
	[ "$lib" = 1 ] && MPI_ARGS="-x LD_PRELOAD=$LIB -x XPCOPY_CMA_STATS=1"
	c0=$(copies)
	mpi "$np" cma "$@" >"$W/mpi.out" 2>&1
	rc=$?
	c1=$(copies)
	nerr=$(grep -c 'errno = ' "$W/mpi.out")
	right=$(grep -c 'every byte right' "$W/mpi.out")
	viax=$(sed -n 's/.*: \([0-9]*\) calls through xpcopy, \([0-9]*\) to the kernel.*/\1 \2/p' "$W/mpi.out" |
	       awk '{ x += $1; k += $2 } END { print x + 0, k + 0 }')
	echo "# $name: exit $rc, $nerr CMA error lines, xpcopy copies $c0 -> $c1, library calls (xpcopy kernel): $viax"
	if [ "$lib" = 0 ]; then
		# Without the library CMA is refused, vader falls back.
		if [ "$nerr" -gt 0 ] && grep -q 'Read -1, expected [0-9]*, errno = 1' "$W/mpi.out" &&
		   [ "$c1" = "$c0" ]; then
			result ok "$name"
		else
			result fail "$name" "expected EPERM lines from vader and no xpcopy copy"
			show "$W/mpi.out"
		fi
	elif [ $rc = 0 ] && [ "$right" = 1 ] && [ "$nerr" = 0 ] &&
	     [ "$c1" -gt "$c0" ] && [ "${viax#* }" = 0 ] && [ "${viax% *}" -gt 0 ]; then
		result ok "$name"
	else
		result fail "$name" "exit $rc, $nerr CMA errors, every-byte lines $right, copies $c0 -> $c1, calls $viax"
		show "$W/mpi.out"
	fi
}

# 0. The semantics cases at ptrace_scope 0, where the raw system call is
# allowed and each is compared with it (scope 3 cannot be lowered again).
echo 0 >/proc/sys/kernel/yama/ptrace_scope
as_user 1000 env LD_PRELOAD=$LIB \
	timeout -k 5 300 cma-test semantics $LIB >"$W/semantics.out" 2>&1
rc=$?
cma_tap cma0 "$W/semantics.out"
if [ $rc != 0 ] || [ ! -s "$W/tap" ]; then
	result fail cma0:semantics_exit "cma-test semantics exit $rc"
	show "$W/semantics.out"
fi

# 0b. Under a seccomp filter that refuses process_vm_readv/writev with
# EPERM (Docker's default profile without CAP_SYS_PTRACE; cma-test deny-cma),
# still at scope 0, where the kernel alone would allow them: the same cases
# (compared with the kernel's known answers), and the ping-pong, refused
# without the library, through xpcopy with it.
as_user 1000 env LD_PRELOAD=$LIB timeout -k 5 300 \
	cma-test deny-cma cma-test semantics $LIB >"$W/seccomp.out" 2>&1
rc=$?
cma_tap cma0-seccomp "$W/seccomp.out"
if [ $rc != 0 ] || [ ! -s "$W/tap" ]; then
	result fail cma0-seccomp:semantics_exit "cma-test semantics under the filter exit $rc"
	show "$W/seccomp.out"
fi
# shellcheck disable=SC2086
mpi_case mpi_pingpong_seccomp_without_library_eperm 2 0 cma-test deny-cma $PP
# shellcheck disable=SC2086
mpi_case mpi_pingpong_seccomp_xpcopy 2 1 cma-test deny-cma $PP

# 0c. The Debian packages of this tree (scripts/mpi.sh puts them in
# /xpcopy/debs/): libxpcopy1 and xpcopy-tools installed with dpkg -i as on
# a user's Debian 12 (xpcopy-dkms is not: DKMS needs the kernel headers and
# a compiler; the module is the one loaded above), the installed xpcopy run
# against the module, then the packages purged. Still at ptrace_scope 0:
# the pid copy is checked through /proc/PID/mem, which scope 3 refuses.
D=/xpcopy/debs
XP=/usr/bin/xpcopy
deb_skip=
if [ -f $D/skip ]; then
	deb_skip="the packages cannot be built on the host: $(cat $D/skip)"
	result skip deb:install "$deb_skip"
elif [ -f $D/failed ]; then
	result fail deb:install "$(cat $D/failed)"
	deb_skip="deb:install failed"
elif ! command -v dpkg >/dev/null; then
	deb_skip="no dpkg in the guest"
	result skip deb:install "$deb_skip"
else
	dpkg -i $D/libxpcopy1_*.deb $D/xpcopy-tools_*.deb >"$W/dpkg.out" 2>&1
	rc=$?
	st=$(dpkg-query -W -f '${db:Status-Abbrev}' libxpcopy1 xpcopy-tools 2>&1)
	lib=$(ldd $XP 2>&1 | sed -n 's/.*libxpcopy\.so\.1 => \([^ ]*\) .*/\1/p')
	owner=$(dpkg -S "$(readlink -f "${lib:-/nonexistent}")" 2>/dev/null | cut -d: -f1)
	echo "# deb:install: dpkg -i exit $rc, status '$st', $XP uses $lib (package ${owner:-none})"
	if [ $rc = 0 ] && [ "$st" = "ii ii " ] && [ "$owner" = libxpcopy1 ]; then
		result ok deb:install
	else
		result fail deb:install "dpkg -i exit $rc, status '$st', libxpcopy.so.1 of $XP: ${lib:-none} (package ${owner:-none})"
		show "$W/dpkg.out"
		deb_skip="deb:install failed"
	fi
fi
if [ -n "$deb_skip" ]; then
	for c in xpcopy_features xpcopy_pid_copy xpcopy_grant_copy remove; do
		result skip "deb:$c" "$deb_skip"
	done
	result skip readme:commands "$deb_skip"
else
	# The installed CLI as the unprivileged user: the node is open to all.
	as_user 1000 $XP features >"$W/out" 2>&1
	rc=$?
	# The module's ABI and the one the packaged library was built for.
	abi=$(sed -n 's/^abi_version  *\([0-9][0-9]*\)$/\1/p' "$W/out")
	lib_abi=$(sed -n 's/^library  *libxpcopy .*, ABI \([0-9][0-9]*\)$/\1/p' "$W/out")
	if [ $rc = 0 ] && [ -n "$abi" ] && [ "$abi" = "$lib_abi" ]; then
		result ok deb:xpcopy_features
	else
		result fail deb:xpcopy_features "exit $rc: $(head -n 1 "$W/out")"
		show "$W/out"
	fi

	# Pid mode, as root (CAP_SYS_PTRACE): random bytes written by the
	# installed xpcopy into another process's buffer, read back by /proc/PID/mem
	# and by xpcopy; the module's copies counter moves.
	start_other
	if [ -z "$READY" ]; then
		result fail deb:xpcopy_pid_copy "the target did not start: $(head -n 1 "$W/tout")"
	else
		head -c "$TLEN" /dev/urandom >"$W/pid.in"
		c0=$(copies)
		$XP copy --from "$W/pid.in" --to "$TPID:$TADDR" >"$W/out" 2>&1
		rc1=$?
		dd if=/proc/$TPID/mem of="$W/pid.mem" iflag=skip_bytes,count_bytes \
			skip="$(printf %d "$TADDR")" count="$TLEN" 2>/dev/null
		$XP copy --from "$TPID:$TADDR" --len "$TLEN" --to "$W/pid.out" >>"$W/out" 2>&1
		rc2=$?
		c1=$(copies)
		if [ $rc1 = 0 ] && [ $rc2 = 0 ] && cmp -s "$W/pid.in" "$W/pid.mem" &&
		   cmp -s "$W/pid.in" "$W/pid.out" && [ "$c1" -ge $((c0 + 2)) ]; then
			result ok deb:xpcopy_pid_copy "$TLEN bytes there and back"
		else
			result fail deb:xpcopy_pid_copy "exits $rc1 $rc2, /proc/PID/mem $(cmp "$W/pid.in" "$W/pid.mem" 2>&1 || true), read back $(cmp "$W/pid.in" "$W/pid.out" 2>&1 || true), copies $c0 -> $c1"
			show "$W/out"
		fi
	fi
	stop_other

	# A grant, as the unprivileged user: xpcopy grant exports a window to a
	# shell whose xpcopy copy writes a file into it and publishes; the
	# window saved after must be that file.
	head -c 200000 /dev/urandom >"$W/grant.in"
	chmod 644 "$W/grant.in"
	rm -f "$W/grant.win"
	as_user 1000 $XP grant --size 256K --dump 0 --out "$W/grant.win" -- \
		sh -c "$XP copy --from $W/grant.in --grant-fd \$XPCOPY_GRANT_FD:4096 --publish 1" >"$W/out" 2>&1
	rc=$?
	head -c 4096 /dev/zero >"$W/grant.want"
	cat "$W/grant.in" >>"$W/grant.want"
	head -c $((262144 - 4096 - 200000)) /dev/zero >>"$W/grant.want"
	if [ $rc = 0 ] && cmp -s "$W/grant.want" "$W/grant.win"; then
		result ok deb:xpcopy_grant_copy "200000 bytes at offset 4096 of a 256K window"
	else
		result fail deb:xpcopy_grant_copy "exit $rc, window $(cmp "$W/grant.want" "$W/grant.win" 2>&1 || true)"
		show "$W/out"
	fi

	# The README's xpcopy command lines, as written, as the user mpi, from
	# a directory holding the tree's build/userspace/bin/xpcopy (static)
	# and with the packages' xpcopy on the PATH (scripts/mpi.sh).
	i=0
	while IFS= read -r line; do
		i=$((i + 1))
		name=readme:$(echo "$line" | sed 's|^[^ ]*/||' | cut -d' ' -f1-2 | tr ' ' _)_$i
		as_user 1000 sh -c "cd /xpcopy/tree && $line" >"$W/out" 2>&1 </dev/null
		rc=$?
		echo "# $name: $line: exit $rc"
		show "$W/out"
		if [ $rc = 0 ]; then
			result ok "$name"
		else
			result fail "$name" "exit $rc: $line"
		fi
	done </xpcopy/readme-commands
	[ $i -gt 0 ] || result fail readme:commands "no xpcopy command line found in README.md"

	# dpkg --purge leaves none of their files.
	files=$(dpkg -L libxpcopy1 xpcopy-tools 2>/dev/null | while read -r f; do
		[ -f "$f" ] || [ -L "$f" ] && echo "$f"; done)
	dpkg --purge xpcopy-tools libxpcopy1 >"$W/dpkg.out" 2>&1
	rc=$?
	left=$(for f in $files; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done)
	if [ $rc = 0 ] && [ -n "$files" ] && [ -z "$left" ]; then
		result ok deb:remove "$(echo "$files" | wc -l) files installed and removed"
	else
		result fail deb:remove "dpkg --purge exit $rc, files installed: $(echo "$files" | wc -w), left: $(echo $left)"
		show "$W/dpkg.out"
	fi
fi

echo 3 >/proc/sys/kernel/yama/ptrace_scope
if [ "$(cat /proc/sys/kernel/yama/ptrace_scope)" = 3 ]; then
	result ok ptrace_scope_3
else
	result fail ptrace_scope_3 "cannot set Yama ptrace_scope to 3"
fi

# 1. The library's own suite, as user mpi.
as_user 1000 env LD_PRELOAD=$LIB XPCOPY_CMA_TOKEN=job-token-1 \
	timeout -k 5 300 cma-test suite $LIB >"$W/suite.out" 2>&1
rc=$?
cma_tap cma "$W/suite.out"
if [ $rc != 0 ] || [ ! -s "$W/tap" ]; then
	result fail cma:suite_exit "cma-test suite exit $rc"
	show "$W/suite.out"
fi

# 2. Another user's process: refused by default, served by group or token.

cross() {	# cross <name> <expect: bytes|EPERM> <client env> -- <target env>
	name=$1 want=$2 cenv=$3; shift 4
	start_other "$@"
	if [ -z "$READY" ]; then
		result fail "$name" "the target did not start: $(head -n 1 "$W/tout")"
		stop_other; return
	fi
	c0=$(copies)
	if [ "$want" = bytes ]; then
		as_user 1000 env LD_PRELOAD=$LIB $cenv cma-test read "$TPID" "$TADDR" "$TLEN" 21 >"$W/out" 2>&1
	else
		as_user 1000 env LD_PRELOAD=$LIB $cenv cma-test expect "$TPID" "$TADDR" "$TLEN" 1 >"$W/out" 2>&1
	fi
	rc=$?
	c1=$(copies)
	# Bytes through xpcopy, or a refusal with no xpcopy copy at all.
	if [ "$want" = bytes ]; then
		[ "$c1" -gt "$c0" ]; through=$?
	else
		[ "$c1" = "$c0" ]; through=$?
	fi
	if [ $rc = 0 ] && [ $through = 0 ]; then
		result ok "$name"
	else
		result fail "$name" "$(cat "$W/out"); copies $c0 -> $c1"
	fi
	stop_other
}
cross cross_user_refused_by_default EPERM "" --
cross cross_user_group_policy bytes "" -- XPCOPY_CMA_ALLOW=group:1000
cross cross_user_token_policy bytes "XPCOPY_CMA_TOKEN=t0k3n" -- XPCOPY_CMA_ALLOW=token XPCOPY_CMA_TOKEN=t0k3n
cross cross_user_token_wrong EPERM "XPCOPY_CMA_TOKEN=guess" -- XPCOPY_CMA_ALLOW=token XPCOPY_CMA_TOKEN=t0k3n

# 3. Unmodified Debian Open MPI, vader with CMA, ptrace_scope 3.
mpi_case mpi_pingpong_without_library_eperm 2 0 $PP
mpi_case mpi_pingpong_xpcopy 2 1 $PP
mpi_case mpi_alltoall_xpcopy 2 1 $A2A
mpi_case mpi_alltoall_4ranks_xpcopy 4 1 $A2A

# module_unload
if $bb rmmod xpcopy >"$W/out" 2>&1; then
	result ok module_unload
else
	result fail module_unload "rmmod failed: $(head -n 1 "$W/out")"
fi
dmesg | grep -E 'BUG:|WARNING:|Oops|Call Trace' >"$W/bad" && {
	result fail kernel_log "$(head -n 1 "$W/bad")"; show "$W/bad"; }
echo "XPCOPY-RESULT kver=$KVER passed=$passed failed=$failed skipped=$skipped"
