#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh KVER OUT: a tiny busybox initramfs for the test VM of
# kernel KVER: busybox-static, the virtio + 9p modules of that kernel (with
# their dependencies, decompressed, in load order; built-in ones skipped)
# and tools/vm/init.
set -eu

KVER=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
MODS="virtio_pci 9pnet_virtio 9p"

[ -d "/lib/modules/$KVER/kernel" ] || {
	echo "mkinitramfs: no modules for $KVER in /lib/modules" >&2
	exit 1
}
if [ ! -x "$BUSYBOX" ] || readelf -l "$BUSYBOX" | grep -q 'program interpreter'; then
	echo "mkinitramfs: $BUSYBOX is not a static busybox (apt-get install busybox-static)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,newroot,modules}
cp "$BUSYBOX" "$tmp/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"
done
mknod -m 600 "$tmp/dev/console" c 5 1
mknod -m 666 "$tmp/dev/null" c 1 3
cp "$HERE/init" "$tmp/init"
chmod 755 "$tmp/init"

: > "$tmp/modules/order"
for m in $MODS; do
	deps=$(modprobe -S "$KVER" --show-depends "$m" 2> /dev/null) || {
		echo "mkinitramfs: $KVER: module $m not found, skipped" >&2
		continue
	}
	for ko in $(awk '$1 == "insmod" { print $2 }' <<< "$deps"); do
		name=$(basename "$ko")
		name=${name%.xz}
		name=${name%.zst}
		name=${name%.gz}
		[ -e "$tmp/modules/$name" ] && continue
		case $ko in
		*.xz) xz -dc "$ko" > "$tmp/modules/$name" ;;
		*.zst) zstd -qdc "$ko" > "$tmp/modules/$name" ;;
		*.gz) gzip -dc "$ko" > "$tmp/modules/$name" ;;
		*) cp "$ko" "$tmp/modules/$name" ;;
		esac
		echo "$name" >> "$tmp/modules/order"
	done
done

mkdir -p "$(dirname "$OUT")"
(cd "$tmp" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
