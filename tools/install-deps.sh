#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install everything dm-ccm-mirror needs to build and test, from Debian's
# archive.  Idempotent: does nothing (no apt at all) when all is present.
# Kernel versions are discovered, never hard-coded: 6.1 from bookworm,
# 6.12 from bookworm-backports.
set -eu

BPO_LIST=/etc/apt/sources.list.d/bookworm-backports.list
PKGS="qemu-system-x86 busybox-static cpio xz-utils zstd kmod dmsetup fio
keyutils e2fsprogs sparse linux-source-6.1 libdevmapper-dev libssl-dev
libkeyutils-dev linux-image-amd64 linux-headers-amd64 build-essential bc
flex bison libelf-dev pkg-config nbd-server nbd-client dkms iproute2"
BPO_PKGS="linux-image-amd64 linux-headers-amd64"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

# The 6.12 kernel from backports: present if a 6.12 headers dir exists.
have_bpo=0
for d in /usr/src/linux-headers-6.12*-amd64; do
	[ -d "$d" ] && have_bpo=1
done

if [ -z "$missing" ] && [ $have_bpo = 1 ]; then
	echo "install-deps: everything present"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ ! -f "$BPO_LIST" ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "deb http://deb.debian.org/debian bookworm-backports main" > "$BPO_LIST"
fi
apt-get update
# shellcheck disable=SC2086
[ -n "$missing" ] && apt-get install -y --no-install-recommends $missing
if [ $have_bpo = 0 ]; then
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends -t bookworm-backports $BPO_PKGS
fi
# nbd-server starts a system service on install; the tests run their own.
echo "install-deps: done"
