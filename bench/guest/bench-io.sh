#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fio through every mapping on brd ram disks of BENCH_MIB (256) MiB:
# 4 KiB random read/write at QD 32 and 1 MiB sequential read/write at QD 8
# (libaio, O_DIRECT, BENCH_RUNTIME s each after BENCH_RAMP).
# Mappings: dm-linear (the limit), ccm-mirror plain copying (rate 1 MiB/s)
# and ready, ccm-mirror encrypted (512-byte ccm blocks: brd has 512-byte
# logical blocks) copying and ready, dm-raid1 (core log, in sync), the ccm
# target (4096-byte blocks), dm-crypt aes-xts-plain64, and dm-crypt AEAD
# (aes-gcm-random) over dm-integrity in journal mode as cryptsetup
# (LUKS2 --integrity aead) sets it up.
# Every mapping is set up first, each on its own ram disk(s) (all mirrors
# share the primary ram0); then BENCH_ROUNDS (3) rounds run every workload
# on every mapping in turn, so that the host's noise (other VMs) spreads
# over all of them; the report keeps each pair's best round.  The copying
# mirrors are paused except while they are measured.
# timeout=1200
. "$(dirname "$0")/bench-lib.sh"

ktap_print_header
ktap_set_plan 3
require_cmd fio jq dmsetup keyctl blockdev
load_module || ktap_skip_all "module not loadable"
modprobe -a dm_crypt dm_integrity dm_mirror brd 2> /dev/null

MIB=${BENCH_MIB:-256}
SZ=$((MIB * 2048))
ROUNDS=${BENCH_ROUNDS:-3}
WORKLOADS=${BENCH_WORKLOADS:-randread randwrite read write}
NR=10
bench_brd $NR "$MIB" || ktap_skip_all "no brd"
P=/dev/ram0
bench_note brd "rd_nr=$NR rd_size=${MIB}MiB lbs=$(blockdev --getss $P) pbs=$(blockdev --getpbsz $P)"
bench_note cpu "$(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), aes=$(grep -qw aes /proc/cpuinfo && echo yes || echo no)"
bench_note mem "$(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
bench_note fio "$(fio --version) runtime=${BENCH_RUNTIME}s ramp=$BENCH_RAMP rounds=$ROUNDS"
bench_key || ktap_skip_all "cannot add a key"
t0=$SECONDS

# ---- setup ----
CONFIGS=()
DEVS=()
add() { CONFIGS+=("$1"); DEVS+=("$2"); }
fills=()
setup_ok=0

bench_fill $P
dm_create t-lin "0 $SZ linear $P 0" && add linear /dev/mapper/t-lin

# Plain mirror copying (paused between its runs) and ready.
dm_create t-mc "0 $SZ ccm-mirror $P /dev/ram1 2048 3 rate 1 start_paused" &&
	add mirror-plain-copying /dev/mapper/t-mc
dm_create t-mr "0 $SZ ccm-mirror $P /dev/ram2 2048" &&
	bench_wait_state t-mr " ready " 300 > /dev/null &&
	add mirror-plain-ready /dev/mapper/t-mr || setup_ok=1

dm_create t-r "0 $SZ mirror core 1 1024 2 $P 0 /dev/ram3 0" &&
	bench_wait_state t-r raid1_synced 300 > /dev/null &&
	add raid1 /dev/mapper/t-r || setup_ok=1

# Encrypted mirror: ram7 / ram8 extended by a part of ram9 (512-byte ccm
# blocks need 1/16 more room for their tags).
ENC=0
if [ ! -x "$CCM_TOOL" ]; then
	bench_note mirror-encrypted "not available: CLI not built"
elif ! bench_have_encrypted_mirror; then
	bench_note mirror-encrypted "not available: key refused (not supported yet)"
else
	ENC=1
	ext=$((SZ / 16 + 8192))
	for i in 0 1; do
		n=$((7 + i))
		dm_create t-es$i "0 $SZ linear /dev/ram$n 0
$SZ $ext linear /dev/ram9 $((i * ext))" &&
		"$CCM_TOOL" format --key-file "$BENCH_KEYFILE" --yes --no-wipe \
			--block-size 512 --data-size $((MIB * 1048576)) \
			/dev/mapper/t-es$i > /dev/null || setup_ok=1
	done
	dm_create t-ec "0 $SZ ccm-mirror $P /dev/mapper/t-es0 2048 5 rate 1 start_paused key $BENCH_KEYREF" &&
		add mirror-enc-copying /dev/mapper/t-ec || setup_ok=1
	# Its copy runs while the fills below run.
	dm_create t-er "0 $SZ ccm-mirror $P /dev/mapper/t-es1 2048 2 key $BENCH_KEYREF" ||
		setup_ok=1
fi

# ccm target, 4096-byte blocks: every block must be written once before it
# can be read.
if [ -x "$CCM_TOOL" ] &&
   "$CCM_TOOL" format --key-file "$BENCH_KEYFILE" --yes --no-wipe \
	--block-size 4096 /dev/ram4 > /dev/null; then
	blocks=$("$CCM_TOOL" dump --json /dev/ram4 | jq .data_blocks)
	dm_create t-ccm "0 $((blocks * 8)) ccm /dev/ram4 $BENCH_KEYREF" &&
		add ccm /dev/mapper/t-ccm && fills+=(ccm /dev/mapper/t-ccm) ||
		setup_ok=1
