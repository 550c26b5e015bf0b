#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=300
#
# ccm target constructor errors, each refused with its own message in the
# kernel log: keys (wrong, missing, wrong sizes, malformed references,
# unknown type), superblocks (not ccm, version, flags, layout, device too
# small), lengths, optional arguments, logical block size.  Read-only
# tables and read-only devices refuse writes and keep the data.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ccm_setup
ktap_set_plan 33

dev=/dev/mapper/t-ccm
key=$SCRATCH/key
key16=$SCRATCH/key16
wrong=$SCRATCH/wrong
ccm_keyfile "$key"
ccm_keyfile "$key16" 16
ccm_keyfile "$wrong"

disk=$(make_disk 8)
ccm_must "format" ccm_format "$disk" "$key"
ref=$(ccm_key_add "$key")
ref16=$(ccm_key_add "$key16")
refw=$(ccm_key_add "$wrong")
sectors=$(ccm_sectors "$disk")
t="0 $sectors ccm $disk"

# Keys
ccm_expect_load_error "wrong key" "ccm: Wrong key for this device" \
	"$t $refw"
ccm_expect_load_error "key not in the keyring" \
	"ccm: Key not found in the kernel keyring" \
	"$t :32:logon:ccm-test:no-such-key"
ccm_expect_load_error "reference size differs from the device's key" \
	"ccm: Key size in key reference does not match the device" \
	"$t $ref16"
ccm_expect_load_error "keyring key size differs from the reference" \
	"ccm: Key in the keyring has the wrong size" \
	"$t :32:${ref16#:16:}"
ccm_expect_load_error "reference without a size" \
	"ccm: Invalid key reference" "$t logon:${ref#:32:logon:}"
ccm_expect_load_error "reference with a bad size" \
	"ccm: Invalid key reference" "$t :3x:logon:abc"
ccm_expect_load_error "reference without a description" \
	"ccm: Invalid key reference" "$t :32:logon:"
ccm_expect_load_error "unknown key type" "ccm: Unknown key type" \
	"$t :32:trusted:abc"
ccm_expect_load_error "unsupported key size" \
	"ccm: Invalid key size in key reference" "$t :20:logon:abc"
userdesc="ccm-test:$$:user"
keyctl padd user "$userdesc" @u < "$key" >> "$SCRATCH/.ccm-keys"
ktap_check "a user key works too" bash -c "
	dmsetup create t-ccm --table '$t :32:user:$userdesc' &&
	dmsetup remove t-ccm"

# Arguments
ccm_expect_load_error "missing key argument" "ccm: Invalid argument count" \
	"$t"
ccm_expect_load_error "missing device" "ccm: Device lookup failed" \
	"0 $sectors ccm /dev/no-such-disk $ref"
ccm_expect_load_error "unknown optional argument" \
	"ccm: Unknown optional argument" "$t $ref 1 allow_discards"
ccm_expect_load_error "too many optional arguments" \
	"ccm: Invalid number of optional arguments" \
	"$t $ref 2 commit_time:1 commit_time:2"
ccm_expect_load_error "optional argument count without arguments" \
	"ccm: (Insufficient|Invalid)" "$t $ref 1"
ccm_expect_load_error "commit_time out of range" \
	"ccm: Invalid commit_time" "$t $ref 1 commit_time:9999999"
ccm_expect_load_error "length beyond the capacity" \
	"ccm: Target length exceeds the device's data capacity" \
	"0 $((sectors + 8)) ccm $disk $ref"
ccm_expect_load_error "length not a multiple of the block size" \
	"ccm: Target length is not a multiple of the data block size" \
	"0 $((sectors - 1)) ccm $disk $ref"
ktap_check "a shorter length is fine" bash -c "
	dmsetup create t-ccm --table '0 $((sectors - 8)) ccm $disk $ref' &&
	dmsetup remove t-ccm"

# Superblocks
blank=$(make_disk 8)
ccm_expect_load_error "not a ccm device" "ccm: Not a ccm device" \
	"0 8 ccm $blank $ref"
