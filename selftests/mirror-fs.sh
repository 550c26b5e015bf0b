#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: an ext4 filesystem on the mirror, files with
# checksums written while the copy runs; at ready the mirror is removed
# and the secondary alone is fsck-clean with every checksum equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 5
require_cmd mkfs.ext4 fsck.ext4 md5sum
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 128)
S=$(make_disk 128)
mkfs.ext4 -q -F "$P"
dm_create t-m "$(mirror_table "$P" "$S" 512 rate 24)"
mnt=$SCRATCH/mnt
mkdir -p "$mnt"
mount /dev/mapper/t-m "$mnt"

n=0
while [ "$(mirror_state t-m)" != ready ] || [ $n -lt 40 ]; do
	head -c $(((RANDOM % 512 + 1) * 1024)) /dev/urandom > "$mnt/f$n"
	n=$((n + 1))
	[ $((n % 10)) = 0 ] && sync
	[ $n -gt 2000 ] && break
done
(cd "$mnt" && md5sum f* > "$SCRATCH/sums")
log "wrote $n files while copying; status: $(dmsetup status t-m)"
ktap_check "copy reached ready while files were written" \
	test "$(mirror_state t-m)" = ready
umount "$mnt"
dm_remove t-m

ktap_check "secondary alone is fsck clean" fsck.ext4 -fn "$S"
mount -o ro "$S" "$mnt"
ktap_check "every checksum equal on the secondary" \
	sh -c "cd '$mnt' && md5sum --quiet -c '$SCRATCH/sums'"
ktap_check "all $n files present" test "$(ls "$mnt" | grep -c '^f')" = "$n"
umount "$mnt"
ktap_check "secondary equals primary" devs_equal "$P" "$S"
ktap_finished