else
	bench_note ccm "not available: CLI not built or format failed"
fi

# dm-crypt aes-xts-plain64 (512-byte sectors: the table of the issue).
xkey=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
dm_create t-x "0 $SZ crypt aes-xts-plain64 $xkey 0 /dev/ram5 0" &&
	add crypt-xts /dev/mapper/t-x && fills+=(crypt-xts /dev/mapper/t-x) ||
	setup_ok=1

# dm-crypt AEAD over dm-integrity, as cryptsetup sets it up.
if command -v cryptsetup > /dev/null; then
	BENCH_CLEANUP_EXTRA="cryptsetup close t-aead > /dev/null 2>&1"
	if cryptsetup luksFormat --batch-mode --type luks2 \
		--cipher aes-gcm-random --integrity aead --key-size 256 \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--integrity-no-wipe --key-file "$BENCH_KEYFILE" /dev/ram6 \
		> "$SCRATCH/cs.log" 2>&1 &&
	   cryptsetup open --key-file "$BENCH_KEYFILE" /dev/ram6 t-aead \
		>> "$SCRATCH/cs.log" 2>&1; then
		bench_note crypt-aead-table "$(dmsetup table t-aead | sed 's/ :[0-9]*:logon:[^ ]* / <key> /')"
		bench_note integrity-table "$(dmsetup table t-aead_dif)"
		add crypt-aead /dev/mapper/t-aead
		fills+=(crypt-aead /dev/mapper/t-aead)
	else
		sed 's/^/# /' "$SCRATCH/cs.log"
		setup_ok=1
	fi
else
	bench_note crypt-aead "not available: cryptsetup not installed"
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
for p in "${pids[@]}"; do
	wait "$p" || setup_ok=1
done
if [ $ENC = 1 ]; then
	bench_wait_state t-er " ready " 900 > /dev/null &&
		add mirror-enc-ready /dev/mapper/t-er || setup_ok=1
fi
log "setup: $((SECONDS - t0)) s: ${CONFIGS[*]}"
for n in $(dmsetup ls | awk '{ print $1 }' | sort); do
	log "  $(dmsetup status "$n" | head -n 1 | cut -c1-150) [$n]"
done
verdict $setup_ok "setup"

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
	echo "runtime=$BENCH_RUNTIME"
	echo "ramp_time=$BENCH_RAMP"
	echo "norandommap"
	echo "randrepeat=0"
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
		for wl in $WORKLOADS; do
			case $wl in
			randread | randwrite) rw=$wl bs=4k qd=32 ;;
			read | write) rw=$wl bs=1M qd=8 ;;
			esac
			for i in "${!CONFIGS[@]}"; do
				c=${CONFIGS[i]} d=${DEVS[i]}
				echo
				echo "[$r:$wl:$c]"
				echo "filename=$d"
				echo "rw=$rw"
				echo "bs=$bs"
				echo "iodepth=$qd"
				case $c in
				*-copying)
					echo "exec_prerun=dmsetup message ${d#/dev/mapper/} 0 resume"
					echo "exec_postrun=dmsetup message ${d#/dev/mapper/} 0 pause"
					;;
				esac
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
	(.jobname | split(":")) as $n |
	(if ($n[1] | test("read")) then .read else .write end) as $j |
	{
		test: $t, config: $n[2], workload: $n[1], round: ($n[0] | tonumber),
		MBps: ($j.bw_bytes / 1e6 * 10 | round / 10),
		iops: ($j.iops | round),
		clat_p50_us: (($j.clat_ns.percentile["50.000000"] // 0) / 1000 | round),
		clat_p99_us: (($j.clat_ns.percentile["99.000000"] // 0) / 1000 | round),
		runtime_ms: $j.runtime
	} + (if .error != 0 then {error: .error} else {} end)' \
	"$SCRATCH/bench-io.json" > "$SCRATCH/bench-io.jsonl"
n=$(grep -c . "$SCRATCH/bench-io.jsonl")
cat "$SCRATCH/bench-io.jsonl" >> "$BENCH_JSON"
jq -r '"\(.round) \(.workload) \(.config): \(.MBps) MB/s, p99 \(.clat_p99_us) us\(if .error then " ERROR \(.error)" else "" end)"' \
	"$SCRATCH/bench-io.jsonl" | while read -r l; do log "$l"; done
want=$((ROUNDS * $(wc -w <<< "$WORKLOADS") * ${#CONFIGS[@]}))
ok=0
[ $rc = 0 ] && [ "$n" = "$want" ] && ! grep -q '"error"' "$SCRATCH/bench-io.jsonl" || ok=1
verdict $ok "fio: $ROUNDS rounds of ${WORKLOADS// /, } on ${#CONFIGS[@]} mappings: $n of $want jobs ($((SECONDS - t1)) s)"

ok=0
for n in t-mc t-ec; do
	dmsetup info $n > /dev/null 2>&1 || continue
	st=$(dmsetup status $n)
	log "$st"
	# Still copying (not ready) at the end, or the "copying" rows lie.
	[[ $st =~ \ ready\  ]] && ok=1
done
verdict $ok "copying mirrors were still copying"
if command -v cryptsetup > /dev/null; then
	cryptsetup close t-aead 2> /dev/null
fi
log "bench-io: $((SECONDS - t0)) s"
ktap_finished
