#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checker for selftests/mirror-logwrites.sh (python3, stdlib only).

Sub-commands:

  fill DEV
      stamp every 4 KiB block of DEV as version 0 (the primary's initial
      content).
  write DEV [--writers N] [--rate R] [--seed S] [--stats FILE]
      N processes (each owning disjoint 32 KiB chunks, offset by 16 KiB so
      that writes straddle region boundaries) write stamped blocks with
      O_DIRECT, 1 to 8 blocks at a time, at most R writes/s each, with an
      fsync now and then, until SIGTERM.
  check --log LOG --primary P --mode plain|encrypted --sec OFF:LEN
        [--md OFF:LEN] --region SECTORS [--dev DEV] [--inject KIND]
        [--samples K --sample-dir DIR]
      parse the dm-log-writes log LOG, replay it onto an image of the
      log-writes device (zero at the start) and check every commit point
      (see below).  OFF:LEN in 512-byte sectors on the log-writes device.
  verify DEV JSON
      encrypted samples: read the listed blocks of the plaintext view DEV
      (a ccm mapping of a replayed image) and check their versions.
  flip IMAGE JSON
      corrupt one byte of the ciphertext of the first block listed in JSON.

Stamped blocks.  Every block the writer writes carries its block number,
a version number (unique per block; 0 = the initial fill), the list of
every earlier version of that block and a CRC-32 of the block.  Only one
process ever writes a given block, synchronously, so the versions of a
block are totally ordered, and the final primary block holds the block's
whole history H = [0, v1, ..., vlast].

Why this works.  The log holds every write to the secondary and to the
copy state in the order it became durable (dm-log-writes logs a write at
the flush that follows its completion; a FUA write at its completion).
The primary is not logged.  A region committed copied and not dirty must
hold the primary's data "as of that commit", and every later user write
to it reaches the secondary (after a dirty commit).  So at a commit point
M, if block b is written to the secondary n more times after M, the
primary held version H[-1 - n] at M, and the secondary must hold exactly
that version.  This checks every block of every committed-clean region at
every commit point, including blocks that are overwritten later (which a
comparison with the final primary alone cannot check).

Checks at each commit point (every log entry that writes the copy-state
slot area; the slots are decoded as the kernel does: magic, version,
CRC-32C, highest seq wins):

  content   plain: each block of each committed-clean region holds the
            expected version (above);
  order     no secondary write (data; encrypted: also a changed metadata
            entry) reaches a region while the current durable copy state
            says it is copied and clean: a region must be committed dirty
            first.  This also catches copy data logged after the commit
            that declares it copied (a missing flush);
  entries   encrypted: every block of a committed-clean region has a
            metadata entry written after its last data write.
  samples   encrypted: at K commit points the replayed secondary is saved;
            the test opens it with the ccm target and `verify` checks the
            expected versions through the kernel's decryption.

Also: the replay must reproduce the log-writes device byte for byte (--dev),
and the last commit must say every region copied and none dirty.

