/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: subcommands.  ccm-mirror.c parses the command line into
 * struct ccm_opts and calls one cmd_*(); each returns an exit code.
 */
#ifndef CCM_CMD_H
#define CCM_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "ccm-crypto.h"
#include "ccm-format.h"
#include "ccm-util.h"

#define CCM_MAX_ARGS		3
#define CCM_DEFAULT_MAX_REPORT	32

struct ccm_opts {
	const char *args[CCM_MAX_ARGS];	/* positional arguments */
	int nargs;
	const char *key_file;
	uint32_t block_size;
	uint64_t region_size;
	uint64_t data_size;		/* format --data-size, 0: all */
	uint64_t size;			/* decrypt --size, 0: all */
	unsigned int max_report;
	bool no_wipe;
	bool yes;
	bool json;
	bool read_only;
	/* move, status, pause, resume, rate */
	bool region_set;
	bool encrypt;
	bool no_pivot;
	bool pivot;
	bool abort;
	bool dry_run;
	bool restart;
	bool watch;
	bool rate_set;
	unsigned int rate_mib;
	unsigned int parallel;		/* 0: not given */
	double interval;		/* seconds; 0: only on events */
};

/* A formatted device with its superblock and, once keyed, its key. */
struct ccm_ctx {
	struct ccm_dev dev;
	struct ccm_sb sb;
	struct ccm_key key;
	struct ccm_aead aead;
};

void ccm_ctx_init(struct ccm_ctx *c);
/*
 * Open @path (CCM_DEV_* flags), load and check its superblock, then, if
 * @key_file, read the key and check it against the key-check value.
 */
int ccm_ctx_open(struct ccm_ctx *c, const char *path, unsigned int flags,
		 const char *key_file);
void ccm_ctx_close(struct ccm_ctx *c);
/* Check c->key against the superblock's key-check value: exit code. */
int ccm_ctx_check_key(struct ccm_ctx *c);

/*
 * Format @path (opened exclusively) with @key, @block_size byte blocks,
 * @region_bytes regions and a plaintext capacity of @data_bytes (0: as
 * much as fits); every block written as authenticated zeros if @wipe.
 * No question asked, nothing printed but errors.  Returns an exit code;
 * the new superblock in @sb.
 */
int ccm_format_dev(const char *path, const struct ccm_key *key,
		   uint32_t block_size, uint64_t region_bytes,
		   uint64_t data_bytes, bool wipe, struct ccm_sb *sb);

int cmd_format(const struct ccm_opts *o);
int cmd_dump(const struct ccm_opts *o);
int cmd_verify(const struct ccm_opts *o);
int cmd_encrypt(const struct ccm_opts *o);
int cmd_decrypt(const struct ccm_opts *o);
int cmd_open(const struct ccm_opts *o);
int cmd_close(const struct ccm_opts *o);
/* ccm-move.c */
int cmd_move(const struct ccm_opts *o);
int cmd_status(const struct ccm_opts *o);
int cmd_pause(const struct ccm_opts *o);
int cmd_resume(const struct ccm_opts *o);
int cmd_rate(const struct ccm_opts *o);

#endif /* CCM_CMD_H */
