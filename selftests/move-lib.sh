#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the move-*.sh selftests of `ccm-mirror move` (sourced
# after lib.sh; defines functions only).
#
#   mv_require_tool            skip all if the CLI is not built
#   mv_vol NAME DISK           dm-linear NAME over the whole of DISK; its
#                              hidden devices NAME-ccm-old/-new/-meta are
#                              registered for cleanup too
#   devno DEV                  "M:m" of a block device
#   no_hidden NAME             no NAME-ccm-* device exists
#   no_holders DEV             nothing is built on DEV
#   mv_mount NAME / mv_remount / mv_umount    ext4 at $MNT
#   writer_start / writer_stop a background writer of files with checksums
#                              in $MNT (writer_stop sets WCOUNT: files
#                              written so far; call it in this shell)
#   table_has NAME REGEX / status_has NAME REGEX   dmsetup table/status
#   sums_verify                every file's content matches its checksum
#   expect RC DESC CMD...      one TAP test: CMD exits with RC; its output
#                              (stdout+stderr) is in $OUT
#   expect_err RC REGEX DESC CMD...   ... and the output matches REGEX
#   mstate NAME                state field of a ccm-mirror status
#   mv_section TITLE           a "# ---- TITLE (Ns)" line: where time goes
# Encrypted moves (T is the CLI, K a key file; set by the test):
#   mv_require_encrypt         skip all unless the kernel's ccm-mirror
#                              takes "key" (a tiny probe mirror)
#   key_drop DESC              unlink logon key DESC from @u, if there
#   uuid_of DEV                the uuid of the ccm superblock on DEV
#   slots_empty DEV            both copy state slots of DEV are empty

MNT=$SCRATCH/mnt
OUT=$SCRATCH/out
_MV_WSTOP=$SCRATCH/.writer-stop
_MV_SUMS=$SCRATCH/sums
_MV_WPID=

mv_require_tool()
{
	[ -x "$CCM_TOOL" ] ||
		ktap_skip_all "ccm-mirror CLI not built ($CCM_TOOL): make -C tools"
}

mv_vol()
{
	# Hidden devices first: cleanup removes in reverse order.
	printf '%s\n' "$1-ccm-meta" "$1-ccm-new" "$1-ccm-old" >> "$_LIB_DM_REG"
	dm_create "$1" "0 $(blockdev --getsz "$2") linear $2 0"
}

devno()
{
	local b

	b=$(readlink -f "$1")
	cat "/sys/class/block/${b##*/}/dev"
}

no_hidden()
{
	if dmsetup ls | grep -q "^$1-ccm-"; then
		dmsetup ls | sed 's/^/# /'
		return 1
	fi
}

