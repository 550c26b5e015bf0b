#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: suspend/resume and table reloads in a loop in the
# middle of the copy, under a verifying fio load; then the legs are equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 5
require_cmd fio
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 64)
S=$(make_disk 64)
fill_random "$P"
dm_create t-m "$(mirror_table "$P" "$S" 256 rate 8)"

fio_verify /dev/mapper/t-m 8 4k/50:64k/30:256k/20 &
fio_pid=$!

ok=1
for i in $(seq 10); do
	sleep 0.3
	dmsetup suspend t-m || ok=0
	# While suspended nothing is copied.
	a=$(mirror_copied t-m)
	sleep 0.2
	b=$(mirror_copied t-m)
	[ "$a" = "$b" ] || { log "copy moved while suspended: $a -> $b"; ok=0; }
	[ "$(mirror_inflight t-m)" = 0 ] || { log "copies in flight while suspended"; ok=0; }
	dmsetup resume t-m || ok=0
done
ktap_check "10 suspend/resume cycles mid-copy, nothing copied while suspended" test $ok = 1

# Reloads (a new target instance) mid-copy.
ok=1
tbl=$(dmsetup table t-m)
for i in $(seq 3); do
	sleep 0.5
	dmsetup reload t-m --table "$tbl" && dmsetup suspend t-m &&
		dmsetup resume t-m || ok=0
done
ktap_check "3 table reloads mid-copy" test $ok = 1

fio_verified "fio verify clean across suspends and reloads" "$fio_pid"
dmsetup message t-m 0 rate 0
ktap_check "copy reaches ready" wait_ready t-m 60
ktap_check "secondary equals primary" devs_equal "$P" "$S"
ktap_finished
