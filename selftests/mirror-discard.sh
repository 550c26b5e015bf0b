#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror: discards that span many regions.  A discard changes what the
# primary reads back, so every region it touches must be copied again, and
# no copy may read a region while the discard is still landing on it.
# Discards of 1 MiB (16 regions of 64 KiB) and of odd, unaligned ranges,
# on a ready mirror and on one still copying, plain and encrypted: once the
# mirror is ready again the legs must be equal (the secondary read through
# `ccm` when encrypted): the secondary never keeps data the primary no
# longer has.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ktap_set_plan 10
require_cmd blkdiscard
load_module || ktap_skip_all "module not loadable"
mirror_modes_init 16 make_disk 4096	# 64 KiB regions
# The primary delays writes (discards too) by 300 ms: a copy that may
# start on a region under a discard in flight reads it before the discard
# lands there.
dm_create t-dp "0 $sz delay $P 0 0 $P 0 300"
DP=/dev/mapper/t-dp
[ "$(cat "/sys/dev/block/$(dmsetup info -c --noheadings -o major,minor \
	--separator : t-dp | tr -d ' ')/queue/discard_max_bytes")" != 0 ] ||
	ktap_skip_all "no discard through loop and dm-delay"

# discards DEV: 1 MiB at 9 MiB (16 whole regions), then unaligned ranges
# that start and end inside regions.
discards()
{
	blkdiscard -o 9437184 -l 1048576 "$1" &&
		blkdiscard -o 204800 -l 1310720 "$1" &&
		blkdiscard -o 3149824 -l 4096 "$1" &&
		blkdiscard -o 5246976 -l 2101248 "$1"
}

# setup MODE RATE: a fresh mirror t-m of random data (RATE 0: unlimited).
setup()
{
	fill_random "$P"
	mirror_mode "$1"
	[ "$2" = 0 ] || mopt="$mopt rate $2"
	# shellcheck disable=SC2086
	set -- $mopt
	dm_create t-m "0 $sz ccm-mirror $DP $sec $R $# $*"
}

# check MODE WHEN: discard, wait for ready, compare the legs.
check()
{
	local desc="$1 mirror $2: multi-region discards" ev

	ev=$(dm_events t-m)
	ktap_check "$desc succeed" discards /dev/mapper/t-m
	if [ "$2" = ready ]; then
		ktap_check "$desc: no longer ready, an event raised" \
			wait_for_events t-m "$ev"
	fi
	# t-dp keeps $P open: drop its page cache (stale since fill_random)
	# before reading it.
	if wait_ready t-m 120 > /dev/null && dm_remove t-m &&
		blockdev --flushbufs "$P" &&
		legs_equal "$P" "$sec" "$sz" "$ref"; then
		ktap_test_pass "$desc: legs equal once ready again"
	else
		log "status: $(dmsetup status t-m 2>&1)"
		dmsetup remove t-m > /dev/null 2>&1
		ktap_test_fail "$desc: legs equal once ready again"
	fi
}

for mode in plain encrypted; do
	setup $mode 0
	wait_ready t-m 120 > /dev/null
	check $mode ready
	setup $mode 4
	sleep 1
	check $mode copying
done
ktap_finished
