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
# bench_brd NR SIZE_MIB           (re)load brd: /dev/ram0..NR-1, SIZE_MIB each
# bench_fill DEV                  zeros over all of DEV, O_DIRECT (allocates
#                                 brd pages; writes every ccm tag)
# bench_fio CONFIG WORKLOAD DEV [fio args...]
#                                 one fio run, appends its summary
# bench_emit JSON                 appends a line (any JSON object)
# bench_key                       loads a 32-byte logon key, sets BENCH_KEYFILE
#                                 and BENCH_KEYREF
# bench_wait_state NAME REGEX TMO waits on dm events until status matches
# bench_time_to NAME REGEX TMO    resumes a loaded, suspended NAME and
#                                 prints the seconds until status matches
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
BENCH_RUNTIME=${BENCH_RUNTIME:-2}
BENCH_RAMP=${BENCH_RAMP:-500ms}
BENCH_AFALG=$SRCDIR/build/bench-bin/afalg-ccm

now() { echo "$EPOCHREALTIME"; }

# verdict RC DESC: a TAP line for a step.
verdict()
{
	if [ "$1" = 0 ]; then ktap_test_pass "$2"; else ktap_test_fail "$2"; fi
}

# Floating point in bash via awk: calc EXPR
calc() { awk "BEGIN { printf \"%.6g\n\", $* }"; }

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

bench_brd()
{
	local nr=$1 mib=$2

	if [ -d /sys/module/brd ]; then
		rmmod brd || { log "cannot unload brd"; return 1; }
	fi
	modprobe brd rd_nr="$nr" rd_size=$((mib * 1024)) max_part=1 || return 1
	[ -b "/dev/ram$((nr - 1))" ] || { log "brd: no /dev/ram$((nr - 1))"; return 1; }
}

bench_unload_brd()
{
	[ -d /sys/module/brd ] && rmmod brd 2> /dev/null
	return 0
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
	fio --name="$config-$wl" --filename="$dev" --direct=1 \
		--ioengine=libaio --iodepth=$qd --rw=$rw --bs=$bs \
		--time_based --runtime="$BENCH_RUNTIME" --ramp_time="$BENCH_RAMP" \
		--norandommap --randrepeat=0 --numjobs=1 \
		--output-format=json --output="$out" "$@" > /dev/null 2>&1
	# One jq (an exec costs 0.1-0.4 s under TCG); fails on no output.
	if ! line=$(jq -ce --arg t "$BENCH_TEST" --arg c "$config" --arg w "$wl" \
		--arg d "$dir" --arg dev "$dev" --argjson r "${BENCH_ROUND:-1}" '
		.jobs[0] as $job | $job[$d] as $j |
		if $job.error != 0 then error("fio error \($job.error)") else . end |
		{
			test: $t, config: $c, workload: $w, round: $r, dev: $dev,
			MBps: ($j.bw_bytes / 1e6 * 10 | round / 10),
			iops: ($j.iops | round),
			clat_p50_us: (($j.clat_ns.percentile["50.000000"] // 0) / 1000 | round),
			clat_p99_us: (($j.clat_ns.percentile["99.000000"] // 0) / 1000 | round),
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

bench_cleanup()
{
	local id

	cleanup
	if [ -s "$SCRATCH/.bench-keyid" ]; then
		read -r id < "$SCRATCH/.bench-keyid"
		keyctl unlink "$id" @u > /dev/null 2>&1
	fi
	[ -n "${BENCH_CLEANUP_EXTRA:-}" ] && eval "$BENCH_CLEANUP_EXTRA"
	bench_unload_brd
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

# raid1_synced STATUS: dm-raid1 status "... mirror 2 A B in/total ..."
raid1_synced()
{
	local f

	read -ra f <<< "$1"
	[ "${f[2]}" = mirror ] || return 1
	f=${f[$((4 + f[3]))]}
	[ "${f%/*}" = "${f#*/}" ]
}

# bench_time_to NAME REGEX|FUNC TIMEOUT_S: NAME is loaded but not resumed
# (bench_create_suspended); resumes it and prints the seconds from the end
# of the resume to the dm event after which its status matches.  Under TCG
# an exec costs 0.1-0.4 s, so nothing runs between the resume and the
# wait, and the status is read after the clock is stopped.
bench_time_to()
{
	local name=$1 re=$2 tmo=$3 ev t0 t1 st deadline

	ev=$(dmsetup info -c --noheadings -o events "$name" | tr -d ' ')
	dmsetup resume "$name" || return 1
	t0=$(now)
	deadline=$((SECONDS + tmo))
	while :; do
		timeout $((deadline - SECONDS + 1)) dmsetup wait "$name" "$ev" \
			> /dev/null 2>&1
		t1=$(now)
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
		"0 8 ccm-mirror /dev/ram0 /dev/ram1 8 2 key :32:logon:none" 2>&1)
	dmsetup remove t-probe > /dev/null 2>&1
	! dmesg | tail -n 5 | grep -q "not supported yet"
}

bench_mirror_state() { dm_field "$1" 4; }
