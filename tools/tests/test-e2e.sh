#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end tests of ccm-mirror on regular files (no kernel module, no
# device-mapper): format, dump, verify, encrypt, decrypt, tampering, wrong
# keys, bad input and exit codes.  TAP 13; exit 0 only if all pass.
#
#   CCM_MIRROR=path/to/ccm-mirror tests/test-e2e.sh
set -u

TOOL=${CCM_MIRROR:-$(dirname "$0")/../ccm-mirror}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
failed=0

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# expect RC DESC CMD...: pass if CMD exits with RC; output in $T/out
expect() {
	local rc=$1 desc=$2 got
	shift 2
	"$@" >"$T/out" 2>&1
	got=$?
	if [ "$got" -eq "$rc" ]; then
		pass "$desc"
	else
		fail "$desc (exit $got, expected $rc)"
		sed 's/^/# /' "$T/out"
	fi
}

# check DESC CMD...: pass if CMD succeeds
check() {
	local desc=$1
	shift
	if "$@" >"$T/check" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		sed 's/^/# /' "$T/check"
	fi
}

# output_has REGEX: the last expect's output matches
output_has() { grep -Eq -- "$1" "$T/out"; }

# field DEVICE NAME: a numeric field of dump --json
field() {
	"$TOOL" dump --json "$1" | grep -o "\"$2\":[0-9a-z]*" | cut -d: -f2
}

# flip FILE OFFSET: invert the lowest bit of one byte
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# copy_bytes SRC SRC_OFF DST DST_OFF LEN
copy_bytes() {
	dd if="$1" of="$3" bs=1 skip="$2" seek="$4" count="$5" conv=notrunc \
		status=none iflag=skip_bytes,count_bytes oflag=seek_bytes
}

# Byte offsets of block B's data and meta entry on device D.
data_off() { echo $(($(field "$1" data_offset) * 512 + $2 * $(field "$1" data_block_size))); }
meta_off() { echo $(($(field "$1" meta_offset) * 512 + ($2 / 128) * 4096 + ($2 % 128) * 32)); }

# bad_blocks: the "bad block N" numbers of the last expect, one line
bad_blocks() { awk '/^bad block/ { printf "%s%s", sep, $3; sep = " " }' "$T/out"; }

expect_bad() {
	local want=$1 desc=$2
	shift 2
	expect 3 "$desc: verify fails" "$TOOL" verify "$@"
	if [ "$(bad_blocks)" = "$want" ]; then
		pass "$desc: exactly blocks $want reported"
	else
		fail "$desc: reported '$(bad_blocks)', expected '$want'"
	fi
}

echo "TAP version 13"
head -c 32 /dev/urandom >"$T/k32"
head -c 32 /dev/urandom >"$T/other32"
head -c 16 /dev/urandom >"$T/k16"
head -c 24 /dev/urandom >"$T/k24"
head -c 17 /dev/urandom >"$T/k17"
: >"$T/k0"

# ---- command line ----
expect 0 "--help" "$TOOL" --help
expect 0 "--version" "$TOOL" --version
for c in format dump verify encrypt decrypt open close; do
	expect 0 "$c --help" "$TOOL" "$c" --help
	output_has "^Usage: ccm-mirror $c .*Exit status|Exit status" &&
		pass "$c --help lists the exit codes" ||
		fail "$c --help lists the exit codes"
done
expect 0 "help verify" "$TOOL" help verify
expect 1 "no arguments" "$TOOL"
expect 1 "unknown command" "$TOOL" frobnicate
expect 1 "unknown option" "$TOOL" dump --frob "$T/x"
expect 1 "option of another command" "$TOOL" dump --yes "$T/x"
expect 1 "missing --key-file" "$TOOL" verify "$T/x"
expect 1 "missing option argument" "$TOOL" verify "$T/x" --key-file
expect 1 "too many arguments" "$TOOL" dump "$T/x" "$T/y"
expect 1 "--block-size 1024" "$TOOL" format "$T/x" -k "$T/k32" --block-size 1024 --yes
expect 1 "--region-size garbage" "$TOOL" format "$T/x" -k "$T/k32" --region-size 12Q --yes