--inject corrupt: flip a byte of a committed-clean block in the replay
image (plain); --inject drop-dirty: treat the first write that follows a
dirty commit as if that dirty bit had not been committed; --inject
late-copy: move the last write to a region before the first commit that
declares it copied to just after that commit (a commit that forgot to
flush the secondary).  Each must be reported as a violation (the
checker's self-test).
"""

import argparse
import errno
import fcntl
import json
import mmap
import os
import random
import signal
import struct
import sys
import time
import zlib

BLK = 4096
MAGIC = b'LWSTAMP1'
HIST_MAX = (BLK - 4 - 32) // 8          # earlier versions a block can list

LW_MAGIC = 0x6a736677736872
LW_FLUSH, LW_FUA, LW_DISCARD, LW_MARK, LW_META = 1, 2, 4, 8, 16

SLOT_MAGIC = 0x54534D43
SLOT_HDR = 4096


# --------------------------------------------------------------------------
# Stamped blocks
# --------------------------------------------------------------------------

def make_block(blk, seq, writer, hist, rnd):
    head = struct.pack('<8sQQII', MAGIC, blk, seq, writer, len(hist))
    body = head + struct.pack('<%dQ' % len(hist), *hist)
    body += rnd.randbytes(BLK - 4 - len(body))
    return body + struct.pack('<I', zlib.crc32(body))


def parse_block(buf, off=0):
    """(block, seq, history) of a valid stamp, or None."""
    if buf[off:off + 8] != MAGIC:
        return None
    blk, seq, _w, nh = struct.unpack_from('<QQII', buf, off + 8)
    if nh > HIST_MAX:
        return None
    crc, = struct.unpack_from('<I', buf, off + BLK - 4)
    if zlib.crc32(buf[off:off + BLK - 4]) != crc:
        return None
    hist = struct.unpack_from('<%dQ' % nh, buf, off + 32)
    return blk, seq, hist


def dev_size(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def read_all(path):
    """Whole device through O_DIRECT (no stale page cache)."""
    size = dev_size(path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    out = bytearray(size)
    buf = mmap.mmap(-1, 1 << 20)
    pos = 0
    while pos < size:
        n = os.preadv(fd, [buf], pos)
        if n <= 0:
            raise OSError('short read of %s at %d' % (path, pos))
        out[pos:pos + n] = buf[:n]
        pos += n
    os.close(fd)
    return out


def cmd_fill(a):
    size = dev_size(a.dev)
    rnd = random.Random(1)
    fd = os.open(a.dev, os.O_WRONLY | os.O_DIRECT)
    per = 256
    buf = mmap.mmap(-1, per * BLK)
    for first in range(0, size // BLK, per):
        n = min(per, size // BLK - first)
        buf[:n * BLK] = b''.join(make_block(b, 0, 0, (), rnd)
                                 for b in range(first, first + n))
        os.pwritev(fd, [memoryview(buf)[:n * BLK]], first * BLK)
    os.fsync(fd)
    os.close(fd)


def chunk_blocks(c, nblocks):
    return max(0, c * 8 - 4), min(nblocks, c * 8 + 4)


def writer(dev, w, nw, rate, seed, stats):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    nblocks = dev_size(dev) // BLK
    nchunks = (nblocks + 4 + 7) // 8
    own = [c for c in range(nchunks) if c % nw == w]
    rnd = random.Random(seed * 1000 + w)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 8 * BLK)
    versions = {}
    seq = w + 1
    writes = fsyncs = 0
    t0 = time.monotonic()
    while not stop:
        lo, hi = chunk_blocks(rnd.choice(own), nblocks)
        if lo >= hi:
            continue
        start = rnd.randrange(lo, hi)
        cnt = min(hi - start, rnd.choice((1, 1, 1, 2, 2, 4, 8)))
        hists = [versions.get(b, [0]) for b in range(start, start + cnt)]
        if max(len(h) for h in hists) >= HIST_MAX:
            continue
        for i, h in enumerate(hists):
            buf[i * BLK:(i + 1) * BLK] = make_block(start + i, seq, w, h, rnd)
        n = os.pwritev(fd, [memoryview(buf)[:cnt * BLK]], start * BLK)
        if n != cnt * BLK:
            raise OSError('short write at block %d' % start)
        for i, h in enumerate(hists):
            versions[start + i] = h + [seq]
        seq += nw
        writes += 1
        if writes % 24 == 0:
            os.fsync(fd)
            fsyncs += 1
        if rate:
            delay = t0 + writes / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    os.close(fd)
    with open(stats, 'a') as f:
        f.write('writer %d: %d writes, %d fsyncs\n' % (w, writes, fsyncs))


def cmd_write(a):
    pids = []
    for w in range(a.writers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                writer(a.dev, w, a.writers, a.rate, a.seed, a.stats)
            except Exception as e:          # pylint: disable=broad-except
                sys.stderr.write('writer %d: %s\n' % (w, e))
                code = 1
            os._exit(code)
        pids.append(pid)
    alive = set(pids)

    def stop_all(*_):
        for p in alive:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, stop_all)
    rc = 0
    while alive:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        alive.discard(pid)
        if not os.WIFEXITED(st) or os.WEXITSTATUS(st):
            rc = 1
            stop_all()                  # a failed writer stops the others
    return rc


# --------------------------------------------------------------------------
# CRC-32C with fast runs of zero bytes (the padding of the slot bitmaps)
# --------------------------------------------------------------------------

def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


CRC_T = _crc_table()
_ZERO_OPS = {}


def _crc_bytes(r, data):
    t = CRC_T
    for b in data:
        r = t[(r ^ b) & 0xff] ^ (r >> 8)
    return r


def _crc_zeros(r, n):
    op = _ZERO_OPS.get(n)
    if op is None:                      # columns of the linear map
        op = []
        for i in range(32):
            c = 1 << i
            for _ in range(n):
                c = CRC_T[c & 0xff] ^ (c >> 8)
            op.append(c)
        _ZERO_OPS[n] = op
    out = 0
    i = 0
    while r:
        if r & 1:
            out ^= op[i]
        r >>= 1
        i += 1
    return out


def crc32c_segments(segs):
    """CRC-32C over (bytes, used) pairs: bytes[used:] are zero (checked)."""
    r = 0xffffffff
    for data, used in segs:
        r = _crc_bytes(r, data[:used])
        rest = len(data) - used
        if rest:
            r = _crc_zeros(r, rest)
    return r ^ 0xffffffff


assert crc32c_segments([(b'123456789', 9)]) == 0xE3069283
assert crc32c_segments([(b'12345678\0\0\0', 8)]) == \
    crc32c_segments([(b'12345678\0\0\0', 11)])


# --------------------------------------------------------------------------
# Log
# --------------------------------------------------------------------------

class Entry:
    __slots__ = ('idx', 'off', 'size', 'flags', 'data', 'text')

    def __init__(self, idx, off, size, flags, data, text=None):
        self.idx, self.off, self.size = idx, off, size
        self.flags, self.data, self.text = flags, data, text


def read_log(path):
    fd = os.open(path, os.O_RDONLY)
    try:                                # BLKFLSBUF: no stale page cache
        fcntl.ioctl(fd, 0x1261)
    except OSError:
        pass
    size = os.lseek(fd, 0, os.SEEK_END)
    m = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    os.close(fd)
    magic, version, nr, ss = struct.unpack_from('<QQQI', m, 0)
    if magic != LW_MAGIC or version != 1:
        raise SystemExit('not a dm-log-writes log (magic %#x version %d)' %
                         (magic, version))
    entries = []
    pos = ss
    for i in range(nr):
        sector, nsec, flags, dlen = struct.unpack_from('<4Q', m, pos)
        text = None
        if flags & LW_MARK:
            text = bytes(m[pos + 32:pos + 32 + dlen]).decode(errors='replace')
        pos += ss
        data = pos
        if not flags & LW_DISCARD:
            pos += nsec * ss
        if pos > size:
            raise SystemExit('log truncated at entry %d' % i)
        entries.append(Entry(i, sector * ss, nsec * ss, flags, data, text))
    if not entries or entries[-1].text != 'dm-log-writes-end':
        raise SystemExit('log incomplete: no end mark (log-writes not removed?)')
    return m, ss, entries


# --------------------------------------------------------------------------
# Check
# --------------------------------------------------------------------------

class Checker:
    def __init__(self, a):
        self.a = a
        self.mode = a.mode
        self.log, self.ss, self.entries = read_log(a.log)
        self.primary = read_all(a.primary)
        self.nblocks = len(self.primary) // BLK
        self.rsec = a.region
        self.bpr = a.region * 512 // BLK            # blocks per region
        self.nregions = -(-len(self.primary) // (a.region * 512))
        self.bm_used = -(-self.nregions // 8)
        self.bm_bytes = -(-self.bm_used // 4096) * 4096
        self.slot_bytes = SLOT_HDR + 2 * self.bm_bytes
        self.all_mask = (1 << self.nregions) - 1
        sec_off, sec_len = (int(x) * 512 for x in a.sec.split(':'))
        self.sec_off, self.sec_len = sec_off, sec_len
        end = sec_off + sec_len
        if self.mode == 'plain':
            md_off, md_len = (int(x) * 512 for x in a.md.split(':'))
            end = max(end, md_off + md_len)
            self.slot_off = md_off
            self.data_off = sec_off
            self.meta_off = self.meta_len = None
        self.img = bytearray(end)
        if self.mode == 'encrypted':
            self.sb_from_final()
        self.viol = []
        self.nviol = 0

    def sb_from_final(self):
        """Layout of the ccm secondary: its superblock, as the log leaves it."""
        sb = bytearray(512)
        for e in self.entries:
            if e.size and not e.flags & LW_DISCARD and \
               e.off <= self.sec_off < e.off + e.size:
                s = self.sec_off - e.off
                sb[:] = self.log[e.data + s:e.data + s + 512]
        if sb[:8] != b'CCM-MIRR':
            raise SystemExit('no ccm superblock in the log')
        f = lambda o, fmt: struct.unpack_from(fmt, sb, o)[0]
        if f(32, '<I') != BLK:
            raise SystemExit('data block size %d, expected %d' %
                             (f(32, '<I'), BLK))
        if f(92, '<I') != self.bm_bytes or f(96, '<Q') != self.nregions \
           or f(88, '<I') != self.rsec:
            raise SystemExit('superblock geometry differs from the mirror')
        self.slot_off = self.sec_off + f(48, '<Q') * 512
        self.meta_off = self.sec_off + f(64, '<Q') * 512
        self.meta_len = f(72, '<Q') * 512
        self.data_off = self.sec_off + f(80, '<Q') * 512

    def violation(self, kind, msg):
        self.nviol += 1
        if len(self.viol) < 20:
            self.viol.append('%s: %s' % (kind, msg))

    # -- copy state -----------------------------------------------------

    def decode_slot(self, i):
        o = self.slot_off + i * self.slot_bytes
        hdr = self.img[o:o + 64]
        magic, version, seq, rc, rs, _fl, ps, cc, pid, _r, crc = \
            struct.unpack('<IIQQIIQQQII', hdr)
        if magic != SLOT_MAGIC or version != 1:
            return None
        cp = self.img[o + SLOT_HDR:o + SLOT_HDR + self.bm_bytes]
        dt = self.img[o + SLOT_HDR + self.bm_bytes:o + self.slot_bytes]
        u = self.bm_used
        if cp.count(0, u) != len(cp) - u or dt.count(0, u) != len(dt) - u:
            return None                  # bits beyond the regions: invalid
        if crc32c_segments([(hdr[:60], 60), (cp, u), (dt, u)]) != crc:
            return None
        if rc != self.nregions or rs != self.rsec:
            return None
        copied = int.from_bytes(cp[:u], 'little')
        dirty = int.from_bytes(dt[:u], 'little')
        return seq, copied, dirty, cc, ps, pid

    def durable_state(self):
        best = None
        for i in range(2):
            s = self.decode_slot(i)
            if s and (best is None or s[0] > best[0]):
                best = s
        return best

    # -- blocks ---------------------------------------------------------

    def blocks_of(self, off, size):
        """Plaintext blocks an entry writes in the data area."""
        lo = max(off, self.data_off)
        hi = min(off + size, self.data_off + self.nblocks * BLK)
        if lo >= hi:
            return range(0)
        return range((lo - self.data_off) // BLK,
                     (hi - self.data_off + BLK - 1) // BLK)

    def expected(self, b):
        """Version block b must hold now (None: more writes than versions)."""
        n_after = self.total[b] - self.count[b]
        h = self.hist[b]
        return h[-1 - n_after] if n_after < len(h) else None

    def content_ok(self, b):
        o = self.data_off + b * BLK
        st = parse_block(self.img, o)
        exp = self.expected(b)
        if st is None or st[0] != b or exp is None or st[1] != exp:
            return False
        return True

    def set_bad(self, b, bad):
        r = b // self.bpr
        was = b in self.bad
        if bad and not was:
            self.bad.add(b)
            self.bad_count[r] += 1
            if self.bad_count[r] == 1:
                self.bad_mask |= 1 << r
        elif not bad and was:
            self.bad.discard(b)
            self.bad_count[r] -= 1
            if self.bad_count[r] == 0:
                self.bad_mask &= ~(1 << r)

    # -- the replay -----------------------------------------------------

    def run(self):
        a = self.a
        hist = []
        for b in range(self.nblocks):
            st = parse_block(self.primary, b * BLK)
            if st is None or st[0] != b:
                raise SystemExit('final primary block %d is not a stamp' % b)
            hist.append(list(st[2]) + [st[1]])
        self.hist = hist
        # Pass 1: secondary data writes per block.
        self.total = [0] * self.nblocks
        discards = marks_text = 0
        for e in self.entries:
            if e.flags & LW_DISCARD:
                discards += 1
            if e.flags & LW_MARK:
                marks_text += 1
            if e.size and not e.flags & LW_DISCARD:
                for b in self.blocks_of(e.off, e.size):
                    self.total[b] += 1
        self.count = [0] * self.nblocks
        # Content verdicts: plain only (encrypted data is ciphertext).
        self.bad = set()
        self.bad_count = [0] * self.nregions
        self.bad_mask = 0
        # Encrypted: blocks whose metadata entry is older than their data.
        self.torn = set()
        self.torn_count = [0] * self.nregions
        self.torn_mask = 0
        if self.mode == 'plain':
            for b in range(self.nblocks):
                self.set_bad(b, True)
        else:
            for b in range(self.nblocks):
                self.set_torn(b, True)

        slot_lo = self.slot_off
        slot_hi = self.slot_off + 2 * self.slot_bytes
        clean = 0
        state = None
        marks = marks_valid = regions_checked = 0
        inject_done = False
        samples = []
        sample_at = set()
        if self.mode == 'encrypted' and a.samples:
            slot_entries = [e.idx for e in self.entries
                            if e.size and e.off < slot_hi and
                            e.off + e.size > slot_lo]
            k = a.samples
            n = len(slot_entries)
            for i in range(1, k + 1):
                sample_at.add(slot_entries[min(n - 1, i * n // (k + 1))])
            if slot_entries:
                sample_at.add(slot_entries[-1])
        corrupt_at = None
        if a.inject == 'corrupt':
            slot_entries = [e.idx for e in self.entries
                            if e.size and e.off < slot_hi and
                            e.off + e.size > slot_lo]
            corrupt_at = slot_entries[len(slot_entries) // 2]
        entries = self.entries
        self.moved = None
        if a.inject == 'late-copy':
            entries = self.late_copy(slot_lo, slot_hi)
        writes = flushes = slot_writes = 0
        for e in entries:
            if e.flags & LW_FLUSH:
                flushes += 1
            if not e.size:
                continue
            if e.flags & LW_DISCARD:
                self.img[e.off:e.off + e.size] = bytes(e.size)
                continue
            blocks = self.blocks_of(e.off, e.size)
            meta_old = None
            if self.meta_off is not None and e.off < self.meta_off + \
               self.meta_len and e.off + e.size > self.meta_off:
                lo = max(e.off, self.meta_off)
                hi = min(e.off + e.size, self.meta_off + self.meta_len)
                meta_old = (lo, hi, bytes(self.img[lo:hi]))
            self.img[e.off:e.off + e.size] = \
                self.log[e.data:e.data + e.size]
            if blocks:
                writes += 1
                regs = {b // self.bpr for b in blocks}
                drop = 0
                if a.inject == 'drop-dirty' and not inject_done and state:
                    for r in regs:
                        if (state[1] >> r) & 1 and (state[2] >> r) & 1:
                            drop = 1 << r
                            inject_done = True
                            break
                for r in sorted(regs):
                    if ((clean | drop) >> r) & 1:
                        self.violation(
                            'order', 'entry %d writes region %d (blocks '
                            '%d-%d) committed clean at seq %d%s' %
                            (e.idx, r, blocks[0], blocks[-1], state[0],
                             ' [injected]' if drop or e.idx == self.moved
                             else ''))
                for b in blocks:
                    self.count[b] += 1
                    if self.mode == 'plain':
                        self.set_bad(b, not self.content_ok(b))
                    else:
                        self.set_torn(b, True)
            if meta_old:
                self.meta_changes(e, meta_old, clean)
            if e.off < slot_hi and e.off + e.size > slot_lo:
                marks += 1
                if struct.unpack_from('<I', self.log, e.data)[0] == \
                   SLOT_MAGIC:
                    slot_writes += 1
                    if not e.flags & LW_FUA:
                        self.violation('fua', 'entry %d: copy state slot '
                                       'written without REQ_FUA' % e.idx)
                state = self.durable_state()
                if state is None:
                    clean = 0
                    continue
                marks_valid += 1
                clean = state[1] & ~state[2] & self.all_mask
                if e.idx == corrupt_at:
                    self.inject_corrupt(clean)
                regions_checked += bin(clean).count('1')
                self.mark_check(e, state, clean)
                if e.idx in sample_at:
                    samples.append(self.save_sample(e, state, clean))
        return dict(marks=marks, marks_valid=marks_valid,
                    regions_checked=regions_checked, writes=writes,
                    entries=len(self.entries), discards=discards,
                    log_marks=marks_text, state=state, samples=samples,
                    flushes=flushes, slot_writes=slot_writes)

    def late_copy(self, slot_lo, slot_hi):
        """Entries with the last write to a region before the first commit
        that declares it copied moved to just after that commit: what a
        commit that does not flush the secondary first would log."""
        seen = 0
        last_write = {}
        for i, e in enumerate(self.entries):
            if not e.size or e.flags & LW_DISCARD:
                continue
            if e.off < slot_hi and e.off + e.size > slot_lo:
                if e.off != slot_lo and e.off != slot_lo + self.slot_bytes:
                    continue
                o = e.data + SLOT_HDR
                if struct.unpack_from('<I', self.log, e.data)[0] != \
                   SLOT_MAGIC or e.size < self.slot_bytes:
                    continue
                copied = int.from_bytes(self.log[o:o + self.bm_used],
                                        'little')
                o += self.bm_bytes
                dirty = int.from_bytes(self.log[o:o + self.bm_used],
                                       'little')
                new = copied & ~dirty & ~seen
                seen |= copied
                while new:
                    r = (new & -new).bit_length() - 1
                    new &= new - 1
                    if r in last_write:
                        j = last_write[r]
                        self.moved = self.entries[j].idx
                        print('# injected: entry %d (a write to region %d) '
                              'moved after entry %d (the commit that says '
                              'region %d copied)' % (self.moved, r, e.idx, r))
                        out = list(self.entries)
                        w = out.pop(j)
                        out.insert(i, w)    # i: the slot is now at i - 1
                        return out
                continue
            for b in self.blocks_of(e.off, e.size):
                last_write[b // self.bpr] = i
        raise SystemExit('inject: no commit that declares a region copied')

    def inject_corrupt(self, clean):
        if not clean:
            raise SystemExit('inject: no clean region at the chosen mark')
        r = (clean & -clean).bit_length() - 1
        b = r * self.bpr + self.bpr // 2
        o = self.data_off + b * BLK + 100
        self.img[o] ^= 0x10
        self.set_bad(b, not self.content_ok(b))
        print('# injected: flipped a byte of block %d (region %d)' % (b, r))

    def mark_check(self, e, state, clean):
        v = clean & (self.bad_mask | self.torn_mask)
        while v:
            r = (v & -v).bit_length() - 1
            v &= v - 1
            blks = [b for b in range(r * self.bpr, (r + 1) * self.bpr)
                    if b in self.bad or b in self.torn]
            why = []
            for b in blks[:4]:
                if b in self.torn:
                    why.append('%d: metadata entry older than data' % b)
                    continue
                st = parse_block(self.img, self.data_off + b * BLK)
                why.append('%d: holds %s, expected version %s' % (
                    b, 'no valid stamp' if st is None else
                    'block %d version %d' % (st[0], st[1]), self.expected(b)))
            self.violation('content', 'entry %d (slot seq %d): region %d '
                           'committed clean: %s' %
                           (e.idx, state[0], r, '; '.join(why)))

    # -- encrypted --------------------------------------------------------

    def set_torn(self, b, torn):
        r = b // self.bpr
        was = b in self.torn
        if torn and not was:
            self.torn.add(b)
            self.torn_count[r] += 1
            if self.torn_count[r] == 1:
                self.torn_mask |= 1 << r
        elif not torn and was:
            self.torn.discard(b)
            self.torn_count[r] -= 1
            if self.torn_count[r] == 0:
                self.torn_mask &= ~(1 << r)

    def meta_changes(self, e, meta_old, clean):
        lo, hi, old = meta_old
        new = self.img[lo:hi]
        # entries are 32 bytes, 128 to a 4 KiB metadata block
        first = (lo - self.meta_off) // 32
        for i in range(0, hi - lo, 32):
            if old[i:i + 32] == new[i:i + 32]:
                continue
            b = first + i // 32
            if b >= self.nblocks:
                continue
            r = b // self.bpr
            if (clean >> r) & 1:
                self.violation('order', 'entry %d changes the metadata '
                               'entry of block %d, region %d committed '
                               'clean' % (e.idx, b, r))
            self.set_torn(b, False)

    def save_sample(self, e, state, clean):
        d = self.a.sample_dir
        name = os.path.join(d, 'mark-%06d' % e.idx)
        with open(name + '.img', 'wb') as f:
            f.write(self.img[self.sec_off:self.sec_off + self.sec_len])
        blocks = []
        c = clean
        while c:
            r = (c & -c).bit_length() - 1
            c &= c - 1
            for b in range(r * self.bpr, min((r + 1) * self.bpr,
                                             self.nblocks)):
                blocks.append([b, self.expected(b)])
        with open(name + '.json', 'w') as f:
            json.dump(dict(entry=e.idx, seq=state[0],
                           data_offset=self.data_off - self.sec_off,
                           blocks=blocks), f)
        return name

    # -- final ----------------------------------------------------------

    def final_checks(self, res):
        out = []
        if self.a.dev:
            dev = read_all(self.a.dev)
            n = len(self.img)
            same = dev[:n] == self.img
            if not same:
                diff = next(i for i in range(0, n, BLK)
                            if dev[i:i + BLK] != self.img[i:i + BLK])
                what = 'differs first at byte %d' % diff
            else:
                what = '%d bytes' % n
            out.append(('replay', same,
                        'replaying %d log entries reproduces the log-writes '
                        'device (%s)' % (res['entries'], what)))
        st = res['state']
        ok = st is not None and st[1] == self.all_mask and st[2] == 0 and \
            st[3] == self.nregions
        out.append(('committed', ok,
                    'last commit (seq %s): %s of %d regions copied, %s dirty'
                    % (st and st[0], st and bin(st[1]).count('1'),
                       self.nregions, st and bin(st[2]).count('1'))))
        if self.mode == 'plain':
            sec = self.img[self.sec_off:self.sec_off + len(self.primary)]
            out.append(('final', sec == self.primary,
                        'replayed secondary equals the final primary'))
        return out


def cmd_check(a):
    t0 = time.monotonic()
    c = Checker(a)
    res = c.run()
    finals = c.final_checks(res)
    print('# log: %d entries (%d secondary data writes, %d slot writes, '
          '%d flushes, %d discards, %d marks), sector size %d' %
          (res['entries'], res['writes'], res['slot_writes'], res['flushes'],
           res['discards'], res['log_marks'], c.ss))
    print('# %d regions of %d blocks; %d commit points (%d with a valid '
          'slot), %d committed-clean regions checked, %d violations; '
          '%.1f s' % (c.nregions, c.bpr, res['marks'], res['marks_valid'],
                      res['regions_checked'], c.nviol,
                      time.monotonic() - t0))
    for v in c.viol:
        print('# VIOLATION ' + v)
    if c.nviol > len(c.viol):
        print('# ... %d more' % (c.nviol - len(c.viol)))
    what = 'block versions and write order' if c.mode == 'plain' else \
        'write order and metadata entries'
    print('RESULT marks %s %d commit points, %d committed-clean regions '
          'checked (%s), %d violations' %
          ('pass' if c.nviol == 0 and res['marks_valid'] > 0 else 'fail',
           res['marks'], res['regions_checked'], what, c.nviol))
    for name, ok, desc in finals:
        print('RESULT %s %s %s' % (name, 'pass' if ok else 'fail', desc))
    for s in res['samples']:
        print('SAMPLE ' + s)
    ok = c.nviol == 0 and all(f[1] for f in finals) and res['marks_valid']
    return 0 if ok else 1


def cmd_verify(a):
    with open(a.json) as f:
        s = json.load(f)
    fd = os.open(a.dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BLK)
    bad = []
    for b, exp in s['blocks']:
        try:
            os.preadv(fd, [buf], b * BLK)
        except OSError as e:
            bad.append('%d: %s' % (b, errno.errorcode.get(e.errno, e.errno)))
            continue
        st = parse_block(buf)
        if st is None or st[0] != b or exp is None or st[1] != exp:
            bad.append('%d: holds %s, expected version %s' % (
                b, 'no valid stamp' if st is None else
                'block %d version %d' % (st[0], st[1]), exp))
    os.close(fd)
    print('# entry %d (slot seq %d): %d blocks of committed-clean regions '
          'read through the ccm target, %d wrong' %
          (s['entry'], s['seq'], len(s['blocks']), len(bad)))
    for x in bad[:10]:
        print('# VIOLATION ' + x)
    return 1 if bad or not s['blocks'] else 0


def cmd_flip(a):
    with open(a.json) as f:
        s = json.load(f)
    if not s['blocks']:
        raise SystemExit('no block to corrupt')
    b = s['blocks'][len(s['blocks']) // 2][0]
    with open(a.image, 'r+b') as f:
        o = s['data_offset'] + b * BLK + 100
        f.seek(o)
        x = f.read(1)
        f.seek(o)
        f.write(bytes([x[0] ^ 0x10]))
    print('# flipped a ciphertext byte of block %d' % b)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('fill')
    s.add_argument('dev')
    s = sub.add_parser('write')
    s.add_argument('dev')
    s.add_argument('--writers', type=int, default=3)
    s.add_argument('--rate', type=float, default=0)
    s.add_argument('--seed', type=int, default=0)
    s.add_argument('--stats', default='/dev/stderr')
    s = sub.add_parser('check')
    s.add_argument('--log', required=True)
    s.add_argument('--primary', required=True)
    s.add_argument('--mode', choices=('plain', 'encrypted'), default='plain')
    s.add_argument('--sec', required=True)
    s.add_argument('--md')
    s.add_argument('--region', type=int, required=True)
    s.add_argument('--dev')
    s.add_argument('--inject', choices=('corrupt', 'drop-dirty',
                                        'late-copy'))
    s.add_argument('--samples', type=int, default=0)
    s.add_argument('--sample-dir')
    s = sub.add_parser('verify')
    s.add_argument('dev')
    s.add_argument('json')
    s = sub.add_parser('flip')
    s.add_argument('image')
    s.add_argument('json')
    a = p.parse_args()
    return {'fill': cmd_fill, 'write': cmd_write, 'check': cmd_check,
            'verify': cmd_verify, 'flip': cmd_flip}[a.cmd](a) or 0


if __name__ == '__main__':
    sys.exit(main())
