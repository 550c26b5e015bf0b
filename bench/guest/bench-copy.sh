#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Copy speed between two brd ram disks of BENCH_COPY_MIB (1024) MiB:
#  - idle, best of BENCH_COPY_ROUNDS (2): dd O_DIRECT bs=1M, ccm-mirror
#    plain (1 MiB regions, default parallel), dm-raid1 resync (core log,
#    512 KiB regions); once: ccm-mirror encrypted (512-byte ccm blocks) of
#    BENCH_ENC_COPY_MIB (256) MiB, CPU-bound by AES-CCM; the mirrors are
#    timed from the end of the resume of a loaded table to the dm event
#    after which the status says in sync (no polling);
#  - under load: the same copies while fio reads 4 KiB blocks at random at
#    QD 1 from the mapping (the user's latency, p50/p99), without and with
#    a rate limit (1/4 of the idle plain speed), against the latency of the
#    same fio on dm-linear with no copy running.
# timeout=900
. "$(dirname "$0")/bench-lib.sh"

ktap_print_header
ROUNDS=${BENCH_COPY_ROUNDS:-2}
ktap_set_plan $((ROUNDS + 4))
require_cmd fio jq dmsetup keyctl blockdev
load_module || ktap_skip_all "module not loadable"
modprobe -a dm_mirror brd 2> /dev/null

MIB=${BENCH_COPY_MIB:-1024}
SZ=$((MIB * 2048))
bench_brd 3 "$MIB" || ktap_skip_all "no brd"
P=/dev/ram0 S=/dev/ram1 X=/dev/ram2
t0=$SECONDS
# Both legs fully allocated, so that no method pays for brd's page
# allocation; the data itself does not matter to any of them.
bench_fill $P
bench_fill $S
log "brd filled in $((SECONDS - t0)) s"
bench_note copy "$MIB MiB between brd ram disks"

emit_copy()
{
	# emit_copy CONFIG SECONDS [extra jq object]
	bench_emit "$(jq -cn --arg t "$BENCH_TEST" --arg c "$1" --argjson s "$2" \
		--argjson m "$MIB" --argjson x "${3:-{\}}" --argjson r "${BENCH_ROUND:-1}" \
		'{test: $t, config: $c, workload: "copy", round: $r, MiB: $m, seconds: $s,
		  MBps: ($m * 1.048576 / $s * 10 | round / 10)} + $x')"
	log "$1: $MIB MiB in $2 s ($(calc "$MIB * 1.048576 / $2") MB/s)"
}

mirror_ready() { [[ $1 =~ \ ready\  ]]; }

