#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move --encrypt, interrupted and resumed from the new disk's
# header: the move is stopped (SIGINT, copy paused), the machine
# "reboots" (mappings and key gone, the device re-created on its old disk
# with nothing written to it); running the move again with another key
# is refused (exit 5) and leaves the disk as it is, running it without
# --encrypt is refused (exit 4), --dry-run says it would resume, and the
# same command resumes with regions carried over (--no-pivot: ready).
# move --pivot from another process takes the key from the user keyring
# (a wrong --key-file is refused first); the data ends up equal.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
require_cmd md5sum
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

K=$SCRATCH/key
K2=$SCRATCH/key2
head -c 32 /dev/urandom > "$K"
head -c 32 /dev/urandom > "$K2"

mv_require_encrypt
ktap_set_plan 12

P=$(make_disk 8 4096)
N=$(make_disk 10)
mv_vol t-v2 "$P"
orig=$(dmsetup table t-v2)
fill_random /dev/mapper/t-v2 8
sum=$(md5sum < "$P")

mv_section "interrupted"
mv_interrupt t-v2 " encrypted 2048 [3-7]/8 copying " "$SCRATCH/m1" \
	t-v2 "$N" --encrypt --key-file "$K" --yes --rate 1 --interval 0
rc=$?
ktap_check "SIGINT: exit 8" test $rc = 8
ktap_check "SIGINT: tells how to resume after a reboot" \
	grep -q "after a reboot: .*--encrypt --key-file $K" "$SCRATCH/m1"
u=$(uuid_of "$N")
dmsetup remove t-v2 t-v2-ccm-old
key_drop "ccm-mirror:$u"
dmsetup create t-v2 --table "$orig"
ktap_check "a reboot: t-v2 back on its old disk, key gone" \
	sh -c "[ \"\$(dmsetup table t-v2)\" = '$orig' ] && ! keyctl search @u logon 'ccm-mirror:$u' > /dev/null 2>&1"

mv_section "after the reboot"
expect_err 5 "in progress .* made with another key" \
	"running it again with another key: refused (5)" \
	"$T" move t-v2 "$N" --encrypt --key-file "$K2" --yes
ktap_check "... the new disk was not formatted again" \
	test "$(uuid_of "$N")" = "$u"
expect_err 4 "holds an encrypted move of t-v2 in progress" \
	"running it again without --encrypt: refused (4)" \
	"$T" move t-v2 "$N" --yes
expect_err 0 "would resume: .* holds this move's copy state, [1-9][0-9]* of 8 regions copied" \
	"--dry-run: would resume" \
	"$T" move t-v2 "$N" --encrypt --key-file "$K" --dry-run
expect_err 0 "resuming: [1-7] regions carried over" \
	"the same command again resumes with regions carried over" \
	"$T" move t-v2 "$N" --encrypt --key-file "$K" --yes --no-pivot \
	--interval 0
log "$(cat "$OUT")"
ktap_check "... and gets ready, on the same format" \
	test "$(mstate t-v2) $(uuid_of "$N")" = "ready $u"
expect_err 5 "wrong key" "move --pivot --key-file with another key: refused (5)" \
	"$T" move --pivot t-v2 --key-file "$K2"
expect_err 0 "moved to" \
	"move --pivot from another process: the key from the user keyring" \
	"$T" move --pivot t-v2
ktap_check "t-v2 is ccm on the new disk, data equal" \
	sh -c "[ \"\$(dmsetup table t-v2)\" = '0 16384 ccm $(devno "$N") :32:logon:ccm-mirror:$u' ] && [ \"\$(md5sum < /dev/mapper/t-v2)\" = '$sum' ]"
key_drop "ccm-mirror:$u"
mv_section "end"
ktap_finished
