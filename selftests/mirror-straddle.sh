#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: the straddle case made deterministic.  dm-delay
# slows the secondary's writes so that the copy of one region is provably
# in flight; writes that cross its left edge, its right edge, both, and an
# unaligned 512-byte write inside it are issued then.  They must be held
# until the copy ends, and the secondary must match the primary.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 7
load_module || ktap_skip_all "module not loadable"

R=128				# region: 64 KiB
RB=$((R * 512))
P=$(make_disk 8)
S=$(make_disk 8)
fill_random "$P"
sz=$(blockdev --getsz "$S")
dm_create t-slow "0 $sz delay $S 0 0 $S 0 4000"

dm_create t-m "$(mirror_table "$P" /dev/mapper/t-slow $R parallel 1 start_paused)"
dmsetup message t-m 0 resume

# in_flight_region MIN: wait until one status line shows "N/total copying
# AA 1" with N >= MIN; with one copy at a time and a sequential cursor that
# means region N is being copied right now.  Prints N.
in_flight_region()
{
	local i st n

	for i in $(seq 300); do
		st=$(dmsetup status t-m)
		if [[ $st =~ \ ([0-9]+)/[0-9]+\ copying\ AA\ 1\  ]]; then
			n=${BASH_REMATCH[1]}
			[ "$n" -ge "$1" ] && { echo "$n"; return 0; }
		fi
		sleep 0.1
	done
	return 1
}

head -c $((4 * RB)) /dev/urandom > "$SCRATCH/pattern"
N=$(in_flight_region 2)
ktap_check "a region copy is in flight (region $N)" test -n "$N"
# Left edge: 4 KiB in region N-1 (in sync), 4 KiB in region N (copying).
dd if="$SCRATCH/pattern" of=/dev/mapper/t-m bs=8192 count=1 \
	seek=$((N * RB - 4096)) oflag=direct,seek_bytes status=none &
w1=$!
# Right edge: from region N (copying) into region N+1 (not copied).
dd if="$SCRATCH/pattern" of=/dev/mapper/t-m bs=12288 count=1 skip=8192 \
	seek=$(((N + 1) * RB - 4096)) iflag=skip_bytes \
	oflag=direct,seek_bytes status=none &
w2=$!
# Unaligned 512 B inside region N (the writes do not overlap each other).
dd if="$SCRATCH/pattern" of=/dev/mapper/t-m bs=512 count=1 skip=100 \
	seek=$(((N * RB + RB / 2 + 512) / 512)) oflag=direct status=none &
w3=$!

sleep 1
# The copy of region N is still in flight, so each of these writes
# touching region N must still be held.
held=0
for p in $w1 $w2 $w3; do
	kill -0 "$p" 2> /dev/null && held=$((held + 1))
done
st="$(mirror_copied t-m)/$(mirror_inflight t-m)"
ktap_check "writes across both edges of the copying region are held ($held of 3, copy $st)" \
	test "$held/$st" = "3/$N/1"
ok=1
for p in $w1 $w2 $w3; do
	wait "$p" || ok=0
done
ktap_check "held writes complete" test $ok = 1
log "status: $(dmsetup status t-m)"

# One write spanning regions M-1, M and M+1 (in sync, copying, not
# copied), unaligned to the regions.
M=$(in_flight_region $((N + 2)))
log "region $M in flight: $(dmsetup status t-m)"
dd if="$SCRATCH/pattern" of=/dev/mapper/t-m bs=$((RB + 2048)) count=1 \
	skip=$RB seek=$((M * RB - 1024)) iflag=skip_bytes \
	oflag=direct,seek_bytes status=none
ktap_check "a write over a whole copying region (region $M) and both neighbours completes" \
	test $? = 0

dmsetup message t-m 0 parallel 8
dm_swap t-slow "0 $sz linear $S 0"
ktap_check "copy reaches ready" wait_ready t-m 60
ktap_check "secondary equals primary" devs_equal "$P" "$S"
ktap_check "mirror reads return the new data" \
	cmp -n $((RB + 2048)) -i $((RB)):$((M * RB - 1024)) "$SCRATCH/pattern" /dev/mapper/t-m
ktap_finished
