#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror crash recovery (plain mode, metadata device): power cuts at
# random moments under load.  Primary, secondary and metadata device are
# linear slices of ONE dm-flakey device, so when its "up" interval ends
# every write to all three is dropped at the same instant, as in a power
# cut.  The mirror is then torn down, created again on the raw slices,
# and must resume and end with the secondary equal to the primary's final
# content.  CUTS cut points (default 20).
# timeout=600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

CUTS=${CUTS:-20}
ktap_print_header
ktap_set_plan $((CUTS + 1))
require_cmd fio
load_module || ktap_skip_all "module not loadable"

MIB=8
R=128				# 64 KiB regions
D=$(make_disk $((2 * MIB + 1)))
n=$((MIB * 2048))		# sectors per leg
msz=2048			# 1 MiB metadata slice
total=$(blockdev --getsz "$D")

# slices BASE: primary, secondary, metadata as linear devices over BASE
slices()
{
	dm_create t-p "0 $n linear $1 0"
	dm_create t-s "0 $n linear $1 $n"
	dm_create t-md "0 $msz linear $1 $((2 * n))"
}

up_table="0 $total flakey $D 0 100000 1 1 drop_writes"
down_table="0 $total flakey $D 0 0 100000 1 drop_writes"

# switch_to TABLE: swap t-cut's table at once.  Writes completed before
# the resume stay, later ones see the new table.
switch_to()
{
	dmsetup reload t-cut --table "$1" &&
		dmsetup suspend --noflush --nolockfs t-cut &&
		dmsetup resume t-cut
}

# Random primary once; each round starts from a blank secondary and
# metadata slice, so a region wrongly carried over cannot pass the cmp.
fill_random "$D" $((MIB + 1))
dm_create t-cut "$up_table"
slices /dev/mapper/t-cut
tbl=$(mirror_table /dev/mapper/t-p /dev/mapper/t-s $R rate 1 start_paused \
	metadata /dev/mapper/t-md id 42)
tbl2=$(mirror_table /dev/mapper/t-p /dev/mapper/t-s $R metadata /dev/mapper/t-md id 42)
carried_sum=0
for i in $(seq "$CUTS"); do
	dd if=/dev/zero of=/dev/mapper/t-s bs=1M oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/t-md bs=1M oflag=direct status=none
	cut_ms=$((200 + RANDOM % 4000))
	dm_create t-m "$tbl"
	fio --name=cut --filename=/dev/mapper/t-m --direct=1 \
		--ioengine=libaio --iodepth=8 --rw=randwrite \
		--bssplit=4k/40:16k/30:64k/20:192k/10 --time_based \
		--runtime=20 --output=/dev/null > /dev/null 2>&1 &
	fio_pid=$!
	dmsetup message t-m 0 resume
	sleep "$((cut_ms / 1000)).$(printf %03d $((cut_ms % 1000)))"
	switch_to "$down_table"
	cut_status=$(dmsetup status t-m)
	kill "$fio_pid"
	wait "$fio_pid"
	torn_ok=1
	dm_remove t-m || torn_ok=0

	# "Reboot": the slices hold what survived the cut.
	switch_to "$up_table" || torn_ok=0
	dm_create t-m "$tbl2"
	carried=$(dm_field t-m 14)
	carried_sum=$((carried_sum + carried))
	desc="cut $i at ${cut_ms} ms ($(echo "$cut_status" | awk '{print $6}') copied): resumed with $carried carried over, equal"
	if [ $torn_ok = 1 ] && wait_ready t-m 30 > /dev/null &&
		devs_equal /dev/mapper/t-p /dev/mapper/t-s; then
		ktap_test_pass "$desc"
	else
		log "at the cut: $cut_status"
		log "now: $(dmsetup status t-m)"
		ktap_test_fail "$desc"
	fi
	dm_remove t-m
done
ktap_check "some cuts resumed with progress carried over ($carried_sum regions)" \
	test "$carried_sum" -gt 0
ktap_finished
