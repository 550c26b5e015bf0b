#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: copy under load.  fio writes at random with sizes
# from 512 B to several regions (so writes straddle region boundaries and
# the copy window), verifying with crc32c and verify_backlog, across the
# copy and past ready.  Then fio verifies clean and the legs are equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 5
require_cmd fio
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 96)
S=$(make_disk 96)
fill_random "$P"
# 64 KiB regions, a slow copy so that fio overlaps all of it.
dm_create t-m "$(mirror_table "$P" "$S" 128 rate 12 parallel 4)"

fio_verify /dev/mapper/t-m 14 \
	512/15:4k/25:12k/15:64k/15:100k/10:256k/10:1m/10 \
	--iodepth=16 --blockalign=512 &
fio_pid=$!

ktap_check "copy reaches ready under load" wait_ready t-m 60
log "status at ready: $(dmsetup status t-m)"
fio_verified "fio with verify_backlog clean across the copy and past ready" "$fio_pid"
ktap_check "still ready after the load" test "$(mirror_state t-m)" = ready

# A final full verify pass of what fio wrote, through the mirror.
fio_verify /dev/mapper/t-m 0 \
	512/15:4k/25:12k/15:64k/15:100k/10:256k/10:1m/10 \
	--iodepth=16 --blockalign=512 --time_based=0 --size=64m &
fio_verified "write+verify pass on the ready mirror" $!
ktap_check "secondary equals primary" devs_equal "$P" "$S"
ktap_finished
