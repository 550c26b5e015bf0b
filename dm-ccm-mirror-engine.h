/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-ccm-mirror: the ccm I/O engine - the plaintext view of one AES-CCM
 * formatted device as an in-kernel bio sink, shared by the `ccm` target
 * (which maps its bios onto it) and the encrypted `ccm-mirror` (whose
 * secondary leg it is).  Implemented in dm-ccm-mirror-ccm.c.
 *
 * Bios carry plaintext sectors [0, ccm_engine_sectors()); each must be a
 * multiple of the data block size, aligned to it, and must not cross a
 * multiple of ccm_engine_max_io() sectors (one metadata block's worth of
 * data blocks).  The engine never touches bi_bdev: callers may pass any
 * bio they own (a clone, their own bio) or a dm clone.
 */
#ifndef DM_CCM_MIRROR_ENGINE_H
#define DM_CCM_MIRROR_ENGINE_H

#include <linux/types.h>

#include "dm-ccm-mirror.h"

struct bio;
struct dm_dev;
struct dm_target;
struct ccm_engine;

/*
 * ccm_engine_create - open the ccm format on @dev (opened by @ti), with the
 * key referenced by @keyref (":<bytes>:logon|user:<description>"): reads
 * and validates the superblock, loads the key, checks the key-check value,
 * sets up crypto, metadata cache, workqueues and mempools.
 * Returns 0 or -errno with *@error set to a precise message for
 * ti->error.  Context: constructor (process, may sleep).
 */
int ccm_engine_create(struct dm_target *ti, struct dm_dev *dev,
		      const char *keyref, struct ccm_engine **engine,
		      char **error);

/* Tear down; no bio may be in flight.  Wipes the key.  Process context. */
void ccm_engine_destroy(struct ccm_engine *e);

/* The validated superblock and layout (immutable).  Any context. */
const struct ccm_superblock *ccm_engine_sb(struct ccm_engine *e);
const struct ccm_layout *ccm_engine_layout(struct ccm_engine *e);

/* Plaintext capacity in sectors, data block size in bytes, max I/O. */
sector_t ccm_engine_sectors(struct ccm_engine *e);
unsigned int ccm_engine_block_size(struct ccm_engine *e);
sector_t ccm_engine_max_io(struct ccm_engine *e);

/* The key reference as given (for status TABLE), never the key. */
const char *ccm_engine_keyref(struct ccm_engine *e);

/*
 * ccm_engine_submit - read or write @bio (REQ_OP_READ or REQ_OP_WRITE,
 * REQ_FUA honoured; an empty REQ_PREFLUSH bio writes back the metadata and
 * flushes the device).  Completes @bio with bio_endio(): BLK_STS_OK, the
 * device's error, or BLK_STS_PROTECTION when a block fails
 * authentication (a failed read never fills the bio's pages).
 * Context: any, never sleeps (the work is queued).
 */
void ccm_engine_submit(struct ccm_engine *e, struct bio *bio);

/*
 * ccm_engine_flush - write back dirty metadata, then flush the device.
 * Every write completed before the call is durable when it returns 0.
 * Context: process, may sleep; not from the engine's own workqueues.
 */
int ccm_engine_flush(struct ccm_engine *e);

/* Blocks that failed authentication so far.  Any context. */
u64 ccm_engine_auth_failures(struct ccm_engine *e);

#endif /* DM_CCM_MIRROR_ENGINE_H */
