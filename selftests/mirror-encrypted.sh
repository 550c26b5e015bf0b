#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror encrypted mode: the secondary is a ccm formatted device.  An
# idle copy and a copy under a verifying fio load; at ready the secondary
# opened alone with the `ccm` target equals the primary, and the CLI
# verifies it offline; the key never shows; a restart resumes from the
# header; a primary read error is served decrypted from the secondary.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ktap_set_plan 18
require_cmd fio keyctl
[ -x "$CCM_TOOL" ] || ktap_skip_all "CLI $CCM_TOOL not built"
load_module || ktap_skip_all "module not loadable"

MIB=48
R=256				# 128 KiB regions
P=$(make_disk $MIB 4096)
S=$(make_disk $((MIB + 2)))
fill_random "$P"
sz=$((MIB * 2048))
K=$SCRATCH/key
ccm_keyfile "$K" 32
ccm_format "$S" "$K" --no-wipe --region-size $((R * 512)) \
	--data-size $((MIB * 1048576))
REF=$(ccm_key_add "$K")
keyhex=$(od -An -tx1 "$K" | tr -d ' \n')

dm_create t-pri "0 $sz linear $P 0"
dm_create t-m "0 $sz ccm-mirror /dev/mapper/t-pri $S $R 4 rate 10 key $REF"
ktap_check "status: encrypted, header persistence" \
	test "$(dm_field t-m 1)/$(dm_field t-m 15)" = "encrypted/header"
fio_verify /dev/mapper/t-m 8 4k/40:12k/20:64k/20:256k/20 &
fio_pid=$!
sleep 3
# Clean restart mid-copy: the header carries the progress over.
wait "$fio_pid"
fio_rc=$?
c1=$(mirror_copied t-m)
dm_remove t-m
dm_create t-m "0 $sz ccm-mirror /dev/mapper/t-pri $S $R 2 key $REF"
carried=$(dm_field t-m 14)
ktap_check "fio verify clean during the encrypted copy" test $fio_rc = 0
ktap_check "restart carries progress over from the header ($carried of $c1)" \
	test "$carried" -gt 0
ktap_check "copy reaches ready" wait_ready t-m 120
log "status: $(dmsetup status t-m)"
ktap_check "the key is not in the table" \
	sh -c "! dmsetup table t-m | grep -qi '$keyhex'"
ktap_check "the table shows the key reference" \
	grep -qF "key $REF" <<< "$(dmsetup table t-m)"
ktap_check "the key is not in the kernel log" \
	sh -c "! dmesg | grep -qi '$keyhex'"

# Read fallback: region 3 of the primary fails, the data comes decrypted.
bad=$((3 * R))
error_region t-pri "$P" "$sz" "$bad" "$R"
dd if=/dev/mapper/t-m of="$SCRATCH/got" bs=4k skip=$((bad / 8)) \
	count=$((R / 8)) iflag=direct status=none
dd if="$P" of="$SCRATCH/want" bs=4k skip=$((bad / 8)) count=$((R / 8)) \
	status=none
ktap_check "primary read error served decrypted from the secondary" \
	cmp "$SCRATCH/want" "$SCRATCH/got"
dm_swap t-pri "0 $sz linear $P 0"
dm_remove t-m

dm_create t-c "0 $sz ccm $S $REF"
ktap_check "the secondary opened with ccm equals the primary" \
	devs_equal /dev/mapper/t-c "$P"
dm_remove t-c
ktap_check "ccm-mirror verify passes offline" \
	"$CCM_TOOL" verify --key-file "$K" "$S"
doff=$("$CCM_TOOL" dump --json "$S" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["data_offset"])')
ndiff=$(cmp -l -n 1048576 -i 0:$((doff * 512)) "$P" "$S" | wc -l)
ktap_check "the secondary's first data MiB is ciphertext ($ndiff of 1048576 bytes differ)" \
	test "$ndiff" -gt 1040000

# Refusals.
U=$(make_disk $((MIB + 2)))
expect_ctr_error "unformatted secondary refused" \
	"0 $sz ccm-mirror $P $U $R 2 key $REF" "Not a ccm device"
P512=$(make_disk $MIB)
expect_ctr_error "4 KiB blocks under a 512 B primary refused" \
	"0 $sz ccm-mirror $P512 $S $R 2 key $REF" \
	"Secondary block size exceeds the primary's logical block size"
K2=$SCRATCH/key2
ccm_keyfile "$K2" 32
REF2=$(ccm_key_add "$K2")
expect_ctr_error "wrong key refused" \
	"0 $sz ccm-mirror $P $S $R 2 key $REF2" "Wrong key"
expect_ctr_error "copy state of another primary refused" \
	"0 $sz ccm-mirror $P $S $R 4 key $REF id 77" \
	"Copy state of another primary (use overwrite)"

# Secondary failure while encrypted: failed, user I/O unaffected, event.
S3=$(make_disk $((MIB + 2)))
ccm_format "$S3" "$K" --no-wipe --region-size $((R * 512)) \
	--data-size $((MIB * 1048576))
s3sz=$(blockdev --getsz "$S3")
dm_create t-sec "0 $s3sz linear $S3 0"
dm_create t-m "0 $sz ccm-mirror $P /dev/mapper/t-sec $R 4 rate 4 key $REF"
sleep 1
ev=$(dm_events t-m)
dm_swap t-sec "0 $s3sz flakey $S3 0 0 1 1 error_writes"
head -c 1048576 /dev/urandom > "$SCRATCH/data"
dd if="$SCRATCH/data" of=/dev/mapper/t-m bs=64k oflag=direct status=none
ktap_check "encrypted: user writes succeed after the secondary fails" \
	cmp -n 1048576 "$SCRATCH/data" /dev/mapper/t-m
ktap_check "encrypted: state failed, secondary health D or F" \
	wait_for_status t-m " failed A[DF] " 20
ktap_check "encrypted: the failure raised an event" wait_for_events t-m "$ev"
ktap_finished
