// SPDX-License-Identifier: GPL-2.0
/*
 * dm-ccm-mirror: AES-CCM helpers shared by the `ccm` and `ccm-mirror`
 * targets.
 *
 * - keyring key references in dm-crypt syntax (":<bytes>:logon:<desc>",
 *   ":<bytes>:user:<desc>"), the key copied under the key's semaphore into
 *   memory that is wiped with memzero_explicit()/kfree_sensitive();
 * - superblock read and validation against dm-ccm-mirror.h;
 * - per-block AES-CCM with the "ccm(aes)" AEAD, asynchronous with a
 *   completion callback, requests preallocated in a mempool.
 *
 * Locking: nothing here has shared mutable state except struct ccm_batch,
 * whose fields are atomics (see dm-ccm-mirror-crypt.h).
 */

#include <crypto/aead.h>
#include <keys/user-type.h>
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/ctype.h>
#include <linux/device-mapper.h>
#include <linux/key-type.h>
#include <linux/key.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-ccm-mirror-compat.h"
#include "dm-ccm-mirror-crypt.h"

#define DM_MSG_PREFIX "ccm"

/*
 * One block operation.  Allocated from ccm_crypt.req_pool, owned by the
 * submitter until crypto_aead_*() is called and by the crypto layer until
 * the completion, which frees it.  Not shared: no lock.
 */
struct ccm_req {
	struct ccm_crypt *cc;
	struct ccm_batch *batch;
	struct ccm_meta_entry *ent;	/* encrypt: receives the tag */
	u64 block;
	bool encrypt;
	struct ccm_aad aad;
	u8 iv[CCM_IV_SIZE];
	u8 tag[CCM_TAG_SIZE];
	struct scatterlist sg[3];	/* AAD | data (in place) | tag */
	struct aead_request areq;	/* last: the tfm's context follows */
};

/* ------------------------------------------------------------------ */
/* Keys */

void ccm_key_wipe_bytes(struct ccm_key *key)
{
	memzero_explicit(key->bytes, sizeof(key->bytes));
}

void ccm_key_free(struct ccm_key *key)
{
	ccm_key_wipe_bytes(key);
	kfree_sensitive(key->ref);
	key->ref = NULL;
	key->size = 0;
}

static bool ccm_has_space(const char *s)
{
	for (; *s; s++)
		if (isspace(*s))
			return true;
	return false;
}

#if IS_ENABLED(CONFIG_KEYS)
/*
 * Copy the payload of a logon/user key.  Caller holds key->sem (read).
 */
static int ccm_key_copy_locked(struct ccm_key *key, struct key *k,
			       unsigned int size, char **error)
{
	const struct user_key_payload *ukp = user_key_payload_locked(k);

	if (!ukp) {
		*error = "Key in the keyring was revoked";
		return -EKEYREVOKED;
	}
	if (ukp->datalen != size) {
		DMERR("key in the keyring is %u bytes, reference says %u",
		      ukp->datalen, size);
		*error = "Key in the keyring has the wrong size";
		return -EINVAL;
	}
	memcpy(key->bytes, ukp->data, size);
	return 0;
}

int ccm_key_load(struct ccm_key *key, const char *ref,
		 unsigned int expected_size, char **error)
{
	struct key_type *type;
	const char *tname, *desc;
	unsigned int size;
	struct key *k;
	char c;
	int r;

	if (ccm_has_space(ref)) {
		*error = "Key reference must not contain whitespace";
		return -EINVAL;
	}
	/* ":<bytes>:<type>:<description>" */
	if (ref[0] != ':' || sscanf(ref + 1, "%u%c", &size, &c) != 2 ||
	    c != ':' || !isdigit(ref[1])) {
		*error = "Invalid key reference (expected :<bytes>:logon|user:<description>)";
		return -EINVAL;
	}
	tname = strchr(ref + 1, ':') + 1;
	desc = strchr(tname, ':');
	if (!desc || desc == tname || !desc[1]) {
		*error = "Invalid key reference (expected :<bytes>:logon|user:<description>)";
		return -EINVAL;
	}
	desc++;

	if (desc - tname == sizeof("logon") && !strncmp(tname, "logon:", 6)) {
		type = &key_type_logon;
	} else if (desc - tname == sizeof("user") &&
		   !strncmp(tname, "user:", 5)) {
		type = &key_type_user;
	} else {
		*error = "Unknown key type in key reference (logon or user)";
		return -EINVAL;
	}

	if (size != 16 && size != 24 && size != 32) {
		*error = "Invalid key size in key reference (16, 24 or 32 bytes)";
		return -EINVAL;
	}
	if (expected_size && size != expected_size) {
		DMERR("key reference says %u bytes, device was formatted with %u",
		      size, expected_size);
		*error = "Key size in key reference does not match the device";
		return -EINVAL;
	}

	key->ref = kstrdup(ref, GFP_KERNEL);
	if (!key->ref) {
		*error = "Cannot allocate key reference";
		return -ENOMEM;
	}

	k = request_key(type, desc, NULL);
	if (IS_ERR(k)) {
		r = PTR_ERR(k);
		DMERR("key \"%s\" (%s): not available: %d", desc, type->name, r);
		*error = "Key not found in the kernel keyring";
		goto bad;
	}

	down_read(&k->sem);
	r = ccm_key_copy_locked(key, k, size, error);
	up_read(&k->sem);
	key_put(k);
	if (r)
		goto bad;

	key->size = size;
	return 0;
bad:
	ccm_key_free(key);
	return r;
}
#else
int ccm_key_load(struct ccm_key *key, const char *ref,
		 unsigned int expected_size, char **error)
{
	*error = "Kernel keyring support (CONFIG_KEYS) is not available";
	return -EINVAL;
}
#endif

