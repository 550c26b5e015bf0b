#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: primary read errors (dm-error spliced into the
# primary).  On a region in sync the read is served from the secondary
# with the right data; on a region not copied it fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 7
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

dd if=/dev/mapper/t-m of="$SCRATCH/got" bs=4k skip=$((bad / 8)) count=$((R / 8)) \
	iflag=direct status=none
ktap_check "read of an in-sync region with a failing primary succeeds" test $? = 0
dd if="$P" of="$SCRATCH/want" bs=4k skip=$((bad / 8)) count=$((R / 8)) status=none
ktap_check "... and returns the right data from the secondary" \
	cmp "$SCRATCH/want" "$SCRATCH/got"
log "status: $(dmsetup status t-m)"
ktap_check "primary read errors counted, primary health R" \
	test "$(mirror_health t-m)" = RA -a "$(dm_field t-m 10)" -gt 0
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
ktap_finished
