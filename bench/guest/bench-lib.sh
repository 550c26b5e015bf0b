#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the benchmarks in bench/guest/ (run in the VM by
# tools/vm/run.sh -d bench/guest, see bench/run.sh).  Sourced after
# selftests/lib.sh.  Not a benchmark itself.
#
# Results are JSON lines appended to $BENCH_OUT/bench.jsonl (default: the
# runner's results share /run/ccm-results, which is OUTDIR on the host):
#   {"test": "io", "config": "linear", "workload": "randread", ...}
#
# Disks are memory-backed null_blk devices made through configfs (any size
# and logical block size, 4096 by default: the ccm format's 4096-byte
# blocks need it on the primary of an encrypted mirror), brd when
# null_blk's configfs is not there:
# bench_disk NAME SIZE_MIB [LBS]  /dev/NAME (registered for cleanup)
# bench_disk_remove NAME          frees it (and its memory)
# bench_fill DEV                  zeros over all of DEV, O_DIRECT (allocates
#                                 the pages; writes every ccm tag)
# bench_fio CONFIG WORKLOAD DEV [fio args...]
#                                 one fio run, appends its summary
# bench_emit JSON                 appends a line (any JSON object)
# bench_note KEY VALUE            a fact about the run (string)
# bench_key                       loads a 32-byte logon key, sets BENCH_KEYFILE
#                                 and BENCH_KEYREF
# bench_ccm_format DEV BS [MIB]   ccm-mirror format (no wipe); MIB: data size
# bench_wait_state NAME REGEX TMO waits on dm events until status matches
# bench_time_to NAME REGEX TMO    resumes a loaded, suspended NAME and
#                                 prints the seconds until status matches
# bench_copy_window NAME FUNC MAX resumes NAME, waits until FUNC says done or
#                                 MAX s: prints "<s> <done 0|1> <fraction>"
# bench_copied NAME               fraction of regions in sync (ccm-mirror,
#                                 dm-raid1)
# bench_settle MAX_S              waits until the guest is idle (background
#                                 work of the setup done)
# now                             seconds since the epoch, microseconds

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "TAP version 13"
	echo "1..0 # SKIP helper library, not a benchmark"
	exit 4
fi

# shellcheck source=../../selftests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../selftests/lib.sh"

