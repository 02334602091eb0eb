#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh <kver> <initramfs> <logfile> [outdir]
#
# Boot the kernel <kver> with the initramfs in QEMU (TCG unless
# QEMU_ACCEL says kvm), under a
# wall-clock timeout. The serial console goes to <logfile> (carriage returns
# and terminal escapes removed) and to stdout, where files sent by the guest are shown as one line
# each. The last line printed is the guest's
#
#	XPCOPY-RESULT kver=<kver> passed=N failed=N skipped=N
#
# or, when the guest never printed one (crash, hang, timeout),
#
#	XPCOPY-NORESULT kver=<kver> reason=<why>
#
# With <outdir>, the files the guest sent (XPCOPY-FILE-BEGIN <name> <bytes>
# <sha256> ... XPCOPY-FILE-END, base64) are written there, after checking
# their size and checksum.
#
# Exit status: 0 all passed, 1 some case failed, 2 no result.
#
# Environment:
#	QEMU_ACCEL	tcg (default) or kvm (make bench uses kvm when
#			/dev/kvm works; the tests stay on tcg)
#	QEMU_CPU	-cpu value (default: max, host with kvm; e.g.
#			max,-fsrm,-erms)
#	QEMU_SMP	guest cpus (default 2)
#	QEMU_MEM	guest memory in MiB (default 2048)
#	QEMU_EXTRA	more qemu arguments (word-split)
#	GUEST_TIMEOUT	wall-clock limit in seconds (default 1200; 3600 for
#			the debug kernel, whose KASAN and lockdep slow
#			every case)
#	GUEST_APPEND	more kernel command line, e.g. "xpct.verbose=1"
#	XPCOPY_VMLINUZ	kernel image (default: the one scripts/debian-kernels.sh,
#			scripts/sid.sh or scripts/debug-kernel.sh made, else
#			/boot/vmlinuz-<kver>)
set -euo pipefail

usage="usage: run-guest.sh <kver> <initramfs> <logfile> [outdir]"
kver=${1:?$usage}
initramfs=${2:?$usage}
log=${3:?$usage}
outdir=${4:-}

# Debian 12's kernels are unpacked into scripts/debian-kernels.sh's cache.
vmlinuz=${XPCOPY_VMLINUZ:-${XPCOPY_KERNEL_CACHE:-/var/tmp/xpcopy-kernels}/$kver/boot/vmlinuz-$kver}
[ -n "${XPCOPY_VMLINUZ:-}" ] || [ -e "$vmlinuz" ] || [ ! -e "/boot/vmlinuz-$kver" ] ||
	vmlinuz=/boot/vmlinuz-$kver
# Debian sid's kernel lives in the cache scripts/sid.sh keeps.
sid_vmlinuz=${XPCOPY_SID_CACHE:-/var/tmp/xpcopy-sid}/boot/vmlinuz-$kver
[ -e "$vmlinuz" ] || [ ! -e "$sid_vmlinuz" ] || vmlinuz=$sid_vmlinuz
# Debian 11's 5.10 kernel, in the cache scripts/bullseye.sh keeps.
bull_vmlinuz=${XPCOPY_BULLSEYE_CACHE:-/var/tmp/xpcopy-bullseye}/boot/vmlinuz-$kver
[ -e "$vmlinuz" ] || [ ! -e "$bull_vmlinuz" ] || vmlinuz=$bull_vmlinuz
for d in "${XPCOPY_DEBUG_CACHE:-/var/tmp/xpcopy-debug}"/obj-*; do
	[ -e "$vmlinuz" ] && break
	[ "$(cat "$d/.done" 2>/dev/null)" = "$kver" ] && vmlinuz=$d/arch/x86/boot/bzImage
