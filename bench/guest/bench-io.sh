#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=900
#
# fio through every mapping on memory-backed null_blk disks of BENCH_MIB
# (128) MiB with 4096-byte logical blocks: 4 KiB random read/write at
# QD 32 and 1 MiB sequential read/write at QD 8 (libaio, O_DIRECT,
# BENCH_RUNTIME (2.5) s each after BENCH_RAMP (0)); the host records the
# QEMU CPU time of every job and what else ran on the host meanwhile
# (bench/cpu-sampler.py).
# Mappings: dm-linear (the limit; twice, the second as a noise control),
# ccm-mirror plain copying (about half the regions in sync; the copy
# resumed at 1 MiB/s during its own jobs, paused otherwise) and ready,
# ccm-mirror encrypted (4096-byte ccm blocks) copying and ready, dm-raid1
# (core log, in sync), the ccm target (4096-byte blocks), dm-crypt
# aes-xts-plain64 (4096-byte sectors, as cryptsetup picks on such a disk)
# and dm-crypt AEAD (aes-gcm-random, 4096-byte sectors) over dm-integrity
# in journal mode as cryptsetup (LUKS2 --integrity aead) sets it up.
# Every mapping is set up first, each on its own disk(s) (all mirrors and
# dm-linear share the primary); once the guest is idle again (the setup's
# background work done), BENCH_ROUNDS (4) rounds run every
# workload on every mapping in turn (each round in another order), so that
# noise spreads over all of them; the report takes the median of the
# rounds.
. "$(dirname "$0")/bench-lib.sh"

ktap_print_header
ktap_set_plan 3
require_cmd fio jq dmsetup keyctl blockdev
load_module || ktap_skip_all "module not loadable"
modprobe -a dm_crypt dm_integrity dm_mirror 2> /dev/null

MIB=${BENCH_MIB:-128}
SZ=$((MIB * 2048))
ROUNDS=${BENCH_ROUNDS:-4}
WORKLOADS=${BENCH_WORKLOADS:-randread randwrite read write}
BS=4096
bench_key || ktap_skip_all "cannot add a key"
bench_disk nb-p "$MIB" $BS || ktap_skip_all "no null_blk disks"
P=/dev/nb-p
bench_disk_note $P
bench_note cpu "$(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), aes=$(grep -qw aes /proc/cpuinfo && echo yes || echo no)"
bench_note mem "$(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
bench_note fio "$(fio --version) runtime=${BENCH_RUNTIME}s ramp=${BENCH_RAMP}s rounds=$ROUNDS size=${MIB}MiB"
t0=$SECONDS

# ---- setup ----
CONFIGS=()
DEVS=()
add() { CONFIGS+=("$1"); DEVS+=("$2"); }
fills=()
setup_ok=0

bench_fill $P
dm_create t-lin "0 $SZ linear $P 0" && add linear /dev/mapper/t-lin
# A second, identical dm-linear: its ratio to the first is the noise of the
# measurement.
dm_create t-lin2 "0 $SZ linear $P 0" && add linear-control /dev/mapper/t-lin2

# half_copy NAME: resumes NAME (loaded with start_paused) and lets it copy
# until about half its regions are in sync, then sets its rate to 1 MiB/s
# and pauses it (resumed for its own jobs).  NAME copies at HALF_RATE
# MiB/s meanwhile, so that half takes about 8 s: the polling below
# overshoots by at most a few percent.
HALF_RATE=$((MIB / 16 > 0 ? MIB / 16 : 1))
half_copy()
{
	local f

	dmsetup message "$1" 0 resume || return 1
	for _ in $(seq 400); do
		f=$(bench_copied "$1")
		awk -v f="$f" 'BEGIN { exit !(f >= 0.5) }' && break
		sleep 0.2
	done
	dmsetup message "$1" 0 rate 1 && dmsetup message "$1" 0 pause || return 1
	log "$1: $(dmsetup status "$1")"
	awk -v f="$f" 'BEGIN { exit !(f >= 0.5 && f < 1) }'
}

