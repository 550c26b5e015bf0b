/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-ccm-mirror: kernel helpers for AES-CCM formatted devices, shared by
 * the `ccm` target (dm-ccm-mirror-ccm.c) and the encrypted `ccm-mirror`
 * target: keyring key references, superblock read and validation, and
 * per-block AES-CCM encryption/decryption with async completion.
 *
 * The on-disk format is defined in dm-ccm-mirror.h and described byte by
 * byte in Documentation/ccm-format.rst.
 */
#ifndef DM_CCM_MIRROR_CRYPT_H
#define DM_CCM_MIRROR_CRYPT_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/mempool.h>
#include <linux/types.h>

#include "dm-ccm-mirror.h"

struct block_device;
struct crypto_aead;
struct page;

#define CCM_KEY_MAX_SIZE	32

/*
 * struct ccm_key - a key taken from the kernel keyring.
 * @ref:   the reference exactly as given in the table (":32:logon:desc"),
 *         kstrdup()ed; shown in status TABLE instead of the key.
 * @size:  key size in bytes (16, 24 or 32).
 * @bytes: the key itself; wipe it with ccm_key_wipe_bytes() as soon as it
 *         has been handed to ccm_crypt_init().
 *
 * No locking: owned by one target instance, written only in its ctr/dtr.
 */
struct ccm_key {
	char *ref;
	unsigned int size;
	u8 bytes[CCM_KEY_MAX_SIZE];
};

/*
 * ccm_key_load - resolve a dm-crypt style key reference
 * ":<bytes>:logon:<description>" or ":<bytes>:user:<description>".
 * @expected_size: 0, or the key size the device was formatted with.
 * On failure *@error is set to a static message for ti->error.
 * Returns 0, -EINVAL (malformed, unknown type, wrong size), -ENOMEM, or the
 * keyring's error (-ENOKEY, -EKEYREVOKED, -EKEYEXPIRED, ...).
 * Context: process context, may sleep.
 */
int ccm_key_load(struct ccm_key *key, const char *ref,
		 unsigned int expected_size, char **error);
/* Wipe the key bytes only (the reference stays for status). */
void ccm_key_wipe_bytes(struct ccm_key *key);
/* Wipe the key bytes and free the reference.  Safe on a zeroed key. */
void ccm_key_free(struct ccm_key *key);

/*
 * ccm_sb_read - read the superblock (sector 0) of @bdev into @sb.
 * Returns 0 or -errno with *@error set.  Context: process, may sleep.
 */
int ccm_sb_read(struct block_device *bdev, struct ccm_superblock *sb,
		char **error);

/*
 * ccm_sb_validate - check magic, version, CRC32C, flags, sizes and that the
 * stored layout equals ccm_layout_compute() of the superblock's own
 * geometry, and that a device of @dev_sectors holds the data area.
 * Fills @layout.  Returns 0 or -EINVAL with *@error set (details go to
 * the kernel log).  Context: any.
 */
int ccm_sb_validate(const struct ccm_superblock *sb, sector_t dev_sectors,
		    struct ccm_layout *layout, char **error);

/* Standard CRC-32C of the superblock bytes [0, 508). */
u32 ccm_sb_crc(const struct ccm_superblock *sb);

/*
 * struct ccm_crypt - one "ccm(aes)" AEAD transform keyed for one device,
 * with a mempool of preallocated requests.  Immutable after
 * ccm_crypt_init() (the crypto API serializes use of the tfm internally),
 * so it needs no lock.
 */
struct ccm_crypt {
	struct crypto_aead *tfm;
	mempool_t req_pool;
	unsigned int block_size;
	u8 uuid[16];
};

/*
 * ccm_crypt_init - allocate "ccm(aes)", set the key and a 16-byte tag,
 * preallocate @min_reqs requests.  Context: process, may sleep.
 */
int ccm_crypt_init(struct ccm_crypt *cc, const struct ccm_key *key,
		   const struct ccm_superblock *sb, unsigned int min_reqs,
		   char **error);
/* Safe on a zeroed or partially initialised @cc.  Context: process. */
void ccm_crypt_exit(struct ccm_crypt *cc);

/*
 * ccm_crypt_verify_key - check the superblock's key-check value.
 * Returns 0, -EKEYREJECTED ("Wrong key for this device") or -errno.
 * Context: process, may sleep.
 */
int ccm_crypt_verify_key(struct ccm_crypt *cc,
			 const struct ccm_superblock *sb, char **error);

/*
 * struct ccm_batch - a group of block operations with one completion.
 *
 * ccm_batch_init(), then ccm_crypt_block() for each block (from one
 * process-context submitter), then ccm_batch_end().  ->done is called
 * exactly once, after ccm_batch_end() and after every block completed,
 * either from the submitter (synchronous crypto) or from a crypto
 * completion (any context, possibly softirq): it must not sleep.
 * ->failed (optional) is called once per failed block, same contexts.
 *
 * @pending and @auth_failures are atomics; @error is written with
 * cmpxchg() (first error wins) and read by ->done.
 */
struct ccm_batch {
	atomic_t pending;
	atomic_t auth_failures;
	int error;
	struct completion restart;
	void (*done)(struct ccm_batch *batch);
	void (*failed)(struct ccm_batch *batch, u64 block, int err);
};

void ccm_batch_init(struct ccm_batch *batch,
		    void (*done)(struct ccm_batch *batch),
		    void (*failed)(struct ccm_batch *batch, u64 block,
				   int err));
void ccm_batch_end(struct ccm_batch *batch);

/*
 * ccm_crypt_block - encrypt or decrypt data block @block in place:
 * cc->block_size bytes at @offset in @page (must not cross the page).
 * Encrypt: a fresh random nonce is stored in @ent at once, the tag when
 * the operation completes (so @ent must stay valid until ->done).
 * Decrypt: nonce and tag are read from @ent before this returns; an
 * authentication failure is counted in batch->auth_failures (-EBADMSG).
 * Never fails to submit: requests come from the mempool (GFP_NOIO).
 * Context: process context, may sleep (mempool, crypto backlog).
 */
void ccm_crypt_block(struct ccm_crypt *cc, struct ccm_batch *batch,
		     bool encrypt, u64 block, struct page *page,
		     unsigned int offset, struct ccm_meta_entry *ent);

/* The `ccm` target (dm-ccm-mirror-ccm.c), called from module init/exit. */
int dm_ccm_target_init(void);
void dm_ccm_target_exit(void);

#endif /* DM_CCM_MIRROR_CRYPT_H */
