#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror crash recovery: power cuts at random moments under load, in
# plain mode with a metadata device (MODE=plain, the default) or encrypted
# with the copy state in the secondary's header (MODE=encrypted).
# Primary, secondary and metadata are linear slices of ONE dm-flakey
# device; a cut swaps it to a table that drops every write, so all three
# lose their writes at the same instant.  The mirror is then torn down,
# created again, and must resume and end with the secondary equal to the
# primary's final content.  CUTS cut points (6, 20 in `make check-long`;
# about 12-20 s a cut in the VM).  The writer does not serialize overlapping writes: the
# target keeps both legs in one order (see "I/O" in the admin guide).
# timeout=600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

CUTS=${CUTS:-$(long_or 20 6)}
MODE=${MODE:-plain}
ktap_print_header
ktap_set_plan $((CUTS + 1))
require_cmd fio
load_module || ktap_skip_all "module not loadable"

MIB=8
R=128				# 64 KiB regions
n=$((MIB * 2048))		# sectors per leg
sn=$n				# secondary slice (encrypted: + ccm header)
msz=2048			# 1 MiB metadata slice
D=$(make_disk $((2 * MIB + 2)) 4096)
total=$(blockdev --getsz "$D")

if [ "$MODE" = encrypted ]; then
	. "$(dirname "$0")/ccm-lib.sh"
	[ -x "$CCM_TOOL" ] || ktap_skip_all "CLI $CCM_TOOL not built"
	K=$SCRATCH/key
	ccm_keyfile "$K" 32
	REF=$(ccm_key_add "$K")
	persist="key $REF"
	sn=$((n + 2048))
else
	persist="metadata /dev/mapper/t-md"
fi
# mtbl [OPT...]: the mirror's table with the persistence options.
mtbl()
{
	# shellcheck disable=SC2086
	set -- "$@" $persist id 42
	echo "0 $n ccm-mirror /dev/mapper/t-p /dev/mapper/t-s $R $# $*"
}
tbl=$(mtbl rate 1 start_paused)
tbl2=$(mtbl)
up_table="0 $total flakey $D 0 100000 1 1 drop_writes"
down_table="0 $total flakey $D 0 0 100000 1 drop_writes"

# slices BASE: primary, secondary and metadata as linear devices
slices()
{
	dm_create t-p "0 $n linear $1 0"
	dm_create t-s "0 $sn linear $1 $n"
	dm_create t-md "0 $msz linear $1 $((n + sn))"
}

# switch_to TABLE: swap t-cut's table at once.  Writes completed before
# the resume stay, later ones see the new table.
switch_to()
{
	dmsetup reload t-cut --table "$1" &&
		dmsetup suspend --noflush --nolockfs t-cut &&
		dmsetup resume t-cut
}

# A blank secondary (formatted afresh when encrypted) and metadata slice,
# so that a region wrongly carried over cannot pass the comparison.
blank_secondary()
{
	dd if=/dev/zero of=/dev/mapper/t-s bs=1M count=$((sn / 2048)) \
		oflag=direct status=none
	dd if=/dev/zero of=/dev/mapper/t-md bs=1M count=$((msz / 2048)) \
		oflag=direct status=none
	[ "$MODE" = encrypted ] || return 0
	ccm_format /dev/mapper/t-s "$K" --no-wipe --region-size $((R * 512)) \
		--data-size $((n * 512))
}

# The secondary's content, as the primary would see it, equals the primary.
secondary_equal()
{
	legs_equal /dev/mapper/t-p /dev/mapper/t-s "$n" "${REF:-}"
}

fill_random "$D" "$MIB"
dm_create t-cut "$up_table"
slices /dev/mapper/t-cut
carried_sum=0
for i in $(seq "$CUTS"); do
	blank_secondary
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
	desc="$MODE cut $i at ${cut_ms} ms ($(echo "$cut_status" | awk '{print $6}') copied): resumed with $carried carried over, equal"
	if [ $torn_ok = 1 ] && wait_ready t-m 30 > /dev/null &&
		dm_remove t-m && secondary_equal; then
		ktap_test_pass "$desc"
	else
		log "at the cut: $cut_status"
		log "now: $(dmsetup status t-m 2>&1)"
		ktap_test_fail "$desc"
		dmsetup remove t-m > /dev/null 2>&1
	fi
done
ktap_check "some cuts resumed with progress carried over ($carried_sum regions)" \
	test "$carried_sum" -gt 0
ktap_finished
