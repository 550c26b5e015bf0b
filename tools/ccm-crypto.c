// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: AES-CCM through OpenSSL EVP (RFC 3610, NIST SP 800-38C).
 *
 * Two EVP contexts per key, one per direction: OpenSSL picks its CCM
 * stream function (encrypt or decrypt) and fixes the tag length when the
 * key is set.  Per message: the expected tag (decrypt), the nonce, the
 * total length, the associated data in one call, the text in one call.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ccm-crypto.h"
#include "ccm-util.h"

static const EVP_CIPHER *ccm_cipher(size_t key_len)
{
	switch (key_len) {
	case 16:
		return EVP_aes_128_ccm();
	case 24:
		return EVP_aes_192_ccm();
	case 32:
		return EVP_aes_256_ccm();
	}
	return NULL;
}

static EVP_CIPHER_CTX *ccm_ctx_new(const EVP_CIPHER *cipher,
				   const uint8_t *key, size_t nonce_len,
				   size_t tag_len, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (ctx &&
	    (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)nonce_len,
				 NULL) != 1 ||
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)tag_len,
				 NULL) != 1 ||
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc) != 1)) {
		EVP_CIPHER_CTX_free(ctx);
		ERR_clear_error();
		ctx = NULL;
	}
	return ctx;
}

int ccm_aead_init(struct ccm_aead *a, const uint8_t *key, size_t key_len,
		  size_t nonce_len, size_t tag_len)
{
	const EVP_CIPHER *cipher = ccm_cipher(key_len);
	int enc;

	memset(a, 0, sizeof(*a));
	if (!cipher || nonce_len < 7 || nonce_len > 13 || tag_len < 4 ||
	    tag_len > 16 || (tag_len & 1))
		return -1;
	for (enc = 0; enc < 2; enc++) {
		a->ctx[enc] = ccm_ctx_new(cipher, key, nonce_len, tag_len, enc);
		if (!a->ctx[enc]) {
			ccm_aead_free(a);
			return -1;
		}
	}
	a->nonce_len = nonce_len;
	a->tag_len = tag_len;
	return 0;
}

void ccm_aead_free(struct ccm_aead *a)
{
	/* EVP_CIPHER_CTX_free cleanses the key schedule */
	EVP_CIPHER_CTX_free(a->ctx[0]);
	EVP_CIPHER_CTX_free(a->ctx[1]);
	a->ctx[0] = a->ctx[1] = NULL;
}

/* Nonce, lengths and AAD: the common start of a message. */
static int ccm_start(struct ccm_aead *a, int enc, const uint8_t *nonce,
		     const uint8_t *aad, size_t aad_len, size_t len)
{
	EVP_CIPHER_CTX *ctx = a->ctx[enc];
	int n;

	if (len > INT_MAX || aad_len > INT_MAX)
		return -1;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, NULL, (int)len) != 1)
		return -1;
	if (aad_len &&
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		return -1;
	return 0;
}

int ccm_aead_seal(struct ccm_aead *a, const uint8_t *nonce,
		  const uint8_t *aad, size_t aad_len, const uint8_t *in,
		  size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = a->ctx[1];
	uint8_t dummy[16];	/* CCM's Final writes nothing */
	int n;

	if (ccm_start(a, 1, nonce, aad, aad_len, len) ||
	    EVP_EncryptUpdate(ctx, len ? out : dummy, &n, len ? in : dummy,
			      (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, dummy, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)a->tag_len,
				tag) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int ccm_aead_open(struct ccm_aead *a, const uint8_t *nonce,
		  const uint8_t *aad, size_t aad_len, const uint8_t *in,
		  size_t len, uint8_t *out, const uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = a->ctx[0];
	uint8_t dummy;
	int n;

	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)a->tag_len,
				(void *)tag) != 1 ||
	    ccm_start(a, 0, nonce, aad, aad_len, len)) {
		ERR_clear_error();
		return -1;
	}
	/* CCM verifies the tag in this call: failure means not authentic. */
	if (EVP_DecryptUpdate(ctx, len ? out : &dummy, &n, len ? in : &dummy,
			      (int)len) != 1) {
		ERR_clear_error();
		OPENSSL_cleanse(out, len);
		return 1;
	}
	return 0;
}

