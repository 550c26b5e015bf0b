#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: primary read errors (dm-error spliced into the
# primary).  On a region in sync the read is served from the secondary
# with the right data; on a region not copied it fails.  Then legs that
# split every 1 MiB read into 64 KiB requests (null_blk max_sectors) and a
# bad block in the primary: the retried read, split again on the
# secondary, must complete once with the right data (the bio is restored
# as the primary got it, not as the primary's splits left it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 11
load_module || ktap_skip_all "module not loadable"

R=256				# 128 KiB regions
P=$(make_disk 16)
S=$(make_disk 16)
S2=$(make_disk 16)
fill_random "$P"
sz=$(blockdev --getsz "$P")
dm_create t-pri "0 $sz linear $P 0"
dm_create t-m "$(mirror_table /dev/mapper/t-pri "$S" $R)"
ktap_check "copy reaches ready" wait_ready t-m 60

# Region 5 of the primary now returns I/O errors.
bad=$((5 * R))
error_region t-pri "$P" "$sz" "$bad" "$R"
ev=$(dm_events t-m)

dd if=/dev/mapper/t-m of="$SCRATCH/got" bs=4k skip=$((bad / 8)) count=$((R / 8)) \
	iflag=direct status=none
ktap_check "read of an in-sync region with a failing primary succeeds" test $? = 0
dd if="$P" of="$SCRATCH/want" bs=4k skip=$((bad / 8)) count=$((R / 8)) status=none
ktap_check "... and returns the right data from the secondary" \
	cmp "$SCRATCH/want" "$SCRATCH/got"
log "status: $(dmsetup status t-m)"
ktap_check "primary read errors counted, primary health R" \
	test "$(mirror_health t-m)" = RA -a "$(dm_field t-m 10)" -gt 0
ktap_check "the primary's first read error raised an event" \
	wait_for_events t-m "$ev"
dm_remove t-m

# A mirror that has copied nothing: the same read fails.
dm_create t-m2 "$(mirror_table /dev/mapper/t-pri "$S2" $R start_paused)"
if dd if=/dev/mapper/t-m2 of=/dev/null bs=4k skip=$((bad / 8)) count=1 \
	iflag=direct status=none 2> /dev/null; then
	ktap_test_fail "read of an uncopied region with a failing primary fails"
else
	ktap_test_pass "read of an uncopied region with a failing primary fails"
fi
ktap_check "other regions still read right" \
	cmp -n $((R * 512)) /dev/mapper/t-m2 "$P"
ktap_check "mirror not failed by a primary read error" \
	test "$(mirror_state t-m2)" = paused
dm_remove t-m2

# Legs that split: 1 MiB regions, requests of at most 64 KiB.
NP=$(make_nullb 16 512 2 128) || ktap_skip_all "no null_blk"
NS=$(make_nullb 16 512 2 128)
fill_random "$NP"
dm_create t-m3 "$(mirror_table "$NP" "$NS" 2048)"
wait_ready t-m3 60 > /dev/null
# One bad 4 KiB block in the middle of region 3 of the primary.
echo "+$((3 * 2048 + 1000))-$((3 * 2048 + 1007))" > \
	"/sys/kernel/config/nullb/$(basename "$NP")/badblocks"
dd if=/dev/mapper/t-m3 of="$SCRATCH/got3" bs=1M skip=3 count=1 \
	iflag=direct status=none
ktap_check "a split 1 MiB read with a bad primary block succeeds" test $? = 0
dd if="$NS" of="$SCRATCH/want3" bs=1M skip=3 count=1 iflag=direct status=none
ktap_check "... with the data of the secondary" \
	cmp "$SCRATCH/want3" "$SCRATCH/got3"
ktap_check "... retried once: one primary read error counted" \
	test "$(dm_field t-m3 10)" = 1
dm_remove t-m3
ktap_finished