# Settings from the host (bench/run.sh writes them; the tree is read-only).
# shellcheck source=/dev/null
[ -f "$SRCDIR/build/bench-bin/bench.env" ] && . "$SRCDIR/build/bench-bin/bench.env"
BENCH_OUT=${BENCH_OUT:-/run/ccm-results}
[ -d "$BENCH_OUT" ] && [ -w "$BENCH_OUT" ] || BENCH_OUT=$SCRATCH
BENCH_JSON=$BENCH_OUT/bench.jsonl
BENCH_TEST=${BENCH_TEST:-$(basename "$0" .sh)}
BENCH_TEST=${BENCH_TEST#bench-}
# Seconds per fio run, after BENCH_RAMP.
BENCH_RUNTIME=${BENCH_RUNTIME:-2.5}
BENCH_RAMP=${BENCH_RAMP:-0}
BENCH_AFALG=$SRCDIR/build/bench-bin/afalg-ccm
NULLB_CFS=/sys/kernel/config/nullb
_BENCH_DISK_REG=$SCRATCH/.cleanup-disks

# The accelerated ciphers, as udev would load them on a real machine (the
# VM has no udev): without them the first user of ccm(aes), gcm(aes) or
# xts(aes) instantiates the generic C code, for good.
modprobe -a aesni_intel ghash_clmulni_intel crc32c_intel 2> /dev/null

now() { echo "$EPOCHREALTIME"; }

# ms SECONDS: whole milliseconds, for fio (which reads "2.5" as 2).
ms() { awk -v s="$1" 'BEGIN { printf "%dms\n", s * 1000 }'; }

# verdict RC DESC: a TAP line for a step.
verdict()
{
	if [ "$1" = 0 ]; then ktap_test_pass "$2"; else ktap_test_fail "$2"; fi
}

# Floating point in bash via awk: calc EXPR
calc() { awk "BEGIN { printf \"%.6g\n\", $* }"; }

# bench_mark B|E NAME: tells the host (bench/cpu-sampler.py) that a
# measured step begins or ends; it records QEMU's CPU time then.  A bash
# builtin: no exec.
bench_mark()
{
	echo "$1 $2" > "$BENCH_OUT/mark" 2> /dev/null
}

bench_emit()
{
	echo "$1" >> "$BENCH_JSON"
}

# bench_note KEY VALUE: a string fact about this run (tables, versions...)
bench_note()
{
	bench_emit "$(jq -cn --arg t "$BENCH_TEST" --arg k "$1" --arg v "$2" \
		'{test: $t, note: $k, value: $v}')"
}

# The drivers behind the ciphers the mappings use (whatever was
# instantiated so far, highest priority first).
bench_note_crypto()
{
	bench_note crypto-drivers "$(awk '/^name/ { n = $3 } /^driver/ { d = $3 }
		/^priority/ { if (n ~ /^(ccm|gcm|xts|ctr|cbcmac)\(aes\)$|^aes$|^ghash$/)
			print n "=" d "(" $3 ")" }' /proc/crypto | sort -u | tr '\n' ' ')"
}

# bench_disk NAME SIZE_MIB [LBS]: a memory-backed null_blk /dev/NAME
# (nullb_new of selftests/lib.sh: blk-mq, one queue, completions inline
# like brd, no bandwidth limit, no I/O scheduler, 1 MiB maximum request:
# an NVMe-like disk); pages are allocated on first write.
bench_disk()
{
	local name=$1 r

	nullb_new "$name" "$2" "${3:-4096}" 1 2048
	r=$?
	[ -d "$NULLB_CFS/$name" ] && echo "$name" >> "$_BENCH_DISK_REG"
	return $r
}

bench_disk_remove()
{
	local d=$NULLB_CFS/$1

	[ -d "$d" ] || return 0
	echo 0 > "$d/power" 2> /dev/null
	rmdir "$d" || { log "bench_disk_remove: cannot remove $1"; return 1; }
	if [ -f "$_BENCH_DISK_REG" ]; then
		grep -vxF -- "$1" "$_BENCH_DISK_REG" > "$_BENCH_DISK_REG.new"
		mv "$_BENCH_DISK_REG.new" "$_BENCH_DISK_REG"
	fi
}

bench_disk_note()
{
	local dev=$1

	bench_note disks "null_blk memory_backed irqmode=0 queue_mode=mq no_sched max_sectors_kb=$(cat "/sys/block/${dev#/dev/}/queue/max_sectors_kb"): lbs=$(blockdev --getss "$dev") pbs=$(blockdev --getpbsz "$dev")"
}

bench_fill()
{
	local dev=$1 bytes

	bytes=$(blockdev --getsize64 "$dev") || return 1
	dd if=/dev/zero of="$dev" bs=1M count="$bytes" iflag=count_bytes \
		oflag=direct status=none
}

# bench_fio CONFIG WORKLOAD DEV [extra fio args]
# WORKLOAD: randread, randwrite (4 KiB, QD 32), read, write (1 MiB, QD 8),
# latread (4 KiB random reads, QD 1).  $BENCH_ROUND tags the sample.
# Latencies are fio's total latency (submission + completion: with
# completions inline, as here, most of the time is in the submission).
bench_fio()
{
	local config=$1 wl=$2 dev=$3 rw bs qd out dir line

	shift 3
	case $wl in
	randread | randwrite) rw=$wl bs=4k qd=32 ;;
	read | write) rw=$wl bs=1M qd=8 ;;
	latread) rw=randread bs=4k qd=1 ;;
	*) log "bench_fio: unknown workload $wl"; return 1 ;;
	esac
	case $rw in *read) dir=read ;; *) dir=write ;; esac
	out=$SCRATCH/fio-$config-$wl.json
	bench_mark B "$BENCH_TEST:${BENCH_ROUND:-1}:$wl:$config"
	fio --name="$config-$wl" --filename="$dev" --direct=1 \
		--ioengine=libaio --iodepth=$qd --rw=$rw --bs=$bs \
		--time_based --runtime="$(ms "$BENCH_RUNTIME")" --ramp_time="$(ms "$BENCH_RAMP")" \
		--norandommap --randrepeat=0 --numjobs=1 --lat_percentiles=1 \
		--output-format=json --output="$out" "$@" > /dev/null 2>&1
	bench_mark E "$BENCH_TEST:${BENCH_ROUND:-1}:$wl:$config"
	# One jq (an exec costs 0.1-0.4 s under TCG); fails on no output.
	if ! line=$(jq -ce --arg t "$BENCH_TEST" --arg c "$config" --arg w "$wl" \
		--arg d "$dir" --arg dev "$dev" --argjson r "${BENCH_ROUND:-1}" '
		.jobs[0] as $job | $job[$d] as $j |
		if $job.error != 0 then error("fio error \($job.error)") else . end |
		{
			test: $t, config: $c, workload: $w, round: $r, dev: $dev,
			MBps: ($j.bw_bytes / 1e6 * 10 | round / 10),
			iops: ($j.iops | round),
			bytes: $j.io_bytes,
			lat_p50_us: (($j.lat_ns.percentile["50.000000"] // 0) / 1000 | round),
			lat_p99_us: (($j.lat_ns.percentile["99.000000"] // 0) / 1000 | round),
			runtime_ms: $j.runtime
		}' "$out" 2>&1); then
		log "fio $config $wl on $dev failed: $line $(head -c 300 "$out" 2> /dev/null)"
		bench_emit "$(jq -cn --arg t "$BENCH_TEST" --arg c "$config" \
			--arg w "$wl" '{test: $t, config: $c, workload: $w, error: "fio failed"}')"
		return 1
	fi
	bench_emit "$line"
	log "$config $wl: $line"
}

bench_key()
{
	local desc="ccm-bench:$$"

	BENCH_KEYFILE=$SCRATCH/key
	head -c 32 /dev/urandom > "$BENCH_KEYFILE"
	keyctl padd logon "$desc" @u < "$BENCH_KEYFILE" > "$SCRATCH/.bench-keyid" ||
		return 1
	BENCH_KEYREF=":32:logon:$desc"
}

# bench_ccm_format DEV BLOCK_SIZE [DATA_MIB]: a ccm device, not wiped
# (every block must be written once before it can be read).
bench_ccm_format()
{
	local dev=$1 bs=$2 mib=${3:-}

	"$CCM_TOOL" format --key-file "$BENCH_KEYFILE" --yes --no-wipe \
		--block-size "$bs" ${mib:+--data-size $((mib * 1048576))} \
		"$dev" > /dev/null
}

# Size in MiB of a device holding a ccm format of DATA_MIB with BS-byte
# blocks: 32 bytes of metadata per block, the header, and slack.
bench_ccm_disk_mib()
{
	local mib=$1 bs=$2

	echo $((mib + mib * 32 / bs + 8))
}

# bench_settle MAX_S: waits (at most MAX_S seconds) until the guest's CPUs
# were busy less than 5% of a whole second: the background work a setup
# leaves (dm-integrity writing its journal back, metadata commits...) would
# otherwise slow the first measurements down.  Prints the seconds waited.
bench_settle()
{
	local max=$1 t0=$SECONDS a b busy=100 total

	read -ra a < /proc/stat
	while [ $((SECONDS - t0)) -lt "$max" ]; do
		sleep 1
		read -ra b < /proc/stat
		# user nice system idle iowait irq softirq steal
		busy=$(( (b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) -
			 (a[1] + a[2] + a[3] + a[6] + a[7] + a[8]) ))
		total=$(( busy + b[4] + b[5] - a[4] - a[5] ))
		a=("${b[@]}")
		[ "$total" -gt 0 ] && [ $((busy * 100 / total)) -lt 5 ] && break
	done
	echo $((SECONDS - t0))
}

bench_cleanup()
{
	local id name

	cleanup
	if [ -s "$SCRATCH/.bench-keyid" ]; then
		read -r id < "$SCRATCH/.bench-keyid"
		keyctl unlink "$id" @u > /dev/null 2>&1
	fi
	[ -n "${BENCH_CLEANUP_EXTRA:-}" ] && eval "$BENCH_CLEANUP_EXTRA"
	if [ -f "$_BENCH_DISK_REG" ]; then
		for name in $(tac "$_BENCH_DISK_REG"); do
			bench_disk_remove "$name"
		done
		rm -f "$_BENCH_DISK_REG"
	fi
}
trap bench_cleanup EXIT

# bench_wait_state NAME REGEX|FUNC TIMEOUT_S: sleeps on the device's events
# (no polling: status calls cost CPU under TCG) until its status matches
# REGEX, or FUNC STATUS returns 0 when the 2nd argument names a function;
# returns 1 on timeout.
bench_wait_state()
{
	local name=$1 re=$2 tmo=$3 ev st deadline

	deadline=$((SECONDS + tmo))
	while :; do
		ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
		st=$(dmsetup status "$name")
		if declare -F "$re" > /dev/null; then
			"$re" "$st" && return 0
		elif [[ $st =~ $re ]]; then
			return 0
		fi
		[ $SECONDS -ge $deadline ] && {
			log "timeout waiting for $re on $name: $st"
			return 1
		}
		# Wakes on the next event; the timeout is a backstop.
		timeout 2 dmsetup wait "$name" "$ev" > /dev/null 2>&1
	done
}

# mirror_ready STATUS: a ccm-mirror status line in state ready.
mirror_ready() { [[ $1 =~ \ ready\  ]]; }

# raid1_synced STATUS: dm-raid1 status "... mirror 2 A B in/total ..."
raid1_synced()
{
	local f

	read -ra f <<< "$1"
	[ "${f[2]}" = mirror ] || return 1
	f=${f[$((4 + f[3]))]}
	[ "${f%/*}" = "${f#*/}" ]
}

# bench_copied_of STATUS: the fraction of regions in sync, from a
# ccm-mirror or dm-raid1 status line (the first "<n>/<total>" field).
bench_copied_of()
{
	awk '{ for (i = 4; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) {
		split($i, a, "/"); printf "%.6f\n", a[1] / a[2]; exit } }' <<< "$1"
}

bench_copied() { bench_copied_of "$(dmsetup status "$1")"; }

# bench_time_to NAME REGEX|FUNC TIMEOUT_S: NAME is loaded but not resumed
# (bench_create_suspended); resumes it and prints the seconds from the end
# of the resume to the dm event after which its status matches.  With
# BENCH_STEP set, marks the step for the host's CPU time (bench_mark).  Under TCG
# an exec costs 0.1-0.4 s, so nothing runs between the resume and the
# wait, and the status is read after the clock is stopped.
bench_time_to()
{
	local name=$1 re=$2 tmo=$3 ev t0 t1 st deadline

	ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
	[ -n "${BENCH_STEP:-}" ] && bench_mark B "$BENCH_STEP"
	dmsetup resume "$name" || return 1
	t0=$(now)
	deadline=$((SECONDS + tmo))
	while :; do
		timeout $((deadline - SECONDS + 1)) dmsetup wait "$name" "$ev" \
			> /dev/null 2>&1
		t1=$(now)
		[ -n "${BENCH_STEP:-}" ] && bench_mark E "$BENCH_STEP"
		ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
		st=$(dmsetup status "$name")
		if declare -F "$re" > /dev/null; then
			"$re" "$st" && break
		elif [[ $st =~ $re ]]; then
			break
		fi
		if [ $SECONDS -ge $deadline ]; then
			log "timeout waiting for $re on $name: $st" >&2
			return 1
		fi
	done
	calc "$t1 - $t0"
}

# bench_copy_window NAME FUNC MAX_S: like bench_time_to, but gives up
# waiting after MAX_S seconds (a fractional number): prints
# "<seconds> <1 if FUNC matched, else 0> <fraction of regions in sync>";
# the copy goes on.  Started either by the resume of a loaded table or,
# with BENCH_START set, by that command (e.g. a resume message).
bench_copy_window()
{
	local name=$1 re=$2 max=$3 ev t0 t1 st left done=0

	ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
	if [ -n "${BENCH_START:-}" ]; then
		eval "$BENCH_START" || return 1
	else
		dmsetup resume "$name" || return 1
	fi
	t0=$(now)
	while :; do
		left=$(awk -v t0="$t0" -v n="$(now)" -v m="$max" \
			'BEGIN { l = m - (n - t0); printf "%.2f\n", (l > 0 ? l : 0) }')
		[ "$left" = 0.00 ] && { st=$(dmsetup status "$name"); t1=$(now); break; }
		timeout "$left" dmsetup wait "$name" "$ev" > /dev/null 2>&1
		t1=$(now)
		ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
		st=$(dmsetup status "$name")
		if "$re" "$st"; then
			done=1
			break
		fi
	done
	echo "$(calc "$t1 - $t0") $done $(bench_copied_of "$st")"
}

# bench_create_suspended NAME TABLE: the device exists with TABLE loaded
# but inactive (registered for cleanup).
bench_create_suspended()
{
	dmsetup create "$1" --notable || return 1
	echo "$1" >> "$_LIB_DM_REG"
	dmsetup load "$1" --table "$2" || {
		log "load of $1 failed: $2"
		return 1
	}
}

# The ccm-mirror target accepts `key` (encrypted mode) in this module?
bench_have_encrypted_mirror()
{
	local out

	out=$(dmsetup create t-probe --table \
		"0 8 ccm-mirror /dev/$1 /dev/$2 8 2 key :32:logon:none" 2>&1)
	dmsetup remove t-probe > /dev/null 2>&1
	! dmesg | tail -n 5 | grep -q "not supported yet"
}
