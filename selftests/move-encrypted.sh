#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move --encrypt: a mounted ext4 under a writer moved onto a
# new disk formatted as ccm (key from standard input), switched to
# "ccm <new> <key reference>": checksums right, fsck clean, the key never
# in a table, a status, the output or the kernel log, the header's copy
# state cleared.  --abort before and after ready: back on the old disk,
# key dropped, copy state cleared, data unchanged.  --dry-run shows the
# tables with the key reference and the block size rule (512-byte blocks
# under a 512-byte device).  (Resuming: move-encrypted-resume.sh.)
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
require_cmd mkfs.ext4 fsck.ext4 md5sum
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

K=$SCRATCH/key
head -c 32 /dev/urandom > "$K"
KHEX=$(od -An -tx1 "$K" | tr -d ' \n')

mv_require_encrypt
ktap_set_plan 27

no_key_in() { ! grep -qi "$KHEX" "$@"; }
moved_clean() { no_hidden t-vol && no_holders "$P"; }

P=$(make_disk 16 4096)
N=$(make_disk 18)		# room for the format: ~1% with 4 KiB blocks
mv_vol t-vol "$P"
mkfs.ext4 -q -F /dev/mapper/t-vol
mv_mount t-vol
writer_start

# ---- --dry-run ----
mv_section "dry run"
expect_err 0 "would format .* for an encrypted copy \(AES-256-CCM, 4096-byte blocks, capacity 16777216 bytes" \
	"--dry-run: would format the new disk, 4 KiB blocks under 4 KiB" \
	"$T" move t-vol "$N" --encrypt --key-file "$K" --dry-run
log "$(cat "$OUT")"
ktap_check "--dry-run: mirror table with the key reference and the id" \
	grep -Eq "^  0 32768 ccm-mirror /dev/mapper/t-vol-ccm-old $(devno "$N") 2048 4 id [0-9a-f]+ key :32:logon:ccm-mirror:<new-uuid>$" "$OUT"
ktap_check "--dry-run: final table ccm with the key reference" \
	grep -Eq "^  0 32768 ccm $(devno "$N") :32:logon:ccm-mirror:<new-uuid>$" "$OUT"
ktap_check "--dry-run: progress kept in the header" \
	grep -q "copy progress would be kept in the header of" "$OUT"
ktap_check "--dry-run: no key bytes printed" no_key_in "$OUT"
expect_err 4 "standard input is the key" \
	"key on standard input without --yes: refused (4)" \
	sh -c "'$T' move t-vol '$N' --encrypt --key-file - < '$K'"

# ---- the move, key from standard input, under load ----
mv_section "the move"
"$T" move t-vol "$N" --encrypt --key-file - --yes --rate 1 --interval 0 \
	< "$K" > "$SCRATCH/m1" 2>&1 &
_MV_BG=$!
wait_for_status t-vol " ccm-mirror encrypted .* copying " 30
ktap_check "during the move: status says encrypted, progress in the header" \
	test "$(dm_field t-vol 1)/$(dm_field t-vol 15)" = encrypted/header
ktap_check "during the move: the table has the key reference, no key" \
	sh -c "dmsetup table t-vol | grep -Eq ' id [0-9a-f]+ key :32:logon:ccm-mirror:[0-9a-f-]{36}$' && ! dmsetup table | grep -qi '$KHEX'"
mv_finish t-vol "$SCRATCH/m1"
rc=$?
ktap_check "encrypted move under load: exit 0" test $rc = 0
u=$(uuid_of "$N")
ktap_check "t-vol is \"ccm <new disk> <key reference>\"" \
	test "$(dmsetup table t-vol)" = "0 32768 ccm $(devno "$N") :32:logon:ccm-mirror:$u"
