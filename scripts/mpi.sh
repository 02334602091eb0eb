#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mpi.sh check|bench: unmodified Debian Open MPI over libxpcopy-cma, in a
# guest whose initramfs is a whole Debian 12 root (scripts/mpi-root.sh,
# cached) with an overlay added per run: the module, libxpcopy-cma.so,
# cma-test and the MPI programs (built here against the root's Open MPI),
# /init and the runner (scripts/guest/mpi-init, run-mpi.sh); for check,
# also the packages libxpcopy1 and xpcopy-tools (scripts/deb-check.sh
# --debs), which the guest installs with dpkg -i.
#
#   check: TAP lines and the XPCOPY-RESULT line (scripts/guest/run-mpi.sh);
#          exit 0 all passed, 1 a case failed, 2 no result, 3 skipped
#          (no root image: the reason is printed)
#   bench: the ping-pong's bandwidth over plain CMA (ptrace_scope 0),
#          vader's two copies (single_copy_mechanism none) and xpcopy
#          through the library, in MPI_BENCH_ROUNDS rounds (default 3) of
#          the three, then xpcopy once more at ptrace_scope 3; per size the
#          best round trip of all rounds and the median of the rounds'
#          medians, into $XPCOPY_MPI_RESULTS (default bench-results/mpi):
#          mpi.json, mpi.txt (table), csv/ (every run)
#   report: the bench's JSON and table again from the last run's CSVs
#   explore FILE: run the shell script FILE in the guest (sourced by
#          run-mpi.sh after the module is loaded: its functions mpi, as_user,
#          result are there), to try things by hand
#
# Environment: KVER (default: the 6.12 kernel of scripts/kernels.sh),
# XPCOPY_BUILD, QEMU_*, GUEST_TIMEOUT (run-guest.sh), MPI_BENCH_ARGS
# (mpi-pingpong arguments of the bench, default "-s 4096 -m 4194304 -i 20").
set -euo pipefail

mode=${1:-check}
case $mode in check|bench|explore|report) ;; *)
	echo "usage: mpi.sh check|bench|explore FILE|report" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XPCOPY_BUILD:-$top/build}
out=$build/mpi
mkdir -p "$out"

kver=${KVER:-$(XPCOPY_DEBUG=0 XPCOPY_SID=0 XPCOPY_BULLSEYE=0 "$top/scripts/kernels.sh" 2>/dev/null | awk '$1 ~ /^6\.12\./ { print $1; exit }')}
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
make -s -C "$top/userspace/cma" O="$out" all test check >/dev/null
cp "$out/libxpcopy-cma.so" "$stage/usr/local/lib/"
cp "$out/cma-test" "$stage/usr/local/bin/"
for p in pingpong alltoall; do
	gcc -Wall -Wextra -Werror -O2 -I"$ompi/include" \
		-o "$stage/usr/local/bin/mpi-$p" "$top/userspace/cma/mpi/$p.c" \
		"$root/usr/lib/x86_64-linux-gnu/libmpi.so.40" \
		-Wl,-rpath-link,"$root/usr/lib/x86_64-linux-gnu"
done
cp "$ko" "$stage/xpcopy.ko"
# check: the Debian packages libxpcopy1 and xpcopy-tools of this tree, which
# the guest installs with dpkg -i and whose xpcopy it runs (the deb: cases);
# built by scripts/deb-check.sh (make check's deb-check has built them just
# before), or the reason they cannot be, which the guest reports as a skip.
if [ "$mode" = check ]; then
	mkdir -p "$stage/xpcopy/debs"
	set +e
	debout=$("$top/scripts/deb-check.sh" --debs 2>&1)
	debrc=$?
	set -e
	echo "$debout" | tail -n 1 >&2
	# The README's xpcopy command lines (its ```sh blocks, comments and a
	# leading sudo removed), which the guest runs as written, as a user,
	# in a copy of the tree's build/userspace/bin/ (the command line
	# "build/userspace/bin/xpcopy features") with the packages installed
	# (the command line "xpcopy ..."): the readme: cases.
	awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$top/README.md" |
		sed -e 's/[[:space:]]#.*//' -e 's/^sudo //' |
		grep -E '(^|[ /])xpcopy [a-z]' >"$stage/xpcopy/readme-commands" || true
	make -s -C "$top/userspace" O="$build/userspace" >/dev/null
	mkdir -p "$stage/xpcopy/tree/build/userspace/bin"
	cp "$build/userspace/bin/xpcopy" "$stage/xpcopy/tree/build/userspace/bin/"
	case $debrc in
	0)	cp "$build"/deb/libxpcopy1_*.deb "$build"/deb/xpcopy-tools_*.deb "$stage/xpcopy/debs/" ;;
	3)	echo "$debout" | tail -n 1 | sed 's/^deb-check: skipped: //' >"$stage/xpcopy/debs/skip" ;;
	*)	echo "$debout" | tail -n 20 >&2
		echo "the packages did not build: $(echo "$debout" | tail -n 1)" >"$stage/xpcopy/debs/failed" ;;
	esac
