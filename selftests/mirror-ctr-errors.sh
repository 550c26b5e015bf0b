#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror: every constructor refusal, each with its precise kernel
# message, and no device left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 24
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 16)
S=$(make_disk 16)
SMALL=$(make_disk 8)
RO=$(make_disk 16)
B4K=$(make_disk 16 4096)
blockdev --setro "$RO"
sz=$(blockdev --getsz "$P")

e() { expect_ctr_error "$@"; }
e "too few arguments" "0 $sz ccm-mirror $P $S" "Expected: <primary>"
e "missing primary" "0 $sz ccm-mirror /dev/nonexistent $S 256" \
	"Cannot open primary device"
e "missing secondary" "0 $sz ccm-mirror $P /dev/nonexistent 256" \
	"Cannot open secondary device"
e "same device as both legs" "0 $sz ccm-mirror $P $P 256" \
	"Primary and secondary are the same device"
e "sizes differ" "0 $sz ccm-mirror $P $SMALL 256" \
	"Primary and secondary sizes differ"
e "read-only secondary" "0 $sz ccm-mirror $P $RO 256" \
	"Secondary device is read-only"
e "read-only primary" "0 $sz ccm-mirror $RO $S 256" \
	"Primary device is read-only"
e "read-only table" "0 $sz ccm-mirror $P $S 256" \
	"ccm-mirror needs a read-write table" --readonly
e "region not a power of two" "0 $sz ccm-mirror $P $S 1000" \
	"Invalid region size"
e "region zero" "0 $sz ccm-mirror $P $S 0" "Invalid region size"
e "region too small" "0 $sz ccm-mirror $P $S 4" "Invalid region size"
e "region too large" "0 $sz ccm-mirror $P $S 4194304" "Invalid region size"
e "region not a number" "0 $sz ccm-mirror $P $S 1m" "Invalid region size"
e "unknown option" "0 $sz ccm-mirror $P $S 256 1 frobnicate" \
	"Unknown optional argument"
e "repeated option" "0 $sz ccm-mirror $P $S 256 4 rate 1 rate 2" \
	"Repeated optional argument"
e "option missing its value" "0 $sz ccm-mirror $P $S 256 1 rate" \
	"Optional argument is missing its value"
e "malformed rate" "0 $sz ccm-mirror $P $S 256 2 rate fast" "Invalid rate"
e "parallel out of range" "0 $sz ccm-mirror $P $S 256 2 parallel 0" \
	"Invalid parallel"
e "option count larger than the options" \
	"0 $sz ccm-mirror $P $S 256 3 rate 1" \
	"Invalid number of optional arguments"
e "option count out of range" "0 $sz ccm-mirror $P $S 256 9 rate 1" \
	"Invalid number of optional arguments"
e "trailing arguments" "0 $sz ccm-mirror $P $S 256 1 start_paused extra" \
	"Too many arguments"
e "target longer than the devices" "0 $((sz + 8)) ccm-mirror $P $S 256" \
	"Target length exceeds the device size"

# Block sizes are powers of two, so of any two one is a multiple of the
# other: 512 and 4096 mix, and the mirror exports the larger one.
# 2^24 + 1 regions of 4 KiB: legs of 64 GiB + 4 KiB that hold nothing.
zsz=$(((1 << 27) + 8))
dm_create t-z1 "0 $zsz zero"
dm_create t-z2 "0 $zsz zero"
e "more than 2^24 regions" \
	"0 $zsz ccm-mirror /dev/mapper/t-z1 /dev/mapper/t-z2 8" \
	"Too many regions: at most 16777216, use a larger region size"
dm_remove t-z2
dm_remove t-z1
B4K2=$(make_disk 16)
dm_create t-mix "0 $sz ccm-mirror $B4K $B4K2 256 1 start_paused"
ktap_check "512 and 4096 byte legs mix; the mirror exports 4096" \
	test "$(blockdev --getss /dev/mapper/t-mix)" = 4096
ktap_finished
