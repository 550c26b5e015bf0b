#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the ccm target selftests (ccm-*.sh), sourced after
# lib.sh.  Not a test: run on its own it reports a skip.
#
# Status INFO fields of the ccm target (Documentation/ccm-format.rst):
#  1 data block size  2 data blocks  3 auth failures  4 read errors
#  5 write errors  6 last failed block ("-" if none)  7 rw|ro
#
# ccm_setup                      checks, loads the module, writes the helper
# ccm_keyfile FILE [BYTES]       random key (default 32 bytes)
# ccm_format DEV KEYFILE [OPT..] ccm-mirror format --yes
# ccm_key_add KEYFILE            adds a logon key, echoes its reference
# ccm_sectors DEV                plaintext capacity in sectors
# ccm_table DEV REF [OPT...]     a full-size table line
# ccm_expect_load_error DESC REGEX TABLE [dmsetup create options]
# ccm_py CMD ARGS...             the offline helper (see below)
# ccm_cmp DEV FILE [direct]      DEV starts with FILE's bytes
# ccm_kmsg_mark, ccm_kmsg_since  dmesg lines since the last mark

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "TAP version 13"
	echo "1..0 # SKIP helper library, not a test"
	exit 4
fi

CCM_PY=$SCRATCH/ccm-helper.py
_CCM_MARK=0

ccm_setup()
{
	require_cmd dmsetup keyctl losetup python3 blockdev
	python3 -c 'import cryptography' 2> /dev/null ||
		ktap_skip_all "python3-cryptography not available"
	[ -x "$CCM_TOOL" ] || ktap_skip_all "CLI $CCM_TOOL not built"
	_ccm_write_helper
	if ! load_module; then
		echo "1..0 # cannot load $CCM_MODULE"
		exit "$KSFT_FAIL"
	fi
}

ccm_keyfile()
{
	head -c "${2:-32}" /dev/urandom > "$1"
}

ccm_format()
{
	local dev=$1 key=$2

	shift 2
	"$CCM_TOOL" format --key-file "$key" --yes "$@" "$dev" > /dev/null
}

# The key goes into the user keyring, which the user-session keyring
# links: a table load from a process without a session keyring (as here)
# finds it there.  (keyctl's @s would create a session keyring private to
# keyctl itself.)  Keys are unlinked when the test exits.
ccm_key_add()
{
	local key=$1 desc id

	desc="ccm-test:$$:$RANDOM$RANDOM"
	id=$(keyctl padd logon "$desc" @u < "$key") || return 1
	echo "$id" >> "$SCRATCH/.ccm-keys"
	echo ":$(stat -c %s "$key"):logon:$desc"
}

_ccm_cleanup()
{
	local id

	if [ -f "$SCRATCH/.ccm-keys" ]; then
		while read -r id; do
			keyctl unlink "$id" @u > /dev/null 2>&1
		done < "$SCRATCH/.ccm-keys"
	fi
	cleanup
}
trap _ccm_cleanup EXIT

# ccm_cmp DEV FILE [direct]: the first bytes of DEV equal FILE (read with
# O_DIRECT if asked; no process substitution: the guest has no /dev/fd).
ccm_cmp()
{
	local flags=count_bytes

	[ "${3:-}" = direct ] && flags=count_bytes,direct
	dd if="$1" bs=64k count="$(stat -c %s "$2")" iflag=$flags status=none |
		cmp - "$2"
}

# ccm_must DESC CMD...: ktap_check, and stop the test if it fails.
ccm_must()
{
	ktap_check "$@" && return 0
	log "cannot continue"
	ktap_finished
}

ccm_sectors()
{
	ccm_py sectors "$1"
}

