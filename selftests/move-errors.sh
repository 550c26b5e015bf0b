#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move: bad input refused with a precise message and its
# documented exit code, nothing changed (table, hidden devices, the new
# device's content); --dry-run checks everything and changes nothing and
# says where the copy progress would be kept; --encrypt checks its key
# file first and needs room for the format; without the module the target
# is reported missing (exit 9).  (Encrypted moves: move-encrypted.sh.)
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
ktap_set_plan 45
require_cmd md5sum mkfs.ext4 python3
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

A=$(make_disk 64)
B=$(make_disk 64)
mv_vol t-vol "$A"
orig=$(dmsetup table t-vol)
fill_random "$B" 4
sumB=$(head -c 4M "$B" | md5sum)

unchanged()
{
	[ "$(dmsetup table t-vol)" = "$orig" ] && no_hidden t-vol &&
		[ "$(head -c 4M "$B" | md5sum)" = "$sumB" ]
}

# ---- --dry-run ----
expect_err 0 "would load into t-vol" "--dry-run passes the checks" \
	"$T" move t-vol "$B" --dry-run
log "$(cat "$OUT")"
ktap_check "--dry-run prints the mirror table, with the move's id" \
	grep -Eq "^  0 131072 ccm-mirror /dev/mapper/t-vol-ccm-old $(devno "$B") 2048 2 id [0-9a-f]{1,16}$" "$OUT"
ktap_check "--dry-run says the progress is kept in memory (same size)" \
	grep -q "copy progress would be kept in memory only" "$OUT"
ktap_check "--dry-run prints the final table" \
	grep -q "^  0 131072 linear $(devno "$B") 0$" "$OUT"
ktap_check "--dry-run changes nothing" unchanged
expect_err 0 "ccm-mirror /dev/mapper/t-vol-ccm-old .* 8 6 rate 5 parallel 2 id [0-9a-f]+$" \
	"--dry-run shows --region-size, --rate, --parallel" \
	"$T" move t-vol "$B" --dry-run --region-size 4K --rate 5 --parallel 2
expect_err 4 "without --yes" "no --yes and no terminal: refused (4)" \
	"$T" move t-vol "$B"
ktap_check "... nothing changed" unchanged

# ---- not a device-mapper device ----
expect_err 6 "is not a device-mapper device" "a loop device is not a dm device (6)" \
	"$T" move "$A" "$B" --yes
expect_err 6 "is not a device-mapper device" "no such dm device (6)" \
	"$T" move t-nosuch "$B" --yes
expect_err 6 "is not a block device" "the new device is not a block device (6)" \
	"$T" move t-vol /etc/hostname --yes

# ---- sizes and block sizes ----
S=$(make_disk 32)
expect_err 6 "is too small: 33554432 bytes .*t-vol needs 67108864" \
	"new device too small (6)" "$T" move t-vol "$S" --yes
L=$(make_disk 64 4096)
expect_err 6 "4096-byte logical blocks, larger than the 512-byte blocks of t-vol" \
	"new device with larger logical blocks (6)" "$T" move t-vol "$L" --yes
ktap_check "... nothing changed" unchanged

# ---- same device, in use, read-only ----
expect_err 4 "t-vol itself" "the device itself (4)" \
	"$T" move t-vol /dev/mapper/t-vol --yes
expect_err 4 "cannot be moved onto itself" "the disk t-vol is on (4)" \
	"$T" move t-vol "$A" --yes
H=$(make_disk 64)
dm_create t-holder "0 131072 linear $H 0"
expect_err 4 "is in use: held by dm-" "new device held by a dm device (4)" \
	"$T" move t-vol "$H" --yes
M=$(make_disk 64)
mkfs.ext4 -q -F "$M"
mkdir -p "$SCRATCH/m2"
mount "$M" "$SCRATCH/m2"
expect_err 4 "is in use \(mounted" "new device mounted (4)" \
	"$T" move t-vol "$M" --yes
umount "$SCRATCH/m2"
R=$(make_disk 64)
blockdev --setro "$R"
expect_err 4 "is read-only" "read-only new device (4)" "$T" move t-vol "$R" --yes
blockdev --setrw "$R"
# A disk with two partitions (an MBR written by hand): p1 under a dm
# device, p2 mounted.
truncate -s 64M "$SCRATCH/parted.img"
python3 -c '
import struct, sys
mbr = bytearray(512)
for i, (start, count) in enumerate(((2048, 61440), (63488, 61440))):
    mbr[446 + 16 * i:462 + 16 * i] = struct.pack("<B3sB3sII", 0, b"", 0x83,
                                                 b"", start, count)
mbr[510:512] = b"\x55\xaa"
with open(sys.argv[1], "r+b") as f:
    f.write(mbr)
