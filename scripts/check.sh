#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh: what "make check" does.
#
#   1. scripts/deps.sh
#   2. the module for every kernel of the matrix (scripts/kernels.sh), in
#      parallel (make modules-matrix); a kernel whose build fails is not
#      booted and counts one failure
#   3. static checks, each one case: checkpatch --strict, W=1 C=1 builds,
#      the runner check (scripts/runner-check.sh), the README check
#      (scripts/readme-check.sh), the Debian packages and lintian
#      (scripts/deb-check.sh), make/install/uninstall as a user
#      (scripts/install-check.sh)
#   4. the selftests (make selftests) and userspace (make userspace)
#   5. per kernel, one after the other: initramfs, boot, tests
#   6. the MPI phase on 6.12 (scripts/mpi.sh check: its own guest with a
#      Debian root and Open MPI; XPCOPY_MPI=0 skips it)
#   7. per-kernel results, skipped cases with their reasons, the time of
#      each phase, and last exactly one line "N passed, N failed"
#
# One more case, host_boot_unchanged: the host's /boot and bootloader
# configuration are listed before step 1 and after step 6
# (scripts/boot-state.sh) and must be the same.
#
# Exits 1 when any case failed or any kernel gave no result.
#
# Environment: everything scripts/kernels.sh, build-module.sh,
# mkinitramfs.sh and run-guest.sh read (KERNELS, QEMU_CPU, GUEST_TIMEOUT,
# XPCOPY_TIMEOUT, XPCOPY_FILTER, XPCOPY_VERBOSE, ...), and
#	XPCOPY_TESTS_DIR  prebuilt test executables: skip "make selftests"
#	MAKE		  the make to run for the module builds, static checks,
#			  selftests and userspace
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
export XPCOPY_BUILD=$build
make=${MAKE:-make}
cd "$top" || exit 1

timings=()
boot_retries=
t_start=
phase_start() { t_start=$(date +%s.%N); echo "=== $1"; }
phase_end() {
	local t
	t=$(awk -v a="$(date +%s.%N)" -v b="$t_start" 'BEGIN { print a - b }')
	timings+=("$(printf '%-44s %7.1fs' "$1" "$t")")
}
die() { echo "check: $*" >&2; exit 1; }

# The host's /boot and bootloader configuration, listed now and compared
# at the end (scripts/boot-state.sh): one case, host_boot_unchanged. The
# matrix must never install a kernel on the host.
mkdir -p "$build"
"$top/scripts/boot-state.sh" >"$build/boot-state.before" 2>&1

phase_start "deps"
"$top/scripts/deps.sh" || die "scripts/deps.sh failed"
phase_end "deps"

# The debug kernel (scripts/debug-kernel.sh) takes about 11 minutes to
# build on 2 cores the first time: it is built in the background at the
# lowest priority, on the cpu time the guests leave idle, while the other
# kernels are tested, and it is tested last. Until then the other scripts
# leave it out of the matrix.
XPCOPY_DEBUG_ASKED=${XPCOPY_DEBUG:-1}
dbg_name=$("$top/scripts/kernels.sh" --debug-name)
dbg_pid=
if [ -n "$dbg_name" ]; then
	mkdir -p "$build"
	echo "debug kernel $dbg_name: building in the background (log: ${build#"$top"/}/debug-kernel.log)"
	dbg_t0=$(date +%s)
	nice -n 19 "$top/scripts/debug-kernel.sh" >"$build/debug-kernel.line" 2>"$build/debug-kernel.log" &
	dbg_pid=$!
fi
export XPCOPY_DEBUG=0

mkdir -p "$build"
# KERNELS may name the debug kernel alone.
if ! matrix=$("$top/scripts/kernels.sh" 2>"$build/kernels.err"); then
	[ -n "$dbg_name" ] || { cat "$build/kernels.err" >&2; die "no kernel to test"; }
	matrix=
fi
kvers=$(cut -d' ' -f1 <<<"$matrix")
echo "kernels:"
sed 's/^/  /' <<<"$matrix"
[ -z "$dbg_name" ] || echo "  $dbg_name (debug, last)"

static_checks="checkpatch modules-check runner-check readme-check deb-check install-check"
if [ -n "$matrix" ]; then
	phase_start "module builds"
	"$make" --no-print-directory modules-matrix XPCOPY_BUILD="$build" ||
		echo "check: some module builds failed; going on with the others"
	phase_end "module builds ($(echo $kvers | wc -w) kernel(s) in parallel)"
