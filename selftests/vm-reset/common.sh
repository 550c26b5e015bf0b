#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by the two boots of the VM reset test: a 140 MiB virtio disk
# (/dev/vda) sliced into primary, secondary and metadata.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../mirror-lib.sh"

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
dm_create t-s "0 $n linear $DISK $n"
dm_create t-md "0 2048 linear $DISK $((2 * n))"
# mirror_tbl [OPT...]: the mirror table, persistent, with more options.
mirror_tbl()
{
	set -- metadata /dev/mapper/t-md id 5e7 "$@"
	echo "0 $n ccm-mirror /dev/mapper/t-p /dev/mapper/t-s $R $# $*"
}
