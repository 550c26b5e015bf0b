// SPDX-License-Identifier: GPL-2.0
/*
 * afalg-ccm: raw speed of the kernel's AES-CCM ("ccm(aes)") AEAD on
 * fixed-size blocks, through AF_ALG, with the construction of the ccm
 * format (13-byte nonce, 24-byte associated data, 16-byte tag).
 *
 * usage: afalg-ccm [-t SECONDS] [-b BLOCK_BYTES] [-k KEY_BYTES] [-j THREADS]
 *                  [-d] [-a ALG] [-m aead|skcipher|hash]
 *   -t  run time per direction (default 5)
 *   -b  request size: bytes of payload per operation (default 4096)
 *   -k  AES key size: 16, 24 or 32 (default 32)
 *   -j  threads, each with its own AF_ALG socket (default 1)
 *   -d  also measure decryption (authenticated; aead and skcipher)
 *   -a  algorithm name (default "ccm(aes)"; e.g. "gcm(aes)" for comparison,
 *       with a 12-byte IV)
 *   -m  AF_ALG type: aead (default), skcipher (e.g. "ctr(aes)", 16-byte IV,
 *       no AAD nor tag) or hash (a keyed hash such as "cbcmac(aes)": one
 *       digest per request): to split ccm(aes) into its two halves, the
 *       CTR encryption and the CBC-MAC.
 * Prints one JSON object: {"alg":..., "type":..., "driver":..., "block":...,
 * "threads":..., "encrypt_MBps":..., "encrypt_ops":..., "decrypt_MBps":...}
 * (MB = 10^6 bytes of payload; the AAD is not counted; for a hash
 * "encrypt" means digest).
 * Exit status: 0, 1 on usage errors, 2 if AF_ALG or the algorithm is not
 * available (modprobe algif_aead), 3 if a decryption failed to authenticate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_alg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

#define AAD_LEN		24
#define TAG_LEN		16
#define NONCE_LEN	13

static const char *alg = "ccm(aes)";
static const char *type = "aead";
static double seconds = 5.0;
static size_t block = 4096;
static int keylen = 32;
static int threads = 1;
static int do_decrypt;
static unsigned char key[32];

struct worker {
	pthread_t th;
	int enc;		/* 1 encrypt, 0 decrypt */
	uint64_t ops;
	double elapsed;
	int err;		/* errno of a failure, EBADMSG: auth failure */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int is_ccm(void)
{
	return strncmp(alg, "ccm(", 4) == 0;
}

static int is_aead(void)
{
	return strcmp(type, "aead") == 0;
}

static int is_hash(void)
{
	return strcmp(type, "hash") == 0;
}

static size_t iv_len(void)
{
	if (is_hash())
		return 0;
	return is_ccm() || !is_aead() ? 16 : 12;
}

/* Bytes around the payload: AAD before it, tag after it (aead only). */
static size_t aad_len(void)
{
	return is_aead() ? AAD_LEN : 0;
}

static size_t tag_len(void)
{
	return is_aead() ? TAG_LEN : 0;
}

/* Opens a transform socket with the key set; returns the op fd or -1. */
static int alg_open(int *tfm_out)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	int tfm, op;

	snprintf((char *)sa.salg_type, sizeof(sa.salg_type), "%s", type);
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", alg);
	tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (tfm < 0)
		return -1;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, keylen) < 0 ||
	    (is_aead() &&
	     setsockopt(tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, TAG_LEN) < 0)) {
		close(tfm);
		return -1;
	}
	op = accept(tfm, NULL, 0);
	if (op < 0) {
		close(tfm);
		return -1;
	}
	*tfm_out = tfm;
	return op;
}

/*
 * One AEAD operation: in = AAD || text [|| tag], out = AAD || text [|| tag].
 * Returns the number of bytes read, or -1 with errno.
 */
static ssize_t aead_op(int op, int enc, const unsigned char *iv,
		       const unsigned char *in, size_t inlen,
		       unsigned char *out, size_t outlen)
{
	char cbuf[CMSG_SPACE(sizeof(uint32_t)) +
		  CMSG_SPACE(sizeof(struct af_alg_iv) + 16) +
		  CMSG_SPACE(sizeof(uint32_t))] = { 0 };
	struct iovec iov = { .iov_base = (void *)in, .iov_len = inlen };
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *c;
	struct af_alg_iv *aiv;
	size_t ivl = iv_len();

	if (is_hash()) {
		/* One complete digest per request: no control data. */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		if (sendmsg(op, &msg, 0) != (ssize_t)inlen)
			return -1;
		return read(op, out, outlen);
	}
	if (!is_aead())
		msg.msg_controllen = CMSG_SPACE(sizeof(uint32_t)) +
				     CMSG_SPACE(sizeof(struct af_alg_iv) + 16);

	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	*(uint32_t *)CMSG_DATA(c) = enc ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;

	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + 16);
	aiv = (struct af_alg_iv *)CMSG_DATA(c);
	aiv->ivlen = ivl;
	memcpy(aiv->iv, iv, ivl);

	if (is_aead()) {
		c = CMSG_NXTHDR(&msg, c);
		c->cmsg_level = SOL_ALG;
		c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
		c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
		*(uint32_t *)CMSG_DATA(c) = AAD_LEN;
	}

	if (sendmsg(op, &msg, 0) != (ssize_t)inlen)
		return -1;
	return read(op, out, outlen);
}