# Plain mirror copying (half copied) and ready.
# (half_copy runs below, while the fills run.)
halves=()
if bench_disk nb-mc "$MIB" $BS &&
   dm_create t-mc "0 $SZ ccm-mirror $P /dev/nb-mc 2048 3 rate $HALF_RATE start_paused"; then
	halves+=(mirror-plain-copying t-mc)
else
	setup_ok=1
fi
bench_disk nb-mr "$MIB" $BS &&
	dm_create t-mr "0 $SZ ccm-mirror $P /dev/nb-mr 2048" &&
	bench_wait_state t-mr mirror_ready 300 > /dev/null &&
	add mirror-plain-ready /dev/mapper/t-mr || setup_ok=1

bench_disk nb-r "$MIB" $BS &&
	dm_create t-r "0 $SZ mirror core 1 1024 2 $P 0 /dev/nb-r 0" &&
	bench_wait_state t-r raid1_synced 300 > /dev/null &&
	add raid1 /dev/mapper/t-r || setup_ok=1

# Encrypted mirrors: the secondaries are ccm devices of MIB with 4096-byte
# blocks (their tags need 1/128 more room).
ENC=0
EMIB=$(bench_ccm_disk_mib "$MIB" $BS)
if [ ! -x "$CCM_TOOL" ]; then
	bench_note mirror-encrypted "not available: CLI not built"
elif ! bench_disk nb-ec "$EMIB" $BS || ! bench_disk nb-er "$EMIB" $BS; then
	setup_ok=1
elif ! bench_have_encrypted_mirror nb-p nb-ec; then
	bench_note mirror-encrypted "not available: key refused (not supported yet)"
else
	ENC=1
	bench_ccm_format /dev/nb-ec $BS "$MIB" && bench_ccm_format /dev/nb-er $BS "$MIB" ||
		setup_ok=1
	if dm_create t-ec "0 $SZ ccm-mirror $P /dev/nb-ec 2048 5 rate $HALF_RATE start_paused key $BENCH_KEYREF"; then
		halves+=(mirror-enc-copying t-ec)
	else
		setup_ok=1
	fi
	# Its copy runs while the fills below run.
	dm_create t-er "0 $SZ ccm-mirror $P /dev/nb-er 2048 2 key $BENCH_KEYREF" ||
		setup_ok=1
fi

# ccm target, 4096-byte blocks: every block must be written once before it
# can be read.
if [ -x "$CCM_TOOL" ] && bench_disk nb-ccm "$EMIB" $BS &&
   bench_ccm_format /dev/nb-ccm $BS "$MIB"; then
	blocks=$("$CCM_TOOL" dump --json /dev/nb-ccm | jq .data_blocks)
	dm_create t-ccm "0 $((blocks * 8)) ccm /dev/nb-ccm $BENCH_KEYREF" &&
		add ccm /dev/mapper/t-ccm && fills+=(ccm /dev/mapper/t-ccm) ||
		setup_ok=1
else
	bench_note ccm "not available: CLI not built or format failed"
fi

# dm-crypt aes-xts-plain64 with 4096-byte sectors.
xkey=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
bench_disk nb-x "$MIB" $BS &&
	dm_create t-x "0 $SZ crypt aes-xts-plain64 $xkey 0 /dev/nb-x 0 1 sector_size:4096" &&
	add crypt-xts /dev/mapper/t-x && fills+=(crypt-xts /dev/mapper/t-x) ||
	setup_ok=1

# dm-crypt AEAD over dm-integrity, as cryptsetup sets it up (room for the
# LUKS2 header, the journal and the tags).
if ! command -v cryptsetup > /dev/null; then
	bench_note crypt-aead "not available: cryptsetup not installed (Debian: cryptsetup-bin)"
