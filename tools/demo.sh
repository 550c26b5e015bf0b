#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the dm-ccm-mirror demo (tools/demo/demo.sh) in the test VM: a live
# `ccm-mirror move` of a mounted, busy ext4 filesystem onto another disk.
#
# usage: tools/demo.sh [-k KVER] [-v]
#   -k KVER  kernel release (default: newest /lib/modules/*/build)
#   -v       show the whole console (kernel messages too)
# Needs the module built for KVER (make modules-all) and the CLI
# (make -C tools).  Environment: DEMO_RATE (copy rate in MiB/s, default
# 16) and everything tools/vm/run.sh reads.  Output also in
# build/<kver>/demo/demo.log.
set -u

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
KVER=
V=()
while getopts "k:v" opt; do
	case $opt in
	k) KVER=$OPTARG ;;
	v) V=(-v) ;;
	*) sed -n '6,14s/^# \?//p' "$0" >&2; exit 2 ;;
	esac
done
if [ -z "$KVER" ]; then
	. "$SRCDIR/tools/vm/kernels.sh"
	KVER=$(ccm_kernels | tail -n 1)
fi
if [ ! -f "$SRCDIR/build/$KVER/dm-ccm-mirror.ko" ] || [ ! -x "$SRCDIR/tools/ccm-mirror" ]; then
	echo "demo: build first: make modules-all && make -C tools" >&2
	exit 2
fi
exec "$SRCDIR/tools/vm/run.sh" -k "$KVER" -d "$SRCDIR/tools/demo" -T demo \
	-o "$SRCDIR/build/$KVER/demo" "${V[@]}"
