#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dm-ccm-mirror demo, run inside the test VM (see tools/demo.sh):
#   tools/vm/run.sh -k <kver> -d tools/demo -T demo -o build/<kver>/demo
# An ext4 filesystem on a dm device over one RAM-backed disk, a writer
# keeping files with checksums busy, `ccm-mirror move` onto a second,
# larger disk with live progress, the pivot, the old disk released, every
# checksum verified.  Encrypted (--encrypt) when the ccm-mirror target
# takes keys (1.1.0 with the encrypted mode: probed on a tiny mirror) and
# the tool's --dry-run accepts it, plain otherwise: it says which.
# timeout=240
. "${SRCDIR:?run me through tools/demo.sh}/selftests/lib.sh"

T=$CCM_TOOL
VOL=demo-vol
MNT=$SCRATCH/mnt
RATE=${DEMO_RATE:-16}		# MiB/s: slow enough to watch
OLD_MIB=256
NEW_MIB=320
MARK=CCM-DEMO-MARKER-$RANDOM$RANDOM$RANDOM
WPID=

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { printf 'DEMO FAILED: %s\n' "$*"; exit 1; }

demo_cleanup()
{
	[ -n "$WPID" ] && : > "$SCRATCH/stop" && wait "$WPID" 2> /dev/null
	mountpoint -q "$MNT" 2> /dev/null && umount "$MNT"
	cleanup
}
trap demo_cleanup EXIT

[ -x "$T" ] || die "$T not built (make -C tools)"
load_module || die "cannot load $CCM_MODULE"
ver=$(dmsetup targets | awk '$1 == "ccm-mirror" { print $2 }')

say "dm-ccm-mirror demo on Linux $(uname -r): ccm-mirror target $ver"
OLD=$(make_disk $OLD_MIB) || die "make_disk"
NEW=$(make_disk $NEW_MIB) || die "make_disk"
echo "old disk: $OLD ($OLD_MIB MiB), new disk: $NEW ($NEW_MIB MiB), both in RAM"
echo "$VOL-ccm-meta" >> "$_LIB_DM_REG"
echo "$VOL-ccm-new" >> "$_LIB_DM_REG"
echo "$VOL-ccm-old" >> "$_LIB_DM_REG"
dm_create $VOL "0 $((OLD_MIB * 2048)) linear $OLD 0" || die "dm_create"
run dmsetup table $VOL
mkfs.ext4 -q -L demo /dev/mapper/$VOL
mkdir -p "$MNT"
mount /dev/mapper/$VOL "$MNT"
echo "$MARK" > "$MNT/marker"
dd if=/dev/urandom of="$MNT/base" bs=1M count=48 status=none
md5sum "$MNT/base" "$MNT/marker" | sed "s|$MNT/||" > "$SCRATCH/base.sums"
sync
echo "ext4 on /dev/mapper/$VOL, mounted at $MNT, 48 MiB of data"

# Does the kernel's ccm-mirror take a key?  A 1 MiB mirror onto a tiny
# ccm device tells (the 1.1.0 target refused it until its encrypted mode
# was finished).
kernel_encrypts()
{
	local p s desc=ccm-demo-probe:$$ ok=1 id

	p=$(make_disk 1 4096) && s=$(make_disk 2) || return 1
	"$T" format --yes --no-wipe --data-size 1M --region-size 4K \
		--key-file "$SCRATCH/key" "$s" > /dev/null || return 1
	id=$(keyctl padd logon "$desc" @u < "$SCRATCH/key") || return 1
	dmsetup create demo-probe --table \
		"0 2048 ccm-mirror $p $s 8 2 key :32:logon:$desc" 2> /dev/null &&
		ok=0
	dmsetup remove demo-probe 2> /dev/null
	keyctl unlink "$id" @u > /dev/null 2>&1
	return $ok
}

MODE=plain
ENC=()
head -c 32 /dev/urandom > "$SCRATCH/key"
chmod 600 "$SCRATCH/key"
if [ "$(printf '%s\n' "$ver" v1.1.0 | sort -V | head -n 1)" = v1.1.0 ] &&
	command -v keyctl > /dev/null && kernel_encrypts; then
	if "$T" move $VOL "$NEW" --dry-run --encrypt \
		--key-file "$SCRATCH/key" > /dev/null 2>&1; then
		MODE=encrypted
		ENC=(--encrypt --key-file "$SCRATCH/key")
	else
		echo "(\"ccm-mirror move --encrypt --dry-run\" refused: plain move)"
	fi