# ---- devices and keys that are not right ----
D=$T/dev
truncate -s 64M "$D"
expect 2 "nonexistent device" "$TOOL" dump "$T/nonexistent"
expect 6 "a directory is not a device" "$TOOL" dump "$T"
expect 6 "zeros are not a ccm device (dump)" "$TOOL" dump "$D"
output_has "bad magic" && pass "dump says why" || fail "dump says why"
expect 6 "zeros are not a ccm device (verify)" "$TOOL" verify "$D" -k "$T/k32"
expect 1 "17-byte key" "$TOOL" format "$D" -k "$T/k17" --yes
output_has "exactly 16, 24 or 32" && pass "key size message" || fail "key size message"
expect 1 "empty key" "$TOOL" format "$D" -k "$T/k0" --yes
expect 1 "nonexistent key file" "$TOOL" format "$D" -k "$T/nokey" --yes
expect 4 "format without --yes and no terminal" "$TOOL" format "$D" -k "$T/k32" </dev/null
cmp -s "$D" <(head -c 64M /dev/zero) && pass "refused format wrote nothing" ||
	fail "refused format wrote nothing"
truncate -s 16K "$T/small"
expect 6 "16 KiB is too small" "$TOOL" format "$T/small" -k "$T/k32" --yes
expect 6 "--data-size larger than the device" "$TOOL" format "$D" -k "$T/k32" --data-size 64M --yes
expect 1 "--data-size not whole blocks" "$TOOL" format "$D" -k "$T/k32" --data-size 5000 --yes
expect 1 "--region-size not a power of two" "$TOOL" format "$D" -k "$T/k32" --region-size 3M --yes

# ---- format, dump, verify ----
expect 0 "format 64 MiB, 4 KiB blocks" "$TOOL" format "$D" -k "$T/k32" --yes
expect 0 "dump" "$TOOL" dump "$D"
output_has "^crc32c +0x[0-9a-f]{8} \(ok\)" && pass "dump: crc ok" || fail "dump: crc ok"
expect 0 "dump --json" "$TOOL" dump --json "$D"
output_has '^\{"device":.*"crc_ok":true.*\}$' && pass "dump --json: one object" ||
	fail "dump --json: one object"
if command -v python3 >/dev/null; then
	check "dump --json parses" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out"
fi
BLOCKS=$(field "$D" data_blocks)
CAP=$(field "$D" capacity_bytes)
[ "$CAP" -eq $((BLOCKS * 4096)) ] && [ "$(field "$D" wiped)" = true ] &&
	pass "capacity $CAP = $BLOCKS blocks, wiped" || fail "capacity and wiped flag"
expect 0 "verify a fresh device" "$TOOL" verify "$D" -k "$T/k32"
output_has "$BLOCKS blocks, 0 failed" && pass "verify counts every block" ||
	fail "verify counts every block"
expect 0 "verify with the key on stdin" "$TOOL" verify "$D" -k - <"$T/k32"
expect 5 "wrong key" "$TOOL" verify "$D" -k "$T/other32"
output_has "wrong key" && pass "wrong key message" || fail "wrong key message"
expect 5 "wrong key size" "$TOOL" verify "$D" -k "$T/k16"
expect 5 "wrong key: encrypt refuses" "$TOOL" encrypt /dev/null "$D" -k "$T/other32"
expect 5 "wrong key: decrypt refuses" "$TOOL" decrypt "$D" "$T/none" -k "$T/other32"
expect 5 "wrong key: open refuses" "$TOOL" open "$D" t-none -k "$T/other32"
expect 6 "open needs a block device" "$TOOL" open "$D" t-none -k "$T/k32"

