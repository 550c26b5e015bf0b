#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=240
#
# ccm target durability: the mapping advertises a write cache and FUA; a
# FUA write and a write followed by a flush have their data and metadata
# on the device when they complete.  A "power cut" (the device under the
# mapping replaced by dm-error, with metadata writeback disabled by
# commit_time:0) loses only what was neither FUA nor flushed, and such a
# torn block reads as an error, never as other data.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ccm-lib.sh"

ktap_print_header
ccm_setup
ktap_set_plan 13

dev=/dev/mapper/t-ccm
key=$SCRATCH/key
ccm_keyfile "$key"
disk=$(make_disk 8)
ccm_must "format" ccm_format "$disk" "$key"
ref=$(ccm_key_add "$key")
size=$(blockdev --getsz "$disk")
ccm_must "linear device under the mapping" \
	dm_create t-ccm-low "0 $size linear $disk 0"
low=/dev/mapper/t-ccm-low
ccm_must "create the mapping (commit_time:0)" \
	dm_create t-ccm "0 $(ccm_sectors "$disk") ccm $low $ref 1 commit_time:0"

q=/sys/dev/block/$(dmsetup info -c --noheadings -o major,minor \
	--separator : t-ccm)/queue
ktap_check "write cache advertised" grep -q "write back" "$q/write_cache"
ktap_check "FUA advertised" test "$(cat "$q/fua")" = 1

for b in 3 4 5 6; do
	head -c 4096 /dev/urandom > "$SCRATCH/b$b"
done
# Each FUA or flush commits all metadata so far: plain writes last.
ktap_check "write + flush (fsync) of block 5" \
	dd if="$SCRATCH/b5" of=$dev bs=4096 seek=5 oflag=direct conv=fsync \
	status=none
ktap_check "FUA write (O_DIRECT|O_DSYNC) of block 3" \
	dd if="$SCRATCH/b3" of=$dev bs=4096 seek=3 oflag=direct,dsync \
	status=none
ktap_check "plain writes of blocks 4 and 6" bash -c "
	dd if='$SCRATCH/b4' of=$dev bs=4096 seek=4 oflag=direct status=none &&
	dd if='$SCRATCH/b6' of=$dev bs=4096 seek=6 oflag=direct status=none"

# Power cut: from now on nothing reaches the disk.
ccm_must "cut the device under the mapping" bash -c "
	dmsetup load t-ccm-low --table '0 $size error' &&
	dmsetup suspend --noflush --nolockfs t-ccm-low &&
	dmsetup resume t-ccm-low"
ccm_kmsg_mark
dm_remove t-ccm
ktap_check "the metadata commit on removal fails and is logged" \
	grep -q "ccm: .*metadata commit failed" <<< "$(ccm_kmsg_since)"
dm_remove t-ccm-low

ccm_must "re-create the mapping on the disk" \
	dm_create t-ccm "$(ccm_table "$disk" "$ref")"
ok=1
for b in 3 5; do
	dd if=$dev bs=4096 skip=$b count=1 iflag=direct status=none |
		cmp -s - "$SCRATCH/b$b" || ok=0
done
ktap_check "the FUA and the flushed block survived" test $ok = 1
bad=$(ccm_py badblocks $dev 4096)
ktap_check "the unflushed blocks read as errors, nothing else ($bad)" \
	test "$bad" = "4:EILSEQ 6:EILSEQ"
ktap_finished