ktap_check "no hidden device left, the old disk is free" moved_clean
dmsetup table > "$SCRATCH/tables"
dmsetup status > "$SCRATCH/status"
dmesg > "$SCRATCH/dmesg"
ktap_check "the key is in no table, status, output or kernel log" \
	no_key_in "$SCRATCH/tables" "$SCRATCH/status" "$SCRATCH/m1" "$SCRATCH/dmesg"
ktap_check "the key is in the user keyring as logon ccm-mirror:<uuid>" \
	keyctl search @u logon "ccm-mirror:$u"
ktap_check "the copy state in the header was cleared after the switch" \
	slots_empty "$N"
writer_stop
mv_remount
ktap_check "every checksum right, read back decrypted ($WCOUNT files)" \
	sums_verify
mv_umount
ktap_check "fsck clean" fsck.ext4 -fn /dev/mapper/t-vol
doff=$("$T" dump --json "$N" | sed -n 's/.*"data_offset":\([0-9]*\).*/\1/p')
ktap_check "the new disk holds ciphertext: no ext4 magic where it would be" \
	sh -c "[ -n '$doff' ] && ! dd if='$N' bs=1 skip=$((${doff:-0} * 512 + 1080)) count=2 status=none | od -An -tx1 | grep -q '53 ef'"

# ---- --abort before ready and after ready ----
mv_section "abort"
P2=$(make_disk 8 4096)
N2=$(make_disk 10)
mv_vol t-v2 "$P2"
orig2=$(dmsetup table t-v2)
fill_random /dev/mapper/t-v2 8
sum2=$(md5sum < "$P2")
"$T" move t-v2 "$N2" --encrypt --key-file "$K" --yes --rate 1 --interval 0 \
	> "$SCRATCH/m2" 2>&1 < /dev/null &
_MV_BG=$!
wait_for_status t-v2 " encrypted 2048 [0-9]+/8 copying " 30
u2=$(uuid_of "$N2")
expect_err 0 "back on its old table" "--abort before ready" \
	"$T" move --abort t-v2
wait $_MV_BG
rc=$?
_MV_BG=
log "$(cat "$SCRATCH/m2")"
ktap_check "... the watching move sees it cancelled: exit 7" test $rc = 7
ktap_check "... old table back, no hidden device, data unchanged" \
	sh -c "[ \"\$(dmsetup table t-v2)\" = '$orig2' ] && ! dmsetup ls | grep -q t-v2-ccm && [ \"\$(md5sum < '$P2')\" = '$sum2' ]"
ktap_check "... the key was dropped from the user keyring" \
	sh -c "! keyctl search @u logon 'ccm-mirror:$u2' > /dev/null 2>&1"
ktap_check "... the copy state in the header was cleared" slots_empty "$N2"
expect_err 0 "ready: every region" "--no-pivot: ready (formats again)" \
	"$T" move t-v2 "$N2" --encrypt --key-file "$K" --yes --no-pivot \
	--interval 0
ktap_check "... formatted again: a new uuid" \
	test "$(uuid_of "$N2")" != "$u2"
expect_err 0 "back on its old table" "--abort after ready" \
	"$T" move --abort t-v2
ktap_check "... old table back, data unchanged" \
	sh -c "[ \"\$(dmsetup table t-v2)\" = '$orig2' ] && [ \"\$(md5sum < /dev/mapper/t-v2)\" = '$sum2' ]"

# ---- a 512-byte device gets 512-byte blocks ----
mv_section "512-byte blocks"
P3=$(make_disk 8)
N3=$(make_disk 10)
mv_vol t-v3 "$P3"
head -c 16 "$K" > "$SCRATCH/key16"
expect_err 0 "AES-128-CCM, 512-byte blocks, capacity 8388608 bytes" \
	"--dry-run: 512-byte blocks under a 512-byte device, AES-128" \
	"$T" move t-v3 "$N3" --encrypt --key-file "$SCRATCH/key16" --dry-run
key_drop "ccm-mirror:$u"
mv_section "end"
ktap_finished
