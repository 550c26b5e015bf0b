#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=300
#
# ccm-mirror crash consistency at every commit point, from a dm-log-writes
# log (issue #5, test 5).  For MODE in $MODES (default "plain encrypted"):
#
# - The secondary and the copy state share ONE dm-log-writes device, so the
#   log orders all their writes totally, in the order they became durable
#   (a write is logged at the flush after its completion, a FUA write at its
#   completion): a loop disk D -> log-writes (log on another loop disk) ->
#   linear slices: the secondary and, in plain mode, the metadata device
#   (encrypted: the copy state is in the ccm secondary's header; the ccm
#   format is written through the log too, so the log replays from zeros).
# - The primary is a separate disk filled with stamped blocks; four writer
#   processes (logwrites-check.py write) write stamped blocks with O_DIRECT
#   at random offsets (1-8 blocks, some straddling regions, fsyncs now and
#   then) through the mirror while it copies (64 KiB regions, 16 MiB,
#   rate-limited to a few seconds) and for a second after it is ready.
#   Each stamp carries the block's version and all its earlier versions,
#   so the final primary holds every block's history.
# - Then the mirror and the log-writes device are removed (the log is
#   complete), and logwrites-check.py replays the log onto an image.  At
#   every write to the slot area (a commit point) it decodes both slots as
#   the kernel does and checks every region committed copied and not dirty:
#   each block must hold the version the primary held then (the final
#   version, minus the number of times the block is written to the
#   secondary later in the log: every later write to such a region reaches
#   the secondary), and no write to the secondary may hit a region while
#   the durable copy state calls it clean (a dirty commit must come first;
#   this also catches copy data flushed only after the commit that declares
#   it copied, which "skip blocks written later" alone would hide).
#   Encrypted: the data is ciphertext, so the checker checks that ordering
#   (data and metadata entries) and that every clean block's metadata entry
#   was written after its data, at every commit point; the versions are
#   checked at a few sampled commit points, whose replayed secondary is
#   opened with the ccm target (the kernel decrypts and authenticates).
# - The replay must reproduce the device byte for byte, the last commit
#   must say all copied and none dirty, and the secondary must end equal.
# - Self-test of the checker: a byte flipped in a committed-clean block of
#   the replay (plain) or of a sampled image (encrypted), a dropped dirty
#   commit, and (plain) a copy write moved after the commit that declares
#   its region copied (a missing flush), must each be reported.
# MODES="plain" (or "encrypted") in `make vm-shell` runs one mode only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

MODES=${MODES:-plain encrypted}
CHK=$(dirname "$0")/logwrites-check.py
MIB=16
R=128				# 64 KiB regions
n=$((MIB * 2048))		# sectors per leg
RATE=4				# copy MiB/s: about 4 s
WRITERS=4
WRATE=60			# writes/s per writer

ktap_print_header
plan=0
for mode in $MODES; do
	case $mode in
	plain) plan=$((plan + 8)) ;;
	encrypted) plan=$((plan + 8)) ;;
	*) ktap_skip_all "unknown mode $mode" ;;
	esac
done
ktap_set_plan $plan
require_cmd python3 dmsetup losetup blockdev
load_module || ktap_skip_all "module not loadable"
dmsetup targets | grep -q '^log-writes' ||
	ktap_skip_all "dm-log-writes not available"

# result FILE NAME DESC-PREFIX: a TAP line from "RESULT NAME pass|fail ..."
result()
{
	local line st desc

	line=$(grep "^RESULT $2 " "$1")
	if [ -z "$line" ]; then
		ktap_test_fail "$3: no result '$2' from the checker"
		return
	fi
	read -r _ _ st desc <<< "$line"
	if [ "$st" = pass ]; then
		ktap_test_pass "$3: $desc"
	else
		ktap_test_fail "$3: $desc"
	fi
}

# fail_rest N DESC: the rest of a mode's plan, after a setup failure
fail_rest()
{
	local _

	for _ in $(seq "$1"); do
		ktap_test_fail "$2: not run (setup failed)"
	done
}