done
accel=${QEMU_ACCEL:-tcg}
case $accel in
tcg) cpu=${QEMU_CPU:-max} ;;
kvm) cpu=${QEMU_CPU:-host} ;;
*) echo "run-guest: QEMU_ACCEL=$accel: tcg or kvm" >&2; exit 2 ;;
esac
smp=${QEMU_SMP:-2}
mem=${QEMU_MEM:-2048}
case $kver in
*-xpcopy-debug-*) limit=${GUEST_TIMEOUT:-3600} ;;
*) limit=${GUEST_TIMEOUT:-1200} ;;
esac
append="console=ttyS0 panic=-1 quiet loglevel=4 ${GUEST_APPEND:-}"

for f in "$vmlinuz" "$initramfs"; do
	[ -r "$f" ] || { echo "run-guest: cannot read $f" >&2; exit 2; }
done
mkdir -p "$(dirname "$log")"

# shellcheck disable=SC2206
qemu=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$smp" -m "$mem"
      -nographic -no-reboot -nic none
      -kernel "$vmlinuz" -initrd "$initramfs" -append "$append"
      ${QEMU_EXTRA:-})

echo "run-guest: ${qemu[*]}"
start=$(date +%s)
set +e
timeout --foreground -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 |
	sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' | tee "$log" |
	sed -u '/^XPCOPY-FILE-BEGIN /,/^XPCOPY-FILE-END/{/^XPCOPY-FILE-/!d}'
qemu_rc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

# Files sent by the guest. Lines that are not base64 (a kernel message that
# got in) are dropped; size and checksum tell whether that was enough.
if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	tmp=$(mktemp -d "$outdir/.extract.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	awk -v dir="$tmp" '
	/^XPCOPY-FILE-BEGIN / {
		name = $2; gsub(/[^A-Za-z0-9._-]/, "_", name); sub(/^\.+/, "_", name)
		n++; file = dir "/" n ".b64"
		printf "" >file
		print n, name, $3, $4 >(dir "/manifest")
		inblock = 1; next
	}
	/^XPCOPY-FILE-END/ { if (inblock) close(file); inblock = 0; next }
	inblock && /^[A-Za-z0-9+\/=]+$/ { print >>file }
	' "$log"
	if [ -f "$tmp/manifest" ]; then
		while read -r n name size sum; do
			if base64 -d "$tmp/$n.b64" >"$tmp/$n.data" 2>/dev/null &&
			   [ "$(stat -c %s "$tmp/$n.data")" = "$size" ] &&
			   [ "$(sha256sum "$tmp/$n.data" | cut -d' ' -f1)" = "$sum" ]; then
				mv -f "$tmp/$n.data" "$outdir/$name"
				echo "run-guest: received $outdir/$name ($size bytes)"
			else
				mv -f "$tmp/$n.b64" "$outdir/$name.corrupt.b64"
				echo "run-guest: warning: $name arrived damaged; kept as $outdir/$name.corrupt.b64" >&2
			fi
		done <"$tmp/manifest"
	fi
fi

result=$(grep -o 'XPCOPY-RESULT kver=[^ ]* passed=[0-9]* failed=[0-9]* skipped=[0-9]*' "$log" | tail -n 1 || true)
if [ -n "$result" ]; then
	echo "run-guest: $kver: guest done in ${elapsed}s"
	echo "$result"
	case $result in
	*" failed=0 "*) exit 0 ;;
	*) exit 1 ;;
	esac
fi

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	reason="wall-clock timeout after ${limit}s"
elif grep -q 'Kernel panic' "$log"; then
	reason="kernel panic"
elif grep -q '^XPCOPY-BADBOOT ' "$log"; then
	reason="bad boot: $(grep -m 1 '^XPCOPY-BADBOOT ' "$log" | sed 's/^[^:]*: //')"
else
	reason="guest ended without a result (qemu exit $qemu_rc)"
fi
echo "run-guest: $kver: no result after ${elapsed}s: $reason" >&2
echo "XPCOPY-NORESULT kver=$kver reason=${reason// /_}"
exit 2
