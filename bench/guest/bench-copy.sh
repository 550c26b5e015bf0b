#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=900
#
# Copy speed between memory-backed null_blk disks (4096-byte logical
# blocks) of BENCH_COPY_MIB (1024) MiB:
#  - idle, BENCH_COPY_ROUNDS (3) rounds, each: dd O_DIRECT bs=1M, ccm-mirror
#    plain (1 MiB regions, default parallel 4; and parallel 1), dm-raid1
#    resync (core log, 512 KiB regions); the mirrors are timed from the end
#    of the resume of a loaded table to the dm event after which the status
#    says in sync (no polling); both disks are written once before, so no
#    copy pays for the allocation of the target's pages;
#  - idle, once: ccm-mirror encrypted (4096-byte ccm blocks) of
#    BENCH_ENC_COPY_MIB (1024) MiB, and with 512-byte ccm blocks (what a
#    disk with 512-byte logical blocks imposes) of BENCH_ENC512_MIB (128);
#  - under load: a copy while fio reads 4 KiB blocks at random at QD 1 from
#    the mapping (the user's latency, p50/p99), against the same fio on
#    dm-linear with no copy: ccm-mirror plain and dm-raid1 until in sync;
#    ccm-mirror plain limited to 1/3 of its idle speed, ccm-mirror
#    encrypted with and without such a limit, for BENCH_LOAD_SECONDS (8)
#    each (the copy rate is then the regions copied in that window).
. "$(dirname "$0")/bench-lib.sh"

ktap_print_header
ROUNDS=${BENCH_COPY_ROUNDS:-3}
ktap_set_plan $((ROUNDS + 4))
require_cmd fio jq dmsetup keyctl blockdev
load_module || ktap_skip_all "module not loadable"
modprobe -a dm_mirror 2> /dev/null

MIB=${BENCH_COPY_MIB:-1024}
SZ=$((MIB * 2048))
LOAD_S=${BENCH_LOAD_SECONDS:-8}
ENC_MIB=${BENCH_ENC_COPY_MIB:-$MIB}
[ "$ENC_MIB" -gt "$MIB" ] && ENC_MIB=$MIB
ENC512_MIB=${BENCH_ENC512_MIB:-128}
t0=$SECONDS
bench_disk nb-cp "$MIB" 4096 && bench_disk nb-cs "$MIB" 4096 ||
	ktap_skip_all "no null_blk disks"
P=/dev/nb-cp S=/dev/nb-cs
bench_disk_note $P
bench_fill $P && bench_fill $S || ktap_skip_all "cannot fill the disks"
log "disks filled in $((SECONDS - t0)) s"
bench_note copy "$MIB MiB between null_blk disks (4096-byte logical blocks); encrypted: $ENC_MIB MiB (4096-byte ccm blocks), $ENC512_MIB MiB (512-byte ccm blocks); under load: ${LOAD_S}s windows"

emit_copy()
{
	# emit_copy CONFIG SECONDS [extra jq object]   (size: $MIB)
	bench_emit "$(jq -cn --arg t "$BENCH_TEST" --arg c "$1" --argjson s "$2" \
		--argjson m "$MIB" --argjson x "${3:-{\}}" --argjson r "${BENCH_ROUND:-1}" \
		'{test: $t, config: $c, workload: "copy", round: $r, MiB: $m, seconds: $s,
		  MBps: ($m * 1.048576 / $s * 10 | round / 10)} + $x')"
	log "$1: $MIB MiB in $2 s ($(calc "$MIB * 1.048576 / $2") MB/s)"
}

# mirror_copy CONFIG NAME TABLE READY-FUNC [extra jq object]: an idle copy,
# timed, with the host's CPU marks.
mirror_copy()
{
	local s

	bench_create_suspended "$2" "$3" || return 1
	if s=$(BENCH_STEP=copy:${BENCH_ROUND:-1}:$1 bench_time_to "$2" "$4" 900); then
		emit_copy "$1" "$s" "${5:-}"
		log "status: $(dmsetup status "$2")"
		dm_remove "$2"
		echo "$s" > "$SCRATCH/last-copy-s"
		return 0
	fi
	log "status: $(dmsetup status "$2")"
	dm_remove "$2"
	return 1
}

