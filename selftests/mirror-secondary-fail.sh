#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: the secondary fails (dm-flakey error_writes under
# it).  The mirror turns failed, raises an event, counts the error, and
# user writes keep succeeding on the primary and read back right.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 7
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 32)
S=$(make_disk 32)
fill_random "$P"
sz=$(blockdev --getsz "$S")
dm_create t-sec "0 $sz linear $S 0"
dm_create t-m "$(mirror_table "$P" /dev/mapper/t-sec 256 rate 4)"
sleep 1
ev=$(dm_events t-m)

# Every write to the secondary now fails.
dm_swap t-sec "0 $sz flakey $S 0 0 1 1 error_writes"

head -c 1048576 /dev/urandom > "$SCRATCH/data"
dd if="$SCRATCH/data" of=/dev/mapper/t-m bs=64k oflag=direct status=none
ktap_check "user writes succeed" test $? = 0
ktap_check "state turns failed" wait_for_status t-m " failed " 20
log "status: $(dmsetup status t-m)"
ktap_check "secondary health D (write error), primary A" \
	test "$(mirror_health t-m)" = AD
ktap_check "secondary write errors counted" test "$(dm_field t-m 13)" -gt 0
ktap_check "an event was raised" wait_for_events t-m "$ev"

dd if="$SCRATCH/data" of=/dev/mapper/t-m bs=4k seek=2048 oflag=direct \
	status=none
ktap_check "writes after the failure succeed and read back right" \
	cmp -n 1048576 "$SCRATCH/data" /dev/mapper/t-m
ktap_check "... also at the second place" \
	cmp -n 1048576 -i 0:$((2048 * 4096)) "$SCRATCH/data" /dev/mapper/t-m
ktap_finished