# ---- encrypt / decrypt ----
IMG=$T/img
head -c $((CAP - 1000)) /dev/urandom >"$IMG"
expect 0 "encrypt an image (last block partial)" "$TOOL" encrypt "$IMG" "$D" -k "$T/k32"
expect 0 "decrypt --size" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32" --size $((CAP - 1000))
check "decrypted image equals the original" cmp "$IMG" "$T/plain"
expect 0 "decrypt all" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32"
check "decrypt all: image then zero padding" cmp "$T/plain" <(cat "$IMG"; head -c 1000 /dev/zero)
expect 0 "verify after encrypt" "$TOOL" verify "$D" -k "$T/k32"
expect 0 "decrypt to stdout" sh -c '"$1" decrypt "$2" - -k "$3" --size 100000 >"$4"' sh "$TOOL" "$D" "$T/k32" "$T/plain"
check "stdout image equals" cmp "$T/plain" <(head -c 100000 "$IMG")
head -c 300000 /dev/urandom >"$T/img2"
expect 0 "encrypt from stdin" sh -c '"$1" encrypt - "$2" -k "$3" <"$4"' sh "$TOOL" "$D" "$T/k32" "$T/img2"
expect 0 "decrypt after stdin encrypt" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32" --size 300000
check "stdin image equals" cmp "$T/img2" "$T/plain"
expect 1 "key and image both on stdin" "$TOOL" encrypt - "$D" -k -
head -c $((CAP + 1)) /dev/zero >"$T/big"
expect 6 "image larger than the capacity" "$TOOL" encrypt "$T/big" "$D" -k "$T/k32"
expect 6 "stdin larger than the capacity" sh -c '"$1" encrypt - "$2" -k "$3" <"$4"' sh "$TOOL" "$D" "$T/k32" "$T/big"
rm -f "$T/big"
expect 0 "encrypt the image again" "$TOOL" encrypt "$IMG" "$D" -k "$T/k32"
expect 6 "decrypt --size beyond the capacity" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32" --size $((CAP + 4096))

# ---- tampering ----
cp "$D" "$T/orig"
restore() { cp "$T/orig" "$D"; }
LAST=$((BLOCKS - 1))

flip "$D" $(($(data_off "$D" 3) + 100))
expect_bad 3 "data bit of block 3" "$D" -k "$T/k32"
expect 3 "decrypt stops at the bad block" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32"
output_has "block 3 failed authentication" && pass "decrypt names block 3" ||
	fail "decrypt names block 3"
restore
flip "$D" $(($(meta_off "$D" 7) + 16 + 5))
expect_bad 7 "tag bit of block 7" "$D" -k "$T/k32"
restore
flip "$D" "$(meta_off "$D" 130)"
expect_bad 130 "nonce bit of block 130 (second meta block)" "$D" -k "$T/k32"
restore
flip "$D" $(($(data_off "$D" "$LAST") + 4095))
expect_bad "$LAST" "last bit of the last block" "$D" -k "$T/k32"
restore
copy_bytes "$T/orig" "$(data_off "$D" 21)" "$D" "$(data_off "$D" 20)" 4096
copy_bytes "$T/orig" "$(data_off "$D" 20)" "$D" "$(data_off "$D" 21)" 4096
expect_bad "20 21" "blocks 20 and 21 swapped" "$D" -k "$T/k32"
copy_bytes "$T/orig" "$(meta_off "$D" 21)" "$D" "$(meta_off "$D" 20)" 32
copy_bytes "$T/orig" "$(meta_off "$D" 20)" "$D" "$(meta_off "$D" 21)" 32
expect_bad "20 21" "blocks 20 and 21 swapped with their nonces and tags" "$D" -k "$T/k32"
restore
for b in 1 2 1000; do flip "$D" $(($(data_off "$D" $b) + 7)); done
expect_bad "1 2 1000" "three bad blocks" "$D" -k "$T/k32"
output_has "3 failed authentication" && pass "three counted" || fail "three counted"
expect_bad "1 2" "--max-report 2" "$D" -k "$T/k32" --max-report 2
output_has "and 1 more" && pass "--max-report says more" || fail "--max-report says more"
restore
# the same block from another device with the same key
truncate -s 64M "$T/dev2"
"$TOOL" format "$T/dev2" -k "$T/k32" --yes >/dev/null
"$TOOL" encrypt "$IMG" "$T/dev2" -k "$T/k32" >/dev/null
copy_bytes "$T/dev2" "$(data_off "$D" 5)" "$D" "$(data_off "$D" 5)" 4096
copy_bytes "$T/dev2" "$(meta_off "$D" 5)" "$D" "$(meta_off "$D" 5)" 32
expect_bad 5 "block 5 taken from another device" "$D" -k "$T/k32"
restore
flip "$D" 50
expect 6 "superblock bit: verify" "$TOOL" verify "$D" -k "$T/k32"
output_has "checksum" && pass "superblock bit: checksum message" ||
	fail "superblock bit: checksum message"
