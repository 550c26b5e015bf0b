#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move, plain mode, progress kept on a metadata device carved
# from a larger new disk: a move of a mounted ext4 under a writer is
# interrupted (SIGINT), the machine "reboots" (every mapping removed, the
# device re-created with its original table, nothing written to it), and
# the same command run again resumes with the regions carried over, then
# completes: checksums right, metadata area cleared.  --dry-run tells
# where the progress is kept and that it would resume; --restart and
# another --region-size start over; --abort clears the progress so that a
# later move cannot resume from it.  Last, the move process is killed
# (SIGKILL: no chance to clean up) and the machine "reboots" before the
# copy is done: the same command resumes with regions carried over.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
ktap_set_plan 27
require_cmd mkfs.ext4 fsck.ext4 md5sum
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

A=$(make_disk 24)
B=$(make_disk 32)		# 8 MiB more: room for the metadata area
mv_vol t-vol "$A"
orig=$(dmsetup table t-vol)
mkfs.ext4 -q -F /dev/mapper/t-vol
mv_mount t-vol
writer_start
sleep 1

# The metadata area: 1 MiB right after t-vol's 24 MiB on B.
zero_mib() { ! dd if="$1" bs=1M skip="$2" count=1 iflag=direct status=none | tr -d '\0' | grep -q .; }
meta_zero() { zero_mib "$B" 24; }
meta_used() { ! zero_mib "$B" 24; }
reboot_sim()
{
	dmsetup remove t-vol t-vol-ccm-old t-vol-ccm-new t-vol-ccm-meta &&
		dmsetup create t-vol --table "$orig"
}

expect_err 0 "copy progress would be kept on t-vol-ccm-meta" \
	"--dry-run: progress kept on a metadata device (larger disk)" \
	"$T" move t-vol "$B" --dry-run
ktap_check "--dry-run: the mirror table has metadata and id" \
	grep -Eq "ccm-mirror /dev/mapper/t-vol-ccm-old /dev/mapper/t-vol-ccm-new 2048 4 metadata /dev/mapper/t-vol-ccm-meta id [0-9a-f]+$" "$OUT"

# ---- interrupted under load ----
mv_interrupt t-vol " plain 2048 ([6-9]|1[0-9]|2[0-3])/24 copying " \
	"$SCRATCH/m1" t-vol "$B" --yes --rate 2 --interval 0
rc=$?
ktap_check "SIGINT: exit 8" test $rc = 8
ktap_check "t-vol-ccm-meta is a linear over B after t-vol's size" \
	test "$(dmsetup table t-vol-ccm-meta)" = "0 2048 linear $(devno "$B") 49152"
ktap_check "status: persistence metadata" \
	test "$(dm_field t-vol 15)" = metadata
ktap_check "the table has metadata and id" \
	table_has t-vol " metadata [0-9]+:[0-9]+ id [0-9a-f]+$"
writer_stop
mv_umount
ktap_check "a reboot: mappings gone, t-vol re-created on the old disk" \
	reboot_sim
ktap_check "... the metadata area holds the progress" meta_used

expect_err 0 "would resume: .* holds this move's copy state, [1-9][0-9]* of 24 regions copied" \
	"--dry-run after the reboot: would resume" "$T" move t-vol "$B" --dry-run
expect_err 0 "copy progress would be kept" "--dry-run --restart: starts over" \
	"$T" move t-vol "$B" --dry-run --restart
ktap_check "... without resuming" sh -c "! grep -q 'would resume' '$OUT'"
expect_err 0 "with 1024 KiB regions: starting over with --region-size 512 KiB" \
	"--dry-run with another --region-size: starts over" \
	"$T" move t-vol "$B" --dry-run --region-size 512K

# ---- the same command again: resumes, then completes under load ----
"$T" move t-vol "$B" --yes --rate 8 --interval 0 > "$SCRATCH/m2" 2>&1 \
	< /dev/null &
_MV_BG=$!
wait_for_status t-vol " ccm-mirror plain " 20
mv_mount t-vol
writer_start
wait $_MV_BG
rc=$?
_MV_BG=
log "$(cat "$SCRATCH/m2")"
ktap_check "the resumed move completes: exit 0" test $rc = 0
carried=$(sed -n 's/.*resuming: \([0-9]*\) regions carried over.*/\1/p' "$SCRATCH/m2")
ktap_check "it resumed with ${carried:-no} of 24 regions carried over" \
	test "${carried:-0}" -gt 0 -a "${carried:-0}" -lt 24
ktap_check "t-vol is linear on B, no hidden device" \
	sh -c "[ \"\$(dmsetup table t-vol)\" = '0 49152 linear $(devno "$B") 0' ] && ! dmsetup ls | grep -q t-vol-ccm"
ktap_check "the metadata area was cleared at the end" meta_zero
writer_stop
mv_remount
ktap_check "every checksum right after the resumed move ($WCOUNT files)" \
	sums_verify
mv_umount
ktap_check "fsck clean" fsck.ext4 -fn /dev/mapper/t-vol

# ---- --abort clears the progress: no resume from stale state ----
C=$(make_disk 32)
dmsetup suspend t-vol && dmsetup load t-vol --table "$orig" &&
	dmsetup resume t-vol
expect_err 0 "ready" "move onto C, --no-pivot" \
	"$T" move t-vol "$C" --yes --no-pivot --interval 0
expect_err 0 "back on its old table" "--abort" "$T" move --abort t-vol
ktap_check "--abort cleared the metadata area" zero_mib "$C" 24
expect_err 0 "copy progress would be kept on t-vol-ccm-meta" \
	"after --abort a new move starts over" "$T" move t-vol "$C" --dry-run
ktap_check "... without resuming" sh -c "! grep -q 'would resume' '$OUT'"

# ---- SIGKILL of the move, then a reboot: the same command resumes ----
D=$(make_disk 32)
dmsetup suspend t-vol && dmsetup load t-vol --table "$orig" &&
	dmsetup resume t-vol
sum=$(md5sum < /dev/mapper/t-vol)
"$T" move t-vol "$D" --yes --rate 2 --interval 0 > "$SCRATCH/m3" 2>&1 \
	< /dev/null &
_MV_BG=$!
wait_for_status t-vol " plain 2048 ([4-9]|1[0-9]|2[0-3])/24 copying " 60
kill -KILL $_MV_BG
wait $_MV_BG
rc=$?
_MV_BG=
ktap_check "SIGKILL: the move process is gone (137), the mirror copies on" \
	test "$rc/$(dm_field t-vol 4)" = 137/copying
dmsetup message t-vol 0 pause
ktap_check "a reboot before the copy is done" reboot_sim
"$T" move t-vol "$D" --yes --interval 0 > "$SCRATCH/m4" 2>&1 < /dev/null
rc=$?
log "$(cat "$SCRATCH/m4")"
carried=$(sed -n 's/.*resuming: \([0-9]*\) regions carried over.*/\1/p' "$SCRATCH/m4")
ktap_check "the same command resumes with ${carried:-no} of 24 regions carried over, exit $rc" \
	test "$rc" = 0 -a "${carried:-0}" -gt 0 -a "${carried:-0}" -lt 24
ktap_check "t-vol is linear on D, its data unchanged" \
	sh -c "[ \"\$(dmsetup table t-vol)\" = '0 49152 linear $(devno "$D") 0' ] && [ \"\$(md5sum < /dev/mapper/t-vol)\" = '$sum' ]"
ktap_finished