ccm_table()
{
	local dev=$1 ref=$2

	shift 2
	if [ $# -gt 0 ]; then
		echo "0 $(ccm_sectors "$dev") ccm $dev $ref $# $*"
	else
		echo "0 $(ccm_sectors "$dev") ccm $dev $ref"
	fi
}

ccm_kmsg_mark()
{
	_CCM_MARK=$((_CCM_MARK + 1))
	echo "ccm-selftest: mark $$-$_CCM_MARK" > /dev/kmsg
}

ccm_kmsg_since()
{
	dmesg | sed -n "/ccm-selftest: mark $$-$_CCM_MARK\$/,\$p"
}

# ccm_expect_load_error DESC REGEX TABLE [OPTS]: the load is refused and
# the kernel log says REGEX.
ccm_expect_load_error()
{
	local desc=$1 re=$2 table=$3 opts=${4:-}

	ccm_kmsg_mark
	# shellcheck disable=SC2086
	if dmsetup create t-ccm-bad $opts --table "$table" > /dev/null 2>&1; then
		dmsetup remove t-ccm-bad
		log "table loaded: $table"
		ktap_test_fail "$desc"
		return 1
	fi
	if ccm_kmsg_since | grep -qE -- "$re"; then
		ktap_test_pass "$desc"
		return 0
	fi
	log "no kernel message /$re/; got:"
	log "$(ccm_kmsg_since | tail -n 5)"
	ktap_test_fail "$desc"
	return 1
}

ccm_py()
{
	python3 "$CCM_PY" "$@"
}

_ccm_write_helper()
{
	cat > "$CCM_PY" << 'EOF'
# Offline access to a ccm formatted device (dm-ccm-mirror.h) for tests.
import errno, fcntl, hashlib, mmap, os, struct, sys

SB_FIELDS = {  # name: (offset, struct format)
    'version': (8, '<I'), 'flags': (12, '<I'), 'data_block_size': (32, '<I'),
    'nonce_size': (36, 'B'), 'tag_size': (37, 'B'), 'key_size': (38, 'B'),
    'meta_entry_size': (39, 'B'), 'data_blocks': (40, '<Q'),
    'bitmap_offset': (48, '<Q'), 'bitmap_sectors': (56, '<Q'),
    'meta_offset': (64, '<Q'), 'meta_sectors': (72, '<Q'),
    'data_offset': (80, '<Q'), 'region_sectors': (88, '<I'),
    'bitmap_bytes': (92, '<I'), 'region_count': (96, '<Q'),
    'device_sectors': (104, '<Q'), 'crc32c': (508, '<I'),
}
KCV_BLOCK = 2**64 - 1


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def open_dev(path, mode=os.O_RDONLY):
    fd = os.open(path, mode)
    try:  # BLKFLSBUF: write back and drop the page cache
        fcntl.ioctl(fd, 0x1261)
    except OSError:
        pass
    return fd


class Dev:
    def __init__(self, path, write=False):
        self.fd = open_dev(path, os.O_RDWR if write else os.O_RDONLY)
        self.sb = bytearray(os.pread(self.fd, 512, 0))

    def f(self, name):
        off, fmt = SB_FIELDS[name]
        return struct.unpack_from(fmt, self.sb, off)[0]

    @property
    def bs(self):
        return self.f('data_block_size')

    @property
    def uuid(self):
        return bytes(self.sb[16:32])

    def data_off(self, blk):
        return self.f('data_offset') * 512 + blk * self.bs

    def meta_off(self, blk):
        return self.f('meta_offset') * 512 + (blk // 128) * 4096 + \
            (blk % 128) * 32

    def read(self, off, n):
        return os.pread(self.fd, n, off)

    def write(self, off, data):
        os.pwrite(self.fd, data, off)

    def write_sb(self, fix_crc=True):
        if fix_crc:
            struct.pack_into('<I', self.sb, 508, crc32c(bytes(self.sb[:508])))
        self.write(0, bytes(self.sb))

    def close(self):
        os.fsync(self.fd)
        os.close(self.fd)


def aead(key):
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    return AESCCM(key, tag_length=16)


def aad(blk, uuid):
    return struct.pack('<Q', blk) + uuid


def pattern(name):
    kind, n = name.rsplit('-', 1)
    n = int(n)
    return bytes(n) if kind == 'zero' else bytes(i % 256 for i in range(n))


def main(a):
    cmd = a[0]
    if cmd == 'sectors':
        d = Dev(a[1])
        print(d.f('data_blocks') * d.bs // 512)
    elif cmd == 'get':                      # get DEV FIELD
        print(Dev(a[1]).f(a[2]))
    elif cmd == 'set':                      # set DEV FIELD VALUE [nocrc]
        d = Dev(a[1], True)
        off, fmt = SB_FIELDS[a[2]]
        struct.pack_into(fmt, d.sb, off, int(a[3], 0))
        d.write_sb(len(a) < 5)
        d.close()
    elif cmd == 'flip':                     # flip DEV data|tag|nonce|sb BLK|OFF
        d = Dev(a[1], True)
        what, n = a[2], int(a[3])
        off = {'data': lambda: d.data_off(n) + 100,
               'nonce': lambda: d.meta_off(n) + 5,
               'tag': lambda: d.meta_off(n) + 16 + 7,
               'sb': lambda: n}[what]()
        b = d.read(off, 1)[0]
        d.write(off, bytes([b ^ 0x10]))
        d.close()
    elif cmd == 'swap':                     # swap DEV A B
        d = Dev(a[1], True)
        x, y = int(a[2]), int(a[3])
        for off, n in ((d.data_off, d.bs), (d.meta_off, 32)):
            bx, by = d.read(off(x), n), d.read(off(y), n)
            d.write(off(x), by)
            d.write(off(y), bx)
        d.close()
    elif cmd == 'copy':                     # copy SRC DST BLK
        s, d, n = Dev(a[1]), Dev(a[2], True), int(a[3])
        d.write(d.data_off(n), s.read(s.data_off(n), s.bs))
        d.write(d.meta_off(n), s.read(s.meta_off(n), 32))
        d.close()
    elif cmd == 'badblocks':                # badblocks MAPPED_DEV BS
        bs = int(a[2])
        fd = os.open(a[1], os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, bs)
        size = os.lseek(fd, 0, os.SEEK_END)
        bad = []
        for blk in range(size // bs):
            try:
                os.preadv(fd, [buf], blk * bs)
            except OSError as e:
                bad.append('%d:%s' % (blk, errno.errorcode[e.errno]))
        print(' '.join(bad) if bad else 'none')
    elif cmd == 'decrypt-block':            # decrypt-block DEV KEYFILE BLK
        d = Dev(a[1])
        key, n = open(a[2], 'rb').read(), int(a[3])
        ent = d.read(d.meta_off(n), 32)
        ct = d.read(d.data_off(n), d.bs)
        pt = aead(key).decrypt(ent[:13], ct + ent[16:32], aad(n, d.uuid))
        sys.stdout.buffer.write(pt)
    elif cmd == 'vectors':                  # vectors DEV KEYFILE EXPECTED
        # Rewrite the device as the vectors' uuid (with a matching key
        # check value) and store every vector that fits the device, after
        # checking this implementation against the expected lines.
        d = Dev(a[1], True)
        key = open(a[2], 'rb').read()
        ccm = aead(key)
        done = []
        for line in open(a[3]):
            v = dict(kv.split('=', 1) for kv in line.split())
            if bytes.fromhex(v['key']) != key:
                continue
            uuid, nonce = bytes.fromhex(v['uuid']), bytes.fromhex(v['nonce'])
            blk, pt = int(v['block']), pattern(v['pt'])
            out = ccm.encrypt(nonce, pt, aad(blk, uuid))
            ct, tag = out[:-16], out[-16:]
            if hashlib.sha256(ct).hexdigest() != v['ct_sha256'] or \
               tag.hex() != v['tag']:
                sys.exit('python AES-CCM disagrees with: ' + line)
            if blk == KCV_BLOCK:
                d.sb[16:32] = uuid
                d.sb[112:125] = nonce
                d.sb[128:144] = ct
                d.sb[144:160] = tag
                continue
            if len(pt) != d.bs or blk >= d.f('data_blocks'):
                continue
            d.write(d.data_off(blk), ct)
            d.write(d.meta_off(blk), nonce + bytes(3) + tag)
            done.append('%d:%s' % (blk, v['pt']))
        d.write_sb()
        d.close()
        print(' '.join(done))
    elif cmd == 'pattern':                  # pattern NAME > file
        sys.stdout.buffer.write(pattern(a[1]))
    else:
        sys.exit('unknown command ' + cmd)


main(sys.argv[1:])
EOF
}