expect 6 "superblock bit: dump" "$TOOL" dump --json "$D"
output_has '"crc_ok":false' && pass "dump --json shows the bad CRC" ||
	fail "dump --json shows the bad CRC"
restore
flip "$D" 140
expect 6 "key check value bit: caught by the CRC" "$TOOL" verify "$D" -k "$T/k32"
restore
truncate -s 60M "$D"
expect 6 "truncated device" "$TOOL" verify "$D" -k "$T/k32"
output_has "truncated" && pass "truncated message" || fail "truncated message"
restore
expect 0 "restored device verifies" "$TOOL" verify "$D" -k "$T/k32"

# ---- --no-wipe ----
expect 0 "format --no-wipe" "$TOOL" format "$D" -k "$T/k32" --no-wipe --yes
[ "$(field "$D" wiped)" = false ] && pass "not flagged wiped" || fail "not flagged wiped"
expect 0 "verify --no-wipe: unwritten is not a failure" "$TOOL" verify "$D" -k "$T/k32"
output_has "$BLOCKS blocks never written" && pass "all blocks unwritten" ||
	fail "all blocks unwritten"
head -c 5000 "$IMG" | "$TOOL" encrypt - "$D" -k "$T/k32" >/dev/null
expect 0 "--no-wipe: verify after writing 2 blocks" "$TOOL" verify "$D" -k "$T/k32"
output_has "$((BLOCKS - 2)) blocks never written" && pass "2 blocks written" ||
	fail "2 blocks written"
expect 0 "--no-wipe: decrypt what was written" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32" --size 5000
check "--no-wipe: data equals" cmp "$T/plain" <(head -c 5000 "$IMG")
expect 3 "--no-wipe: decrypt of an unwritten block fails" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k32"
output_has "block 2 was never written" && pass "names the unwritten block" ||
	fail "names the unwritten block"

# ---- other geometries and key sizes ----
expect 0 "format 512-byte blocks, AES-128" "$TOOL" format "$D" -k "$T/k16" --block-size 512 --yes
B512=$(field "$D" data_blocks)
expect 0 "512: verify" "$TOOL" verify "$D" -k "$T/k16"
head -c $((B512 * 512)) /dev/urandom >"$IMG"
expect 0 "512: encrypt a full image" "$TOOL" encrypt "$IMG" "$D" -k "$T/k16"
expect 0 "512: decrypt" "$TOOL" decrypt "$D" "$T/plain" -k "$T/k16"
check "512: image equals" cmp "$IMG" "$T/plain"
flip "$D" $(($(data_off "$D" 300) + 511))
expect_bad 300 "512: data bit of block 300" "$D" -k "$T/k16"
expect 0 "AES-192, --data-size 8M, --region-size 64K" "$TOOL" format "$D" -k "$T/k24" --data-size 8M --region-size 64K --yes
[ "$(field "$D" capacity_bytes)" -eq 8388608 ] && [ "$(field "$D" region_sectors)" -eq 128 ] &&
	pass "capacity exactly 8 MiB, 64 KiB regions" || fail "capacity exactly 8 MiB, 64 KiB regions"
expect 0 "AES-192: verify" "$TOOL" verify "$D" -k "$T/k24"
expect 0 "odd-sized file" sh -c 'truncate -s 12345679 "$1" && "$2" format "$1" -k "$3" --yes && "$2" verify "$1" -k "$3"' sh "$T/odd" "$TOOL" "$T/k32"

echo "1..$n"
echo "# $n tests: $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
