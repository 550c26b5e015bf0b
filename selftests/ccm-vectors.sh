#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=300
#
# ccm target against the fixed vectors of tools/tests/ccm-vectors.expected
# (AES-128/192/256, 4096- and 512-byte blocks): blocks stored with the
# vectors' key, uuid, nonce, ciphertext and tag read back as the vectors'
# plaintext through the kernel; blocks the kernel writes decrypt with an
# independent AES-CCM (python3-cryptography) using the nonce and tag the
# kernel stored.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ccm_setup
vectors=$SRCDIR/tools/tests/ccm-vectors.expected
[ -r "$vectors" ] || ktap_skip_all "$vectors not found"
ktap_set_plan 18

dev=/dev/mapper/t-ccm
ccm_py pattern inc-4096 > "$SCRATCH/inc-4096"
ccm_py pattern zero-4096 > "$SCRATCH/zero-4096"
ccm_py pattern inc-512 > "$SCRATCH/inc-512"

# read_block BLK BS FILE: block BLK of the mapping equals FILE (run in
# bash -c below)
# shellcheck disable=SC2317
read_block()
{
	dd if=$dev bs="$2" skip="$1" count=1 iflag=direct status=none |
		cmp - "$3"
}

for klen in 16 24 32; do
	key=$SCRATCH/key$klen
	python3 -c "import sys; sys.stdout.buffer.write(bytes(range($klen)))" \
		> "$key"
	disk=$(make_disk 64)
	ccm_format "$disk" "$key" --no-wipe
	stored=$(ccm_py vectors "$disk" "$key" "$vectors")
	ktap_check "AES-$((klen * 8)), 4096: vectors stored ($stored)" \
		test "$stored" = "0:zero-4096 1:inc-4096 12345:inc-4096"
	ref=$(ccm_key_add "$key")
	ccm_must "AES-$((klen * 8)), 4096: mapping with the vectors' uuid" \
		dm_create t-ccm "$(ccm_table "$disk" "$ref")"
	ktap_check "AES-$((klen * 8)), 4096: kernel decrypts the vectors" \
		bash -c "$(declare -f read_block); dev=$dev
		read_block 0 4096 '$SCRATCH/zero-4096' &&
		read_block 1 4096 '$SCRATCH/inc-4096' &&
		read_block 12345 4096 '$SCRATCH/inc-4096'"
	dd if="$SCRATCH/inc-4096" of=$dev bs=4096 seek=7 oflag=direct \
		status=none
	dm_remove t-ccm
	ktap_check "AES-$((klen * 8)), 4096: python decrypts what the kernel wrote" \
		bash -c "python3 '$CCM_PY' decrypt-block '$disk' '$key' 7 |
			cmp - '$SCRATCH/inc-4096'"
done

# 512-byte blocks: vector block 0 inc-512 with each key size.
for klen in 16 32; do
	key=$SCRATCH/key$klen
	disk=$(make_disk 8)
	ccm_format "$disk" "$key" --no-wipe --block-size 512
	stored=$(ccm_py vectors "$disk" "$key" "$vectors")
	ref=$(ccm_key_add "$key")
	ccm_must "AES-$((klen * 8)), 512: mapping ($stored)" \
		dm_create t-ccm "$(ccm_table "$disk" "$ref")"
	ktap_check "AES-$((klen * 8)), 512: kernel decrypts the vector" \
		bash -c "$(declare -f read_block); dev=$dev
		read_block 0 512 '$SCRATCH/inc-512'"
	dd if="$SCRATCH/inc-512" of=$dev bs=512 seek=9 oflag=direct \
		status=none
	dm_remove t-ccm
	ktap_check "AES-$((klen * 8)), 512: python decrypts what the kernel wrote" \
		bash -c "python3 '$CCM_PY' decrypt-block '$disk' '$key' 9 |
			cmp - '$SCRATCH/inc-512'"
done
ktap_finished
