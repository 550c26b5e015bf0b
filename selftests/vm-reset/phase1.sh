#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# VM reset test, first boot: start a slow copy under load, then reset the
# VM (sysrq b: no sync, no clean shutdown) in the middle of it.
. "$(dirname "$0")/common.sh"

ktap_print_header
ktap_set_plan 1
dd if=/dev/urandom of=/dev/mapper/t-p bs=1M oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/t-s bs=1M oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/t-md bs=1M oflag=direct status=none
if [ "$MODE" = encrypted ]; then
	ccm_format /dev/mapper/t-s "$K" --no-wipe --block-size 512 \
		--region-size $((R * 512)) \
		--data-size $((n * 512)) || ktap_skip_all "ccm-mirror format failed"
fi
dm_create t-m "$(mirror_tbl rate 4)"
fio --name=reset --filename=/dev/mapper/t-m --direct=1 --ioengine=libaio \
	--iodepth=8 --rw=randwrite --bssplit=4k/50:64k/50 --time_based \
	--runtime=60 --output=/dev/null > /dev/null 2>&1 &
sleep 6
log "resetting the VM at: $(dmsetup status t-m)"
echo 1 > /proc/sys/kernel/sysrq
echo b > /proc/sysrq-trigger
sleep 30
ktap_test_fail "the VM should have been reset"
ktap_finished