else
	echo "(ccm-mirror $ver: the kernel does not take keys yet: plain move)"
fi
if [ $MODE = encrypted ]; then
	say "mode: ENCRYPTED (AES-CCM): the new disk never sees plaintext"
else
	say "mode: PLAIN (encrypted moves need ccm-mirror 1.1.0 with its encrypted mode)"
fi

say "a writer keeps writing files with checksums, all along"
mkdir -p "$SCRATCH/sums"
(
	cd "$MNT" || exit 1
	n=0
	while [ ! -e "$SCRATCH/stop" ]; do
		f=w$((n % 300))
		head -c $(((RANDOM % 512 + 16) * 1024)) /dev/urandom > "$f"
		md5sum "$f" > "$SCRATCH/sums/$f"
		n=$((n + 1))
		[ $((n % 4)) = 0 ] && sync
	done
	echo $n > "$SCRATCH/nfiles"
) &
WPID=$!
sleep 2

say "what the move will do (nothing changed yet)"
run "$T" move $VOL "$NEW" --dry-run "${ENC[@]}" --rate "$RATE"

say "the move, live, at $RATE MiB/s (the filesystem stays mounted and busy)"
t0=$SECONDS
"$T" move $VOL "$NEW" --yes "${ENC[@]}" --rate "$RATE" &
mpid=$!
sleep 6
printf '\n(meanwhile, from another terminal)\n'
run "$T" status $VOL
echo
wait $mpid
rc=$?
secs=$((SECONDS - t0))
[ $rc = 0 ] || die "ccm-mirror move exited with $rc"

say "after the pivot"
run dmsetup ls
run dmsetup table $VOL
if [ $MODE = encrypted ]; then
	khex=$(od -An -tx1 "$SCRATCH/key" | tr -d ' \n')
	dmsetup table | grep -qi "$khex" && die "key bytes in a table"
	echo "(the table names the key in the kernel keyring; no key bytes anywhere)"
fi
b=$(readlink -f "$OLD")
if [ -z "$(ls "/sys/class/block/${b##*/}/holders")" ]; then
	echo "old disk $OLD: nothing uses it any more: it can be removed"
else
	die "old disk $OLD still held by $(ls "/sys/class/block/${b##*/}/holders")"
fi

say "stop the writer, read everything back from the new disk"
: > "$SCRATCH/stop"
wait $WPID
WPID=
nfiles=$(cat "$SCRATCH/nfiles")
umount "$MNT"
mount /dev/mapper/$VOL "$MNT"
bad=0
(cd "$MNT" && md5sum --quiet -c "$SCRATCH/base.sums") || bad=1
(cd "$MNT" && cat "$SCRATCH"/sums/* | md5sum --quiet -c -) || bad=1
nsums=$(($(ls "$SCRATCH/sums" | wc -l) + 2))
[ $bad = 0 ] || die "checksum mismatch"
echo "all $nsums files verified ($nfiles writes by the writer during the demo)"
umount "$MNT"
echo "\$ fsck.ext4 -fn /dev/mapper/$VOL"
fsck.ext4 -fn /dev/mapper/$VOL > "$SCRATCH/fsck" 2>&1 ||
	{ cat "$SCRATCH/fsck"; die "fsck"; }
tail -n 1 "$SCRATCH/fsck"
if grep -qa "$MARK" "$NEW"; then
	raw="the new disk holds the data in plaintext (plain mode)"
	[ $MODE = encrypted ] && die "plaintext marker found on the encrypted disk"
else
	raw="no plaintext on the raw new disk (the marker file is not found)"
	[ $MODE = plain ] && die "marker not found on the plain new disk"
fi

say "summary"
echo "mode:        $MODE (ccm-mirror target $ver)"
echo "moved:       /dev/mapper/$VOL, $OLD_MIB MiB, from $OLD to $NEW ($NEW_MIB MiB)"
echo "time:        ${secs}s at --rate $RATE MiB/s, filesystem mounted and written throughout"
echo "verified:    $nsums files, fsck clean; $raw"
echo "released:    $OLD (no hidden device left)"
echo "DEMO OK"