' "$SCRATCH/parted.img"
P=$(losetup -P --find --show "$SCRATCH/parted.img")
echo "$P" >> "$_LIB_LOOP_REG"
if [ -b "${P}p2" ]; then
	dm_create t-part "0 8192 linear ${P}p1 0"
	expect_err 4 "cannot be moved onto itself" \
		"the whole disk of the partition under the device (4)" \
		"$T" move t-part "$P" --yes
	dm_remove t-part
	mkfs.ext4 -q -F "${P}p2"
	mount "${P}p2" "$SCRATCH/m2"
	expect_err 4 "its partition /dev/loop[0-9]+p2 is mounted" \
		"a disk with a mounted partition (4)" "$T" move t-vol "$P" --yes
	umount "$SCRATCH/m2"
else
	ktap_test_skip "the whole disk of the partition under the device: no partitions on $P"
	ktap_test_skip "a disk with a mounted partition: no partitions on $P"
fi
modprobe dm_snapshot 2> /dev/null
if dm_create t-orig "0 131072 snapshot-origin $M"; then
	expect_err 4 "uses the snapshot-origin target" \
		"a table with a stateful target (4)" "$T" move t-orig "$B" --yes
	dm_remove t-orig
else
	ktap_test_skip "a table with a stateful target: no snapshot-origin target"
fi
dm_create t-vol-ccm-old "0 8 zero"
expect_err 4 "t-vol-ccm-old exists and was not made by ccm-mirror move" \
	"hidden name taken by another device (4)" "$T" move t-vol "$B" --yes
dm_remove t-vol-ccm-old
ktap_check "... nothing changed" unchanged

# ---- options ----
expect_err 1 "not a power of two" "--region-size 3000 (1)" \
	"$T" move t-vol "$B" --yes --region-size 3000
expect_err 1 "not a power of two" "--region-size 2K (1)" \
	"$T" move t-vol "$B" --yes --region-size 2K
expect_err 1 "--rate" "--rate x (1)" "$T" move t-vol "$B" --yes --rate x
expect_err 1 "--parallel" "--parallel 0 (1)" \
	"$T" move t-vol "$B" --yes --parallel 0
expect_err 1 "--interval" "--interval -1 (1)" \
	"$T" move t-vol "$B" --yes --interval -1
expect_err 1 "--pivot and --abort" "--pivot with --abort (1)" \
	"$T" move --pivot --abort t-vol
expect_err 1 "applies to --encrypt" "--key-file without --encrypt (1)" \
	"$T" move t-vol "$B" --yes --key-file /dev/null
expect_err 1 "--restart applies to starting a move only" \
	"--restart with --abort (1)" "$T" move --abort --restart t-vol

# ---- --encrypt: the key file first, then room for the format ----
head -c 32 /dev/urandom > "$SCRATCH/key32"
head -c 20 /dev/urandom > "$SCRATCH/key20"
: > "$SCRATCH/key0"
expect_err 1 "has 20 bytes" "--encrypt: key file of a wrong size (1)" \
	"$T" move t-vol "$B" --yes --encrypt --key-file "$SCRATCH/key20"
expect_err 1 "has 0 bytes" "--encrypt: empty key file (1)" \
	"$T" move t-vol "$B" --yes --encrypt --key-file "$SCRATCH/key0"
expect_err 1 "key file .*No such file" "--encrypt: unreadable key file (1)" \
	"$T" move t-vol "$B" --yes --encrypt --key-file "$SCRATCH/nokey"
expect_err 1 "needs --key-file" "--encrypt without --key-file (1)" \
	"$T" move t-vol "$B" --yes --encrypt
expect_err 6 "too small for an encrypted copy of t-vol: 67108864 bytes .* needs at least [0-9]+ bytes" \
	"--encrypt onto a disk of the same size: no room for the format (6)" \
	"$T" move t-vol "$B" --yes --encrypt --key-file "$SCRATCH/key32"
ktap_check "... nothing changed" unchanged

# ---- commands that need a move in progress ----
expect_err 6 "no move in progress" "--abort without a move (6)" \
	"$T" move --abort t-vol
expect_err 6 "no move in progress" "--pivot without a move (6)" \
	"$T" move --pivot t-vol
expect_err 6 "no move in progress" "pause without a move (6)" "$T" pause t-vol
expect_err 1 "not a whole number" "rate abc (1)" "$T" rate t-vol abc
expect_err 0 "no move in progress" "status without a move (0)" \
	"$T" status t-vol

# ---- no ccm-mirror target ----
dm_remove t-holder
unload_module
expect_err 9 "ccm-mirror target is not available" \
	"no ccm-mirror target in the kernel (9)" "$T" move t-vol "$B" --yes
ktap_check "... nothing changed" unchanged
ktap_finished
