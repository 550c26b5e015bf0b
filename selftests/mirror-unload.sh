#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module unloads after use: mirrors created, copied, failed and
# removed leave no reference behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 3
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 8)
S=$(make_disk 8)
fill_random "$P"
for i in 1 2 3; do
	dm_create t-u$i "$(mirror_table "$P" "$S" 128)"
	wait_ready t-u$i 30 > /dev/null
	dm_remove t-u$i
done
dm_create t-u4 "$(mirror_table "$P" "$S" 128 rate 1)"
dmsetup message t-u4 0 pause
dm_remove t-u4
ktap_check "mirrors removed mid-copy and after ready" \
	test -z "$(dmsetup ls --target ccm-mirror | grep -v 'No devices')"
ktap_check "module unloads" unload_module
ktap_check "module is gone" test ! -d /sys/module/dm_ccm_mirror
load_module > /dev/null
ktap_finished