ENC_MIB=${BENCH_ENC_COPY_MIB:-256}
plain_s=
for ((BENCH_ROUND = 1; BENCH_ROUND <= ROUNDS; BENCH_ROUND++)); do
	ok=0
	# dd's own clock (an exec costs 0.1-0.4 s under TCG; the mirrors are
	# timed from the end of the resume).
	s=$(LC_ALL=C dd if=$P of=$S bs=1M iflag=direct oflag=direct 2>&1 |
		sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')
	[ -n "$s" ] && emit_copy dd "$s" || ok=1

	bench_create_suspended t-m "0 $SZ ccm-mirror $P $S 2048"
	if s=$(bench_time_to t-m mirror_ready 600); then
		emit_copy mirror-plain "$s"
		if [ -z "$plain_s" ] || awk "BEGIN { exit !($s < $plain_s) }"; then
			plain_s=$s
		fi
	else
		ok=1
	fi
	log "status: $(dmsetup status t-m)"
	dm_remove t-m

	bench_create_suspended t-r "0 $SZ mirror core 1 1024 2 $P 0 $S 0"
	if s=$(bench_time_to t-r raid1_synced 600); then
		emit_copy raid1 "$s"
	else
		ok=1
	fi
	log "status: $(dmsetup status t-r)"
	dm_remove t-r
	verdict $ok "idle copies, round $BENCH_ROUND: dd, ccm-mirror plain, dm-raid1"
done
BENCH_ROUND=1

# --- ccm-mirror encrypted, idle, ENC_MIB ---
enc=0
ESZ=$((ENC_MIB * 2048))
bench_key || ktap_skip_all "cannot add a key"
enc_format()
{
	"$CCM_TOOL" format --key-file "$BENCH_KEYFILE" --yes --no-wipe \
		--block-size 512 --data-size $((ENC_MIB * 1048576)) \
		/dev/mapper/t-es > /dev/null
}
if [ ! -x "$CCM_TOOL" ]; then
	ktap_test_skip "ccm-mirror encrypted: CLI not built"
elif ! bench_have_encrypted_mirror; then
	bench_note mirror-encrypted "not available: key refused (not supported yet)"
	ktap_test_skip "ccm-mirror encrypted: not supported by this module"
else
	# The primary: ENC_MIB of ram0; the secondary: ENC_MIB of ram1 and
	# 1/16 more from ram2 for the tags of 512-byte blocks.
	dm_create t-ep "0 $ESZ linear $P 0"
	dm_create t-es "0 $ESZ linear $S 0
$ESZ $((ESZ / 16 + 8192)) linear $X 0"
	enc_format
	bench_create_suspended t-em \
		"0 $ESZ ccm-mirror /dev/mapper/t-ep /dev/mapper/t-es 2048 2 key $BENCH_KEYREF"
	if s=$(bench_time_to t-em mirror_ready 900); then
		MIB=$ENC_MIB emit_copy mirror-enc "$s" '{"block": 512}'
		enc=1
		ktap_test_pass "ccm-mirror encrypted idle copy"
	else
		ktap_test_fail "ccm-mirror encrypted idle copy"
	fi
	log "status: $(dmsetup status t-em)"
	dm_remove t-em
fi

# --- under load ---
# copy_under_load CONFIG NAME TABLE READY-FUNC [RATE]: fio reads from NAME
# (QD 1, 4 KiB random) while its copy runs; fio is stopped when the copy is
# done.  NAME starts as a linear mapping of the primary so that fio can
# open it; TABLE replaces it 1.5 s later (fio's statistics start at 2 s).
copy_under_load()
{
	local config=$1 name=$2 table=$3 ready=$4 fpid s out

	out=$SCRATCH/fio-$config-load.json
	dm_create "$name" "$(echo "$table" | awk -v p="$P" '{ print $1, $2, "linear", p, 0 }')" ||
		return 1
	fio --name="$config-load" --filename="/dev/mapper/$name" --direct=1 \
		--ioengine=libaio --iodepth=1 --rw=randread --bs=4k \
		--time_based --runtime=900 --ramp_time=2 --norandommap \
		--randrepeat=0 --output-format=json --output="$out" \
		> /dev/null 2>&1 &
	fpid=$!
	sleep 1.5
	if ! dmsetup load "$name" --table "$table" ||
	   ! s=$(bench_time_to "$name" "$ready" 900); then
		kill -INT $fpid
		wait $fpid
		dm_remove "$name"
		return 1
	fi
	kill -INT $fpid
	wait $fpid
	# fio prints "fio: terminating on signal 2" before the JSON.
	sed -i -n '/^{/,$p' "$out"
	if ! jq -e '.jobs[0].read' "$out" > /dev/null 2>&1; then
		log "fio under load: no result: $(head -c 300 "$out")"
		return 1
	fi
	jq -c --arg t "$BENCH_TEST" --arg c "$config" --argjson s "$s" \
		--argjson m "$MIB" --argjson r "${5:-0}" '.jobs[0].read as $j | {
		test: $t, config: $c, workload: "copy-under-load", MiB: $m,
		rate_limit: $r, seconds: $s,
		MBps: ($m * 1.048576 / $s * 10 | round / 10),
		read_iops: ($j.iops | round),
		clat_p50_us: ($j.clat_ns.percentile["50.000000"] / 1000 | round),
		clat_p99_us: ($j.clat_ns.percentile["99.000000"] / 1000 | round)
		}' "$out" >> "$BENCH_JSON"
	log "$config under load: $(tail -n 1 "$BENCH_JSON")"
	dm_remove "$name"
}

dm_create t-lin "0 $SZ linear $P 0"
bench_fio linear latread /dev/mapper/t-lin
dm_remove t-lin

rc=0
copy_under_load mirror-plain t-m "0 $SZ ccm-mirror $P $S 2048" mirror_ready || rc=1
if [ -n "$plain_s" ]; then
	rate=$(awk -v m="$MIB" -v s="$plain_s" 'BEGIN { r = int(m / s / 4); print r < 1 ? 1 : r }')
	copy_under_load mirror-plain-rate t-m \
		"0 $SZ ccm-mirror $P $S 2048 2 rate $rate" mirror_ready "$rate" || rc=1
fi
verdict $rc "ccm-mirror plain copy under load"
copy_under_load raid1 t-r "0 $SZ mirror core 1 1024 2 $P 0 $S 0" raid1_synced
verdict $? "dm-raid1 resync under load"
if [ $enc = 1 ]; then
	# A fresh header: the idle copy left its progress there.
	enc_format
	MIB=$ENC_MIB copy_under_load mirror-enc t-em \
		"0 $ESZ ccm-mirror /dev/mapper/t-ep /dev/mapper/t-es 2048 2 key $BENCH_KEYREF" \
		mirror_ready
	verdict $? "ccm-mirror encrypted copy under load"
else
	ktap_test_skip "ccm-mirror encrypted copy under load: not available"
fi

log "bench-copy: $((SECONDS - t0)) s"
ktap_finished
