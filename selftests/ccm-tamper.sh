#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=300
#
# ccm target against a modified device: a flipped bit in a block's data,
# tag or nonce, two swapped blocks, a block copied from another ccm
# device with the same key.  Exactly those blocks fail (EILSEQ with
# O_DIRECT, EIO through the page cache), every other block still reads
# what was written; status counts the failures; the kernel log names the
# blocks; rewriting a bad block makes it good again.  A device formatted
# with --no-wipe reads as errors until written.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ccm_setup
ktap_set_plan 20

dev=/dev/mapper/t-ccm
data=$SCRATCH/data
key=$SCRATCH/key
ccm_keyfile "$key"

disk=$(make_disk 8)
disk2=$(make_disk 8)
ccm_must "format a device" ccm_format "$disk" "$key"
ccm_must "format another device with the same key" \
	ccm_format "$disk2" "$key"
ref=$(ccm_key_add "$key")
table=$(ccm_table "$disk" "$ref")
table2=$(ccm_table "$disk2" "$ref")

# 64 blocks of data on each device.
head -c 256k /dev/urandom > "$data"
ccm_must "write both devices" bash -c "
	dmsetup create t-ccm --table '$table' &&
	dmsetup create t-ccm2 --table '$table2' &&
	dd if='$data' of=$dev bs=64k oflag=direct status=none &&
	head -c 256k /dev/urandom |
		dd of=/dev/mapper/t-ccm2 bs=64k oflag=direct status=none &&
	dmsetup remove t-ccm && dmsetup remove t-ccm2"

ccm_py flip "$disk" data 5
ccm_py flip "$disk" tag 9
ccm_py flip "$disk" nonce 13
ccm_py swap "$disk" 20 21
ccm_py copy "$disk2" "$disk" 30

ccm_must "create the mapping on the modified device" dm_create t-ccm "$table"
ccm_kmsg_mark
bad=$(ccm_py badblocks $dev 4096 | tr ' ' '\n' | sed -n '1,40p' | tr '\n' ' ')
expect="5:EILSEQ 9:EILSEQ 13:EILSEQ 20:EILSEQ 21:EILSEQ 30:EILSEQ "
if [ "$bad" = "$expect" ]; then
	ktap_test_pass "exactly the modified blocks fail with EILSEQ"
else
	log "failing blocks: $bad"
	log "expected:       $expect"
	ktap_test_fail "exactly the modified blocks fail with EILSEQ"
fi

ok=1
for range in 0:5 6:3 10:3 14:6 22:8 31:33; do
	first=${range%:*}
	count=${range#*:}
	dd if=$dev bs=4096 skip="$first" count="$count" iflag=direct \
		status=none > "$SCRATCH/got"
	if ! dd if="$data" bs=4096 skip="$first" count="$count" status=none |
		cmp -s - "$SCRATCH/got"; then
		log "blocks $range differ"
		ok=0
	fi
done
ktap_check "every other block reads what was written" test $ok = 1

st=$(dmsetup status t-ccm | cut -d' ' -f6-)
if [ "$(dm_field t-ccm 3)" = 6 ] && [ "$(dm_field t-ccm 4)" = 0 ]; then
	ktap_test_pass "status counts 6 auth failures, no read errors ($st)"
else
	log "status: $(dmsetup status t-ccm)"
	ktap_test_fail "status counts 6 auth failures, no read errors"
fi
ktap_check "status shows the last failed block" \
	grep -qE '^(5|9|13|20|21|30)$' <<< "$(dm_field t-ccm 6)"

ok=1
for b in 5 9 13 20 21 30; do
	ccm_kmsg_since | grep -q "block $b failed authentication" || ok=0
done
ktap_check "the kernel log names every failed block" test $ok = 1

if dd if=$dev of=/dev/null bs=4096 skip=9 count=1 status=none 2> /dev/null
then
	ktap_test_fail "a buffered read of a bad block fails"
else
	ktap_test_pass "a buffered read of a bad block fails"
fi
ktap_check "a buffered read around the bad blocks succeeds" \
	dd if=$dev of=/dev/null bs=4096 skip=31 count=33 status=none

head -c 4096 /dev/urandom > "$SCRATCH/blk"
ktap_check "rewriting a bad block" \
	dd if="$SCRATCH/blk" of=$dev bs=4096 seek=5 oflag=direct status=none
ktap_check "the rewritten block reads back" bash -c "
	dd if=$dev bs=4096 skip=5 count=1 iflag=direct status=none |
		cmp - '$SCRATCH/blk'"
ktap_check "removing the mapping" dm_remove t-ccm

# The superblock is covered by its CRC; a wrong magic is not a ccm device.
ccm_py flip "$disk" sb 300
ccm_expect_load_error "a flipped superblock bit is refused" \
	"ccm: Superblock checksum mismatch" "$table"
ccm_py flip "$disk" sb 300
ccm_py flip "$disk" sb 0
ccm_expect_load_error "a damaged magic is not a ccm device" \
	"ccm: Not a ccm device" "$table"
ccm_py flip "$disk" sb 0

# Never-written blocks of a --no-wipe format.
disk3=$(make_disk 8)
ccm_format "$disk3" "$key" --no-wipe
ccm_must "create a mapping on a --no-wipe device" \
	dm_create t-ccm3 "$(ccm_table "$disk3" "$ref")"
ccm_kmsg_mark
if dd if=/dev/mapper/t-ccm3 of=/dev/null bs=4096 count=1 iflag=direct \
	status=none 2> /dev/null; then
	ktap_test_fail "a never-written block reads as an error"
else
	ktap_test_pass "a never-written block reads as an error"
fi
ktap_check "the kernel log says it was never written" \
	grep -q "block 0 has never been written" <<< "$(ccm_kmsg_since)"
ktap_check "once written it reads back" bash -c "
	dd if='$SCRATCH/blk' of=/dev/mapper/t-ccm3 bs=4096 oflag=direct \
		status=none &&
	dd if=/dev/mapper/t-ccm3 bs=4096 count=1 iflag=direct status=none |
		cmp - '$SCRATCH/blk'"
ktap_finished