fi
cp "$(command -v busybox)" "$stage/xpcopy/busybox"
install -m 0755 "$top/scripts/guest/mpi-init" "$stage/init"
install -m 0755 "$top/scripts/guest/run-mpi.sh" "$stage/xpcopy/run-mpi.sh"
install -m 0755 "$top/scripts/guest/send-file.sh" "$stage/xpcopy/send-file.sh"
echo "$mode" >"$stage/xpcopy/mode"
[ -z "${MPI_BENCH_ARGS:-}" ] || echo "$MPI_BENCH_ARGS" >"$stage/xpcopy/bench-args"
[ -z "${MPI_BENCH_ROUNDS:-}" ] || echo "$MPI_BENCH_ROUNDS" >"$stage/xpcopy/bench-rounds"
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

# Bench: one JSON and one table from every run's CSV.
res=${XPCOPY_MPI_RESULTS:-$top/bench-results/mpi}
rm -rf "$res/csv"
mkdir -p "$res/csv"
ls "$out/files"/mpi-*.csv >/dev/null 2>&1 || { echo "mpi: no results" >&2; exit 2; }
cp "$out/files"/mpi-*.csv "$res/csv/"
rm -f "$res"/mpi-*.csv	# the layout of an older version
python3 - "$res" "$kver" <<'PY'
import csv, glob, json, os, statistics, sys, time
res, kver = sys.argv[1], sys.argv[2]
order = ("cma", "xpcopy", "none")
desc = {"cma": "vader single copy by process_vm_readv, ptrace_scope 0",
        "xpcopy": "vader single copy by process_vm_readv through the preloaded libxpcopy-cma "
                  "(rounds at ptrace_scope 0, the last at 3)",
        "none": "vader two copies through shared memory (single_copy_mechanism none)"}
rounds = {r: {} for r in order}
for path in sorted(glob.glob(f"{res}/csv/mpi-*.csv")):
    run, tag = os.path.basename(path)[4:-4].split("-", 1)
    with open(path) as f:
        rounds[run][tag] = {int(row[0]): [float(x) for x in row[2:6]]
                            for row in csv.reader(f) if row and row[0].isdigit()}
sizes = sorted({s for r in order for t in rounds[r].values() for s in t})
def agg(r, s):
    vals = [t[s] for t in rounds[r].values() if s in t]
    if not vals:
        return None
    best = min(v[1] for v in vals)
    med = statistics.median(v[0] for v in vals)
    return {"bytes": s, "usec_best": best, "usec_median": med,
            "MBps_best": 2 * s / best, "MBps_median": 2 * s / med}
doc = {"kernel": kver, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "benchmark": "mpi-pingpong: 2 ranks, Debian Open MPI 4.1.4, btl vader, TCG guest",
       "unit": "MB/s = 2 x bytes / round trip; best round trip of all rounds, "
               "median of the rounds' median round trips",
       "runs": {r: {"description": desc[r], "rounds": sorted(rounds[r]),
                    "results": [a for s in sizes for a in [agg(r, s)] if a]}
                for r in order}}
with open(f"{res}/mpi.json", "w") as f:
    json.dump(doc, f, indent=1)
lines = [f"MPI ping-pong, MB/s: best round trip (median), kernel {kver}, TCG guest",
         f"{'bytes':>9} {'CMA':>17} {'xpcopy':>17} {'two copies':>17} {'xpcopy/CMA':>11}"]
for s in sizes:
    a = {r: agg(r, s) for r in order}
    row = f"{s:>9}"
    for r in order:
        row += f" {a[r]['MBps_best'] if a[r] else 0:>8.1f} ({a[r]['MBps_median'] if a[r] else 0:>6.1f})"
    c = a["cma"]["MBps_best"] if a["cma"] else 0
    row += f" {a['xpcopy']['MBps_best'] / c if c and a['xpcopy'] else 0:>11.2f}"
    lines.append(row)
open(f"{res}/mpi.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "mpi: results in ${res#"$top"/}/ (mpi.json, mpi.txt, csv/)"
exit $rc