/* ------------------------------------------------------------------ */
/* Superblock */

u32 ccm_sb_crc(const struct ccm_superblock *sb)
{
	/* crc32c() neither inverts its input nor its output. */
	return ~crc32c(~0U, sb, offsetof(struct ccm_superblock, crc32c));
}

int ccm_sb_read(struct block_device *bdev, struct ccm_superblock *sb,
		char **error)
{
	struct bio_vec bvec;
	struct page *page;
	struct bio bio;
	int r;

	if (bdev_nr_sectors(bdev) < (CCM_SB_AREA_BYTES >> SECTOR_SHIFT)) {
		*error = "Device too small to hold a ccm superblock";
		return -EINVAL;
	}

	page = alloc_page(GFP_KERNEL);
	if (!page) {
		*error = "Cannot allocate superblock buffer";
		return -ENOMEM;
	}

	bio_init(&bio, bdev, &bvec, 1, REQ_OP_READ | REQ_SYNC | REQ_META);
	bio.bi_iter.bi_sector = 0;
	__bio_add_page(&bio, page, CCM_SB_AREA_BYTES, 0);
	r = submit_bio_wait(&bio);
	bio_uninit(&bio);

	if (r) {
		DMERR("%pg: superblock read failed: %d", bdev, r);
		*error = "Cannot read the superblock";
	} else {
		memcpy_from_page((char *)sb, page, 0, sizeof(*sb));
	}
	__free_page(page);
	return r;
}

int ccm_sb_validate(const struct ccm_superblock *sb, sector_t dev_sectors,
		    struct ccm_layout *l, char **error)
{
	u32 bs = le32_to_cpu(sb->data_block_size);
	u32 region = le32_to_cpu(sb->region_sectors);
	u64 blocks = le64_to_cpu(sb->data_blocks);
	u64 sb_dev = le64_to_cpu(sb->device_sectors);
	u32 crc = ccm_sb_crc(sb);
	u64 end;

