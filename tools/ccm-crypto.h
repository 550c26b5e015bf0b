/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: AES-CCM through OpenSSL EVP, the format's per-block
 * construction (AAD = struct ccm_aad), the key-check value, and keys.
 */
#ifndef CCM_CRYPTO_H
#define CCM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "ccm-format.h"

#define CCM_KEY_MAX	32

/* An AES-CCM key schedule: any RFC 3610 nonce (7..13) and tag (4..16). */
struct ccm_aead {
	void *ctx[2];		/* EVP_CIPHER_CTX: [0] decrypt, [1] encrypt */
	size_t nonce_len;
	size_t tag_len;
};

/* 0 on success, -1 (bad sizes or OpenSSL failure). */
int ccm_aead_init(struct ccm_aead *a, const uint8_t *key, size_t key_len,
		  size_t nonce_len, size_t tag_len);
void ccm_aead_free(struct ccm_aead *a);
/* Encrypt @len bytes (@len may be 0); in place allowed.  0 or -1. */
int ccm_aead_seal(struct ccm_aead *a, const uint8_t *nonce,
		  const uint8_t *aad, size_t aad_len, const uint8_t *in,
		  size_t len, uint8_t *out, uint8_t *tag);
/* Decrypt and authenticate: 0 authentic, 1 not authentic, -1 error. */
int ccm_aead_open(struct ccm_aead *a, const uint8_t *nonce,
		  const uint8_t *aad, size_t aad_len, const uint8_t *in,
		  size_t len, uint8_t *out, const uint8_t *tag);

/* The format's construction: 13-byte nonce, 16-byte tag, struct ccm_aad. */
int ccm_format_aead_init(struct ccm_aead *a, const uint8_t *key,
			 size_t key_len);
void ccm_aad_build(struct ccm_aad *aad, uint64_t block,
		   const uint8_t uuid[16]);
int ccm_block_seal(struct ccm_aead *a, const uint8_t uuid[16], uint64_t block,
		   const uint8_t *nonce, const uint8_t *in, size_t len,
		   uint8_t *out, uint8_t *tag);
int ccm_block_open(struct ccm_aead *a, const uint8_t uuid[16], uint64_t block,
		   const uint8_t *nonce, const uint8_t *in, size_t len,
		   uint8_t *out, const uint8_t *tag);

/* Key-check value of @sb from sb->uuid and sb->kcv_nonce: make or check. */
int ccm_kcv_make(struct ccm_aead *a, struct ccm_sb *sb);
int ccm_kcv_check(struct ccm_aead *a, const struct ccm_sb *sb);

/* Cryptographically strong random bytes; 0 or -1. */
int ccm_random(void *buf, size_t len);

/* A key read from a file or stdin ("-"): exactly 16, 24 or 32 bytes. */
struct ccm_key {
	uint8_t bytes[CCM_KEY_MAX];
	size_t len;
};

/* Returns an exit code, printing the reason on failure. */
int ccm_key_read(const char *path, struct ccm_key *k);
void ccm_key_wipe(struct ccm_key *k);

#endif /* CCM_CRYPTO_H */
