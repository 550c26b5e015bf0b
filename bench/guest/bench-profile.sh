#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=900
#
# Where the CPU goes in the steps that miss a target: perf record (the
# cpu-clock software event: TCG has no PMU) of the whole guest during each
# step, then perf report's top symbols (with their module) into
# profile-<step>.txt in the results; bench/profile.py sums them up by kind
# (crypto, memory copy and zeroing, page allocation, block layer,
# scheduling and wakeups, dm-ccm-mirror itself, idle...).  Not a
# measurement of speed: perf's sampling slows the guest down.
# Steps: plain copies (dd, two dd on the two halves at once, ccm-mirror
# with parallel 4 and 1, dm-raid1) of 512 MiB; the encrypted copy (4096-byte blocks); 4 KiB random writes at
# QD 32 on ccm-mirror plain ready, dm-raid1, ccm-mirror encrypted ready,
# the ccm target and dm-crypt AEAD; 4 KiB random reads on dm-linear and
# ccm-mirror ready; AF_ALG ccm(aes) and gcm(aes) on 4096-byte requests.
# BENCH_PROFILE_SECONDS (5): length of the fio and AF_ALG steps.
. "$(dirname "$0")/bench-lib.sh"

ktap_print_header
require_cmd perf fio jq dmsetup keyctl blockdev
load_module || ktap_skip_all "module not loadable"
modprobe -a dm_crypt dm_integrity dm_mirror algif_aead ccm gcm 2> /dev/null
T=${BENCH_PROFILE_SECONDS:-5}
MIB=512
SZ=$((MIB * 2048))
FMIB=128
FSZ=$((FMIB * 2048))
ktap_set_plan 5

# prof NAME SHELL-COMMAND: profile the whole guest while the command runs.
prof()
{
	local name=$1 data=$SCRATCH/perf-$1.data out=$BENCH_OUT/profile-$1.txt

	shift
	if ! perf record -o "$data" -e cpu-clock -F 1000 -a -g -- bash -c "$1" \
		> "$SCRATCH/perf-$name.log" 2>&1; then
		log "perf record $name failed: $(tail -n 3 "$SCRATCH/perf-$name.log")"
		return 1
	fi
	{
		echo "# step: $name: $*"
		perf report -i "$data" --stdio --no-children --sort dso,sym -g none \
			--percent-limit 0.3 2> /dev/null | grep -v '^#' | grep -v '^$'
		echo "# callers of the top symbols"
		perf report -i "$data" --stdio --no-children --sort sym \
			-g caller,2,callee,function,percent --percent-limit 4 \
			2> /dev/null | grep -v '^#' | grep -v '^$' | head -n 150
	} > "$out"
	rm -f "$data"
	log "$name: $(grep -m 3 '%' "$out" | tr -s ' ' | tr '\n' ';')"
}

# $SCRATCH/copy.sh NAME: resumes a loaded NAME and waits (dm events) until
# it is in sync (ccm-mirror ready, dm-raid1 all regions in sync); prints
# the seconds.
cat > "$SCRATCH/copy.sh" <<'EOS'
ev=$(dmsetup info -c --noheadings -o events "$1" | tr -d ' ')
t0=$EPOCHREALTIME
dmsetup resume "$1"
while :; do
	timeout 600 dmsetup wait "$1" "$ev" > /dev/null 2>&1
	ev=$(dmsetup info -c --noheadings -o events "$1" | tr -d ' ')
	st=$(dmsetup status "$1")
	case $st in *" ready "*) break ;; esac
	x=$(awk '$3 == "mirror" { print $7 }' <<< "$st")
	[ -n "$x" ] && [ "${x%/*}" = "${x#*/}" ] && break
done
awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }'
EOS

bench_disk nb-cp "$MIB" 4096 && bench_disk nb-cs "$MIB" 4096 ||
	ktap_skip_all "no null_blk disks"
P=/dev/nb-cp S=/dev/nb-cs
bench_fill $P && bench_fill $S
ok=0
# timed SHELL-COMMAND: the command, then its seconds into $SCRATCH/copy-s.
timed()
{
	echo "t0=\$EPOCHREALTIME; $1; awk -v a=\$t0 -v b=\$EPOCHREALTIME 'BEGIN { print b - a }' > $SCRATCH/copy-s"
}
prof copy-dd "$(timed "dd if=$P of=$S bs=1M iflag=direct oflag=direct status=none")" || ok=1
log "dd: $MIB MiB in $(cat "$SCRATCH/copy-s") s (under perf)"
# Two dd, one per half: what two CPUs copy.
H=$((MIB / 2))
prof copy-dd2 "$(timed "dd if=$P of=$S bs=1M count=$H iflag=direct oflag=direct status=none &
	dd if=$P of=$S bs=1M count=$H skip=$H seek=$H iflag=direct oflag=direct status=none &
	wait")" || ok=1
log "two dd in parallel: $MIB MiB in $(cat "$SCRATCH/copy-s") s (under perf)"
for t in "mirror-plain|0 $SZ ccm-mirror $P $S 2048|mirror_ready" \
	 "mirror-plain-p1|0 $SZ ccm-mirror $P $S 2048 2 parallel 1|mirror_ready" \
	 "raid1|0 $SZ mirror core 1 1024 2 $P 0 $S 0|raid1_synced"; do
	IFS='|' read -r n table ready <<< "$t"
	bench_create_suspended t-m "$table" &&
		prof "copy-$n" "bash $SCRATCH/copy.sh t-m > $SCRATCH/copy-s" || ok=1
	log "$n: in sync in $(cat "$SCRATCH/copy-s") s (under perf)"
	dm_remove t-m
