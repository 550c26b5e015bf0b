#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=300
#
# ccm target, basic life cycle: data written through the mapping reads
# back (buffered and O_DIRECT), survives remove + re-create, decrypts
# offline with the CLI; status fields, table line, logical block size;
# the key never shows in the table, status or kernel log.  4096- and
# 512-byte data blocks.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ccm_setup
ktap_set_plan 24

dev=/dev/mapper/t-ccm
data=$SCRATCH/data
out=$SCRATCH/out
key=$SCRATCH/key
ccm_keyfile "$key"
keyhex=$(od -An -tx1 "$key" | tr -d ' \n')

disk=$(make_disk 32)
ccm_must "format 4096-byte blocks" ccm_format "$disk" "$key"
ref=$(ccm_key_add "$key")
table=$(ccm_table "$disk" "$ref")
ccm_must "create the mapping" dm_create t-ccm "$table"

blocks=$(ccm_py get "$disk" data_blocks)
st=$(dmsetup status t-ccm | cut -d' ' -f4-)
if [ "$st" = "4096 $blocks 0 0 0 - rw" ]; then
	ktap_test_pass "status: 4096 $blocks 0 0 0 - rw"
else
	log "status: $st"
	ktap_test_fail "status: 4096 $blocks 0 0 0 - rw"
fi
ktap_check "size is the data capacity" \
	test "$(blockdev --getsz $dev)" -eq "$((blocks * 8))"
ktap_check "logical block size is 4096" \
	test "$(blockdev --getss $dev)" -eq 4096

ktap_check "a formatted device reads as zeros" \
	cmp -n 1048576 $dev /dev/zero

head -c 8M /dev/urandom > "$data"
ktap_check "write 8 MiB (O_DIRECT, 64 KiB)" \
	dd if="$data" of=$dev bs=64k oflag=direct conv=fsync status=none
ktap_check "read back (O_DIRECT)" \
	ccm_cmp $dev "$data" direct

# Single blocks at odd places, including both sides of a metadata block
# boundary (128 blocks) and one bio spanning it.
for b in 3 127 128 1000; do
	head -c 4096 /dev/urandom | tee "$SCRATCH/blk" |
		dd of=$dev bs=4096 seek=$b oflag=direct status=none
	dd if="$SCRATCH/blk" of="$data" bs=4096 seek=$b conv=notrunc status=none
done
head -c 65536 /dev/urandom > "$SCRATCH/blk"
dd if="$SCRATCH/blk" of=$dev bs=4096 seek=250 oflag=direct status=none
dd if="$SCRATCH/blk" of="$data" bs=4096 seek=250 conv=notrunc status=none
blockdev --flushbufs $dev
ktap_check "block writes across metadata boundaries read back" \
	ccm_cmp $dev "$data"
if dd if=/dev/zero of=$dev bs=512 count=1 seek=1 oflag=direct \
	status=none 2> /dev/null; then
	ktap_test_fail "a 512-byte O_DIRECT write is refused"
else
	ktap_test_pass "a 512-byte O_DIRECT write is refused"
fi

ktap_check "remove the mapping" dm_remove t-ccm
ccm_must "re-create the mapping" dm_create t-ccm "$table"
ktap_check "data survives remove + re-create" \
	ccm_cmp $dev "$data"

majmin=$(printf '%d:%d' "0x$(stat -c %t "$disk")" "0x$(stat -c %T "$disk")")
tline=$(dmsetup table t-ccm)
if [ "$tline" = "0 $((blocks * 8)) ccm $majmin $ref" ]; then
	ktap_test_pass "table shows the device and the key reference"
else
	log "table: $tline"
	ktap_test_fail "table shows the device and the key reference"
fi
leak=0
for src in "dmsetup table --showkeys" "dmsetup status" "dmsetup info"; do
	if $src | tr -d ' \n' | grep -qi "$keyhex"; then
		log "the key shows in: $src"
		leak=1
	fi
done
ktap_check "the key never shows in the table or status" test $leak = 0
ktap_check "table with commit_time reloads as given" bash -c "
	dmsetup reload t-ccm --table '$table 1 commit_time:250' &&
	dmsetup resume t-ccm &&
	dmsetup table t-ccm | grep -q ' 1 commit_time:250\$'"

ktap_check "remove before offline checks" dm_remove t-ccm
blockdev --flushbufs "$disk"
ktap_check "CLI verify: every block authentic" \
	"$CCM_TOOL" verify --key-file "$key" "$disk"
ktap_check "CLI decrypt equals what was written" bash -c "
	'$CCM_TOOL' decrypt --key-file '$key' --size 8388608 '$disk' '$out' &&
	cmp '$out' '$data'"

# 512-byte data blocks on a 512-byte sector device.
disk2=$(make_disk 16)
ktap_check "format 512-byte blocks" \
	ccm_format "$disk2" "$key" --block-size 512
ccm_must "create the 512-byte mapping" \
	dm_create t-ccm5 "$(ccm_table "$disk2" "$ref")"
ktap_check "512-byte blocks: status and logical block size" bash -c "
	test \"\$(dmsetup status t-ccm5 | cut -d' ' -f4)\" = 512 &&
	test \"\$(blockdev --getss /dev/mapper/t-ccm5)\" = 512"
head -c 4M /dev/urandom > "$data"
dd if="$data" of=/dev/mapper/t-ccm5 bs=4k oflag=direct status=none
dd if="$SCRATCH/blk" of=/dev/mapper/t-ccm5 bs=512 seek=77 count=3 \
	oflag=direct status=none
dd if="$SCRATCH/blk" of="$data" bs=512 seek=77 count=3 conv=notrunc \
	status=none
ktap_check "512-byte blocks: data reads back" \
	ccm_cmp /dev/mapper/t-ccm5 "$data" direct
dm_remove t-ccm5

if dmesg | tr -d ' \n' | grep -qi "$keyhex"; then
	ktap_test_fail "the key never shows in the kernel log"
else
	ktap_test_pass "the key never shows in the kernel log"
fi
ktap_finished
