#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=420
#
# ccm target under concurrent I/O: fio random writes of 4 KiB-256 KiB
# (across metadata block boundaries) with crc32c verification; writers
# and readers hammering the same few blocks (never an authentication
# failure: a read never sees a block between its data and its metadata
# update, writes to one block never leave data and tag mismatched);
# suspend/resume and table reloads under a verifying fio load; finally
# every block authenticates offline.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
require_cmd fio
ccm_setup
ktap_set_plan 10

dev=/dev/mapper/t-ccm
key=$SCRATCH/key
ccm_keyfile "$key"
disk=$(make_disk 48)
ccm_must "format" ccm_format "$disk" "$key" --no-wipe
ref=$(ccm_key_add "$key")
table=$(ccm_table "$disk" "$ref")
ccm_must "create the mapping" dm_create t-ccm "$table"

engine=libaio
fio --enghelp=libaio > /dev/null 2>&1 || engine=psync

ktap_check "fio random writes 4k-256k, verified" \
	fio --name=rw --filename=$dev --direct=1 --ioengine=$engine \
	--iodepth=16 --rw=randwrite --bsrange=4k-256k --size=24M \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --output=/dev/null

# Same 16 blocks: 3 writers, 2 readers, no random map, 8 seconds.
ktap_check "concurrent writers and readers on the same blocks" \
	fio --filename=$dev --direct=1 --ioengine=$engine --iodepth=4 \
	--size=64k --bs=4k --norandommap --time_based --runtime=8 \
	--output=/dev/null \
	--name=w --rw=randwrite --numjobs=3 \
	--name=r --rw=randread --numjobs=2
ktap_check "no authentication failure or error in status" \
	test "$(dmsetup status t-ccm | cut -d' ' -f6-9)" = "0 0 0 -"
ktap_check "the hammered blocks read back" \
	dd if=$dev of=/dev/null bs=64k count=1 iflag=direct status=none

# Suspend/resume and reloads under a verifying load.
fio --name=bg --filename=$dev --direct=1 --ioengine=$engine --iodepth=8 \
	--rw=randwrite --bs=16k --size=16M --offset=24M --verify=crc32c \
	--verify_backlog=32 --verify_fatal=1 --do_verify=1 --loops=3 \
	--output="$SCRATCH/fio-bg" &
fiopid=$!
ok=1
for _ in 1 2 3 4; do
	sleep 1
	dmsetup suspend t-ccm && dmsetup resume t-ccm || ok=0
	dmsetup reload t-ccm --table "$table" && dmsetup suspend t-ccm &&
		dmsetup resume t-ccm || ok=0
done
ktap_check "suspend/resume and reloads under load" test $ok = 1
if wait $fiopid; then
	ktap_test_pass "the verifying load saw no error"
else
	log "$(tail -n 20 "$SCRATCH/fio-bg")"
	ktap_test_fail "the verifying load saw no error"
fi

ktap_check "remove the mapping" dm_remove t-ccm
blockdev --flushbufs "$disk"
# --no-wipe: never-written blocks are reported apart, not as failures.
ktap_check "offline: every written block authenticates" \
	"$CCM_TOOL" verify --key-file "$key" "$disk"
ktap_finished
