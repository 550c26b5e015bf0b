/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: passes over the data blocks of a keyed device, one meta
 * block (CCM_ENTRIES_PER_META data blocks) at a time.
 */
#ifndef CCM_BLOCKS_H
#define CCM_BLOCKS_H

#include <stdint.h>

#include "ccm-cmd.h"

struct ccm_verify_result {
	uint64_t bad;			/* failed authentication */
	uint64_t unwritten;		/* never written (--no-wipe) */
	uint64_t *list;			/* the first @max bad blocks */
	unsigned int max;
};

/*
 * Each returns an exit code.  wipe: authenticated zeros in every block.
 * encrypt: blocks from @in_fd until EOF (the last one zero padded).
 * verify: authenticate every block, results in @r.  decrypt: the first
 * @bytes of plaintext to @out_fd, failing at the first bad block.
 */
int ccm_blocks_wipe(struct ccm_ctx *c);
int ccm_blocks_encrypt(struct ccm_ctx *c, int in_fd, const char *in_name,
		       uint64_t *bytes_read);
int ccm_blocks_verify(struct ccm_ctx *c, struct ccm_verify_result *r);
int ccm_blocks_decrypt(struct ccm_ctx *c, int out_fd, const char *out_name,
		       uint64_t bytes);

#endif /* CCM_BLOCKS_H */