else
	static_checks="checkpatch readme-check deb-check"
fi

# Static checks, each one case of the total: checkpatch --strict on the
# module and the UAPI header, a W=1 C=1 (sparse) build per kernel, and the
# runner check (scripts/runner-check.sh: a guest of fake cases whose
# verdicts are known, so that the judge of every other case is tested too),
# the README check (scripts/readme-check.sh: the make targets, CLI
# commands and links README.md shows exist), the Debian packages
# (scripts/deb-check.sh: dpkg-buildpackage and lintian) and the install
# check (scripts/install-check.sh: make as a user builds and installs
# nothing, make install/uninstall DESTDIR= leave nothing behind).
static_pass=0
static_fail=0
static_failed=
phase_start "static checks"
for chk in $static_checks; do
	if "$make" --no-print-directory "$chk" >"$build/$chk.out" 2>&1; then
		static_pass=$((static_pass + 1))
		echo "ok $chk"
	else
		static_fail=$((static_fail + 1))
		static_failed+="$chk "
		echo "not ok $chk (log: ${build#"$top"/}/$chk.out)"
		tail -n 20 "$build/$chk.out" | sed 's/^/    | /'
	fi
done
phase_end "static checks (checkpatch, W=1 C=1, runner, README, packages, install)"

phase_start "selftests, userspace"
if [ -n "${XPCOPY_TESTS_DIR:-}" ]; then
	echo "using prebuilt tests in $XPCOPY_TESTS_DIR"
else
	"$make" --no-print-directory selftests || die "make selftests failed"
fi
"$make" --no-print-directory userspace || die "make userspace failed"
phase_end "selftests, userspace build"

# Cases make check leaves out, to stay in the CI budget (the guest runner
# counts them and says so; XPCOPY_EXCLUDE= runs everything):
# - every kernel: the io_uring variants of the copy tests on the inline and
#   bounce paths. Every copy test still runs through io_uring on the worker
#   path (copy.write_uring, copy.read_uring); the inline and bounce paths
#   run every test through the ioctl, and xpcopy_uring tests the io_uring
#   side (cancellation, ring exit, many in flight).
# - the debug kernel (KASAN and lockdep make each case several times slower
#   under TCG; XPCOPY_DEBUG_EXCLUDE= runs everything there): also the
#   bounce path's copy and event tests (the two-copy comparison path; its
#   fault-injection sweep still runs), the io_uring copy variants, the
#   64 MiB and 4 GiB copies (the same batches as the smaller ones, many
#   more of them) and the benchmark smoke tests.
# The copy fixture's cases are in two programs (xpcopy_copy, xpcopy_copy_mm).
check_exclude=${XPCOPY_EXCLUDE-'xpcopy_copy*:copy.*_inline_uring.* xpcopy_copy*:copy.*_bounce_uring.*'}
debug_exclude=${XPCOPY_DEBUG_EXCLUDE-'xpcopy_copy*:copy.*_uring.* xpcopy_copy*:copy.*_bounce.* xpcopy_events:ev.*_bounce.* *.size_64m *.virtual_4g xpcopy_bench:*'}

# run_kernel <kver>: initramfs, boot, tests; leaves build/<kver>/result.
run_kernel() {
	local kver=$1 dir=$build/$1 attempt
	rm -f "$dir/result"
	if [ ! -f "$dir/xpcopy.ko" ]; then
		echo "XPCOPY-NOBUILD kver=$kver reason=module_build_failed" >"$dir/result"
		return
	fi
	local exclude=$check_exclude
	case $kver in
	*-xpcopy-debug-*) exclude=$debug_exclude ;;
	esac
	phase_start "initramfs $kver"
	XPCOPY_EXCLUDE=$exclude "$top/scripts/mkinitramfs.sh" "$kver" "$dir/initramfs.cpio.gz" ||
		die "mkinitramfs.sh $kver failed"
	phase_end "initramfs $kver"

	phase_start "boot + tests $kver"
	# A guest kernel that dies while booting, before the runner starts
	# (no module loaded, no test run: seen with 7.2 under TCG, an int3
	# oops during boot-time code patching), or that the runner refused
	# (XPCOPY-BADBOOT: a kernel report while booting, or lockdep already
	# off; seen once with the debug kernel, a KASAN report in an early
	# interrupt), is booted again, at most twice, and the failed boot is
	# kept as console-bootfail-N.log.
	for attempt in 1 2 3; do
		rm -rf "$dir/out"
		"$top/scripts/run-guest.sh" "$kver" "$dir/initramfs.cpio.gz" \
			"$dir/console.log" "$dir/out" | tee "$dir/run-guest.out"
		tail -n 1 "$dir/run-guest.out" | grep -E '^XPCOPY-(NO)?RESULT ' >"$dir/result" ||
			echo "XPCOPY-NORESULT kver=$kver reason=run-guest.sh_failed" >"$dir/result"
		grep -q '^XPCOPY-NORESULT' "$dir/result" || break
		grep -q '^# xpcopy guest runner on' "$dir/console.log" &&
			! grep -q '^XPCOPY-BADBOOT ' "$dir/console.log" && break
		[ $attempt = 3 ] && break
		cp "$dir/console.log" "$dir/console-bootfail-$attempt.log"
		echo "check: $kver gave no result ($(sed 's/.*reason=//' "$dir/result")); booting again"
		boot_retries+="$kver (boot $attempt: $(sed 's/.*reason=//' "$dir/result")) "
	done
	phase_end "boot + tests $kver"
}