static void make_iv(unsigned char *iv, uint64_t ctr)
{
	/* ccm_build_iv(): iv[0] = L - 1 = 1, iv[1..13] = nonce, 0, 0 */
	memset(iv, 0, 16);
	if (is_ccm() && is_aead()) {
		iv[0] = 1;
		memcpy(iv + 1, &ctr, sizeof(ctr));
	} else {
		memcpy(iv, &ctr, sizeof(ctr));
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	size_t aad = aad_len(), tag = tag_len();
	size_t inlen = aad + block + (w->enc ? 0 : tag);
	size_t outlen = is_hash() ? 64 : aad + block + (w->enc ? tag : 0);
	unsigned char *in = calloc(1, AAD_LEN + block + TAG_LEN + 64);
	unsigned char *out = calloc(1, AAD_LEN + block + TAG_LEN + 64);
	unsigned char iv[16];
	uint64_t n = 0;
	double t0, t;
	int tfm, op;

	if (!in || !out) {
		w->err = ENOMEM;
		goto out;
	}
	op = alg_open(&tfm);
	if (op < 0) {
		w->err = errno;
		goto out;
	}
	for (size_t i = 0; i < block; i++)
		in[aad + i] = (unsigned char)(i * 7 + 1);
	make_iv(iv, 1);
	if (!w->enc) {
		/* A valid ciphertext + tag to authenticate over and over. */
		if (aead_op(op, 1, iv, in, aad + block, out,
			    aad + block + tag) < 0) {
			w->err = errno;
			goto close;
		}
		memcpy(in, out, aad + block + tag);
	}
	t0 = now();
	do {
		/* Check the clock every 64 operations. */
		for (int i = 0; i < 64; i++, n++) {
			if (w->enc) {
				make_iv(iv, n);
				/* block number (AAD, or the payload) */
				memcpy(in, &n, sizeof(n));
			}
			if (aead_op(op, w->enc, iv, in, inlen, out, outlen) < 0) {
				w->err = errno;
				goto close;
			}
		}
		t = now() - t0;
	} while (t < seconds);
	w->ops = n;
	w->elapsed = t;
close:
	close(op);
	close(tfm);
out:
	free(in);
	free(out);
	return NULL;
}

/* Runs @threads workers in one direction; returns MB/s or -1. */
static double measure(int enc, uint64_t *ops)
{
	struct worker *w = calloc(threads, sizeof(*w));
	double mbps = 0;

	*ops = 0;
	for (int i = 0; i < threads; i++) {
		w[i].enc = enc;
		if (pthread_create(&w[i].th, NULL, run, &w[i])) {
			fprintf(stderr, "afalg-ccm: pthread_create failed\n");
			exit(2);
		}
	}
	for (int i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	for (int i = 0; i < threads; i++) {
		if (w[i].err) {
			fprintf(stderr, "afalg-ccm: %s %s: %s\n", alg,
				enc ? "encrypt" : "decrypt", strerror(w[i].err));
			exit(w[i].err == EBADMSG ? 3 : 2);
		}
		*ops += w[i].ops;
		mbps += w[i].ops * (double)block / w[i].elapsed / 1e6;
	}
	free(w);
	return mbps;
}

/* The driver the kernel picked, from /proc/crypto (best effort). */
static void driver_name(char *buf, size_t len)
{
	FILE *f = fopen("/proc/crypto", "r");
	char line[256], name[128] = "", drv[128] = "";
	int prio, best = -1;

	snprintf(buf, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "name : %127s", name) == 1)
			continue;
		if (sscanf(line, "driver : %127s", drv) == 1)
			continue;
		if (sscanf(line, "priority : %d", &prio) == 1 &&
		    !strcmp(name, alg) && prio > best) {
			best = prio;
			snprintf(buf, len, "%s", drv);
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	double enc_mbps, dec_mbps = 0;
	uint64_t enc_ops, dec_ops = 0;
	char drv[128];
	int opt;

	while ((opt = getopt(argc, argv, "t:b:k:j:da:m:h")) != -1) {
		switch (opt) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'b':
			block = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			keylen = atoi(optarg);
			break;
		case 'j':
			threads = atoi(optarg);
			break;
		case 'd':
			do_decrypt = 1;
			break;
		case 'a':
			alg = optarg;
			break;
		case 'm':
			type = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-t SECONDS] [-b BLOCK] [-k 16|24|32] [-j THREADS] [-d] [-a ALG] [-m aead|skcipher|hash]\n",
				argv[0]);
			return 1;
		}
	}
	if (strcmp(type, "aead") && strcmp(type, "skcipher") && strcmp(type, "hash")) {
		fprintf(stderr, "afalg-ccm: -m aead, skcipher or hash\n");
		return 1;
	}
	if (is_hash())
		do_decrypt = 0;
	if (seconds <= 0 || !block || block > 65536 || threads < 1 ||
	    threads > 64 || (keylen != 16 && keylen != 24 && keylen != 32)) {
		fprintf(stderr, "afalg-ccm: bad arguments\n");
		return 1;
	}
	for (int i = 0; i < keylen; i++)
		key[i] = (unsigned char)(0x40 + i);

	enc_mbps = measure(1, &enc_ops);
	if (do_decrypt)
		dec_mbps = measure(0, &dec_ops);
	driver_name(drv, sizeof(drv));
	printf("{\"alg\": \"%s\", \"type\": \"%s\", \"driver\": \"%s\", \"block\": %zu, \"key_bytes\": %d, \"threads\": %d, \"seconds\": %.1f, \"encrypt_MBps\": %.1f, \"encrypt_ops\": %llu",
	       alg, type, drv, block, keylen, threads, seconds, enc_mbps,
	       (unsigned long long)enc_ops);
	if (do_decrypt)
		printf(", \"decrypt_MBps\": %.1f, \"decrypt_ops\": %llu",
		       dec_mbps, (unsigned long long)dec_ops);
	printf("}\n");
	return 0;
}
