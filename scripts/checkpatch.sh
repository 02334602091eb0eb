#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.sh [files...]
#
# checkpatch.pl --strict --no-tree on the module sources and the uapi
# headers (default: module/*.[ch] include/uapi/linux/*.h), from the cached
# linux-source-6.12 files (scripts/deps.sh). Any ERROR, WARNING or CHECK
# fails.
#
# One checkpatch run per file, files in parallel: one run over several files
# carries the types and attributes it learnt from one file to the next, and
# its regexes can then take minutes on the next file.
#
# Environment: CHECKPATCH (the script), JOBS (parallel runs, default nproc)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
checkpatch=${CHECKPATCH:-/var/tmp/xpcopy-src/linux-source-6.12/scripts/checkpatch.pl}
jobs=${JOBS:-$(nproc)}

[ -x "$checkpatch" ] || { echo "checkpatch: no $checkpatch (run scripts/deps.sh)" >&2; exit 1; }
if [ $# -gt 0 ]; then
	files=("$@")
else
	shopt -s nullglob
	files=(module/*.[ch] include/uapi/linux/*.h)
fi
[ ${#files[@]} -gt 0 ] || { echo "checkpatch: no files to check" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%s\0' "${files[@]}" |
	xargs -0 -P "$jobs" -I{} sh -c '
		log="$2/$(echo "$1" | tr / _).log"
		timeout 300 "$0" --strict --no-tree --show-types -f "$1" >"$log" 2>&1
		echo $? >"$log.rc"' "$checkpatch" {} "$tmp"

bad=0
for f in "${files[@]}"; do
	log="$tmp/$(echo "$f" | tr / _).log"
	rc=$(cat "$log.rc" 2>/dev/null || echo "?")
	if [ "$rc" != 0 ] || grep -q -E '^(ERROR|WARNING|CHECK):' "$log"; then
		echo "--- $f: checkpatch exit $rc"
		cat "$log"
		bad=$((bad + 1))
	else
		echo "--- $f: clean"
	fi
done

if [ $bad -gt 0 ]; then
	echo "checkpatch: $bad of ${#files[@]} files have problems"
	exit 1
fi
echo "checkpatch: all ${#files[@]} files clean"