for kver in $kvers; do
	run_kernel "$kver"
done

# MPI: unmodified Debian Open MPI over libxpcopy-cma, in a guest of its own
# on the 6.12 kernel with a whole Debian root (scripts/mpi.sh). Skipped,
# with the reason, when 6.12 is not in this run, when XPCOPY_FILTER has no
# pattern matching "mpi:", with XPCOPY_MPI=0, or when the root cannot be
# built.
mpi_kver=$(grep -m 1 '^6\.12\.' <<<"$kvers" || true)
mpi_skip=
mpi_wanted() {
	local p
	[ -z "${XPCOPY_FILTER:-}" ] && return 0
	set -f
	for p in $XPCOPY_FILTER; do
		# shellcheck disable=SC2254
		case mpi:check in $p) set +f; return 0 ;; esac
	done
	set +f
	return 1
}
rm -f "$build/mpi/run.out"
if [ -z "$mpi_kver" ]; then
	mpi_skip="no 6.12 kernel in this run"
elif [ "${XPCOPY_MPI:-1}" = 0 ]; then
	mpi_skip="XPCOPY_MPI=0"
elif ! mpi_wanted; then
	mpi_skip="XPCOPY_FILTER has no pattern matching mpi:"
elif [ ! -f "$build/$mpi_kver/xpcopy.ko" ]; then
	mpi_skip="the $mpi_kver module did not build"
else
	phase_start "MPI guest $mpi_kver"
	mkdir -p "$build/mpi"
	KVER=$mpi_kver "$top/scripts/mpi.sh" check 2>&1 | tee "$build/mpi/run.out"
	mpi_rc=${PIPESTATUS[0]}
	[ "$mpi_rc" = 3 ] && mpi_skip=$(grep -m 1 -o 'SKIP: .*' "$build/mpi/run.out" | cut -c7-)
	phase_end "MPI guest $mpi_kver"
fi

if [ -n "$dbg_pid" ]; then
	phase_start "debug kernel $dbg_name"
	if wait "$dbg_pid"; then
		echo "debug kernel built or found in the cache, $(( $(date +%s) - dbg_t0 )) s after it was started"
		phase_end "debug kernel (waited for after the others)"
		mkdir -p "$build/$dbg_name"
		phase_start "module build $dbg_name"
		"$top/scripts/build-module.sh" "$dbg_name" >"$build/$dbg_name/build-run.log" 2>&1 ||
			{ echo "check: the module did not build for $dbg_name"; tail -n 20 "$build/$dbg_name/build-run.log"; }
		phase_end "module build $dbg_name"
	else
		echo "check: scripts/debug-kernel.sh failed; its log ends:"
		tail -n 20 "$build/debug-kernel.log" | sed 's/^/    | /'
		phase_end "debug kernel (failed)"
		mkdir -p "$build/$dbg_name"
		rm -f "$build/$dbg_name/xpcopy.ko"
	fi
	kvers="$kvers $dbg_name"
	run_kernel "$dbg_name"
fi

# ---------------------------------------------------------------------------
# Summary

total_pass=$static_pass
total_fail=$static_fail
skips=
echo
echo "=============================== xpcopy results ==============================="
echo "static checks: $static_pass passed, $static_fail failed${static_failed:+ ($static_failed)}"
"$top/scripts/boot-state.sh" >"$build/boot-state.after" 2>&1
if diff -u "$build/boot-state.before" "$build/boot-state.after" >"$build/boot-state.diff"; then
	echo "host_boot_unchanged: ok, /boot and the bootloader configuration as before make check ($(wc -l <"$build/boot-state.after") entries)"
	total_pass=$((total_pass + 1))
