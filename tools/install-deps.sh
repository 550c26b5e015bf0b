#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install everything dm-ccm-mirror needs to build, lint and test, from
# Debian's archive (run as root on Debian 12).  Idempotent and quiet: when
# everything is present it prints one line and runs no apt at all.
# Kernels are discovered, never hard-coded by ABI: the newest 6.1 from
# bookworm(-security) and the newest 6.12 from bookworm-backports, each with
# its image (booted in QEMU) and headers (to build the module).
set -eu

BPO_LIST=/etc/apt/sources.list.d/bookworm-backports.list
# build, lint, VM rig, selftests, CLI; make bench: jq, cryptsetup-bin
# (the dm-crypt AEAD row), linux-perf (its profiles)
PKGS="build-essential bc bison flex libelf-dev pkg-config kmod perl python3
sparse linux-source-6.1 xz-utils zstd cpio python3-cryptography
qemu-system-x86 busybox-static
dmsetup fio keyutils e2fsprogs util-linux procps iproute2 nbd-server nbd-client
libdevmapper-dev libssl-dev libkeyutils-dev dkms clang libclang-rt-14-dev
jq cryptsetup-bin linux-perf"
KERNELS="6.1 6.12"

pkg_missing()
{
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2> /dev/null |
			grep -q "install ok installed" || echo "$p"
	done
}

# A kernel series is present when its image, modules and headers are.
have_kernel()
{
	for h in /usr/src/linux-headers-"$1".*-amd64; do
		k=${h#/usr/src/linux-headers-}
		[ -f "$h/Makefile" ] && [ -r "/boot/vmlinuz-$k" ] &&
			[ -d "/lib/modules/$k/kernel" ] && return 0
	done
	return 1
}

# kernel_pkgs SERIES: the ABI-named image and headers packages behind the
# newest linux-image-amd64 / linux-headers-amd64 of that series.
kernel_pkgs()
{
	for meta in linux-image-amd64 linux-headers-amd64; do
		v=$(apt-cache madison "$meta" | awk -v s="$1." \
			'index($3, s) == 1 { print $3; exit }')
		[ -n "$v" ] || { echo "install-deps: no $meta $1.x in apt" >&2; exit 1; }
		apt-cache show "$meta=$v" | sed -n 's/^Depends: //p' | head -n 1 |
			tr ',' '\n' | sed -n 's/^ *\(linux-[a-z]*-'"$1"'[^ ]*\).*/\1/p'
	done
}

missing=$(pkg_missing $PKGS)
kmissing=
for s in $KERNELS; do
	have_kernel "$s" || kmissing="$kmissing $s"
done
if [ -z "$missing" ] && [ -z "$kmissing" ]; then
	echo "install-deps: everything present"
	exit 0
fi

[ "$(id -u)" = 0 ] || { echo "install-deps: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "deb http://deb.debian.org/debian bookworm-backports main" > "$BPO_LIST"
fi
APT="apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends"
echo "install-deps: apt-get update"
apt-get -q update > /dev/null
if [ -n "$missing" ]; then
	echo "install-deps: installing" $missing
	# shellcheck disable=SC2086
	$APT install $missing > /dev/null
fi
for s in $kmissing; do
	pkgs=$(kernel_pkgs "$s")
	echo "install-deps: kernel $s:" $pkgs
	# Backported kernels pull their helpers (linux-kbuild...) from there.
	t=
	apt-cache madison linux-image-amd64 | grep -q " $s\.[^ ]*bpo" &&
		t="-t bookworm-backports"
	# shellcheck disable=SC2086
	$APT $t install $pkgs > /dev/null
	have_kernel "$s" || { echo "install-deps: kernel $s still missing" >&2; exit 1; }
done
# nbd-server starts a system service on install; the tests run their own.
echo "install-deps: done"