	if (memcmp(sb->magic, CCM_SB_MAGIC, CCM_SB_MAGIC_LEN)) {
		*error = "Not a ccm device (bad superblock magic)";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->version) != CCM_SB_VERSION) {
		DMERR("superblock version %u, supported %u",
		      le32_to_cpu(sb->version), CCM_SB_VERSION);
		*error = "Unsupported ccm format version";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->crc32c) != crc) {
		DMERR("superblock crc32c %08x, computed %08x",
		      le32_to_cpu(sb->crc32c), crc);
		*error = "Superblock checksum mismatch";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->flags) & ~CCM_SB_F_KNOWN) {
		DMERR("superblock flags %#x, known %#x",
		      le32_to_cpu(sb->flags), CCM_SB_F_KNOWN);
		*error = "Unknown superblock flags";
		return -EINVAL;
	}
	if (bs != 512 && bs != 4096) {
		DMERR("superblock data block size %u", bs);
		*error = "Unsupported data block size (512 or 4096)";
		return -EINVAL;
	}
	if (sb->nonce_size != CCM_NONCE_SIZE || sb->tag_size != CCM_TAG_SIZE ||
	    sb->meta_entry_size != CCM_META_ENTRY_SIZE) {
		DMERR("superblock nonce %u tag %u entry %u bytes",
		      sb->nonce_size, sb->tag_size, sb->meta_entry_size);
		*error = "Unsupported nonce, tag or metadata entry size";
		return -EINVAL;
	}
	if (sb->key_size != 16 && sb->key_size != 24 && sb->key_size != 32) {
		DMERR("superblock key size %u", sb->key_size);
		*error = "Invalid key size in superblock";
		return -EINVAL;
	}
	if (memchr_inv(sb->pad0, 0, sizeof(sb->pad0)) ||
	    memchr_inv(sb->reserved, 0, sizeof(sb->reserved))) {
		*error = "Reserved superblock bytes are not zero";
		return -EINVAL;
	}

	/* Bounds that keep every sector/byte computation below in u64. */
	if (!sb_dev || sb_dev > (1ULL << 54) || !blocks || blocks > sb_dev ||
	    ccm_layout_compute(l, sb_dev, bs, region,
			       blocks * (bs >> SECTOR_SHIFT)) ||
	    l->data_blocks != blocks ||
	    l->region_count != le64_to_cpu(sb->region_count) ||
	    l->bitmap_bytes != le32_to_cpu(sb->bitmap_bytes) ||
	    l->bitmap_offset != le64_to_cpu(sb->bitmap_offset) ||
	    l->bitmap_sectors != le64_to_cpu(sb->bitmap_sectors) ||
	    l->meta_offset != le64_to_cpu(sb->meta_offset) ||
	    l->meta_sectors != le64_to_cpu(sb->meta_sectors) ||
	    l->data_offset != le64_to_cpu(sb->data_offset)) {
		DMERR("layout differs from computed: %llu sectors, bs %u, region %u, %llu blocks",
		      sb_dev, bs, region, blocks);
		*error = "Superblock layout does not match its geometry";
		return -EINVAL;
	}

	end = l->data_offset + blocks * (bs >> SECTOR_SHIFT);
	if (dev_sectors < end) {
		DMERR("device has %llu sectors, data area ends at %llu",
		      (unsigned long long)dev_sectors, end);
		*error = "Device is smaller than the formatted data area";
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* AEAD */

int ccm_crypt_init(struct ccm_crypt *cc, const struct ccm_key *key,
		   const struct ccm_superblock *sb, unsigned int min_reqs,
		   char **error)
{
	struct crypto_aead *tfm;
	int r;

	tfm = crypto_alloc_aead("ccm(aes)", 0, 0);
	if (IS_ERR(tfm)) {
		DMERR("cannot allocate ccm(aes): %ld", PTR_ERR(tfm));
		*error = "Cannot allocate the ccm(aes) cipher";
		return PTR_ERR(tfm);
	}
	cc->tfm = tfm;

	if (crypto_aead_ivsize(tfm) != CCM_IV_SIZE) {
		*error = "Unexpected ccm(aes) IV size";
		return -EINVAL;
	}
	r = crypto_aead_setkey(tfm, key->bytes, key->size);
	if (r) {
		*error = "Cannot set the ccm(aes) key";
		return r;
	}
	r = crypto_aead_setauthsize(tfm, CCM_TAG_SIZE);
	if (r) {
		*error = "Cannot set the ccm(aes) tag size";
		return r;
	}

	r = mempool_init_kmalloc_pool(&cc->req_pool, min_reqs,
				      sizeof(struct ccm_req) +
				      crypto_aead_reqsize(tfm));
	if (r) {
		*error = "Cannot allocate crypto requests";
		return r;
	}

	cc->block_size = le32_to_cpu(sb->data_block_size);
	memcpy(cc->uuid, sb->uuid, sizeof(cc->uuid));
	return 0;
}

void ccm_crypt_exit(struct ccm_crypt *cc)
{
	mempool_exit(&cc->req_pool);
	/* crypto_free_aead() wipes the expanded key (kfree_sensitive). */
	if (cc->tfm)
		crypto_free_aead(cc->tfm);
	cc->tfm = NULL;
}

int ccm_crypt_verify_key(struct ccm_crypt *cc,
			 const struct ccm_superblock *sb, char **error)
{
	/* AAD | 16 bytes kcv | 16 bytes tag, then the IV */
	const unsigned int len = CCM_AAD_SIZE + 16 + CCM_TAG_SIZE;
	DECLARE_CRYPTO_WAIT(wait);
	struct aead_request *req;
	struct scatterlist sg;
	struct ccm_aad *aad;
	u8 *buf, *iv;
	int r;

	buf = kzalloc(len + CCM_IV_SIZE, GFP_KERNEL);
	req = aead_request_alloc(cc->tfm, GFP_KERNEL);
	if (!buf || !req) {
		r = -ENOMEM;
		*error = "Cannot allocate key check buffers";
		goto out;
	}

	aad = (struct ccm_aad *)buf;
	aad->block = cpu_to_le64(CCM_KCV_BLOCK);
	memcpy(aad->uuid, sb->uuid, sizeof(aad->uuid));
	memcpy(buf + CCM_AAD_SIZE, sb->kcv, 16);
	memcpy(buf + CCM_AAD_SIZE + 16, sb->kcv_tag, CCM_TAG_SIZE);
	iv = buf + len;
	ccm_build_iv(iv, sb->kcv_nonce);

	sg_init_one(&sg, buf, len);
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_ad(req, CCM_AAD_SIZE);
	aead_request_set_crypt(req, &sg, &sg, 16 + CCM_TAG_SIZE, iv);
	r = crypto_wait_req(crypto_aead_decrypt(req), &wait);

	if (r == -EBADMSG ||
	    (!r && memchr_inv(buf + CCM_AAD_SIZE, 0, 16))) {
		*error = "Wrong key for this device";
		r = -EKEYREJECTED;
	} else if (r) {
		DMERR("key check decryption failed: %d", r);
		*error = "Cannot verify the key";
	}
out:
	aead_request_free(req);
	kfree_sensitive(buf);
	return r;
}

void ccm_batch_init(struct ccm_batch *batch,
		    void (*done)(struct ccm_batch *batch),
		    void (*failed)(struct ccm_batch *batch, u64 block,
				   int err))
{
	atomic_set(&batch->pending, 1);	/* the submitter's reference */
	atomic_set(&batch->auth_failures, 0);
	batch->error = 0;
	init_completion(&batch->restart);
	batch->done = done;
	batch->failed = failed;
}

/* Context: process context. */
void ccm_batch_end(struct ccm_batch *batch)
{
	if (atomic_dec_and_test(&batch->pending))
		batch->done(batch);
}

/*
 * Final completion of one request.  Context: the submitter (synchronous
 * result) or the crypto completion (any context): must not sleep.
 */
static void ccm_req_complete(struct ccm_req *req, int err)
{
	struct ccm_batch *batch = req->batch;

	if (!err && req->encrypt)
		memcpy(req->ent->tag, req->tag, CCM_TAG_SIZE);
	if (err) {
		if (err == -EBADMSG)
			atomic_inc(&batch->auth_failures);
		else
			cmpxchg(&batch->error, 0, err);
		if (batch->failed)
			batch->failed(batch, req->block, err);
	}
	mempool_free(req, &req->cc->req_pool);

	if (atomic_dec_and_test(&batch->pending))
		batch->done(batch);
}

/* Crypto completion callback.  Context: any (often softirq). */
static void ccm_req_done(void *data, int err)
{
	struct ccm_req *req = data;

	/*
	 * A request from the driver's backlog is being processed now: let
	 * the submitter continue.  The callback comes again with the result.
	 */
	if (err == -EINPROGRESS) {
		complete(&req->batch->restart);
		return;
	}
	ccm_req_complete(req, err);
}

CCM_CRYPTO_DONE_ADAPTERS(ccm_req_done)

void ccm_crypt_block(struct ccm_crypt *cc, struct ccm_batch *batch,
		     bool encrypt, u64 block, struct page *page,
		     unsigned int offset, struct ccm_meta_entry *ent)
{
	unsigned int bs = cc->block_size;
	struct ccm_req *req;
	int r;

	req = mempool_alloc(&cc->req_pool, GFP_NOIO);
	req->cc = cc;
	req->batch = batch;
	req->ent = ent;
	req->block = block;
	req->encrypt = encrypt;

	if (encrypt) {
		get_random_bytes(ent->nonce, CCM_NONCE_SIZE);
		memset(ent->reserved, 0, sizeof(ent->reserved));
	} else {
		memcpy(req->tag, ent->tag, CCM_TAG_SIZE);
	}
	ccm_build_iv(req->iv, ent->nonce);
	req->aad.block = cpu_to_le64(block);
	memcpy(req->aad.uuid, cc->uuid, sizeof(req->aad.uuid));

	sg_init_table(req->sg, 3);
	sg_set_buf(&req->sg[0], &req->aad, CCM_AAD_SIZE);
	sg_set_page(&req->sg[1], page, bs, offset);
	sg_set_buf(&req->sg[2], req->tag, CCM_TAG_SIZE);

	aead_request_set_tfm(&req->areq, cc->tfm);
	/*
	 * MAY_BACKLOG: a full driver queue backlogs the request (-EBUSY)
	 * instead of failing it; we then wait for it to start, like
	 * dm-crypt.  MAY_SLEEP: we always submit from process context.
	 */
	aead_request_set_callback(&req->areq, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  CCM_CRYPTO_DONE(ccm_req_done), req);
	aead_request_set_ad(&req->areq, CCM_AAD_SIZE);
	aead_request_set_crypt(&req->areq, req->sg, req->sg,
			       encrypt ? bs : bs + CCM_TAG_SIZE, req->iv);

	atomic_inc(&batch->pending);
	r = encrypt ? crypto_aead_encrypt(&req->areq) :
		      crypto_aead_decrypt(&req->areq);
	switch (r) {
	case -EBUSY:
		/* Backlogged: wait until the driver takes it. */
		wait_for_completion(&batch->restart);
		reinit_completion(&batch->restart);
		fallthrough;
	case -EINPROGRESS:
		/* ccm_req_done() will be called. */
		break;
	default:
		/* Done synchronously (0, -EBADMSG or an error). */
		ccm_req_complete(req, r);
		break;
	}
}