no_holders()
{
	local b

	b=$(readlink -f "$1")
	[ -z "$(ls "/sys/class/block/${b##*/}/holders")" ]
}

mv_section()
{
	log "---- $1 (${SECONDS}s)"
}

mstate()
{
	dm_field "$1" 4
}

mv_mount()
{
	mkdir -p "$MNT"
	mount "/dev/mapper/$1" "$MNT"
	_MV_MOUNTED=$1
}

# Read everything back from the disk under the current table.
mv_remount()
{
	umount "$MNT" && mount "/dev/mapper/$_MV_MOUNTED" "$MNT"
}

mv_umount()
{
	umount "$MNT" && _MV_MOUNTED=
}

# Files w0..w99 of 4-260 KiB, rewritten in turn, synced every 4 files;
# each file's md5 is recorded after it is written.
writer_start()
{
	rm -f "$_MV_WSTOP"
	mkdir -p "$_MV_SUMS"
	(
		cd "$MNT" || exit 1
		n=${_MV_WCOUNT:-0}
		while [ ! -e "$_MV_WSTOP" ]; do
			f=w$((n % 100))
			head -c $(((RANDOM % 256 + 4) * 1024)) /dev/urandom > "$f"
			md5sum "$f" > "$_MV_SUMS/$f"
			n=$((n + 1))
			[ $((n % 4)) = 0 ] && sync
		done
		echo "$n" > "$SCRATCH/.writer-count"
	) &
	_MV_WPID=$!
}

writer_stop()
{
	[ -n "$_MV_WPID" ] || return 0
	: > "$_MV_WSTOP"
	wait "$_MV_WPID"
	_MV_WPID=
	sync
	read -r _MV_WCOUNT < "$SCRATCH/.writer-count"
	# shellcheck disable=SC2034 # read by the tests
	WCOUNT=$_MV_WCOUNT
}

table_has()
{
	dmsetup table "$1" | grep -Eq -- "$2"
}

status_has()
{
	dmsetup status "$1" | grep -Eq -- "$2"
}

sums_verify()
{
	(cd "$MNT" && cat "$_MV_SUMS"/* | md5sum --quiet -c -)
}

expect()
{
	local rc=$1 desc=$2 got

	shift 2
	"$@" > "$OUT" 2>&1 < /dev/null
	got=$?
	if [ "$got" = "$rc" ]; then
		ktap_test_pass "$desc"
		return 0
	fi
	log "$(cat "$OUT")"
	log "command: $* -> exit $got, expected $rc"
	ktap_test_fail "$desc"
	return 1
}

expect_err()
{
	local rc=$1 re=$2 desc=$3 got

	shift 3
	"$@" > "$OUT" 2>&1 < /dev/null
	got=$?
	if [ "$got" = "$rc" ] && grep -Eq -- "$re" "$OUT"; then
		ktap_test_pass "$desc"
		return 0
	fi
	log "$(cat "$OUT")"
	log "command: $* -> exit $got, expected $rc and /$re/"
	ktap_test_fail "$desc"
	return 1
}

key_drop()
{
	local id

	id=$(keyctl search @u logon "$1" 2> /dev/null) &&
		keyctl unlink "$id" @u > /dev/null 2>&1
	return 0
}

_mv_probe_encrypt()
{
	local p s desc=ccm-mirror-probe:$$ ok=1

	p=$(make_disk 1 4096) && s=$(make_disk 2) || return 1
	"$T" format --yes --key-file "$K" --no-wipe --data-size 1M \
		--region-size 4K "$s" > /dev/null || return 1
	keyctl padd logon "$desc" @u < "$K" > /dev/null || return 1
	dmsetup create t-probe --table \
		"0 2048 ccm-mirror $p $s 8 2 key :$(stat -c %s "$K"):logon:$desc" \
		2> /dev/null && ok=0
	dmsetup remove t-probe 2> /dev/null
	key_drop "$desc"
	return $ok
}

mv_require_encrypt()
{
	require_cmd keyctl od
	_mv_probe_encrypt ||
		ktap_skip_all "this ccm-mirror target refuses encrypted mode ($(dmesg | grep 'ccm-mirror:' | tail -n 1 | sed 's/^\[[^]]*\] //'))"
}

uuid_of()
{
	"$T" dump "$1" | awk '$1 == "uuid" { print $2 }'
}

slots_empty()
{
	"$T" dump "$1" > "$SCRATCH/.dump" &&
		grep -Eq '^slot0 +empty' "$SCRATCH/.dump" &&
		grep -Eq '^slot1 +empty' "$SCRATCH/.dump"
}

# Stop the writer and any background move, unmount, then lib.sh's cleanup.
_mv_cleanup()
{
	[ -n "$_MV_WPID" ] && : > "$_MV_WSTOP" && wait "$_MV_WPID" 2> /dev/null
	[ -n "${_MV_BG:-}" ] && kill "$_MV_BG" 2> /dev/null && wait "$_MV_BG" 2> /dev/null
	mountpoint -q "$MNT" 2> /dev/null && umount "$MNT"
	cleanup
}
trap _mv_cleanup EXIT

# mv_interrupt DEV STATUS_RE OUT MOVE_ARG...: start `ccm-mirror move
# MOVE_ARG...` in the background, wait until DEV's status matches
# STATUS_RE, pause the copy (so that it stays partial, as a reboot would
# find it) and SIGINT the move.  Its output goes to OUT (and the log);
# returns its exit code.
mv_interrupt()
{
	local dev=$1 re=$2 out=$3 rc

	shift 3
	"$T" move "$@" > "$out" 2>&1 < /dev/null &
	_MV_BG=$!
	wait_for_status "$dev" "$re" 60
	dmsetup message "$dev" 0 pause
	kill -INT $_MV_BG
	wait $_MV_BG
	rc=$?
	_MV_BG=
	log "$(cat "$out")"
	return $rc
}

# mv_finish DEV OUT: lift the rate limit of DEV's move, wait for the move
# started in the background ($_MV_BG, output in OUT, shown in the log) and
# return its exit code.
mv_finish()
{
	local rc

	"$T" rate "$1" 0 > /dev/null
	wait $_MV_BG
	rc=$?
	_MV_BG=
	log "$(cat "$2")"
	return $rc
}
