#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move, plain mode: ext4 on a dm-linear over a loop disk, a
# writer keeping files with checksums busy, `ccm-mirror move --yes` onto a
# larger second disk (through a linear slice), the pivot: no hidden device
# left, the visible device is linear on the new disk, the old disk is
# free, every checksum right.  Then a move back interrupted by SIGINT
# (exit 8, the mirror keeps copying) and resumed by running the same
# command again.  Last, a two-line table moved with --no-pivot (ready,
# left running) then completed by move --pivot.  Every checksum right,
# fsck clean.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
ktap_set_plan 27
require_cmd mkfs.ext4 fsck.ext4 md5sum
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

A=$(make_disk 64)
B=$(make_disk 80)
mv_vol t-vol "$A"
mkfs.ext4 -q -F /dev/mapper/t-vol
mv_mount t-vol
writer_start
sleep 1

# ---- move onto B (larger: a slice), with the writer running ----
"$T" move t-vol "$B" --yes --rate 3 > "$SCRATCH/move1" 2>&1 < /dev/null &
_MV_BG=$!
wait_for_status t-vol " copying " 20
ktap_check "during the move t-vol is a ccm-mirror" table_has t-vol " ccm-mirror "
ktap_check "during the move t-vol-ccm-old holds the old table" \
	test "$(dmsetup table t-vol-ccm-old)" = "0 131072 linear $(devno "$A") 0"
ktap_check "during the move t-vol-ccm-new is a slice of the larger disk" \
	test "$(dmsetup table t-vol-ccm-new)" = "0 131072 linear $(devno "$B") 0"
wait $_MV_BG
rc=$?
_MV_BG=
log "$(cat "$SCRATCH/move1")"
ktap_check "move onto a larger disk with --yes: exit 0" test $rc = 0
ktap_check "progress lines were printed" \
	grep -Eq '^Moved: [0-9.]+% .* ETA [0-9:]+' "$SCRATCH/move1"
ktap_check "a summary was printed" grep -q "t-vol: moved to" "$SCRATCH/move1"
ktap_check "no hidden device left after the pivot" no_hidden t-vol
ktap_check "t-vol is linear on the new disk" \
	test "$(dmsetup table t-vol)" = "0 131072 linear $(devno "$B") 0"
ktap_check "the old disk is no longer used" no_holders "$A"
writer_stop
n=$WCOUNT
ktap_check "the writer kept writing during the move ($n files)" test "$n" -ge 4
mv_remount
ktap_check "every checksum right, read back from the new disk" sums_verify

# ---- move back onto A, interrupted by SIGINT, resumed ----
writer_start
"$T" move t-vol "$A" --yes --rate 4 --interval 0 > "$SCRATCH/move2" 2>&1 \
	< /dev/null &
_MV_BG=$!
wait_for_status t-vol " copying " 20
sleep 1
kill -INT $_MV_BG
wait $_MV_BG
rc=$?
_MV_BG=
log "$(cat "$SCRATCH/move2")"
ktap_check "SIGINT during the move: exit 8" test $rc = 8
ktap_check "SIGINT: tells how to resume, pivot and abort" \
	grep -q "ccm-mirror move --abort t-vol" "$SCRATCH/move2"
ktap_check "SIGINT: the mirror keeps copying in the kernel" \
	status_has t-vol " ccm-mirror plain .* (copying|ready) "
expect_err 0 "moving onto" "status shows the move in progress" \
	"$T" status t-vol
expect 0 "the same move command again resumes watching and completes" \
	"$T" move t-vol "$A" --yes --rate 0
log "$(cat "$OUT")"
ktap_check "it said it was resuming" grep -q "already being moved" "$OUT"
ktap_check "no hidden device left" no_hidden t-vol
ktap_check "t-vol is linear on the first disk again" \
	test "$(dmsetup table t-vol)" = "0 131072 linear $(devno "$A") 0"
writer_stop
mv_remount
ktap_check "every checksum right after the resumed move ($WCOUNT files)" \
	sums_verify

# ---- a two-line table, --no-pivot, then --pivot ----
dmsetup load t-vol --table "0 65536 linear $A 0
65536 65536 linear $A 65536" && dmsetup suspend t-vol && dmsetup resume t-vol
two=$(dmsetup table t-vol)
writer_start
expect_err 0 "ready: every region" "--no-pivot: exit 0 at ready" \
	"$T" move t-vol "$B" --yes --no-pivot --interval 0
ktap_check "the hidden device holds both lines of the table" \
	test "$(dmsetup table t-vol-ccm-old)" = "$two"
ktap_check "the mirror is left running, ready" test "$(mstate t-vol)" = ready
expect_err 0 "moved to" "move --pivot completes it" "$T" move --pivot t-vol
ktap_check "after --pivot: linear on the new disk, no hidden device" \
	sh -c "[ \"\$(dmsetup table t-vol)\" = '0 131072 linear $(devno "$B") 0' ] && ! dmsetup ls | grep -q t-vol-ccm"
writer_stop
mv_remount
ktap_check "every checksum right after --pivot ($WCOUNT files)" sums_verify
mv_umount
ktap_check "fsck clean" fsck.ext4 -fn /dev/mapper/t-vol
ktap_finished
