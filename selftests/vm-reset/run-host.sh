#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of the VM reset test: boot 1 starts a copy on a disk image and
# is reset mid-copy (the runner sees the VM die: expected); boot 2 must
# resume the copy from the disk and end equal.
# usage: selftests/vm-reset/run-host.sh KVER [OUTDIR] [plain|encrypted]
# Exit: 0 pass, 1 fail.
set -u
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
KVER=$1
MODE=${3:-plain}
OUT=${2:-$SRCDIR/build/$KVER/vm-reset-$MODE}
sfx=
[ "$MODE" = encrypted ] && sfx=-encrypted
mkdir -p "$OUT"
IMG=$OUT/disk.img
rm -f "$IMG"
truncate -s 140M "$IMG"
export QEMU_EXTRA="-drive file=$IMG,if=virtio,format=raw,cache=writeback"

"$SRCDIR/tools/vm/run.sh" -k "$KVER" -d "$SRCDIR/selftests/vm-reset" \
	-T phase1$sfx -o "$OUT/boot1" -t 200 > "$OUT/boot1.out" 2>&1
st1=$(cat "$OUT/boot1/vm-status" 2> /dev/null)
if grep -q "^not ok\|Oops\|BUG:" "$OUT/boot1/console.log" 2> /dev/null &&
	! grep -q "resetting the VM" "$OUT/boot1/console.log"; then
	echo "# vm-reset: first boot failed before the reset (VM $st1)"
	tail -n 20 "$OUT/boot1/console.log" | sed 's/^/# /'
	exit 1
fi
grep -h "resetting the VM" "$OUT/boot1/console.log" | sed 's/^/# /'

"$SRCDIR/tools/vm/run.sh" -k "$KVER" -d "$SRCDIR/selftests/vm-reset" \
	-T phase2$sfx -o "$OUT/boot2" -t 300 > "$OUT/boot2.out" 2>&1
grep -h "after the reset\|ok " "$OUT/boot2/console.log" | sed 's/^/# /'
rm -f "$IMG"
# Only a pass counts (a skip means the disk or module was missing).
grep -q "^PASS" "$OUT/boot2/results.txt" 2> /dev/null
