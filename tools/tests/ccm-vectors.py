#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reference for tests/ccm-vectors.expected, independent of the C tools.

AES-CCM (RFC 3610) is written out here from the AES block function
(CBC-MAC, then CTR), with the ccm format's AAD (le64 block number, then
the 16-byte uuid), and checked against python3-cryptography's AESCCM.
Prints the same lines as tests/ccm-vectors; see ccm-vectors.c for the
format.  Needs python3-cryptography.
"""
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

KCV_BLOCK = 2**64 - 1
VECTORS = [(0, 0, "zero", 4096), (1, 0, "inc", 4096), (12345, 1, "inc", 4096),
           (0, 0, "inc", 512), (4294967301, 1, "zero", 512),
           (KCV_BLOCK, 0, "zero", 16)]


def ccm_seal(key, nonce, aad, pt, tag_len=16):
    aes = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    E = lambda b: aes.update(b)
    L = 15 - len(nonce)
    flags = (0x40 if aad else 0) | ((tag_len - 2) // 2) << 3 | (L - 1)
    b = bytes([flags]) + nonce + len(pt).to_bytes(L, "big")
    a = struct.pack(">H", len(aad)) + aad if aad else b""
    a += bytes(-len(a) % 16)
    p = pt + bytes(-len(pt) % 16)
    x = bytes(16)
    for i in range(0, len(b + a + p), 16):
        x = E(bytes(u ^ v for u, v in zip(x, (b + a + p)[i:i + 16])))
    ctr = lambda i: E(bytes([L - 1]) + nonce + i.to_bytes(L, "big"))
    stream = b"".join(ctr(i) for i in range(1, len(p) // 16 + 2))
    ct = bytes(u ^ v for u, v in zip(pt, stream))
    tag = bytes(u ^ v for u, v in zip(x, ctr(0)))[:tag_len]
    return ct, tag


def main():
    uuid = bytes(0x11 * i for i in range(16))
    for key_len in (16, 24, 32):
        key = bytes(range(key_len))
        for block, n, pattern, length in VECTORS:
            nonce = bytes((0xa0 if n else 0) + i for i in range(13))
            pt = bytes(i % 256 if pattern == "inc" else 0
                       for i in range(length))
            aad = struct.pack("<Q", block) + uuid
            ct, tag = ccm_seal(key, nonce, aad, pt)
            assert AESCCM(key, tag_length=16).encrypt(nonce, pt, aad) == ct + tag
            print(f"key={key.hex()} uuid={uuid.hex()} block={block} "
                  f"nonce={nonce.hex()} pt={pattern}-{length} "
                  f"ct_sha256={hashlib.sha256(ct).hexdigest()} tag={tag.hex()}")


if __name__ == "__main__":
    main()
