#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# xpcopy-send-file <path> [name]: in the guest, send a file to the host over
# the console. It is printed base64-encoded between the lines
#
#	XPCOPY-FILE-BEGIN <name> <bytes> <sha256>
#	XPCOPY-FILE-END
#
# which scripts/run-guest.sh extracts into its output directory as <name>
# (checking size and checksum). Kernel messages are kept off the console
# meanwhile, so that they do not cut into the data. Files left in $XPCOPY_OUT
# (/out) are sent this way by the runner at the end of the run.
set -e
f=${1:?usage: xpcopy-send-file <path> [name]}
name=${2:-$(basename "$f")}
[ -f "$f" ] || { echo "xpcopy-send-file: no file $f" >&2; exit 1; }
size=$(wc -c <"$f")
sum=$(sha256sum "$f" | cut -d' ' -f1)
level=$(cut -f1 /proc/sys/kernel/printk)
dmesg -n 1
echo "XPCOPY-FILE-BEGIN $name $size $sum"
base64 "$f"
echo "XPCOPY-FILE-END"
dmesg -n "$level"
