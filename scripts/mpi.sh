#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mpi.sh check|bench: unmodified Debian Open MPI over libxpcopy-cma, in a
# guest whose initramfs is a whole Debian 12 root (scripts/mpi-root.sh,
# cached) with an overlay added per run: the module, libxpcopy-cma.so,
# cma-test and the MPI programs (built here against the root's Open MPI),
# /init and the runner (scripts/guest/mpi-init, run-mpi.sh).
#
#   check: TAP lines and the XPCOPY-RESULT line (scripts/guest/run-mpi.sh);
#          exit 0 all passed, 1 a case failed, 2 no result, 3 skipped
#          (no root image: the reason is printed)
#   bench: the ping-pong's bandwidth over plain CMA (ptrace_scope 0),
#          vader's two copies (single_copy_mechanism none) and xpcopy
#          through the library, into $XPCOPY_MPI_RESULTS (default
#          bench-results/mpi): mpi-<run>.csv, mpi.json, mpi.txt (table)
#   report: the bench's JSON and table again from the last run's CSVs
#   explore FILE: run the shell script FILE in the guest (sourced by
#          run-mpi.sh after the module is loaded: its functions mpi, as_user,
#          result are there), to try things by hand
#
# Environment: KVER (default: the 6.12 kernel of scripts/kernels.sh),
# XPCOPY_BUILD, QEMU_*, GUEST_TIMEOUT (run-guest.sh), MPI_BENCH_ARGS
# (mpi-pingpong arguments of the bench, default "-s 4096 -m 4194304 -i 30").
set -euo pipefail

mode=${1:-check}
case $mode in check|bench|explore|report) ;; *)
	echo "usage: mpi.sh check|bench|explore FILE|report" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
out=$build/mpi
mkdir -p "$out"

kver=${KVER:-$("$top/scripts/kernels.sh" 2>/dev/null | awk '$1 ~ /^6\.12\./ { print $1; exit }')}
[ -n "$kver" ] || { echo "mpi: SKIP: no 6.12 kernel in the matrix"; exit 3; }

rc=0
if [ "$mode" != report ]; then

if ! cache=$("$top/scripts/mpi-root.sh"); then
	echo "mpi: SKIP: the Debian root with Open MPI cannot be built (see above)"
	exit 3
fi
root=$cache/root
ompi=$root/usr/lib/x86_64-linux-gnu/openmpi

ko=$build/$kver/xpcopy.ko
[ -f "$ko" ] || KERNELS=${kver%%-*} "$top/scripts/build-modules.sh" >&2
[ -f "$ko" ] || { echo "mpi: no module $ko" >&2; exit 2; }

# The overlay.
stage=$(mktemp -d "${TMPDIR:-/tmp}/xpcopy-mpi.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{xpcopy,usr/local/lib,usr/local/bin,out}
make -s -C "$top/userspace/cma" O="$out" all test >/dev/null
cp "$out/libxpcopy-cma.so" "$stage/usr/local/lib/"
cp "$out/cma-test" "$stage/usr/local/bin/"
for p in pingpong alltoall; do
	gcc -Wall -Wextra -Werror -O2 -I"$ompi/include" \
		-o "$stage/usr/local/bin/mpi-$p" "$top/userspace/cma/mpi/$p.c" \
		"$root/usr/lib/x86_64-linux-gnu/libmpi.so.40" \
		-Wl,-rpath-link,"$root/usr/lib/x86_64-linux-gnu"
done
cp "$ko" "$stage/xpcopy.ko"
cp "$(command -v busybox)" "$stage/xpcopy/busybox"
install -m 0755 "$top/scripts/guest/mpi-init" "$stage/init"
install -m 0755 "$top/scripts/guest/run-mpi.sh" "$stage/xpcopy/run-mpi.sh"
install -m 0755 "$top/scripts/guest/send-file.sh" "$stage/xpcopy/send-file.sh"
echo "$mode" >"$stage/xpcopy/mode"
[ -z "${MPI_BENCH_ARGS:-}" ] || echo "$MPI_BENCH_ARGS" >"$stage/xpcopy/bench-args"
[ "$mode" != explore ] || install -m 0644 "${2:?usage: mpi.sh explore FILE}" "$stage/xpcopy/explore.sh"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) >"$out/overlay.cpio"
# Concatenated archives: the kernel unpacks one after the other.
cat "$cache/root.cpio" "$out/overlay.cpio" >"$out/initramfs.cpio"

export QEMU_MEM=${QEMU_MEM:-3072}
rm -rf "$out/files"
set +e
"$top/scripts/run-guest.sh" "$kver" "$out/initramfs.cpio" "$out/console.log" \
	"$out/files"
rc=$?
set -e
rm -f "$out/initramfs.cpio"
[ "$mode" = bench ] || exit $rc
fi

# Bench: one JSON and one table from the three CSVs.
res=${XPCOPY_MPI_RESULTS:-$top/bench-results/mpi}
mkdir -p "$res"
for r in cma none xpcopy; do
	[ -f "$out/files/mpi-$r.csv" ] || { echo "mpi: no result for $r" >&2; exit 2; }
	cp "$out/files/mpi-$r.csv" "$res/"
done
python3 - "$res" "$kver" <<'PY'
import csv, json, sys, time
res, kver = sys.argv[1], sys.argv[2]
order = ("cma", "xpcopy", "none")
desc = {"cma": "vader single copy by process_vm_readv, ptrace_scope 0",
        "xpcopy": "vader single copy by process_vm_readv, preloaded libxpcopy-cma, ptrace_scope 3",
        "none": "vader two copies through shared memory (single_copy_mechanism none)"}
runs = {}
for r in order:
    with open(f"{res}/mpi-{r}.csv") as f:
        runs[r] = {int(row[0]): [float(x) for x in row[2:6]]
                   for row in csv.reader(f) if row and row[0].isdigit()}
sizes = sorted(set().union(*[set(v) for v in runs.values()]))
doc = {"kernel": kver, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "benchmark": "mpi-pingpong: 2 ranks, Debian Open MPI 4.1, btl vader, TCG guest",
       "unit": "MB/s = 2 x bytes / round trip; best and median round trip",
       "runs": {r: {"description": desc[r], "results": [
           {"bytes": s, "usec_median": v[0], "usec_best": v[1],
            "MBps_median": v[2], "MBps_best": v[3]}
           for s in sizes if s in runs[r] for v in [runs[r][s]]]} for r in order}}
with open(f"{res}/mpi.json", "w") as f:
    json.dump(doc, f, indent=1)
def cell(r, s, i):
    v = runs[r].get(s)
    return v[i] if v else 0.0
lines = [f"MPI ping-pong, MB/s, best round trip (median), kernel {kver}, TCG guest",
         f"{'bytes':>9} {'CMA':>17} {'xpcopy':>17} {'two copies':>17} {'xpcopy/CMA':>11}"]
for s in sizes:
    row = f"{s:>9}"
    for r in order:
        row += f" {cell(r, s, 3):>8.1f} ({cell(r, s, 2):>6.1f})"
    c = cell("cma", s, 3)
    row += f" {cell('xpcopy', s, 3) / c if c else 0:>11.2f}"
    lines.append(row)
open(f"{res}/mpi.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "mpi: results in ${res#"$top"/}/ (mpi.json, mpi.txt, mpi-*.csv)"
exit $rc
