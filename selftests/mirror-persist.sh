#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode with a metadata device: a clean restart resumes
# the copy (regions committed before are carried over, not copied again),
# a reload mid-copy keeps the progress, foreign copy state is refused
# unless "overwrite", and the copy ends equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 12
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 64)
S=$(make_disk 64)
M=$(make_disk 1)
fill_random "$P"
tbl() { mirror_table "$P" "$S" 256 "$@"; }

dm_create t-m "$(tbl rate 8 metadata "$M" id 1234abcd)"
ktap_check "status says persistence 'metadata' and nothing carried" \
	test "$(dm_field t-m 14)/$(dm_field t-m 15)" = "0/metadata"
sleep 3
dm_remove t-m
# What the last commit (at remove) says is copied.
before=$(od -An -t u8 -j 40 -N 8 "$M" | tr -d ' ')
before2=$(od -An -t u8 -j $((4096 + 2 * 4096 + 40)) -N 8 "$M" | tr -d ' ')
log "committed copied counts in the two slots: $before $before2"
[ "$before2" -gt "$before" ] && before=$before2

dm_create t-m "$(tbl rate 8 metadata "$M" id 1234abcd)"
carried=$(dm_field t-m 14)
ktap_check "restart carries over what was committed ($carried >= $before > 0)" \
	test "$carried" -ge "$before" -a "$before" -gt 0
ktap_check "copied count starts at the carried count" \
	test "$(mirror_copied t-m)" -ge "$carried"

# A reload (new target instance) mid-copy under writes keeps the progress.
dd if=/dev/urandom of=/dev/mapper/t-m bs=64k count=64 seek=100 \
	oflag=direct status=none
sleep 1
c1=$(mirror_copied t-m)
t=$(dmsetup table t-m)
dmsetup reload t-m --table "$t" && dmsetup suspend t-m && dmsetup resume t-m
c2=$(mirror_copied t-m)
ktap_check "reload keeps the progress ($c1 -> $c2)" test "$c2" -ge $((c1 - 16))
dmsetup message t-m 0 rate 0
ktap_check "copy reaches ready" wait_ready t-m 60
ktap_check "secondary equals primary" devs_equal "$P" "$S"
dm_remove t-m

# After ready everything is carried over.
dm_create t-m "$(tbl metadata "$M" id 1234abcd)"
total=$(mirror_total t-m)
ktap_check "a ready mirror restarts ready with $total/$total carried" \
	wait_for_status t-m " $total/$total ready AA .* $total metadata\$" 10
dm_remove t-m

expect_ctr_error "copy state of another primary id refused" \
	"$(tbl metadata "$M" id 99)" "Copy state of another primary (use overwrite)"
dm_create t-m "$(tbl start_paused metadata "$M" id 99 overwrite)"
ktap_check "overwrite starts over with nothing carried" \
	test "$(dm_field t-m 14)/$(mirror_copied t-m)" = "0/0"
dm_remove t-m

M2=$(make_disk 1)
printf 'not a copy state' | dd of="$M2" conv=notrunc status=none
expect_ctr_error "unknown data on the metadata device refused" \
	"$(tbl metadata "$M2")" "Copy state area holds unknown data (use overwrite)"
# A first commit torn by a crash (slot 0 ours with a bad CRC, slot 1
# blank): nothing was recorded yet, the area counts as blank.
M3=$(make_disk 1)
dd if=/dev/zero of="$M3" bs=1M count=1 oflag=direct status=none
dm_create t-m "$(tbl start_paused metadata "$M3" id 1234abcd)"
dm_remove t-m
dd if=/dev/zero of="$M3" bs=4096 seek=3 count=3 conv=notrunc oflag=direct \
	status=none
printf '\377' | dd of="$M3" bs=1 seek=$((4096 + 7)) conv=notrunc status=none
dm_create t-m "$(tbl start_paused metadata "$M3" id 1234abcd)"
ktap_check "a torn first commit counts as blank: accepted, nothing carried" \
	test "$(dm_field t-m 14)" = 0
dm_remove t-m
SMALLM=$(make_disk 1)
P2=$(make_disk 8192)
S2=$(make_disk 8192)
expect_ctr_error "metadata device too small" \
	"$(mirror_table "$P2" "$S2" 8 metadata "$SMALLM")" \
	"Metadata device too small for the copy state"
ktap_finished