done
verdict $ok "profiles of the plain copies"

bench_key || ktap_skip_all "cannot add a key"
ok=0
bench_disk nb-ce "$(bench_ccm_disk_mib "$MIB" 4096)" 4096 &&
	bench_ccm_format /dev/nb-ce 4096 "$MIB" &&
	bench_create_suspended t-em "0 $SZ ccm-mirror $P /dev/nb-ce 2048 2 key $BENCH_KEYREF" &&
	prof copy-mirror-enc "dmsetup resume t-em && sleep $T" || ok=1
log "t-em: $(dmsetup status t-em)"
dm_remove t-em
bench_disk_remove nb-ce
bench_disk_remove nb-cs
verdict $ok "profile of the encrypted copy"

# fio steps on FMIB devices, every block written first.
ok=0
bench_disk nb-fp "$FMIB" 4096 && bench_fill /dev/nb-fp || ok=1
FP=/dev/nb-fp
EM=$(bench_ccm_disk_mib "$FMIB" 4096)
bench_disk nb-fr "$FMIB" 4096 && bench_disk nb-fr2 "$FMIB" 4096 &&
	bench_disk nb-fe "$EM" 4096 &&
	bench_disk nb-fc "$EM" 4096 && bench_disk nb-fa $((FMIB + 48)) 4096 || ok=1
dm_create t-lin "0 $FSZ linear $FP 0" || ok=1
dm_create t-mr "0 $FSZ ccm-mirror $FP /dev/nb-fr 2048" &&
	bench_wait_state t-mr mirror_ready 300 > /dev/null || ok=1
dm_create t-r "0 $FSZ mirror core 1 1024 2 $FP 0 /dev/nb-fr2 0" &&
	bench_wait_state t-r raid1_synced 300 > /dev/null || ok=1
bench_ccm_format /dev/nb-fe 4096 "$FMIB" &&
	dm_create t-er "0 $FSZ ccm-mirror $FP /dev/nb-fe 2048 2 key $BENCH_KEYREF" &&
	bench_wait_state t-er mirror_ready 600 > /dev/null || ok=1
bench_ccm_format /dev/nb-fc 4096 "$FMIB" &&
	dm_create t-ccm "0 $FSZ ccm /dev/nb-fc $BENCH_KEYREF" &&
	bench_fill /dev/mapper/t-ccm || ok=1
BENCH_CLEANUP_EXTRA="cryptsetup close t-aead > /dev/null 2>&1"
cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-gcm-random \
	--integrity aead --key-size 256 --sector-size 4096 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 --integrity-no-wipe \
	--key-file "$BENCH_KEYFILE" /dev/nb-fa > /dev/null 2>&1 &&
	cryptsetup open --key-file "$BENCH_KEYFILE" /dev/nb-fa t-aead &&
	bench_fill /dev/mapper/t-aead || ok=1
verdict $ok "setup of the fio steps"

ok=0
for t in "randwrite|mirror-plain-ready|t-mr" "randwrite|raid1|t-r" \
	 "randwrite|mirror-enc-ready|t-er" "randwrite|ccm|t-ccm" \
	 "randwrite|crypt-aead|t-aead" "randread|linear|t-lin" \
	 "randread|mirror-plain-ready|t-mr" "randread|ccm|t-ccm" \
	 "randread|crypt-aead|t-aead"; do
	IFS='|' read -r rw n dev <<< "$t"
	prof "$rw-$n" "fio --name=p --filename=/dev/mapper/$dev --direct=1 \
		--ioengine=libaio --iodepth=32 --rw=$rw --bs=4k --time_based \
		--runtime=$T --norandommap --randrepeat=0 --output-format=json \
		--output=$SCRATCH/p.json > /dev/null" || ok=1
	log "$rw $n: MB/s [read, write] under perf: $(jq -c '.jobs[0] |
		[.read.bw_bytes, .write.bw_bytes] | map(. / 1e6 | round)' "$SCRATCH/p.json")"
done
B=$BENCH_AFALG
prof afalg-ccm-4096 "$B -t $T -b 4096" || ok=1
prof afalg-gcm-4096 "$B -t $T -b 4096 -a 'gcm(aes)'" || ok=1
bench_note_crypto
verdict $ok "profiles of the fio and AF_ALG steps"

# The in-kernel speed of the AEADs, without AF_ALG's copies and syscalls:
# tcrypt's speed tests (mode 212: rfc4309(ccm(aes)), the ccm(aes) template
# with an 8-byte explicit nonce; mode 211: gcm(aes)); tcrypt reports in
# the kernel log and then refuses to load, by design.
ok=0
for mode in 212 211; do
	dmesg -c > /dev/null
	modprobe tcrypt mode=$mode sec=1 2> /dev/null
	dmesg | grep -E 'testing speed|bit key, (512|4096|8192) byte' \
		> "$BENCH_OUT/tcrypt-$mode.txt"
	[ -s "$BENCH_OUT/tcrypt-$mode.txt" ] || ok=1
	log "tcrypt mode $mode: $(grep -c . "$BENCH_OUT/tcrypt-$mode.txt") lines"
done
verdict $ok "tcrypt speed of ccm(aes) and gcm(aes)"
cryptsetup close t-aead 2> /dev/null
ktap_finished