else
	echo "host_boot_unchanged: FAILED: make check changed the host's /boot or bootloader configuration (${build#"$top"/}/boot-state.diff):"
	grep -E '^[-+][^-+]' "$build/boot-state.diff" | head -n 20 | sed 's/^/    /'
	total_fail=$((total_fail + 1))
fi
for kver in $kvers; do
	dir=$build/$kver
	res=$(cat "$dir/result")
	case $res in
	XPCOPY-RESULT*)
		p=$(grep -o 'passed=[0-9]*' <<<"$res" | cut -d= -f2)
		f=$(grep -o 'failed=[0-9]*' <<<"$res" | cut -d= -f2)
		s=$(grep -o 'skipped=[0-9]*' <<<"$res" | cut -d= -f2)
		echo "$kver: $p passed, $f failed, $s skipped (log: ${dir#"$top"/}/console.log)"
		grep -E '^not ok [0-9]+ ' "$dir/console.log" | sed 's/^/    /'
		grep -m 1 -E '^# [0-9]+ case\(s\) left out by XPCOPY_EXCLUDE' "$dir/console.log" |
			sed 's/^# /    /'
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		skips+=$(grep -E '^ok [0-9]+ .* # SKIP' "$dir/console.log" |
			 sed -E "s/^ok [0-9]+ /    $kver: /")$'\n'
		;;
	XPCOPY-NOBUILD*)
		echo "$kver: FAILED: the module did not build (log: ${dir#"$top"/}/build-run.log)"
		total_fail=$((total_fail + 1))
		;;
	*)
		echo "$kver: FAILED: no result: $(sed 's/.*reason=//; s/_/ /g' <<<"$res") (log: ${dir#"$top"/}/console.log); its end:"
		tail -n 25 "$dir/console.log" 2>/dev/null | sed 's/^/    | /'
		total_fail=$((total_fail + 1))
		;;
	esac
done
if [ -n "$mpi_skip" ]; then
	echo "mpi: SKIPPED: $mpi_skip"
	skips+="    mpi: $mpi_skip"$'\n'
elif [ -f "$build/mpi/run.out" ]; then
	res=$(grep -o 'XPCOPY-RESULT kver=[^ ]* passed=[0-9]* failed=[0-9]* skipped=[0-9]*' \
	      "$build/mpi/run.out" | tail -n 1)
	if [ -n "$res" ]; then
		p=$(grep -o 'passed=[0-9]*' <<<"$res" | cut -d= -f2)
		f=$(grep -o 'failed=[0-9]*' <<<"$res" | cut -d= -f2)
		s=$(grep -o 'skipped=[0-9]*' <<<"$res" | cut -d= -f2)
		echo "mpi ($mpi_kver): $p passed, $f failed, $s skipped (log: ${build#"$top"/}/mpi/console.log)"
		grep -E '^not ok [0-9]+ ' "$build/mpi/console.log" | sed 's/^/    /'
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		skips+=$(grep -E '^ok [0-9]+ .* # SKIP' "$build/mpi/console.log" |
			 sed -E "s/^ok [0-9]+ /    mpi: /")$'\n'
	else
		echo "mpi ($mpi_kver): FAILED: no result (log: ${build#"$top"/}/mpi/console.log); its end:"
		tail -n 25 "$build/mpi/console.log" 2>/dev/null | sed 's/^/    | /'
		total_fail=$((total_fail + 1))
	fi
fi
# The debug kernel, when this run has none: say so, and why.
if [ -z "$dbg_name" ]; then
	if [ "${XPCOPY_DEBUG_ASKED:-1}" = 0 ]; then
		dbg_skip="XPCOPY_DEBUG=0"
	else
		dbg_skip="KERNELS=\"${KERNELS:-}\" leaves it out"
	fi
	echo "debug kernel: SKIPPED: $dbg_skip"
	skips+="    debug kernel: $dbg_skip"$'\n'
fi
skips=$(sed '/^$/d' <<<"$skips")
if [ -n "$skips" ]; then
	echo "skipped:"
	echo "$skips"
fi
[ -z "$boot_retries" ] || echo "guest boots retried (died before the runner started, or the runner refused the boot): $boot_retries"
echo "timings:"
printf '    %s\n' "${timings[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
