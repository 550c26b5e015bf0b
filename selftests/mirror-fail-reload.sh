#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror: a failed mirror reloaded with the same table.  A ready
# mirror with persistent progress (plain with a metadata device, encrypted
# with the copy state in the secondary's header) loses its secondary: its
# data area returns write errors, the mirror fails, and 3 MiB are written
# to the primary alone.  The secondary comes back, the mirror is created
# again with the same table: it must not carry a region over (the failure
# is in the copy state), and once ready the legs must be equal.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ktap_set_plan 10
load_module || ktap_skip_all "module not loadable"
mirror_modes_init 16 make_disk 4096	# 64 KiB regions
M=$(make_disk 1)

# fail_table DEV SECTORS DATA_OFFSET: DEV with its $sz data sectors from
# DATA_OFFSET on returning errors.
fail_table()
{
	local end=$(($3 + sz))

	[ "$3" = 0 ] || echo "0 $3 linear $1 0"
	echo "$3 $sz error"
	[ "$end" -ge "$2" ] || echo "$end $(($2 - end)) linear $1 $end"
}

# run MODE: the whole scenario; t-s is the secondary, linear over $dev
# except while it fails.
run()
{
	local mode=$1 doff=0 dsz tbl dev

	fill_random "$P"
	mirror_mode "$mode"
	dev=$sec
	if [ "$mode" = encrypted ]; then
		mopt="$mopt id 1"
		doff=$("$CCM_TOOL" dump --json "$E" |
			sed -n 's/.*"data_offset":\([0-9]*\).*/\1/p')
	else
		mopt="metadata $M id 1"
		dd if=/dev/zero of="$M" bs=1M count=1 oflag=direct status=none
	fi
	dsz=$(blockdev --getsz "$dev")
	dm_create t-s "0 $dsz linear $dev 0"
	# shellcheck disable=SC2086
	set -- $mopt
	tbl="0 $sz ccm-mirror $P /dev/mapper/t-s $R $# $*"
	dm_create t-m "$tbl"
	ktap_check "$mode: ready" wait_ready t-m 120

	# The secondary's data area fails (its header, if any, still works).
	dm_swap t-s "$(fail_table "$dev" "$dsz" "$doff")"
	dd if=/dev/urandom of=/dev/mapper/t-m bs=1M seek=4 count=3 \
		oflag=direct status=none
	ktap_check "$mode: writes succeed, the mirror failed" \
		test "$?/$(mirror_state t-m)" = 0/failed
	dm_swap t-s "0 $dsz linear $dev 0"

	# Same table again, as a reload after the disk came back would.
	log "$mode: failed mirror: $(dmsetup status t-m)"
	dm_remove t-m
	dm_create t-m "$tbl"
	log "$mode: created again: $(dmsetup status t-m)"
	ktap_check "$mode: nothing carried over from the failed mirror" \
		test "$(dm_field t-m 14)" = 0
	ktap_check "$mode: ready again" wait_ready t-m 120
	dm_remove t-m
	ktap_check "$mode: legs equal, the writes after the failure too" \
		legs_equal "$P" /dev/mapper/t-s "$sz" "$ref"
	dm_remove t-s
}

run plain
run encrypted
ktap_finished