# ---- idle, plain ----
plain_s=
for ((BENCH_ROUND = 1; BENCH_ROUND <= ROUNDS; BENCH_ROUND++)); do
	ok=0
	# dd's own clock (an exec costs 0.1-0.4 s under TCG; the mirrors are
	# timed from the end of the resume).
	bench_mark B "copy:$BENCH_ROUND:dd"
	out=$(LC_ALL=C dd if=$P of=$S bs=1M iflag=direct oflag=direct 2>&1)
	bench_mark E "copy:$BENCH_ROUND:dd"
	s=$(sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p' <<< "$out")
	if [ -n "$s" ]; then emit_copy dd "$s"; else ok=1; fi

	if mirror_copy mirror-plain t-m "0 $SZ ccm-mirror $P $S 2048" mirror_ready; then
		s=$(cat "$SCRATCH/last-copy-s")
		if [ -z "$plain_s" ] || awk "BEGIN { exit !($s < $plain_s) }"; then
			plain_s=$s
		fi
	else
		ok=1
	fi
	# One region at a time, as dm-raid1 (kcopyd either way).
	mirror_copy mirror-plain-p1 t-m "0 $SZ ccm-mirror $P $S 2048 2 parallel 1" \
		mirror_ready || ok=1
	mirror_copy raid1 t-r "0 $SZ mirror core 1 1024 2 $P 0 $S 0" raid1_synced || ok=1
	verdict $ok "idle copies, round $BENCH_ROUND: dd, ccm-mirror plain (parallel 4, 1), dm-raid1"
done
BENCH_ROUND=1

# ---- under load ----
# copy_under_load CONFIG NAME TABLE READY-FUNC MAX_S [RATE]: fio reads from
# NAME (QD 1, 4 KiB random) while its copy runs, until READY-FUNC says
# done or MAX_S seconds.  NAME starts as a linear mapping of the primary
# so that fio can open it; TABLE replaces it about when fio's statistics
# start (its ramp time: 1.5 s).  SETUP_TABLE (optional) is the linear table.
copy_under_load()
{
	local config=$1 name=$2 table=$3 ready=$4 max=$5 rate=${6:-0} fpid r out
	local lin=${SETUP_TABLE:-}

	out=$SCRATCH/fio-$config-load.json
	[ -n "$lin" ] || lin=$(awk -v p="$P" '{ print $1, $2, "linear", p, 0 }' <<< "$table")
	dm_create "$name" "$lin" || return 1
	fio --name="$config-load" --filename="/dev/mapper/$name" --direct=1 \
		--ioengine=libaio --iodepth=1 --rw=randread --bs=4k \
		--time_based --runtime=900 --ramp_time=1.5 --norandommap \
		--randrepeat=0 --lat_percentiles=1 --output-format=json \
		--output="$out" > /dev/null 2>&1 &
	fpid=$!
	sleep 1.2
	if ! dmsetup load "$name" --table "$table" ||
	   ! r=$(bench_copy_window "$name" "$ready" "$max"); then
		kill -INT $fpid
		wait $fpid
		dm_remove "$name"
		return 1
	fi
	kill -INT $fpid
	wait $fpid
	log "$config: $(dmsetup status "$name")"
	dm_remove "$name"
	# fio prints "fio: terminating on signal 2" before the JSON.
	sed -i -n '/^{/,$p' "$out"
	if ! jq -e '.jobs[0].read' "$out" > /dev/null 2>&1; then
		log "fio under load: no result: $(head -c 300 "$out")"
		return 1
	fi
	read -r s done frac <<< "$r"
	jq -c --arg t "$BENCH_TEST" --arg c "$config" --argjson s "$s" \
		--argjson done "$done" --argjson f "$frac" --argjson m "$MIB" \
		--argjson r "$rate" '.jobs[0].read as $j | {
		test: $t, config: $c, workload: "copy-under-load", MiB: $m,
		rate_limit: $r, seconds: $s, finished: ($done == 1),
		copied_fraction: $f,
		MBps: ($f * $m * 1.048576 / $s * 10 | round / 10),
		read_iops: ($j.iops | round),
		lat_p50_us: (($j.lat_ns.percentile["50.000000"] // 0) / 1000 | round),
		lat_p99_us: (($j.lat_ns.percentile["99.000000"] // 0) / 1000 | round)
		}' "$out" >> "$BENCH_JSON"
	log "$config under load: $(tail -n 1 "$BENCH_JSON")"
}

dm_create t-lin "0 $SZ linear $P 0"
BENCH_RUNTIME=$LOAD_S BENCH_RAMP=2 bench_fio linear latread /dev/mapper/t-lin
dm_remove t-lin

rc=0
copy_under_load mirror-plain t-m "0 $SZ ccm-mirror $P $S 2048" mirror_ready 300 || rc=1
if [ -n "$plain_s" ]; then
	rate=$(awk -v m="$MIB" -v s="$plain_s" 'BEGIN { r = int(m / s / 3); print r < 1 ? 1 : r }')
	copy_under_load mirror-plain-rate t-m \
		"0 $SZ ccm-mirror $P $S 2048 2 rate $rate" mirror_ready "$LOAD_S" "$rate" || rc=1
else
	rc=1
fi
copy_under_load raid1 t-r "0 $SZ mirror core 1 1024 2 $P 0 $S 0" raid1_synced 300 || rc=1
verdict $rc "copies under load: ccm-mirror plain (with and without a rate limit), dm-raid1"
bench_disk_remove nb-cs

# ---- encrypted ----
bench_key || ktap_skip_all "cannot add a key"
enc_s=
if [ ! -x "$CCM_TOOL" ]; then
	for _ in 1 2 3; do ktap_test_skip "ccm-mirror encrypted: CLI not built"; done
elif ! bench_disk nb-ce "$(bench_ccm_disk_mib "$ENC_MIB" 4096)" 4096; then
	for _ in 1 2 3; do ktap_test_fail "ccm-mirror encrypted: no disk"; done
elif ! bench_have_encrypted_mirror nb-cp nb-ce; then
	bench_note mirror-encrypted "not available: key refused (not supported yet)"
	for _ in 1 2 3; do ktap_test_skip "ccm-mirror encrypted: not supported by this module"; done
else
	EP=$P
	if [ "$ENC_MIB" != "$MIB" ]; then
		dm_create t-ep "0 $((ENC_MIB * 2048)) linear $P 0"
		EP=/dev/mapper/t-ep
	fi
	ETABLE="0 $((ENC_MIB * 2048)) ccm-mirror $EP /dev/nb-ce 2048 2 key $BENCH_KEYREF"
	# A fresh header for every copy: a copy leaves its progress there.
	if bench_ccm_format /dev/nb-ce 4096 "$ENC_MIB" &&
	   MIB=$ENC_MIB mirror_copy mirror-enc t-em "$ETABLE" mirror_ready '{"block": 4096}'; then
		enc_s=$(cat "$SCRATCH/last-copy-s")
		ktap_test_pass "ccm-mirror encrypted idle copy (4096-byte blocks)"
	else
		ktap_test_fail "ccm-mirror encrypted idle copy (4096-byte blocks)"
	fi
	bench_note_crypto

	rc=0
	bench_ccm_format /dev/nb-ce 4096 "$ENC_MIB" &&
		SETUP_TABLE="0 $((ENC_MIB * 2048)) linear $EP 0" MIB=$ENC_MIB \
		copy_under_load mirror-enc t-em "$ETABLE" mirror_ready "$LOAD_S" || rc=1
	if [ -n "$enc_s" ]; then
		rate=$(awk -v m="$ENC_MIB" -v s="$enc_s" 'BEGIN { r = int(m / s / 3); print r < 1 ? 1 : r }')
		bench_ccm_format /dev/nb-ce 4096 "$ENC_MIB" &&
			SETUP_TABLE="0 $((ENC_MIB * 2048)) linear $EP 0" MIB=$ENC_MIB \
			copy_under_load mirror-enc-rate t-em "${ETABLE/2 key/4 rate $rate key}" \
			mirror_ready "$LOAD_S" "$rate" || rc=1
	else
		rc=1
	fi
	verdict $rc "ccm-mirror encrypted copy under load (with and without a rate limit)"
	[ -n "${EP#/dev/nb-cp}" ] && dm_remove t-ep
	bench_disk_remove nb-ce

	# 512-byte ccm blocks: the primary must have 512-byte logical blocks.
	M5=$ENC512_MIB
	if bench_disk nb-p5 "$M5" 512 && bench_disk nb-e5 "$(bench_ccm_disk_mib "$M5" 512)" 512 &&
	   bench_fill /dev/nb-p5 && bench_ccm_format /dev/nb-e5 512 "$M5" &&
	   MIB=$M5 mirror_copy mirror-enc-512 t-em \
		"0 $((M5 * 2048)) ccm-mirror /dev/nb-p5 /dev/nb-e5 2048 2 key $BENCH_KEYREF" \
		mirror_ready '{"block": 512}'; then
		ktap_test_pass "ccm-mirror encrypted idle copy (512-byte blocks)"
	else
		ktap_test_fail "ccm-mirror encrypted idle copy (512-byte blocks)"
	fi
	bench_disk_remove nb-e5
	bench_disk_remove nb-p5
fi

log "bench-copy: $((SECONDS - t0)) s"
ktap_finished
