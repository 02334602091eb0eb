#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-modules.sh [check]
#
# Run build-module.sh for every kernel of the matrix (scripts/kernels.sh),
# the kernels in parallel, each with its output in build/<kver>/build.log
# (check.log for "check"), shown when it is done. Goes on past a failed
# kernel; exits 1 when any failed, naming them.
set -uo pipefail

mode=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}

matrix=$("$top/scripts/kernels.sh") || exit 1
kvers=$(cut -d' ' -f1 <<<"$matrix")
# The kernels share the cpus: split the jobs between them.
nk=$(wc -l <<<"$kvers")
export JOBS=${JOBS:-$(( ($(nproc) + nk - 1) / nk ))}

declare -A pids
for kver in $kvers; do
	mkdir -p "$build/$kver"
	"$top/scripts/build-module.sh" "$kver" "$mode" >"$build/$kver/$mode-run.log" 2>&1 &
	pids[$kver]=$!
done

failed=
for kver in $kvers; do
	if wait "${pids[$kver]}"; then
		st=ok
	else
		st=FAILED
		failed="$failed $kver"
	fi
	echo "=== $mode $kver: $st"
	cat "$build/$kver/$mode-run.log"
done

if [ -n "$failed" ]; then
	echo "build-modules: $mode failed for:$failed" >&2
	exit 1
fi
