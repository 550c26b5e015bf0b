#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move --abort, pause/resume/rate, and a new device failing in
# the middle of a move.  ext4 on a dm-linear over a loop disk with a writer
# keeping files with checksums busy throughout:
#  - abort before ready (--rate 1 --no-pivot in the background; pause,
#    rate and resume on the running move): back on the old table, the
#    background move reports the cancel (exit 7);
#  - abort after ready (--no-pivot, then --abort);
#  - the new device turns into dm-error mid-move: the move goes back to the
#    old disk by itself with exit 7;
# each time no hidden device is left and every checksum is right.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
ktap_set_plan 28
require_cmd mkfs.ext4 fsck.ext4 md5sum
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

A=$(make_disk 64)
B=$(make_disk 64)
D=$(make_disk 64)
mv_vol t-vol "$A"
orig=$(dmsetup table t-vol)
mkfs.ext4 -q -F /dev/mapper/t-vol
mv_mount t-vol

# ---- abort before ready, with pause / rate / resume ----
writer_start
"$T" move t-vol "$B" --yes --rate 1 --no-pivot > "$SCRATCH/bg1" 2>&1 \
	< /dev/null &
_MV_BG=$!
wait_for_status t-vol " copying " 20
expect_err 0 "copy paused" "pause a running move" "$T" pause t-vol
ktap_check "the mirror is paused" test "$(mstate t-vol)" = paused
expect 0 "change the rate of a running move" "$T" rate t-vol 3
ktap_check "the table shows the new rate" table_has t-vol " rate 3"
expect 0 "resume a paused move" "$T" resume t-vol
ktap_check "the mirror copies again" test "$(mstate t-vol)" = copying
expect_err 0 '"state":"copying"' "status --json of a running move" \
	"$T" status t-vol --json
expect_err 0 "back on its old table" "abort before ready" \
	"$T" move --abort t-vol
wait $_MV_BG
rc=$?
_MV_BG=
log "$(cat "$SCRATCH/bg1")"
ktap_check "the background move reports the cancel (exit 7)" test $rc = 7
ktap_check "abort before ready: the old table is back" \
	test "$(dmsetup table t-vol)" = "$orig"
ktap_check "abort before ready: no hidden device left" no_hidden t-vol
ktap_check "abort before ready: the new disk is free" no_holders "$B"
writer_stop
mv_remount
ktap_check "abort before ready: every checksum right on the old disk" \
	sums_verify

# ---- abort after ready ----
writer_start
expect_err 0 "ready: every region" "--no-pivot stops at ready (exit 0)" \
	"$T" move t-vol "$B" --yes --no-pivot
ktap_check "the mirror is left running, ready" test "$(mstate t-vol)" = ready
sleep 2		# the writer writes to both disks now
expect_err 0 "state: +ready" "status of a ready move" "$T" status t-vol
expect_err 0 "t-vol: ready" "status --watch of a ready move returns at once" \
	"$T" status t-vol --watch
expect 0 "abort after ready" "$T" move --abort t-vol
ktap_check "abort after ready: the old table is back" \
	test "$(dmsetup table t-vol)" = "$orig"
ktap_check "abort after ready: no hidden device left" no_hidden t-vol
writer_stop
mv_remount
ktap_check "abort after ready: every checksum right on the old disk ($WCOUNT files)" \
	sums_verify

# ---- the new device fails mid-move ----
dm_create t-bad "0 131072 linear $D 0"
writer_start
"$T" move t-vol /dev/mapper/t-bad --yes --rate 2 > "$SCRATCH/bg2" 2>&1 \
	< /dev/null &
_MV_BG=$!
wait_for_status t-vol " copying " 20
sleep 1
dmsetup load t-bad --table "0 131072 error" && dmsetup suspend t-bad &&
	dmsetup resume t-bad
wait $_MV_BG
rc=$?
_MV_BG=
log "$(cat "$SCRATCH/bg2")"
ktap_check "a failing new device ends the move with exit 7" test $rc = 7
ktap_check "... with a clear message" \
	grep -q "t-bad.*failed during the move.*going back to the old disk" \
	"$SCRATCH/bg2"
ktap_check "failed move: the old table is back" \
	test "$(dmsetup table t-vol)" = "$orig"
ktap_check "failed move: no hidden device left" no_hidden t-vol
ktap_check "failed move: t-bad is free" \
	test "$(dmsetup info -c --noheadings -o open t-bad | tr -d ' ')" = 0
writer_stop
mv_remount
ktap_check "failed move: every checksum right on the old disk ($WCOUNT files)" \
	sums_verify
mv_umount
ktap_check "fsck clean" fsck.ext4 -fn /dev/mapper/t-vol
ktap_finished