run_mode()
{
	local mode=$1 sn=$n msz=2048 persist D L P V t0 wpid wrc lwst out
	local chk_args rc s img nsamp=0 nblk=0 bad=0 K REF seed

	t0=$(date +%s)
	P=$(make_disk $MIB 4096)
	D=$(make_disk $((MIB + 1)) 4096)
	L=$(make_disk 512)
	dm_create t-lw "0 $(blockdev --getsz "$D") log-writes $D $L"
	if [ "$mode" = encrypted ]; then
		sn=$((n + 2048))
		K=$SCRATCH/key
		ccm_keyfile "$K" 32
		REF=$(ccm_key_add "$K")
		dm_create t-s "0 $sn linear /dev/mapper/t-lw 0"
		ccm_format /dev/mapper/t-s "$K" --no-wipe \
			--region-size $((R * 512)) --data-size $((n * 512))
		persist="key $REF"
		chk_args="--sec 0:$sn --samples 3 --sample-dir $SCRATCH/samples"
		mkdir -p "$SCRATCH/samples"
	else
		dm_create t-s "0 $sn linear /dev/mapper/t-lw 0"
		dm_create t-md "0 $msz linear /dev/mapper/t-lw $n"
		persist="metadata /dev/mapper/t-md"
		chk_args="--sec 0:$sn --md $n:$msz"
	fi
	chk_args="check --log $L --primary $P --mode $mode --region $R $chk_args"
	python3 "$CHK" fill "$P"

	# shellcheck disable=SC2086
	set -- rate $RATE start_paused $persist id 42
	dm_create t-m "0 $n ccm-mirror $P /dev/mapper/t-s $R $# $*"
	: > "$SCRATCH/writers"
	seed=$RANDOM
	log "$mode: writers' seed $seed"
	python3 "$CHK" write /dev/mapper/t-m --writers $WRITERS \
		--rate $WRATE --seed $seed --stats "$SCRATCH/writers" &
	wpid=$!
	sleep 0.5
	dmsetup message t-m 0 resume
	wait_ready t-m 120
	rc=$?
	log "$mode: ready after $(($(date +%s) - t0)) s: $(dmsetup status t-m)"
	sleep 1
	kill -TERM "$wpid"
	wait "$wpid"
	wrc=$?
	log "$(cat "$SCRATCH/writers")"
	dm_remove t-m || rc=1
	lwst=$(dmsetup status t-lw)
	[ "$mode" = plain ] && { dm_remove t-md || rc=1; }
	dm_remove t-s || rc=1
	dm_remove t-lw || rc=1
	log "log-writes status at the end: $lwst"
	if [ $rc != 0 ] || [ $wrc != 0 ] || [[ $lwst == *logging_disabled* ]]
	then
		log "mirror rc $rc, writers rc $wrc"
		ktap_test_fail "$mode: mirror copied to ready under $WRITERS writers, log complete"
		if [ "$mode" = plain ]; then
			fail_rest 7 "$mode"
		else
			fail_rest 7 "$mode"
		fi
		return
	fi
	ktap_test_pass "$mode: mirror copied to ready under $WRITERS writers, log complete ($(awk '{print $4}' <<< "$lwst") entries, $(($(date +%s) - t0)) s)"

	out=$SCRATCH/check.out
	# shellcheck disable=SC2086
	python3 "$CHK" $chk_args --dev "$D" > "$out" 2>&1
	log "$(grep -v '^RESULT \|^SAMPLE ' "$out")"
	result "$out" replay "$mode"
	result "$out" marks "$mode: every commit point"
	result "$out" committed "$mode"
	if [ "$mode" = plain ]; then
		result "$out" final "$mode"
	else
		dm_create t-c "0 $n ccm $D $REF"
		ktap_check "$mode: the secondary opened with the ccm target equals the primary" \
			devs_equal /dev/mapper/t-c "$P"
		dm_remove t-c

		V=$(make_disk $((sn / 2048)) 4096)
		for img in $(sed -n 's/^SAMPLE //p' "$out"); do
			dd if="$img.img" of="$V" bs=1M oflag=direct status=none
			dm_create t-v "0 $n ccm $V $REF"
			python3 "$CHK" verify /dev/mapper/t-v "$img.json" \
				> "$SCRATCH/verify.out" 2>&1 || bad=$((bad + 1))
			dm_remove t-v
			log "$(cat "$SCRATCH/verify.out")"
			nsamp=$((nsamp + 1))
			s=$(sed -n 's/.*: \([0-9]*\) blocks of committed.*/\1/p' "$SCRATCH/verify.out")
			nblk=$((nblk + ${s:-0}))
		done
		if [ $nsamp -gt 0 ] && [ $bad = 0 ]; then
			ktap_test_pass "$mode: $nsamp sampled commit points: $nblk committed-clean blocks decrypt to the expected versions"
		else
			ktap_test_fail "$mode: $nsamp sampled commit points, $bad wrong"
		fi
	fi

	# The checker can fail: a corrupted committed-clean block ...
	if [ "$mode" = plain ]; then
		# shellcheck disable=SC2086
		python3 "$CHK" $chk_args --inject corrupt > "$out" 2>&1
		rc=$?
		log "$(grep -E '^# (inj|VIOL)' "$out" | head -n 3)"
		ktap_check "$mode: self-test: a corrupted block of a committed-clean region is reported" \
			test $rc = 1 -a "$(grep -c '^# VIOLATION content' "$out")" -ge 1
	else
		img=$(sed -n 's/^SAMPLE //p' "$SCRATCH/check.out" | head -n 1)
		rc=0
		if [ -n "$img" ]; then
			python3 "$CHK" flip "$img.img" "$img.json"
			dd if="$img.img" of="$V" bs=1M oflag=direct status=none
			dm_create t-v "0 $n ccm $V $REF"
			python3 "$CHK" verify /dev/mapper/t-v "$img.json" \
				> "$SCRATCH/verify.out" 2>&1
			rc=$?
			dm_remove t-v
			log "$(head -n 2 "$SCRATCH/verify.out")"
		fi
		ktap_check "$mode: self-test: a corrupted block of a sampled commit point is reported" \
			test $rc = 1
	fi
	# ... and a missing dirty commit.
	# shellcheck disable=SC2086
	python3 "$CHK" $chk_args --samples 0 --inject drop-dirty > "$out" 2>&1
	rc=$?
	log "$(grep '^# VIOL' "$out" | head -n 2)"
	ktap_check "$mode: self-test: a write after a dropped dirty commit is reported" \
		test $rc = 1 -a "$(grep -c '^# VIOLATION order.*injected' "$out")" -ge 1
	# ... and (plain) a commit that did not flush the copy before it.
	if [ "$mode" = plain ]; then
		# shellcheck disable=SC2086
		python3 "$CHK" $chk_args --inject late-copy > "$out" 2>&1
		rc=$?
		log "$(grep -E '^# (inj|VIOL)' "$out" | head -n 3)"
		ktap_check "$mode: self-test: a write logged after the commit that declares its region copied is reported" \
			test $rc = 1 -a "$(grep -c '^# VIOLATION order.*injected' "$out")" -ge 1
	fi
	rm -rf "$SCRATCH/samples"
	log "$mode: $(($(date +%s) - t0)) s"
}

for mode in $MODES; do
	run_mode "$mode"
done
ktap_finished
