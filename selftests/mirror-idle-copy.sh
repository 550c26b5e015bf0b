#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: idle copy of random data.  After ready the
# secondary equals the primary byte for byte, status shows total/total,
# the TABLE line reloads the same mapping; prints the copy throughput next
# to dd O_DIRECT between the same devices (a figure, not an assertion).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 7
load_module || ktap_skip_all "module not loadable"

MIB=256
P=$(make_disk $MIB)
S=$(make_disk $MIB)
fill_random "$P"

# Reference: dd with O_DIRECT between the same devices.
t0=$(date +%s%N)
dd if="$P" of="$S" bs=1M iflag=direct oflag=direct status=none
t1=$(date +%s%N)
dd_ms=$(((t1 - t0) / 1000000))
dd if=/dev/zero of="$S" bs=1M oflag=direct status=none 2> /dev/null

t0=$(date +%s%N)
dm_create t-m "$(mirror_table "$P" "$S" 2048 parallel 8)"
ktap_check "copy reaches ready" wait_ready t-m 120
t1=$(date +%s%N)
cp_ms=$(((t1 - t0) / 1000000))
log "idle copy of $MIB MiB: ccm-mirror $((MIB * 1000 / (cp_ms + 1))) MiB/s, dd O_DIRECT $((MIB * 1000 / (dd_ms + 1))) MiB/s"
log "status: $(dmsetup status t-m)"

total=$(mirror_total t-m)
ktap_check "status shows $total/$total regions copied" \
	test "$(mirror_copied t-m)/$(mirror_state t-m)" = "$total/ready"
ktap_check "total regions = size / region size" test "$total" -eq $((MIB / 1))
ktap_check "health AA and no errors" test \
	"$(dm_field t-m 5) $(dm_field t-m 10) $(dm_field t-m 11) $(dm_field t-m 12) $(dm_field t-m 13)" = "AA 0 0 0 0"
ktap_check "secondary equals primary" devs_equal "$P" "$S"
ktap_check "reads through the mirror equal the primary" \
	devs_equal /dev/mapper/t-m "$P"

# The TABLE line must load the same mapping again.
tbl=$(dmsetup table t-m)
dm_remove t-m
dm_create t-m2 "$tbl"
ktap_check "TABLE line reloads the same mapping" \
	test "$(dmsetup table t-m2)" = "$tbl"
dm_remove t-m2
ktap_finished