int ccm_format_aead_init(struct ccm_aead *a, const uint8_t *key,
			 size_t key_len)
{
	return ccm_aead_init(a, key, key_len, CCM_NONCE_SIZE, CCM_TAG_SIZE);
}

void ccm_aad_build(struct ccm_aad *aad, uint64_t block,
		   const uint8_t uuid[16])
{
	aad->block = htole64(block);
	memcpy(aad->uuid, uuid, sizeof(aad->uuid));
}

int ccm_block_seal(struct ccm_aead *a, const uint8_t uuid[16], uint64_t block,
		   const uint8_t *nonce, const uint8_t *in, size_t len,
		   uint8_t *out, uint8_t *tag)
{
	struct ccm_aad aad;

	ccm_aad_build(&aad, block, uuid);
	return ccm_aead_seal(a, nonce, (const uint8_t *)&aad, sizeof(aad), in,
			     len, out, tag);
}

int ccm_block_open(struct ccm_aead *a, const uint8_t uuid[16], uint64_t block,
		   const uint8_t *nonce, const uint8_t *in, size_t len,
		   uint8_t *out, const uint8_t *tag)
{
	struct ccm_aad aad;

	ccm_aad_build(&aad, block, uuid);
	return ccm_aead_open(a, nonce, (const uint8_t *)&aad, sizeof(aad), in,
			     len, out, tag);
}

int ccm_kcv_make(struct ccm_aead *a, struct ccm_sb *sb)
{
	static const uint8_t zero[sizeof(sb->kcv)];

	return ccm_block_seal(a, sb->uuid, CCM_KCV_BLOCK, sb->kcv_nonce, zero,
			      sizeof(zero), sb->kcv, sb->kcv_tag);
}

int ccm_kcv_check(struct ccm_aead *a, const struct ccm_sb *sb)
{
	static const uint8_t zero[sizeof(sb->kcv)];
	uint8_t pt[sizeof(sb->kcv)];
	int ret;

	ret = ccm_block_open(a, sb->uuid, CCM_KCV_BLOCK, sb->kcv_nonce,
			     sb->kcv, sizeof(sb->kcv), pt, sb->kcv_tag);
	if (!ret && CRYPTO_memcmp(pt, zero, sizeof(pt)))
		ret = 1;
	OPENSSL_cleanse(pt, sizeof(pt));
	return ret;
}

int ccm_random(void *buf, size_t len)
{
	if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int ccm_key_read(const char *path, struct ccm_key *k)
{
	bool is_stdin = !strcmp(path, "-");
	uint8_t buf[CCM_KEY_MAX + 1];
	const char *name = is_stdin ? "standard input" : path;
	ssize_t n;
	int fd, err;

	k->len = 0;
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ccm_err("key file %s: %s", path, strerror(errno));
		return CCM_EXIT_USAGE;
	}
	n = ccm_read_full(fd, buf, sizeof(buf));
	err = errno;
	if (!is_stdin)
		close(fd);
	if (n < 0) {
		ccm_err("key file %s: %s", name, strerror(err));
		return CCM_EXIT_USAGE;
	}
	if (n != 16 && n != 24 && n != 32) {
		OPENSSL_cleanse(buf, sizeof(buf));
		ccm_err("key from %s has %s%zd bytes; a key is exactly 16, 24 or 32 raw bytes (AES-128/192/256, no newline)",
			name, n > CCM_KEY_MAX ? "more than " : "",
			n > CCM_KEY_MAX ? (ssize_t)CCM_KEY_MAX : n);
		return CCM_EXIT_USAGE;
	}
	memcpy(k->bytes, buf, (size_t)n);
	k->len = (size_t)n;
	OPENSSL_cleanse(buf, sizeof(buf));
	return CCM_EXIT_OK;
}

void ccm_key_wipe(struct ccm_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}
