// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-vectors: fixed test vectors of the dm-ccm-mirror block encryption,
 * for checking another implementation (the kernel's) against the tools.
 *
 * One line per vector:
 *
 *   key=<hex> uuid=<hex> block=<n> nonce=<hex> pt=<pattern> ct_sha256=<hex> tag=<hex>
 *
 * key: 16, 24 or 32 bytes; uuid: the 16 device UUID bytes as stored in
 * the superblock; block: the data block number (decimal; 2^64-1 is the
 * key-check value's CCM_KCV_BLOCK); nonce: the 13 bytes of the meta
 * entry; pt: the plaintext, "<name>-<length>" with name "zero" (all
 * zero bytes) or "inc" (byte i is i mod 256); ct_sha256: SHA-256 of the
 * ciphertext (same length as the plaintext); tag: the 16-byte tag.
 * AAD is struct ccm_aad: le64 block number then the uuid (24 bytes).
 *
 * tests/ccm-vectors.expected holds the output, produced independently by
 * tests/ccm-vectors.py (CCM written out from AES-ECB).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ccm-crypto.h"

struct vector {
	unsigned int key_len;
	uint64_t block;
	int nonce;		/* 0: 00 01 .. 0c, 1: a0 a1 .. ac */
	const char *pattern;	/* "zero" or "inc" */
	size_t len;
};

static const struct vector vectors[] = {
	{ 0, 0, 0, "zero", 4096 },
	{ 0, 1, 0, "inc", 4096 },
	{ 0, 12345, 1, "inc", 4096 },
	{ 0, 0, 0, "inc", 512 },
	{ 0, 4294967301ULL, 1, "zero", 512 },
	{ 0, CCM_KCV_BLOCK, 0, "zero", 16 },
};

static void print_hex(const char *name, const uint8_t *buf, size_t len)
{
	char hex[2 * 64 + 1];

	ccm_hex(buf, len, hex);
	printf("%s=%s", name, hex);
}

static int one(unsigned int key_len, const struct vector *v)
{
	uint8_t key[32], uuid[16], nonce[CCM_NONCE_SIZE], tag[CCM_TAG_SIZE];
	uint8_t pt[4096], ct[4096], digest[32];
	struct ccm_aead a;
	unsigned int i;

	for (i = 0; i < key_len; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 16; i++)
		uuid[i] = (uint8_t)(0x11 * i);
	for (i = 0; i < CCM_NONCE_SIZE; i++)
		nonce[i] = (uint8_t)((v->nonce ? 0xa0 : 0) + i);
	for (i = 0; i < v->len; i++)
		pt[i] = strcmp(v->pattern, "inc") ? 0 : (uint8_t)i;
	if (ccm_format_aead_init(&a, key, key_len) ||
	    ccm_block_seal(&a, uuid, v->block, nonce, pt, v->len, ct, tag) ||
	    !EVP_Digest(ct, v->len, digest, NULL, EVP_sha256(), NULL)) {
		fprintf(stderr, "ccm-vectors: OpenSSL failure\n");
		ccm_aead_free(&a);
		return 1;
	}
	ccm_aead_free(&a);
	print_hex("key", key, key_len);
	print_hex(" uuid", uuid, 16);
	printf(" block=%" PRIu64, v->block);
	print_hex(" nonce", nonce, sizeof(nonce));
	printf(" pt=%s-%zu", v->pattern, v->len);
	print_hex(" ct_sha256", digest, sizeof(digest));
	print_hex(" tag", tag, sizeof(tag));
	putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned int key_lens[] = { 16, 24, 32 };
	unsigned int k, i;

	if (argc > 1) {
		printf("Usage: %s\nPrints fixed AES-CCM vectors of the ccm format, one a line:\n"
		       "key=<hex> uuid=<hex> block=<n> nonce=<hex> pt=<zero|inc>-<len> ct_sha256=<hex> tag=<hex>\n",
		       argv[0]);
		return strcmp(argv[1], "--help") && strcmp(argv[1], "-h");
	}
	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
			if (one(key_lens[k], &vectors[i]))
				return 1;
	return 0;
}
