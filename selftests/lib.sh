#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for dm-ccm-mirror selftests (kselftest style, TAP 13).
# Every test starts with:   . "$(dirname "$0")/lib.sh"
#
# API (see /tmp/team/context.md; README.md "Writing a test"):
#   ktap_print_header, ktap_set_plan N, ktap_test_pass DESC,
#   ktap_test_fail DESC, ktap_test_skip DESC, ktap_check DESC CMD ARGS...,
#   ktap_finished (prints totals, exits 0 pass / 1 fail / 4 skip)
#   log MSG
#   load_module, unload_module
#   make_disk SIZE_MIB [LOGICAL_BLOCK_SIZE]      -> echoes /dev/loopN
#   dm_create NAME TABLE, dm_remove NAME
#   dm_field NAME N                              -> N-th target status field
#   wait_for_status NAME REGEX TIMEOUT_S
#   fill_random DEV [SIZE_MIB], devs_equal A B [BYTES]
#   cleanup (runs on EXIT: dm devices in reverse order, then loop devices)
# Extras: ktap_skip_all REASON (plan 1..0, exit 4), require_cmd CMD...
# Variables: SCRATCH CCM_MODULE CCM_TOOL SRCDIR KVER
# Exit codes follow kselftest: 0 pass, 1 fail, 4 skip.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

KTAP_TESTNO=0
KTAP_CNT_PASS=0
KTAP_CNT_FAIL=0
KTAP_CNT_SKIP=0
KTAP_PLAN=
KTAP_FORCE_FAIL=0

