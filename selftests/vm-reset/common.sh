#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by the two boots of the VM reset test: a 140 MiB virtio disk
# (/dev/vda) sliced into primary, secondary and metadata.  MODE=plain
# keeps the copy state on the metadata slice; MODE=encrypted formats the
# secondary as a ccm device (copy state in its header) with a key that
# both boots derive from the same fixed test bytes (nothing survives a
# reset but the disk).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../mirror-lib.sh"
MODE=${MODE:-plain}

DISK=/dev/vda
n=$((64 * 2048))
R=256
modprobe virtio_blk 2> /dev/null
for _i in $(seq 50); do
	[ -b "$DISK" ] && break
	sleep 0.1
done
[ -b "$DISK" ] || ktap_skip_all "no $DISK (run through selftests/vm-reset/run-host.sh)"
load_module || ktap_skip_all "module not loadable"
dm_create t-p "0 $n linear $DISK 0"
sn=$n
if [ "$MODE" = encrypted ]; then
	. "$(dirname "$0")/../ccm-lib.sh"
	[ -x "$CCM_TOOL" ] || ktap_skip_all "CLI $CCM_TOOL not built"
	sn=$((n + 10240))		# data + the ccm header (512-byte blocks)
	K=$SCRATCH/key
	printf 'vm-reset test key, not secret!!!' > "$K"	# 32 bytes
	REF=$(ccm_key_add "$K") || ktap_skip_all "cannot add a logon key"
	persist="key $REF"
else
	persist="metadata /dev/mapper/t-md id 5e7"
fi
dm_create t-s "0 $sn linear $DISK $n"
dm_create t-md "0 2048 linear $DISK $((n + sn))"
# mirror_tbl [OPT...]: the mirror table, persistent, with more options.
mirror_tbl()
{
	# shellcheck disable=SC2086
	set -- $persist "$@"
	echo "0 $n ccm-mirror /dev/mapper/t-p /dev/mapper/t-s $R $# $*"
}
# secondary_equal: the secondary, as the primary would see it, is equal.
secondary_equal()
{
	legs_equal /dev/mapper/t-p /dev/mapper/t-s "$n" "${REF:-}"
}
