#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# runner-check.sh [kver]: does the guest runner still fail what it must?
#
# The runner (scripts/guest/run-tests.sh) is the judge of every case: its
# verdicts come from exit codes, TAP lines, the kernel log and timeouts. This
# boots a kernel of the matrix (the first 6.12 one, else the first; or kver)
# with the fake cases of scripts/guest/runner-check/ in place of the
# selftests, whose verdicts are known, and compares the runner's verdict and
# reason for each with the table below. Exits 0 when all agree.
#
# make runner-check runs it; make check counts it as one static check.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
dir=$build/runner-check

kver=${1:-}
if [ -z "$kver" ]; then
	matrix=$(XPCOPY_DEBUG=0 "$top/scripts/kernels.sh") || exit 1
	kver=$(cut -d' ' -f1 <<<"$matrix" | grep -m 1 '^6\.12\.' ||
	       cut -d' ' -f1 <<<"$matrix" | head -n 1)
fi
ko=$build/$kver/xpcopy.ko
[ -f "$ko" ] || "$top/scripts/build-module.sh" "$kver" >/dev/null || {
	echo " no module for $kver" >&2
	exit 1
}

# <status> <case> <text the reason must contain, or "-" for no reason>
expected='ok module_load -
ok a_pass -
fail b_not_ok exit 0 but the TAP output says not ok
fail c_exit_code exit code 3
skip d_skip no such feature here
ok e_xfail XFAIL known and documented
fail f_warning kernel log: WARNING:
ok g_after_warning -
ok h_oom_expected -
fail i_oom_then_bug kernel log: BUG:
fail j_timeout timeout: killed after
ok k_stray -
ok l_no_tap -
ok m_stray_gone -
ok n_alloc_failure_expected -
fail o_alloc_failure_undeclared kernel log: Call Trace
ok p_listed:p.one -
fail p_listed:p.two exit code 1
fail p_listed:p.three no test ran: the harness knows no case p.three
ok module_unload -'

tests=$dir/tests
rm -rf "$dir"
mkdir -p "$tests"
cp "$top"/scripts/guest/runner-check/* "$tests/"

# Settings make check passes on to the guests would change the verdicts.
XPCOPY_TIMEOUT=5 XPCOPY_FILTER='' XPCOPY_EXCLUDE='' XPCOPY_VERBOSE=0 \
XPCOPY_INSMOD='' XPCOPY_HUNG_TASK='' \
XPCOPY_KO=$ko XPCOPY_TESTS_DIR=$tests \
	"$top/scripts/mkinitramfs.sh" "$kver" "$dir/initramfs.cpio.gz" >/dev/null || exit 1
GUEST_TIMEOUT=300 GUEST_APPEND='' "$top/scripts/run-guest.sh" "$kver" "$dir/initramfs.cpio.gz" \
	"$dir/console.log" "$dir/out" >"$dir/run-guest.out" 2>&1

# The runner's lines: "ok N name", "ok N name # reason", "ok N name # SKIP
# reason", "not ok N name # reason".
# A kernel with kmemleak adds kmemleak_after_rmmod: not one of these.
got=$(sed -n -E 's/^(not )?ok [0-9]+ ([^ ]+)( # (.*))?$/\1|\2|\4/p' "$dir/console.log" |
      grep -v -F '|kmemleak_after_rmmod|')
bad=0
while read -r want name text; do
	row=$(grep -m 1 -F "|$name|" <<<"$got")
	if [ -z "$row" ]; then
		echo "not ok: $name: no verdict from the runner"
		bad=1
		continue
	fi
	reason=${row##*|}
	case $row in
	"not |"*) status=fail ;;
	*)	status=ok
		case $reason in SKIP*) status=skip; reason=${reason#SKIP } ;; esac ;;
	esac
	if [ "$status" != "$want" ]; then
		echo "not ok: $name: the runner said $status, not $want${reason:+ ($reason)}"
		bad=1
	elif [ "$text" = - ] && [ -n "$reason" ]; then
		echo "not ok: $name: $status, with an unexpected reason: $reason"
		bad=1
	elif [ "$text" != - ] && [[ $reason != *"$text"* ]]; then
		echo "not ok: $name: $status, but the reason is \"$reason\", not \"$text\""
		bad=1
	else
		echo "ok: $name: $status${reason:+ ($reason)}"
	fi
done <<<"$expected"
n=$(grep -c '' <<<"$expected")
seen=$(grep -c '' <<<"$got")
if [ "$seen" != "$n" ]; then
	echo "not ok: the runner gave $seen verdicts, $n expected (log: ${dir#"$top"/}/console.log)"
	bad=1
fi
# The totals the runner prints last, and the pin check it must have done.
npass=$(grep -c '^ok ' <<<"$expected")
grep -q -E '^ok [0-9]+ kmemleak_after_rmmod$' "$dir/console.log" && npass=$((npass + 1))
want_total="passed=$npass failed=$(grep -c '^fail ' <<<"$expected") skipped=$(grep -c '^skip ' <<<"$expected")"
total=$(grep -m 1 -o 'XPCOPY-RESULT kver=[^ ]* passed=[0-9]* failed=[0-9]* skipped=[0-9]*' "$dir/console.log" |
	cut -d' ' -f3-)
if [ "$total" != "$want_total" ]; then
	echo "not ok: the runner's totals are \"${total:-missing}\", not \"$want_total\""
	bad=1
fi
if grep -q 'pin check disabled' "$dir/console.log"; then
	echo "not ok: the runner could not read the pin counters (pin check disabled)"
	bad=1
fi
[ $bad = 0 ] && echo "runner-check: $kver: the runner's $n verdicts are as expected"
exit $bad