# (Few execs here: each costs 0.1-0.3 s in the TCG guest.)
if [ -z "${SRCDIR:-}" ]; then
	case ${BASH_SOURCE[0]} in
	*/*) SRCDIR=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd) ;;
	*) SRCDIR=$(cd .. && pwd) ;;
	esac
fi
[ -n "${KVER:-}" ] || read -r KVER < /proc/sys/kernel/osrelease
CCM_MODULE=${CCM_MODULE:-$SRCDIR/build/$KVER/dm-ccm-mirror.ko}
CCM_TOOL=${CCM_TOOL:-$SRCDIR/tools/ccm-mirror}
if [ -z "${SCRATCH:-}" ]; then
	SCRATCH=$(mktemp -d /tmp/ccm-selftest.XXXXXX)
	_LIB_OWN_SCRATCH=1
fi
[ -d "$SCRATCH" ] || mkdir -p "$SCRATCH"
export SRCDIR KVER CCM_MODULE CCM_TOOL SCRATCH
export DM_DISABLE_UDEV=${DM_DISABLE_UDEV:-1}

# Cleanup registries live in files so that helpers called in $(...)
# subshells (e.g. disk=$(make_disk 64)) still register their objects.
_LIB_DM_REG=$SCRATCH/.cleanup-dm
_LIB_LOOP_REG=$SCRATCH/.cleanup-loop
_LIB_NULLB_REG=$SCRATCH/.cleanup-nullb

log()
{
	local line

	while IFS= read -r line; do
		echo "# $line"
	done <<< "$*"
}

ktap_print_header()
{
	echo "TAP version 13"
}

ktap_set_plan()
{
	KTAP_PLAN=$1
	echo "1..$1"
}

ktap_skip_all()
{
	echo "1..0 # SKIP $*"
	exit $KSFT_SKIP
}

ktap_test_pass()
{
	KTAP_TESTNO=$((KTAP_TESTNO + 1))
	KTAP_CNT_PASS=$((KTAP_CNT_PASS + 1))
	echo "ok $KTAP_TESTNO $*"
}

ktap_test_fail()
{
	KTAP_TESTNO=$((KTAP_TESTNO + 1))
	KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + 1))
	echo "not ok $KTAP_TESTNO $*"
}

ktap_test_skip()
{
	KTAP_TESTNO=$((KTAP_TESTNO + 1))
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
	echo "ok $KTAP_TESTNO $* # SKIP"
}

# ktap_check DESC CMD ARGS...: pass if CMD exits 0; on failure the
# command's output is printed as "# " lines.
ktap_check()
{
	local desc=$1 out rc

	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_test_pass "$desc"
	else
		[ -n "$out" ] && log "$out"
		log "command failed (exit $rc): $*"
		ktap_test_fail "$desc"
	fi
	return $rc
}

ktap_print_totals()
{
	echo "# Totals: pass:$KTAP_CNT_PASS fail:$KTAP_CNT_FAIL xfail:0 xpass:0 skip:$KTAP_CNT_SKIP error:0"
}

ktap_finished()
{
	ktap_print_totals
	if [ -n "$KTAP_PLAN" ] && [ "$KTAP_TESTNO" -ne "$KTAP_PLAN" ]; then
		log "planned $KTAP_PLAN tests but ran $KTAP_TESTNO"
		exit $KSFT_FAIL
	fi
	if [ $KTAP_CNT_FAIL -gt 0 ] || [ $KTAP_FORCE_FAIL -ne 0 ]; then
		exit $KSFT_FAIL
	fi
	if [ $KTAP_CNT_PASS -eq 0 ] && [ $KTAP_CNT_SKIP -gt 0 ]; then
		exit $KSFT_SKIP
	fi
	exit $KSFT_PASS
}

require_cmd()
{
	local c

	for c in "$@"; do
		command -v "$c" > /dev/null 2>&1 ||
			ktap_skip_all "required command '$c' not found"
	done
}

load_module()
{
	local deps

	modprobe -a dm_mod dm_bufio dm_flakey dm_delay dm_log_writes \
		dm_mirror dm_crypt dm_integrity brd loop 2> /dev/null || true
	if [ -d /sys/module/dm_ccm_mirror ]; then
		return 0
	fi
	if [ ! -f "$CCM_MODULE" ]; then
		log "load_module: $CCM_MODULE not found (module not built?)"
		return 1
	fi
	deps=$(modinfo -F depends "$CCM_MODULE" 2> /dev/null | tr ',' ' ')
	if [ -n "$deps" ]; then
		# shellcheck disable=SC2086
		modprobe -a $deps || {
			log "load_module: modprobe of dependencies ($deps) failed"
			return 1
		}
	fi
	if ! insmod "$CCM_MODULE"; then
		log "load_module: insmod $CCM_MODULE failed"
		return 1
	fi
}

unload_module()
{
	local _

	[ -d /sys/module/dm_ccm_mirror ] || return 0
	for _ in $(seq 50); do
		rmmod dm_ccm_mirror 2> /dev/null && return 0
		sleep 0.1
	done
	log "unload_module: rmmod dm_ccm_mirror failed: $(rmmod dm_ccm_mirror 2>&1)"
	log "refcnt: $(cat /sys/module/dm_ccm_mirror/refcnt 2> /dev/null)"
	KTAP_FORCE_FAIL=1
	return 1
}

# make_disk SIZE_MIB [LOGICAL_BLOCK_SIZE] -> /dev/loopN over a file in $SCRATCH
make_disk()
{
	local size=$1 lbs=${2:-512} file dev

	file=$(mktemp "$SCRATCH/disk.XXXXXX")
	truncate -s "${size}M" "$file" || return 1
	dev=$(losetup --find --show --sector-size "$lbs" "$file") || {
		log "make_disk: losetup failed for $file"
		return 1
	}
	# A loop device keeps a read-only flag set by an earlier test.
	blockdev --setrw "$dev"
	echo "$dev" >> "$_LIB_LOOP_REG"
	echo "$dev"
}

# long_or LONG SHORT: LONG in `make check-long` (CCM_LONG=1), else SHORT.
long_or()
{
	if [ "${CCM_LONG:-0}" = 1 ]; then echo "$1"; else echo "$2"; fi
}

# nullb_new NAME SIZE_MIB LBS QUEUES [MAX_SECTORS]: power on the
# memory-backed null_blk disk /dev/NAME through configfs (blk-mq, QUEUES
# hardware queues, no I/O scheduler, completions inline, requests of at
# most MAX_SECTORS, default null_blk's); its configfs directory is
# /sys/kernel/config/nullb/NAME (badblocks...).  The caller removes it.
nullb_new()
{
	local cfs=/sys/kernel/config/nullb d=/sys/kernel/config/nullb/$1

	modprobe null_blk nr_devices=0 2> /dev/null
	if [ ! -d "$cfs" ]; then
		mountpoint -q /sys/kernel/config ||
			mount -t configfs configfs /sys/kernel/config 2> /dev/null
	fi
	[ -d "$cfs" ] || { log "nullb_new: no null_blk configfs"; return 1; }
	if ! { mkdir "$d" && echo "$2" > "$d/size" &&
	       echo "$3" > "$d/blocksize" &&
	       echo 1 > "$d/memory_backed" && echo 0 > "$d/irqmode" &&
	       echo 2 > "$d/queue_mode" && echo "$4" > "$d/submit_queues" &&
	       echo 1 > "$d/no_sched" &&
	       { [ -z "${5:-}" ] || echo "$5" > "$d/max_sectors"; } &&
	       echo 1 > "$d/power"; }; then
		log "nullb_new: cannot make $1 ($2 MiB, $3-byte blocks)"
		rmdir "$d" 2> /dev/null
		return 1
	fi
	udevadm settle 2> /dev/null
	[ -b "/dev/$1" ] || { log "nullb_new: no /dev/$1"; return 1; }
}

# make_nullb SIZE_MIB [LOGICAL_BLOCK_SIZE] [QUEUES] [MAX_SECTORS] ->
# /dev/nullb_t*: nullb_new with QUEUES 2 by default, removed when the
# test ends.  Writes submitted on different CPUs are dispatched on each
# CPU's own queue, as on an NVMe disk, so their order is not the order
# they were mapped in.
make_nullb()
{
	local name=nullb_t$$_0 r

	[ -f "$_LIB_NULLB_REG" ] && name=nullb_t$$_$(wc -l < "$_LIB_NULLB_REG")
	nullb_new "$name" "$1" "${2:-512}" "${3:-2}" "${4:-}"
	r=$?
	[ -d "/sys/kernel/config/nullb/$name" ] && echo "$name" >> "$_LIB_NULLB_REG"
	[ $r = 0 ] && echo "/dev/$name"
	return $r
}

dm_create()
{
	local name=$1 table=$2

	if ! dmsetup create "$name" --table "$table"; then
		log "dm_create: dmsetup create $name failed (table: $table)"
		return 1
	fi
	echo "$name" >> "$_LIB_DM_REG"
}

dm_remove()
{
	local name=$1

	dmsetup remove --retry "$name" || return 1
	if [ -f "$_LIB_DM_REG" ]; then
		grep -vxF -- "$name" "$_LIB_DM_REG" > "$_LIB_DM_REG.new"
		mv "$_LIB_DM_REG.new" "$_LIB_DM_REG"
	fi
}

# dm_field NAME N: N-th (1-based) field of the target's own status params
# (first table line, after "start len type").
dm_field()
{
	dmsetup status "$1" | head -n 1 | awk -v n="$2" '{ print $(n + 3) }'
}

# wait_for_status NAME REGEX TIMEOUT_S
wait_for_status()
{
	local name=$1 re=$2 timeout=$3 deadline st

	deadline=$(($(date +%s%N) + timeout * 1000000000))
	while :; do
		st=$(dmsetup status "$name" 2>&1)
		if grep -qE -- "$re" <<< "$st"; then
			return 0
		fi
		if [ "$(date +%s%N)" -gt "$deadline" ]; then
			log "wait_for_status: timeout after ${timeout}s waiting for /$re/ on $name"
			log "last status: $st"
			return 1
		fi
		sleep 0.1
	done
}

_lib_size()
{
	if [ -b "$1" ]; then
		blockdev --getsize64 "$1"
	else
		stat -L -c %s "$1"
	fi
}

# fill_random DEV [SIZE_MIB] (default: whole device)
fill_random()
{
	local dev=$1 bytes

	if [ -n "${2:-}" ]; then
		bytes=$(($2 * 1048576))
	else
		bytes=$(_lib_size "$dev") || return 1
	fi
	dd if=/dev/urandom of="$dev" bs=1M count="$bytes" \
		iflag=count_bytes,fullblock conv=fsync status=none
}

# devs_equal A B [BYTES] (default: the smaller size)
devs_equal()
{
	local a=$1 b=$2 n=${3:-} sa sb

	if [ -z "$n" ]; then
		sa=$(_lib_size "$a") || return 1
		sb=$(_lib_size "$b") || return 1
		n=$((sa < sb ? sa : sb))
	fi
	cmp -n "$n" -- "$a" "$b"
}

cleanup()
{
	local name dev

	if [ -f "$_LIB_DM_REG" ]; then
		for name in $(tac "$_LIB_DM_REG"); do
			dmsetup info "$name" > /dev/null 2>&1 || continue
			dmsetup remove --retry "$name" > /dev/null 2>&1 ||
				log "cleanup: cannot remove dm device $name"
		done
		rm -f "$_LIB_DM_REG"
	fi
	if [ -f "$_LIB_LOOP_REG" ]; then
		for dev in $(tac "$_LIB_LOOP_REG"); do
			losetup -d "$dev" 2> /dev/null ||
				log "cleanup: cannot detach $dev"
		done
		rm -f "$_LIB_LOOP_REG"
	fi
	if [ -f "$_LIB_NULLB_REG" ]; then
		for dev in $(tac "$_LIB_NULLB_REG"); do
			echo 0 > "/sys/kernel/config/nullb/$dev/power" 2> /dev/null
			rmdir "/sys/kernel/config/nullb/$dev" ||
				log "cleanup: cannot remove null_blk $dev"
		done
		rm -f "$_LIB_NULLB_REG"
	fi
	if [ -n "${_LIB_OWN_SCRATCH:-}" ]; then
		rm -rf "$SCRATCH"
	fi
}

trap cleanup EXIT
# A timeout (SIGTERM from the runner) or ^C still runs cleanup.
trap 'exit 143' TERM
trap 'exit 130' INT