elif bench_disk nb-a $((MIB + 48)) $BS; then
	BENCH_CLEANUP_EXTRA="cryptsetup close t-aead > /dev/null 2>&1"
	if cryptsetup luksFormat --batch-mode --type luks2 \
		--cipher aes-gcm-random --integrity aead --key-size 256 \
		--sector-size 4096 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--integrity-no-wipe --key-file "$BENCH_KEYFILE" /dev/nb-a \
		> "$SCRATCH/cs.log" 2>&1 &&
	   cryptsetup open --key-file "$BENCH_KEYFILE" /dev/nb-a t-aead \
		>> "$SCRATCH/cs.log" 2>&1; then
		bench_note crypt-aead-table "$(dmsetup table t-aead | sed 's/ :[0-9]*:logon:[^ ]* / <key> /')"
		bench_note integrity-table "$(dmsetup table t-aead_dif)"
		bench_note cryptsetup "$(cryptsetup --version)"
		add crypt-aead /dev/mapper/t-aead
		fills+=(crypt-aead /dev/mapper/t-aead)
	else
		sed 's/^/# /' "$SCRATCH/cs.log"
		setup_ok=1
	fi
else
	setup_ok=1
fi

# The slow fills run in parallel (2 vCPUs), each timed: dd 1 MiB O_DIRECT.
pids=()
for ((i = 0; i < ${#fills[@]}; i += 2)); do
	(
		c=${fills[i]} d=${fills[i + 1]}
		m=$(($(blockdev --getsize64 "$d") / 1048576))
		t1=$(now)
		bench_fill "$d" || exit 1
		t2=$(now)
		bench_emit "$(jq -cn --arg t "$BENCH_TEST" --arg c "$c" \
			--argjson s "$(calc "$t2 - $t1")" --argjson m "$m" \
			'{test: $t, config: $c, workload: "fill-parallel", MiB: $m,
			  seconds: $s, MBps: ($m * 1.048576 / $s * 10 | round / 10)}')"
	) &
	pids+=($!)
done
for ((i = 0; i < ${#halves[@]}; i += 2)); do
	if half_copy "${halves[i + 1]}"; then
		add "${halves[i]}" "/dev/mapper/${halves[i + 1]}"
	else
		setup_ok=1
	fi
done
for p in "${pids[@]}"; do
	wait "$p" || setup_ok=1
done
if [ $ENC = 1 ]; then
	bench_wait_state t-er mirror_ready 900 > /dev/null &&
		add mirror-enc-ready /dev/mapper/t-er || setup_ok=1
fi
bench_note_crypto
log "setup: $((SECONDS - t0)) s: ${CONFIGS[*]}"
for n in $(dmsetup ls | awk '{ print $1 }' | sort); do
	log "  $(dmsetup status "$n" | head -n 1 | cut -c1-150) [$n]"
done
copied0=
for n in t-mc t-ec; do
	dmsetup info $n > /dev/null 2>&1 && copied0+="$n=$(bench_copied $n) "
done
verdict $setup_ok "setup"
log "idle after $(bench_settle 120) s"

# ---- measure ----
# One fio run for the whole matrix (starting fio costs seconds under TCG):
# a stonewalled job per (round, workload, mapping), in that order, after
# a warm-up job.  The copying mirrors are resumed only for their own jobs.
job=$SCRATCH/bench-io.fio
{
	echo "[global]"
	echo "ioengine=libaio"
	echo "direct=1"
	echo "time_based"
	echo "runtime=$(ms "$BENCH_RUNTIME")"
	echo "ramp_time=$(ms "$BENCH_RAMP")"
	echo "norandommap"
	echo "randrepeat=0"
	echo "lat_percentiles=1"
	echo "stonewall"
	echo "thread"
	echo
	echo "[warmup]"
	echo "filename=/dev/mapper/t-lin"
	echo "rw=randread"
	echo "bs=4k"
	echo "iodepth=32"
	echo "runtime=1"
	for ((r = 1; r <= ROUNDS; r++)); do
		# Calibration: a job that does (almost) nothing costs what the
		# marks and a job's start and end cost; subtracted from the
		# others' CPU time.
		echo
		echo "[$r:cal:null]"
		echo "ioengine=null"
		echo "size=1g"
		echo "rw=read"
		echo "bs=4k"
		echo "rate_iops=1"
		echo "runtime=1"
		echo "exec_prerun=sh -c 'echo B io:$r:cal:null > $BENCH_OUT/mark'"
		echo "exec_postrun=sh -c 'echo E io:$r:cal:null > $BENCH_OUT/mark'"
		for wl in $WORKLOADS; do
			case $wl in
			randread | randwrite) rw=$wl bs=4k qd=32 ;;
			read | write) rw=$wl bs=1M qd=8 ;;
			esac
			# Each round starts at another mapping, so that none
			# always follows the same one (background work of
			# dm-integrity, ccm metadata writeback...).
			for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
				i=$(((k + (r - 1) * 3) % ${#CONFIGS[@]}))
				c=${CONFIGS[i]} d=${DEVS[i]}
				echo
				echo "[$r:$wl:$c]"
				echo "filename=$d"
				echo "rw=$rw"
				echo "bs=$bs"
				echo "iodepth=$qd"
				pre=
				post=
				case $c in
				*-copying)
					# (No ';': it starts a comment in fio's files.)
					pre="(dmsetup message ${d#/dev/mapper/} 0 resume || true) && "
					post=" && dmsetup message ${d#/dev/mapper/} 0 pause"
					;;
				esac
				# (fio appends "> <job>.prerun.txt" to the command.)
				echo "exec_prerun=sh -c '${pre}echo B io:$r:$wl:$c > $BENCH_OUT/mark'"
				echo "exec_postrun=sh -c 'echo E io:$r:$wl:$c > $BENCH_OUT/mark$post'"
			done
		done
	done
} > "$job"
t1=$SECONDS
fio --output-format=json --output="$SCRATCH/bench-io.json" "$job" > /dev/null 2>&1
rc=$?
# fio may print notes before the JSON.
sed -i -n '/^{/,$p' "$SCRATCH/bench-io.json"
jq -c --arg t "$BENCH_TEST" '.jobs[] | select(.jobname != "warmup") |
	select(.jobname | test(":cal:") | not) |
	(.jobname | split(":")) as $n |
	(if ($n[1] | test("read")) then .read else .write end) as $j |
	{
		test: $t, config: $n[2], workload: $n[1], round: ($n[0] | tonumber),
		MBps: ($j.bw_bytes / 1e6 * 10 | round / 10),
		iops: ($j.iops | round),
		bytes: $j.io_bytes,
		lat_p50_us: (($j.lat_ns.percentile["50.000000"] // 0) / 1000 | round),
		lat_p99_us: (($j.lat_ns.percentile["99.000000"] // 0) / 1000 | round),
		runtime_ms: $j.runtime
	} + (if .error != 0 then {error: .error} else {} end)' \
	"$SCRATCH/bench-io.json" > "$SCRATCH/bench-io.jsonl"
n=$(grep -c . "$SCRATCH/bench-io.jsonl")
cat "$SCRATCH/bench-io.jsonl" >> "$BENCH_JSON"
jq -r '"\(.round) \(.workload) \(.config): \(.MBps) MB/s, p99 \(.lat_p99_us) us\(if .error then " ERROR \(.error)" else "" end)"' \
	"$SCRATCH/bench-io.jsonl" | while read -r l; do log "$l"; done
want=$((ROUNDS * $(wc -w <<< "$WORKLOADS") * ${#CONFIGS[@]}))
ok=0
[ $rc = 0 ] && [ "$n" = "$want" ] && ! grep -q '"error"' "$SCRATCH/bench-io.jsonl" || ok=1
verdict $ok "fio: $ROUNDS rounds of ${WORKLOADS// /, } on ${#CONFIGS[@]} mappings: $n of $want jobs ($((SECONDS - t1)) s)"

ok=0
copied1=
for n in t-mc t-ec; do
	dmsetup info $n > /dev/null 2>&1 || continue
	st=$(dmsetup status $n)
	copied1+="$n=$(bench_copied_of "$st") "
	log "$st"
	# Still copying (not ready) at the end, or the "copying" rows lie.
	mirror_ready "$st" && ok=1
done
bench_note copying-fraction "in sync before the jobs: ${copied0:-none}; after: ${copied1:-none}"
verdict $ok "copying mirrors were still copying"
if command -v cryptsetup > /dev/null; then
	cryptsetup close t-aead 2> /dev/null
fi
log "bench-io: $((SECONDS - t0)) s"
ktap_finished
