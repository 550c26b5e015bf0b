#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror: overlapping writes in flight at once to regions in sync.
# Two fio jobs write at random, 4-64 KiB, 32 in flight submitted in
# batches of 16, over the same 256 KiB of a ready mirror, without
# serialize_overlap, so that many writes overlap writes still in flight.
# The legs are multi-queue null_blk disks (NVMe-like): each CPU dispatches
# its own batch, so two overlapping writes may reach one leg in the order
# they were mapped and the other in the opposite order; the encrypted
# secondary's engine keeps the order they were mapped in.  The target must
# hold a write that overlaps one in flight until that one has landed on
# both legs, so that both keep the same version: after the load the legs
# must be equal, plain and encrypted.
# timeout=600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ROUNDS=$(long_or 10 3)
ktap_print_header
ktap_set_plan $((6 * ROUNDS))
require_cmd fio
load_module || ktap_skip_all "module not loadable"
mirror_modes_init 8 make_nullb 4096	# 64 KiB regions

# overlap_load DEV: the overlapping writers, 6 s.
overlap_load()
{
	fio --name=overlap --filename="$1" --direct=1 --ioengine=libaio \
		--numjobs=2 --iodepth=32 --iodepth_batch_submit=16 \
		--iodepth_batch_complete_min=1 --rw=randwrite --size=256k \
		--bssplit=4k/50:16k/30:64k/20 --time_based --runtime=6 \
		--group_reporting --output="$SCRATCH/fio.out" > /dev/null 2>&1
}

# round MODE I: a ready mirror under the overlapping writers, then the
# legs compared (the secondary read through `ccm` when encrypted).
round()
{
	local mode=$1 round=$2

	fill_random "$P"
	mirror_mode "$mode"
	# shellcheck disable=SC2086
	set -- $mopt
	dm_create t-m "0 $sz ccm-mirror $P $sec $R $# $*"
	wait_ready t-m 60 > /dev/null
	ktap_check "$mode round $round: overlapping writers ran clean" \
		overlap_load /dev/mapper/t-m
	log "$mode round $round: $(grep -o 'IOPS=[^,]*' "$SCRATCH/fio.out" | head -n 1), status $(dmsetup status t-m)"
	# Still ready: health AA, no error counted (fields 4, 5, 10-13).
	ktap_check "$mode round $round: ready, both legs healthy, no errors" \
		test "$(dmsetup status t-m | awk '{ print $7, $8, $13, $14, $15, $16 }')" = "ready AA 0 0 0 0"
	dm_remove t-m
	ktap_check "$mode round $round: legs equal after overlapping writes" \
		legs_equal "$P" "$sec" "$sz" "$ref"
}

for i in $(seq $ROUNDS); do
	round plain "$i"
done
for i in $(seq $ROUNDS); do
	round encrypted "$i"
done
ktap_finished