ccm_py set "$disk" version 2
ccm_expect_load_error "unsupported version" \
	"ccm: Unsupported ccm format version" "$t $ref"
ccm_py set "$disk" version 1
flags=$(ccm_py get "$disk" flags)
ccm_py set "$disk" flags 0x80
ccm_expect_load_error "unknown flags" "ccm: Unknown superblock flags" \
	"$t $ref"
ccm_py set "$disk" flags "$flags"
off=$(ccm_py get "$disk" data_offset)
ccm_py set "$disk" data_offset $((off + 8))
ccm_expect_load_error "layout not the computed one" \
	"ccm: Superblock layout does not match its geometry" "$t $ref"
ccm_py set "$disk" data_offset "$off"
dd if="$disk" of="$blank" bs=4096 count=1 status=none
truncate -s 4M "$(losetup -nO BACK-FILE "$blank")"
losetup -c "$blank"
ccm_expect_load_error "device smaller than its data area" \
	"ccm: Device is smaller than the formatted data area" \
	"0 8 ccm $blank $ref"

# A 512-byte block device behind a 4096-byte logical block size.
disk5=$(make_disk 8)
ccm_format "$disk5" "$key" --block-size 512
file5=$(losetup -nO BACK-FILE "$disk5")
losetup -d "$disk5"
grep -vxF "$disk5" "$_LIB_LOOP_REG" > "$_LIB_LOOP_REG.new"
mv "$_LIB_LOOP_REG.new" "$_LIB_LOOP_REG"
disk4k=$(losetup --find --show --sector-size 4096 "$file5")
echo "$disk4k" >> "$_LIB_LOOP_REG"
ccm_expect_load_error "device logical block size above the data block size" \
	"ccm: Device logical block size is larger than the data block size" \
	"0 $(ccm_sectors "$disk4k") ccm $disk4k $ref"

# Read-only table: reads work, writes fail, data unchanged.
ccm_must "create a read-only mapping" \
	dmsetup create t-ccm --readonly --table "$t $ref"
echo t-ccm >> "$_LIB_DM_REG"
ktap_check "a read-only table says ro" test "$(dm_field t-ccm 7)" = ro
ktap_check "a read-only table reads" \
	dd if=$dev of="$SCRATCH/before" bs=64k count=4 iflag=direct status=none
if head -c 4096 /dev/urandom | dd of=$dev bs=4096 oflag=direct status=none \
	2> /dev/null; then
	ktap_test_fail "a read-only table refuses writes"
else
	ktap_test_pass "a read-only table refuses writes"
fi
dm_remove t-ccm

# Read-write table over a read-only device.
file=$(losetup -nO BACK-FILE "$disk")
rodisk=$(losetup --find --show --read-only "$file")
echo "$rodisk" >> "$_LIB_LOOP_REG"
ccm_kmsg_mark
if dmsetup create t-ccm --table "0 $sectors ccm $rodisk $ref" 2> /dev/null
then
	echo t-ccm >> "$_LIB_DM_REG"
	ktap_check "a read-only device shows ro" \
		test "$(dm_field t-ccm 7)" = ro
	if head -c 4096 /dev/urandom |
		dd of=$dev bs=4096 oflag=direct status=none 2> /dev/null; then
		ktap_test_fail "a read-only device refuses writes"
	else
		ktap_test_pass "a read-only device refuses writes"
	fi
	dm_remove t-ccm
else
	log "$(ccm_kmsg_since | tail -n 3)"
	ktap_test_pass "a read-only device shows ro (table refused)"
	ktap_test_pass "a read-only device refuses writes (table refused)"
fi
ktap_check "data unchanged after the refused writes" bash -c "
	dmsetup create t-ccm --readonly --table '$t $ref' &&
	dd if=$dev bs=64k count=4 iflag=direct status=none |
		cmp - '$SCRATCH/before'; r=\$?; dmsetup remove t-ccm; exit \$r"
ktap_finished
