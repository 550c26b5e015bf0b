#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the ccm-mirror selftests (sourced after lib.sh).
#
# Status INFO fields of ccm-mirror (see Documentation/dm-ccm-mirror.rst):
#  1 mode  2 region sectors  3 copied/total  4 state  5 health (2 chars)
#  6 copies in flight  7 copy KiB/s  8 rate limit MiB/s  9 parallel
# 10 primary read errors  11 primary write errors
# 12 secondary read errors  13 secondary write errors

# mirror_table PRIMARY SECONDARY REGION [OPT...]: a full-size table line.
mirror_table()
{
	local p=$1 s=$2 region=$3 sectors

	shift 3
	sectors=$(blockdev --getsz "$p")
	if [ $# -gt 0 ]; then
		echo "0 $sectors ccm-mirror $p $s $region $# $*"
	else
		echo "0 $sectors ccm-mirror $p $s $region"
	fi
}

mirror_copied() { dm_field "$1" 3 | cut -d/ -f1; }
mirror_total() { dm_field "$1" 3 | cut -d/ -f2; }
mirror_state() { dm_field "$1" 4; }
mirror_health() { dm_field "$1" 5; }
mirror_inflight() { dm_field "$1" 6; }

# Event counter of a dm device (dmsetup wait / dm_table_event()).
dm_events()
{
	dmsetup info -c --noheadings -o events "$1" | tr -d ' '
}

wait_ready()
{
	wait_for_status "$1" " ready " "${2:-60}"
}

# kmsg_mark: print a marker into the kernel log and remember it, so that
# kmsg_since_mark shows only what came after.
kmsg_mark()
{
	KMSG_MARK="ccm-selftest-mark-$RANDOM$RANDOM"
	echo "$KMSG_MARK" > /dev/kmsg
}

kmsg_since_mark()
{
	dmesg | sed -n "/$KMSG_MARK/,\$p" | tail -n +2
}

# expect_ctr_error DESC TABLE MESSAGE [dmsetup create flags]: the table
# load must fail, the kernel must log MESSAGE, and no device may be left.
expect_ctr_error()
{
	local desc=$1 table=$2 msg=$3 out

	shift 3
	kmsg_mark
	if out=$(dmsetup create t-bad "$@" --table "$table" 2>&1); then
		log "table was accepted: $table"
		dmsetup remove t-bad > /dev/null 2>&1
		ktap_test_fail "$desc"
		return
	fi
	if ! kmsg_since_mark | grep -qF -- "ccm-mirror: $msg"; then
		log "expected kernel message: ccm-mirror: $msg"
		log "kernel said: $(kmsg_since_mark)"
		log "dmsetup said: $out"
		ktap_test_fail "$desc"
		return
	fi
	if dmsetup info t-bad > /dev/null 2>&1; then
		log "t-bad exists after a refused table"
		dmsetup remove t-bad > /dev/null 2>&1
		ktap_test_fail "$desc"
		return
	fi
	ktap_test_pass "$desc"
}

# wait_for_events NAME OLD [TIMEOUT_S]: the event counter moved past OLD.
wait_for_events()
{
	local i

	for i in $(seq $((${3:-5} * 10))); do
		[ "$(dm_events "$1")" -gt "$2" ] && return 0
		sleep 0.1
	done
	log "no event on $1 (still $(dm_events "$1"))"
	return 1
}

# fio_verify DEV SECONDS BSSPLIT [FIO OPTION...]: random writes verified
# with crc32c and verify_backlog, time based; output in $SCRATCH/fio.out.
fio_verify()
{
	local dev=$1 secs=$2 bssplit=$3

	shift 3
	fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio \
		--iodepth=8 --rw=randwrite --bssplit="$bssplit" \
		--verify=crc32c --verify_backlog=32 --serialize_overlap=1 \
		--time_based --runtime="$secs" --output="$SCRATCH/fio.out" \
		"$@" > /dev/null 2>&1
}

# fio_verified DESC PID: the background fio_verify PID ended clean.
fio_verified()
{
	if wait "$2"; then
		ktap_test_pass "$1"
	else
		log "$(tail -n 30 "$SCRATCH/fio.out")"
		ktap_test_fail "$1"
	fi
}

# dm_swap NAME TABLE: load TABLE into the live device NAME (suspend,
# reload, resume).
dm_swap()
{
	dmsetup suspend "$1" && dmsetup reload "$1" --table "$2" &&
		dmsetup resume "$1"
}

# error_region NAME DEV SECTORS START LEN: NAME maps DEV linearly except
# [START, START + LEN), which returns I/O errors.
error_region()
{
	dm_swap "$1" "0 $4 linear $2 0
$4 $5 error
$(($4 + $5)) $(($3 - $4 - $5)) linear $2 $(($4 + $5))"
}

# legs_equal PRIMARY SECONDARY SECTORS [KEYREF]: the secondary, as the
# primary would see it, equals the primary over SECTORS; with KEYREF the
# secondary is a ccm device, read through a temporary `ccm` mapping.
legs_equal()
{
	local r

	if [ -z "${4:-}" ]; then
		devs_equal "$1" "$2" $(($3 * 512))
		return
	fi
	dm_create t-legs-ccm "0 $3 ccm $2 $4" || return 1
	devs_equal "$1" /dev/mapper/t-legs-ccm $(($3 * 512))
	r=$?
	dm_remove t-legs-ccm
	return $r
}

# mirror_modes_init MIB [MAKE_DISK [ARG...]]: the devices of a test that
# runs in both modes (needs ccm-lib.sh): primary $P and plain secondary $S
# of MIB MiB, encrypted secondary $E 2 MiB larger (room for its ccm
# header), each made by MAKE_DISK MIB ARG... (default make_disk); $sz
# sectors per leg, $R = 128 (64 KiB regions); a key file $K loaded as $REF.
mirror_modes_init()
{
	local mib=$1 mk=${2:-make_disk}

	shift
	[ $# = 0 ] || shift
	[ -x "$CCM_TOOL" ] || ktap_skip_all "CLI $CCM_TOOL not built"
	require_cmd keyctl
	R=128
	sz=$((mib * 2048))
	P=$("$mk" "$mib" "$@") && S=$("$mk" "$mib" "$@") &&
		E=$("$mk" $((mib + 2)) "$@") || ktap_skip_all "cannot make disks"
	K=$SCRATCH/key
	ccm_keyfile "$K" 32
	REF=$(ccm_key_add "$K")
}

# mirror_mode MODE: the secondary of a MODE (plain or encrypted) mirror
# after mirror_modes_init: $sec, $ref (the key reference, empty when
# plain) and $mopt (the table options it needs); an encrypted secondary is
# formatted afresh.
mirror_mode()
{
	sec=$S
	ref=""
	mopt=""
	[ "$1" = encrypted ] || return 0
	sec=$E
	ref=$REF
	mopt="key $REF"
	ccm_format "$E" "$K" --no-wipe --region-size $((R * 512)) \
		--data-size $((sz * 512))
}
