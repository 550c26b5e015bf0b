// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: block passes.  A pass walks the data blocks in groups that
 * share one meta block, so each group is one meta block read or write and
 * one contiguous data read or write.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ccm-blocks.h"

#define PASS_READ_META	(1U << 0)
#define PASS_READ_DATA	(1U << 1)
#define PASS_WRITE	(1U << 2)

struct pass {
	struct ccm_ctx *c;
	uint64_t count;			/* blocks [0, count) */
	unsigned int flags;
	const char *label;
	/*
	 * Process blocks [blk, blk + *n): all of them share p->meta.  May
	 * lower *n (what is written) and set p->done to end the pass.
	 */
	int (*group)(struct pass *p, uint64_t blk, unsigned int *n);
	void *priv;
	uint8_t *meta;			/* the group's meta block */
	uint8_t *data;			/* its data blocks as on disk */
	uint8_t *plain;			/* their plaintext */
	size_t bs;
	bool done;
};

static struct ccm_meta_entry *entry(struct pass *p, unsigned int i)
{
	return (struct ccm_meta_entry *)p->meta + i;
}

static int pass_group(struct pass *p, struct ccm_progress *prog,
		      uint64_t blk)
{
	const struct ccm_layout *l = &p->c->sb.layout;
	struct ccm_dev *d = &p->c->dev;
	uint64_t left = p->count - blk;
	unsigned int n = left < CCM_ENTRIES_PER_META ? (unsigned int)left :
						       CCM_ENTRIES_PER_META;
	uint64_t meta_off = ccm_meta_sector(l, blk) * 512;
	uint64_t data_off = ccm_data_sector(l, blk) * 512;
	int ret = CCM_EXIT_OK;

	if (p->flags & PASS_READ_META)
		ret = ccm_dev_read(d, p->meta, CCM_META_BLOCK_BYTES, meta_off);
	else
		memset(p->meta, 0, CCM_META_BLOCK_BYTES);
	if (!ret && (p->flags & PASS_READ_DATA))
		ret = ccm_dev_read(d, p->data, n * p->bs, data_off);
	if (!ret)
		ret = p->group(p, blk, &n);
	if (!ret && n && (p->flags & PASS_WRITE)) {
		ret = ccm_dev_write(d, p->meta, CCM_META_BLOCK_BYTES, meta_off);
		if (!ret)
			ret = ccm_dev_write(d, p->data, n * p->bs, data_off);
	}
	ccm_progress_add(prog, n * p->bs);
	return ret;
}

static int pass_run(struct pass *p)
{
	size_t chunk;
	struct ccm_progress prog;
	uint64_t blk;
	int ret = CCM_EXIT_OK;

	p->bs = p->c->sb.layout.data_block_size;
	chunk = CCM_ENTRIES_PER_META * p->bs;
	p->meta = calloc(1, CCM_META_BLOCK_BYTES);
	p->data = calloc(1, chunk);
	p->plain = calloc(1, chunk);
	if (!p->meta || !p->data || !p->plain) {
		ccm_err("out of memory");
		ret = CCM_EXIT_IO;
	}
	ccm_progress_start(&prog, p->label, p->count * p->bs);
	for (blk = 0; !ret && !p->done && blk < p->count;
	     blk += CCM_ENTRIES_PER_META)
		ret = pass_group(p, &prog, blk);
	ccm_progress_end(&prog);
	if (p->plain)
		OPENSSL_cleanse(p->plain, chunk);
	free(p->meta);
	free(p->data);
	free(p->plain);
	return ret;
}

/* Encrypt p->plain into p->data with a fresh random nonce per block. */
static int seal_blocks(struct pass *p, uint64_t blk, unsigned int n)
{
	struct ccm_ctx *c = p->c;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct ccm_meta_entry *e = entry(p, i);

		memset(e, 0, sizeof(*e));
		if (ccm_random(e->nonce, sizeof(e->nonce)) ||
		    ccm_block_seal(&c->aead, c->sb.uuid, blk + i, e->nonce,
				   p->plain + i * p->bs, p->bs,
				   p->data + i * p->bs, e->tag)) {
			ccm_err("encryption failed (OpenSSL)");
			return CCM_EXIT_IO;
		}
	}
	return CCM_EXIT_OK;
}

/* A block whose entry is all zeros was never written (format --no-wipe). */
static bool unwritten(struct pass *p, unsigned int i)
{
	static const struct ccm_meta_entry zero;

	return !(p->c->sb.flags & CCM_SB_F_WIPED) &&
	       !memcmp(entry(p, i), &zero, sizeof(zero));
}

/*
 * Authenticate and decrypt p->data into p->plain; @bad is called for each
 * block that is not authentic, and a non-zero return from it stops.
 */
static int open_blocks(struct pass *p, uint64_t blk, unsigned int n,
		       int (*bad)(struct pass *p, uint64_t blk, bool unwr))
{
	struct ccm_ctx *c = p->c;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		struct ccm_meta_entry *e = entry(p, i);

		if (unwritten(p, i)) {
			ret = bad(p, blk + i, true);
		} else {
			ret = ccm_block_open(&c->aead, c->sb.uuid, blk + i,
					     e->nonce, p->data + i * p->bs,
					     p->bs, p->plain + i * p->bs,
					     e->tag);
			if (ret < 0) {
				ccm_err("decryption failed (OpenSSL)");
				return CCM_EXIT_IO;
			}
			if (ret)
				ret = bad(p, blk + i, false);
		}
		if (ret)
			return ret;
	}
	return CCM_EXIT_OK;
}

static int wipe_group(struct pass *p, uint64_t blk, unsigned int *n)
{
	return seal_blocks(p, blk, *n);		/* p->plain stays zero */
}

int ccm_blocks_wipe(struct ccm_ctx *c)
{
	struct pass p = {
		.c = c, .count = c->sb.layout.data_blocks,
		.flags = PASS_WRITE, .label = "wipe", .group = wipe_group,
	};

	return pass_run(&p);
}

struct encrypt_state {
	int fd;
	const char *name;
	uint64_t bytes;
};

static int encrypt_group(struct pass *p, uint64_t blk, unsigned int *n)
{
	struct encrypt_state *s = p->priv;
	size_t want = *n * p->bs;
	ssize_t got = ccm_read_full(s->fd, p->plain, want);

	if (got < 0) {
		ccm_err("%s: read error: %s", s->name, strerror(errno));
		return CCM_EXIT_IO;
	}
	s->bytes += (uint64_t)got;
	if ((size_t)got < want) {
		memset(p->plain + got, 0, want - (size_t)got);
		*n = (unsigned int)(((size_t)got + p->bs - 1) / p->bs);
		p->done = true;
	}
	return seal_blocks(p, blk, *n);
}

int ccm_blocks_encrypt(struct ccm_ctx *c, int in_fd, const char *in_name,
		       uint64_t *bytes_read)
{
	struct encrypt_state s = { .fd = in_fd, .name = in_name };
	struct pass p = {
		.c = c, .count = c->sb.layout.data_blocks,
		.flags = PASS_READ_META | PASS_WRITE, .label = "encrypt",
		.group = encrypt_group, .priv = &s,
	};
	int ret = pass_run(&p);

	*bytes_read = s.bytes;
	return ret;
}

static int verify_bad(struct pass *p, uint64_t blk, bool unwr)
{
	struct ccm_verify_result *r = p->priv;

	if (unwr) {
		r->unwritten++;
		return CCM_EXIT_OK;
	}
	if (r->bad < r->max)
		r->list[r->bad] = blk;
	r->bad++;
	return CCM_EXIT_OK;
}

static int verify_group(struct pass *p, uint64_t blk, unsigned int *n)
{
	return open_blocks(p, blk, *n, verify_bad);
}

int ccm_blocks_verify(struct ccm_ctx *c, struct ccm_verify_result *r)
{
	struct pass p = {
		.c = c, .count = c->sb.layout.data_blocks,
		.flags = PASS_READ_META | PASS_READ_DATA, .label = "verify",
		.group = verify_group, .priv = r,
	};

	return pass_run(&p);
}

struct decrypt_state {
	int fd;
	const char *name;
	uint64_t left;
};

static int decrypt_bad(struct pass *p, uint64_t blk, bool unwr)
{
	(void)p;
	if (unwr)
		ccm_err("block %" PRIu64 " was never written (the device was formatted with --no-wipe)",
			blk);
	else
		ccm_err("block %" PRIu64 " failed authentication", blk);
	return CCM_EXIT_AUTH;
}

static int decrypt_group(struct pass *p, uint64_t blk, unsigned int *n)
{
	struct decrypt_state *s = p->priv;
	size_t len = *n * p->bs;
	int ret = open_blocks(p, blk, *n, decrypt_bad);

	if (ret)
		return ret;
	if (len > s->left)
		len = (size_t)s->left;
	if (ccm_write_full(s->fd, p->plain, len)) {
		ccm_err("%s: write error: %s", s->name, strerror(errno));
		return CCM_EXIT_IO;
	}
	s->left -= len;
	return CCM_EXIT_OK;
}

int ccm_blocks_decrypt(struct ccm_ctx *c, int out_fd, const char *out_name,
		       uint64_t bytes)
{
	struct decrypt_state s = { .fd = out_fd, .name = out_name,
				   .left = bytes };
	uint64_t bs = c->sb.layout.data_block_size;
	struct pass p = {
		.c = c, .count = (bytes + bs - 1) / bs,
		.flags = PASS_READ_META | PASS_READ_DATA, .label = "decrypt",
		.group = decrypt_group, .priv = &s,
	};

	return pass_run(&p);
}
