// SPDX-License-Identifier: GPL-2.0
/*
 * dm-ccm-mirror: the `ccm` target - a read/write plaintext view of an
 * AES-CCM formatted device (format: dm-ccm-mirror.h,
 * Documentation/ccm-format.rst).
 *
 * Table: ccm <device> <key reference> [<#opt_args> <opt_args>...]
 *   key reference: :<bytes>:logon:<description> or :<bytes>:user:<...>
 *   opt_args:      commit_time:<ms>   metadata writeback delay (default
 *                                     1000, 0 = only on flush/FUA/suspend)
 *
 * Every data block is encrypted and authenticated on its own; its 13-byte
 * random nonce and 16-byte tag live in a 32-byte metadata entry, 128
 * entries per 4 KiB metadata block, cached with dm-bufio.  A bio never
 * spans two metadata blocks (max_io_len), never a partial data block
 * (logical_block_size = data block size).
 *
 * I/O path (map() never sleeps; everything else runs from workqueues):
 *   map: take the block range lock (FIFO, see below); once granted queue
 *        ccm_io_start() on io_wq.
 *   read:  start: copy the metadata entries out of dm-bufio, read the
 *          ciphertext into bounce pages -> endio -> comp_wq:
 *          ccm_read_decrypt() submits one AEAD request per block ->
 *          all done -> comp_wq: ccm_read_finish() copies the plaintext
 *          into the bio only if every block authenticated.
 *   write: start: hold the metadata buffer, copy the plaintext into
 *          bounce pages, encrypt in place with fresh nonces -> all done
 *          -> comp_wq: ccm_write_submit() writes the ciphertext -> endio
 *          -> comp_wq: ccm_write_commit() stores nonces and tags into
 *          the metadata buffer (dirty), FUA: writes it and flushes.
 *   flush: io_wq: write dirty metadata buffers, flush the device.
 * Stages on io_wq may wait for resources (bufio buffers, bounce pages,
 * mempools) that are given back only by stages on comp_wq, which never
 * wait for those: two workqueues, so they cannot starve each other.
 *
 * Errors: an authentication failure fails the bio with BLK_STS_PROTECTION
 * (-EILSEQ; EIO through the page cache), a device error with its status,
 * a metadata I/O error with BLK_STS_IOERR.  A failed read never puts
 * anything into the bio's pages.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-bufio.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dm-ccm-mirror-compat.h"
#include "dm-ccm-mirror-crypt.h"

#define DM_MSG_PREFIX "ccm"

#define CCM_MIN_IOS		16
#define CCM_MIN_REQS		64
#define CCM_RANGE_BUCKETS	64	/* power of two */
#define CCM_COMMIT_MS_DEFAULT	1000
#define CCM_COMMIT_MS_MAX	3600000

/*
 * Block range lock.  A bio covers the data blocks [first, end) of one
 * metadata group (CCM_ENTRIES_PER_META blocks); ranges of one group hash
 * to one bucket.  Each bio is appended to its bucket's list in map() and
 * may run once no *earlier* entry of the list overlaps it, unless both
 * are reads.  So writes to one block are serialized in arrival order (data
 * and tag always match), a read never sees a block between its data and
 * its metadata update, and nobody starves.
 */
struct ccm_range {
	struct list_head entry;		/* bucket lock: in the bucket list */
	u64 first;			/* first, end, write: set in map() */
	u64 end;
	bool write;
	bool granted;			/* bucket lock */
};

struct ccm_range_bucket {
	spinlock_t lock;		/* protects list and ->granted */
	struct list_head list;		/* struct ccm_range, arrival order */
};

/*
 * Per target instance.  Everything not listed below is set in the
 * constructor and read-only afterwards.
 */
struct ccm_target {
	struct dm_target *ti;
	struct dm_dev *dev;
	struct ccm_superblock sb;
	struct ccm_layout layout;
	struct ccm_key key;		/* bytes wiped once the tfm has them */
	struct ccm_crypt crypt;

	unsigned int block_size;	/* bytes: 512 or 4096 */
	unsigned int block_shift;
	unsigned int commit_ms;
	bool commit_ms_set;		/* given in the table */
	bool read_only;			/* table loaded without write */

	/* Metadata blocks; dm-bufio has its own locking. */
	struct dm_bufio_client *bufio;

	struct workqueue_struct *io_wq;		/* stages that may wait */
	struct workqueue_struct *comp_wq;	/* stages that give back */
	struct delayed_work commit_work;	/* periodic metadata write */

	mempool_t page_pool;		/* bounce pages */
	mempool_t ents_pool;		/* CCM_META_BLOCK_BYTES entry buffers */
	struct bio_set bs;		/* bounce bios */
	/*
	 * Held while a bio allocates its bounce pages with blocking
	 * allocations, so that two bios never each hold half the pool
	 * (dm-crypt's bio_alloc_lock).
	 */
	struct mutex bounce_lock;

	struct ccm_range_bucket buckets[CCM_RANGE_BUCKETS];

	/* Statistics for status, updated from any context. */
	atomic64_t auth_failures;
	atomic64_t read_errors;
	atomic64_t write_errors;
	atomic64_t last_bad_block;	/* -1: none */
};

/*
 * Per bio (dm per-bio data).  Owned by whichever stage currently runs
 * for the bio; stages hand over through work items or completions, so
 * there is no concurrent access and no lock.
 */
struct ccm_io {
	struct ccm_target *ct;
	struct work_struct work;
	struct ccm_range range;
	struct bvec_iter iter;		/* the bio's data as mapped */
	struct ccm_batch batch;
	struct bio *data_bio;		/* bounce bio to/from the device */
	struct dm_buffer *meta_buf;	/* writes: held from start to commit */
	struct ccm_meta_entry *ents;	/* nonces+tags of this bio's blocks */
	blk_status_t status;
};

static struct bio *ccm_io_bio(struct ccm_io *io)
{
	return dm_bio_from_per_bio_data(io, sizeof(*io));
}

static unsigned int ccm_io_blocks(struct ccm_io *io)
{
	return io->range.end - io->range.first;
}

static bool ccm_is_read_only(struct ccm_target *ct)
{
	return ct->read_only || bdev_read_only(ct->dev->bdev);
}

/* Context: any. */
static void ccm_queue(struct ccm_io *io, struct workqueue_struct *wq,
		      work_func_t fn)
{
	INIT_WORK(&io->work, fn);
	queue_work(wq, &io->work);
}

/* ------------------------------------------------------------------ */
/* Range lock */

static struct ccm_range_bucket *ccm_bucket(struct ccm_target *ct,
					   struct ccm_range *r)
{
	return &ct->buckets[(r->first / CCM_ENTRIES_PER_META) &
			    (CCM_RANGE_BUCKETS - 1)];
}

/* Caller holds the bucket lock. */
static bool ccm_range_may_run(struct ccm_range_bucket *b, struct ccm_range *r)
{
	struct ccm_range *o;

	list_for_each_entry(o, &b->list, entry) {
		if (o == r)
			return true;
		if (o->first < r->end && r->first < o->end &&
		    (o->write || r->write))
			return false;
	}
	return true;
}

/*
 * Append @r; returns true if it may run now, else the bio is started by
 * ccm_range_unlock() of the range it waits for.  Context: any, no sleep.
 */
static bool ccm_range_lock(struct ccm_target *ct, struct ccm_range *r)
{
	struct ccm_range_bucket *b = ccm_bucket(ct, r);
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	list_add_tail(&r->entry, &b->list);
	r->granted = ccm_range_may_run(b, r);
	spin_unlock_irqrestore(&b->lock, flags);
	return r->granted;
}

/* Remove @r and start the waiters it was blocking.  Context: any. */
static void ccm_range_unlock(struct ccm_target *ct, struct ccm_range *r)
{
	struct ccm_range_bucket *b = ccm_bucket(ct, r);
	struct ccm_range *o;
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	list_del(&r->entry);
	list_for_each_entry(o, &b->list, entry) {
		if (o->granted || !ccm_range_may_run(b, o))
			continue;
		o->granted = true;
		queue_work(ct->io_wq, &container_of(o, struct ccm_io,
						    range)->work);
	}
	spin_unlock_irqrestore(&b->lock, flags);
}

/* ------------------------------------------------------------------ */
/* Bounce bios */

/*
 * Allocate the bounce bio for @io with its pages (data blocks packed in
 * order).  First without blocking; if the pool is short, again under
 * bounce_lock with blocking allocations.  Context: process (io_wq).
 */
static struct bio *ccm_alloc_data_bio(struct ccm_target *ct,
				      struct ccm_io *io, blk_opf_t opf)
{
	unsigned int bytes = ccm_io_blocks(io) << ct->block_shift;
	unsigned int nr = DIV_ROUND_UP(bytes, PAGE_SIZE);
	gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;
	struct bio *bio;
	unsigned int i;

retry:
	if (gfp == GFP_NOIO)
		mutex_lock(&ct->bounce_lock);

	bio = bio_alloc_bioset(ct->dev->bdev, nr, opf, GFP_NOIO, &ct->bs);
	bio->bi_iter.bi_sector = ccm_data_sector(&ct->layout, io->range.first);
	bio->bi_ioprio = ccm_io_bio(io)->bi_ioprio;
	bio->bi_private = io;

	for (i = 0; i < nr; i++) {
		unsigned int len = min_t(unsigned int, bytes - i * PAGE_SIZE,
					 PAGE_SIZE);
		struct page *page = mempool_alloc(&ct->page_pool, gfp);

		if (!page) {
			while (i--)
				mempool_free(bio->bi_io_vec[i].bv_page,
					     &ct->page_pool);
			bio_put(bio);
			gfp = GFP_NOIO;
			goto retry;
		}
		/* One page per bvec, never merged: bi_io_vec[i] is page i. */
		__bio_add_page(bio, page, len, 0);
	}

	if (gfp == GFP_NOIO)
		mutex_unlock(&ct->bounce_lock);
	return bio;
}

/* Context: any. */
static void ccm_free_data_bio(struct ccm_target *ct, struct bio *bio)
{
	unsigned short i;

	for (i = 0; i < bio->bi_vcnt; i++)
		mempool_free(bio->bi_io_vec[i].bv_page, &ct->page_pool);
	bio_put(bio);
}

/* Data block @i of @io in the bounce bio. */
static struct page *ccm_bounce_page(struct ccm_io *io, unsigned int i,
				    unsigned int *offset)
{
	size_t pos = (size_t)i << io->ct->block_shift;

	*offset = offset_in_page(pos);
	return io->data_bio->bi_io_vec[pos >> PAGE_SHIFT].bv_page;
}

/* Copy between the bio's data and the bounce pages.  Context: any. */
static void ccm_copy_data(struct ccm_io *io, bool to_bounce)
{
	struct bio_vec *bounce = io->data_bio->bi_io_vec;
	struct bio *bio = ccm_io_bio(io);
	struct bvec_iter iter;
	struct bio_vec bv;
	size_t pos = 0;

	__bio_for_each_segment(bv, bio, iter, io->iter) {
		unsigned int done = 0;

		while (done < bv.bv_len) {
			struct page *bp = bounce[pos >> PAGE_SHIFT].bv_page;
			size_t boff = offset_in_page(pos);
			size_t len = min_t(size_t, bv.bv_len - done,
					   PAGE_SIZE - boff);

			if (to_bounce)
				memcpy_page(bp, boff, bv.bv_page,
					    bv.bv_offset + done, len);
			else
				memcpy_page(bv.bv_page, bv.bv_offset + done,
					    bp, boff, len);
			done += len;
			pos += len;
		}
		if (!to_bounce)
			flush_dcache_page(bv.bv_page);
	}
}

/* ------------------------------------------------------------------ */
/* Metadata */

/*
 * Write every dirty metadata block and flush the device:
 * dm_bufio_write_dirty_buffers() waits for the writes and ends with a
 * flush, and also reports errors of earlier asynchronous writeback.
 * Context: process, sleeps.
 */
static int ccm_commit_meta(struct ccm_target *ct)
{
	int r;

	r = dm_bufio_write_dirty_buffers(ct->bufio);
	if (r) {
		atomic64_inc(&ct->write_errors);
		DMERR_LIMIT("%pg: metadata commit failed: %d",
			    ct->dev->bdev, r);
	}
	return r;
}

/*
 * Periodic writeback (commit_time) of the metadata of completed writes,
 * without waiting or flushing: durability is the job of flush and FUA,
 * this only keeps the window short.  Errors show at the next commit.
 */
static void ccm_commit_work(struct work_struct *work)
{
	struct ccm_target *ct = container_of(to_delayed_work(work),
					     struct ccm_target, commit_work);

	dm_bufio_write_dirty_buffers_async(ct->bufio);
}

/* ------------------------------------------------------------------ */
/* Completion of a data bio */

/*
 * Give back everything @io holds and complete its bio.
 * Context: process (it may release a dm-bufio buffer).
 */
static void ccm_io_end(struct ccm_io *io)
{
	struct ccm_target *ct = io->ct;
	struct bio *bio = ccm_io_bio(io);

	if (io->meta_buf)
		dm_bufio_release(io->meta_buf);
	if (io->data_bio)
		ccm_free_data_bio(ct, io->data_bio);
	if (io->ents)
		mempool_free(io->ents, &ct->ents_pool);
	ccm_range_unlock(ct, &io->range);

	bio->bi_status = io->status;
	bio_endio(bio);
}

/* batch->failed: one block failed to decrypt/encrypt.  Context: any. */
static void ccm_block_failed(struct ccm_batch *batch, u64 block, int err)
{
	struct ccm_io *io = container_of(batch, struct ccm_io, batch);
	struct ccm_target *ct = io->ct;
	struct ccm_meta_entry *ent = &io->ents[block - io->range.first];

	atomic64_set(&ct->last_bad_block, block);
	if (err != -EBADMSG) {
		DMERR_LIMIT("%pg: AES-CCM failed on block %llu: %d",
			    ct->dev->bdev, block, err);
		return;
	}
	atomic64_inc(&ct->auth_failures);
	if (!memchr_inv(ent, 0, sizeof(*ent)))
		DMERR_LIMIT("%pg: block %llu has never been written",
			    ct->dev->bdev, block);
	else
		DMERR_LIMIT("%pg: block %llu failed authentication",
			    ct->dev->bdev, block);
}

/* ------------------------------------------------------------------ */
/* Reads */

static void ccm_read_finish(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);

	if (atomic_read(&io->batch.auth_failures))
		io->status = BLK_STS_PROTECTION;
	else if (io->batch.error)
		io->status = BLK_STS_IOERR;
	else
		ccm_copy_data(io, false);
	ccm_io_end(io);
}

/* batch->done.  Context: any. */
static void ccm_read_crypt_done(struct ccm_batch *batch)
{
	struct ccm_io *io = container_of(batch, struct ccm_io, batch);

	ccm_queue(io, io->ct->comp_wq, ccm_read_finish);
}

static void ccm_read_decrypt(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_target *ct = io->ct;
	unsigned int i, n = ccm_io_blocks(io);

	if (io->status) {
		atomic64_inc(&ct->read_errors);
		DMERR_LIMIT("%pg: read error on data blocks %llu-%llu: %d",
			    ct->dev->bdev, io->range.first, io->range.end - 1,
			    blk_status_to_errno(io->status));
		ccm_io_end(io);
		return;
	}

	ccm_batch_init(&io->batch, ccm_read_crypt_done, ccm_block_failed);
	for (i = 0; i < n; i++) {
		unsigned int off;
		struct page *page = ccm_bounce_page(io, i, &off);

		ccm_crypt_block(&ct->crypt, &io->batch, false,
				io->range.first + i, page, off, &io->ents[i]);
	}
	ccm_batch_end(&io->batch);
}

/* ------------------------------------------------------------------ */
/* Writes */

static void ccm_write_commit(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_target *ct = io->ct;
	unsigned int idx = ccm_meta_index(io->range.first);
	unsigned int n = ccm_io_blocks(io);
	struct ccm_meta_entry *meta;

	if (io->status) {
		/* The metadata keeps the old nonces and tags. */
		atomic64_inc(&ct->write_errors);
		DMERR_LIMIT("%pg: write error on data blocks %llu-%llu: %d",
			    ct->dev->bdev, io->range.first, io->range.end - 1,
			    blk_status_to_errno(io->status));
		ccm_io_end(io);
		return;
	}

	meta = dm_bufio_get_block_data(io->meta_buf);
	memcpy(meta + idx, io->ents, n * sizeof(*meta));
	dm_bufio_mark_partial_buffer_dirty(io->meta_buf, idx * sizeof(*meta),
					   (idx + n) * sizeof(*meta));

	if (ccm_io_bio(io)->bi_opf & REQ_FUA) {
		if (ccm_commit_meta(ct))
			io->status = BLK_STS_IOERR;
	} else if (ct->commit_ms) {
		queue_delayed_work(ct->comp_wq, &ct->commit_work,
				   msecs_to_jiffies(ct->commit_ms));
	}
	ccm_io_end(io);
}

/* Context: any (bio completion). */
static void ccm_data_endio(struct bio *data_bio)
{
	struct ccm_io *io = data_bio->bi_private;

	io->status = data_bio->bi_status;
	ccm_queue(io, io->ct->comp_wq, op_is_write(bio_op(data_bio)) ?
		  ccm_write_commit : ccm_read_decrypt);
}

static void ccm_write_submit(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);

	if (io->batch.error) {
		io->status = BLK_STS_IOERR;
		ccm_io_end(io);
		return;
	}
	io->data_bio->bi_end_io = ccm_data_endio;
	dm_submit_bio_remap(ccm_io_bio(io), io->data_bio);
}

/* batch->done.  Context: any. */
static void ccm_write_crypt_done(struct ccm_batch *batch)
{
	struct ccm_io *io = container_of(batch, struct ccm_io, batch);

	ccm_queue(io, io->ct->comp_wq, ccm_write_submit);
}

/* ------------------------------------------------------------------ */
/* Start of a data bio, flushes */

/* First stage of a read or write, once its range is granted.  io_wq. */
static void ccm_io_start(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_target *ct = io->ct;
	struct bio *bio = ccm_io_bio(io);
	u64 group = io->range.first / CCM_ENTRIES_PER_META;
	unsigned int idx = ccm_meta_index(io->range.first);
	unsigned int i, n = ccm_io_blocks(io);
	struct ccm_meta_entry *meta;
	struct dm_buffer *buf;

	io->ents = mempool_alloc(&ct->ents_pool, GFP_NOIO);

	meta = dm_bufio_read(ct->bufio, group, &buf);
	if (IS_ERR(meta)) {
		atomic64_inc(&ct->read_errors);
		DMERR_LIMIT("%pg: cannot read metadata block %llu: %ld",
			    ct->dev->bdev, group, PTR_ERR(meta));
		io->status = BLK_STS_IOERR;
		ccm_io_end(io);
		return;
	}

	if (!op_is_write(bio_op(bio))) {
		memcpy(io->ents, meta + idx, n * sizeof(*meta));
		dm_bufio_release(buf);
		io->data_bio = ccm_alloc_data_bio(ct, io, bio->bi_opf);
		io->data_bio->bi_end_io = ccm_data_endio;
		dm_submit_bio_remap(bio, io->data_bio);
		return;
	}

	io->meta_buf = buf;
	io->data_bio = ccm_alloc_data_bio(ct, io, bio->bi_opf);
	ccm_copy_data(io, true);

	ccm_batch_init(&io->batch, ccm_write_crypt_done, ccm_block_failed);
	for (i = 0; i < n; i++) {
		unsigned int off;
		struct page *page = ccm_bounce_page(io, i, &off);

		ccm_crypt_block(&ct->crypt, &io->batch, true,
				io->range.first + i, page, off, &io->ents[i]);
	}
	ccm_batch_end(&io->batch);
}

/*
 * Empty REQ_PREFLUSH: every write completed so far has its metadata in
 * dm-bufio; write it out, then flush the device.  io_wq.
 */
static void ccm_flush_work(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct bio *bio = ccm_io_bio(io);

	bio->bi_status = ccm_commit_meta(io->ct) ? BLK_STS_IOERR :
							 BLK_STS_OK;
	bio_endio(bio);
}

/* ------------------------------------------------------------------ */
/* Target methods */

/* Context: bio submission; must not sleep. */
static int ccm_map(struct dm_target *ti, struct bio *bio)
{
	struct ccm_target *ct = ti->private;
	struct ccm_io *io = dm_per_bio_data(bio, sizeof(*io));
	sector_t offset = dm_target_offset(ti, bio->bi_iter.bi_sector);
	unsigned int spb_mask = (ct->block_size >> SECTOR_SHIFT) - 1;
	u64 first, last;

	io->ct = ct;
	io->data_bio = NULL;
	io->meta_buf = NULL;
	io->ents = NULL;
	io->status = BLK_STS_OK;

	if (bio->bi_opf & REQ_PREFLUSH) {
		/* dm core sends flushes empty; the data follows apart. */
		if (bio->bi_iter.bi_size)
			return DM_MAPIO_KILL;
		ccm_queue(io, ct->io_wq, ccm_flush_work);
		return DM_MAPIO_SUBMITTED;
	}

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		break;
	case REQ_OP_WRITE:
		if (ccm_is_read_only(ct)) {
			DMERR_LIMIT("%pg: write to a read-only ccm device refused",
				    ct->dev->bdev);
			return DM_MAPIO_KILL;
		}
		break;
	default:
		return DM_MAPIO_KILL;
	}

	if (!bio->bi_iter.bi_size) {
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}

	first = offset >> (ct->block_shift - SECTOR_SHIFT);
	last = (offset + bio_sectors(bio) - 1) >> (ct->block_shift -
						   SECTOR_SHIFT);
	if (((offset | bio_sectors(bio)) & spb_mask) ||
	    first / CCM_ENTRIES_PER_META != last / CCM_ENTRIES_PER_META) {
		DMERR_LIMIT("%pg: misaligned bio at sector %llu, %u sectors",
			    ct->dev->bdev, (unsigned long long)offset,
			    bio_sectors(bio));
		return DM_MAPIO_KILL;
	}

	io->iter = bio->bi_iter;
	io->range.first = first;
	io->range.end = last + 1;
	io->range.write = op_is_write(bio_op(bio));
	INIT_WORK(&io->work, ccm_io_start);
	if (ccm_range_lock(ct, &io->range))
		queue_work(ct->io_wq, &io->work);
	return DM_MAPIO_SUBMITTED;
}

static int ccm_parse_opt_args(struct ccm_target *ct, struct dm_arg_set *as)
{
	static const struct dm_arg group = {
		.min = 0,
		.max = 1,
		.error = "Invalid number of optional arguments",
	};
	struct dm_target *ti = ct->ti;
	unsigned int argc, val;
	const char *arg;
	char dummy;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(&group, as, &argc, &ti->error);
	if (r)
		return r;

	while (argc--) {
		arg = dm_shift_arg(as);
		if (sscanf(arg, "commit_time:%u%c", &val, &dummy) == 1) {
			if (val > CCM_COMMIT_MS_MAX) {
				ti->error = "Invalid commit_time (0 to 3600000 ms)";
				return -EINVAL;
			}
			ct->commit_ms = val;
			ct->commit_ms_set = true;
		} else {
			ti->error = "Unknown optional argument";
			return -EINVAL;
		}
	}
	if (as->argc) {
		ti->error = "Too many arguments";
		return -EINVAL;
	}
	return 0;
}

/* Free @ct and everything it holds; safe on a partial constructor. */
static void ccm_free(struct ccm_target *ct)
{
	cancel_delayed_work_sync(&ct->commit_work);
	if (ct->io_wq)
		destroy_workqueue(ct->io_wq);
	if (ct->comp_wq)
		destroy_workqueue(ct->comp_wq);
	if (ct->bufio)
		dm_bufio_client_destroy(ct->bufio);
	bioset_exit(&ct->bs);
	mempool_exit(&ct->ents_pool);
	mempool_exit(&ct->page_pool);
	ccm_crypt_exit(&ct->crypt);
	ccm_key_free(&ct->key);
	if (ct->dev)
		dm_put_device(ct->ti, ct->dev);
	mutex_destroy(&ct->bounce_lock);
	kfree_sensitive(ct);
}

/*
 * Allocate what the I/O path needs.  Context: constructor.
 */
static int ccm_alloc_io(struct ccm_target *ct)
{
	struct dm_target *ti = ct->ti;
	const char *devname = dm_table_device_name(ti->table);
	unsigned int max_pages = DIV_ROUND_UP(CCM_ENTRIES_PER_META <<
					      ct->block_shift, PAGE_SIZE);
	int r;

	r = mempool_init_page_pool(&ct->page_pool, max_pages, 0);
	if (!r)
		r = mempool_init_kmalloc_pool(&ct->ents_pool, CCM_MIN_IOS,
					      CCM_META_BLOCK_BYTES);
	if (!r)
		r = bioset_init(&ct->bs, CCM_MIN_IOS, 0, BIOSET_NEED_BVECS);
	if (r) {
		ti->error = "Cannot allocate I/O memory pools";
		return r;
	}

	ct->io_wq = alloc_workqueue("kccmd_io/%s", WQ_MEM_RECLAIM | WQ_UNBOUND,
				    0, devname);
	ct->comp_wq = alloc_workqueue("kccmd/%s", WQ_MEM_RECLAIM | WQ_UNBOUND,
				      0, devname);
	if (!ct->io_wq || !ct->comp_wq) {
		ti->error = "Cannot allocate workqueues";
		return -ENOMEM;
	}

	ct->bufio = dm_bufio_client_create(ct->dev->bdev, CCM_META_BLOCK_BYTES,
					   1, 0, NULL, NULL, 0);
	if (IS_ERR(ct->bufio)) {
		r = PTR_ERR(ct->bufio);
		ct->bufio = NULL;
		ti->error = "Cannot create the metadata cache";
		return r;
	}
	dm_bufio_set_sector_offset(ct->bufio, ct->layout.meta_offset);
	return 0;
}

/*
 * ccm <device> <key reference> [<#opt_args> <opt_args>...]
 * Context: process (table load).
 */
static int ccm_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct ccm_target *ct;
	struct dm_arg_set as;
	u64 capacity;
	unsigned int i;
	int r;

	if (argc < 2) {
		ti->error = "Invalid argument count (ccm <device> <key> [<#opts> <opts>...])";
		return -EINVAL;
	}

	ct = kzalloc(sizeof(*ct), GFP_KERNEL);
	if (!ct) {
		ti->error = "Cannot allocate ccm context";
		return -ENOMEM;
	}
	ct->ti = ti;
	ti->private = ct;
	ct->commit_ms = CCM_COMMIT_MS_DEFAULT;
	mutex_init(&ct->bounce_lock);
	INIT_DELAYED_WORK(&ct->commit_work, ccm_commit_work);
	for (i = 0; i < CCM_RANGE_BUCKETS; i++) {
		spin_lock_init(&ct->buckets[i].lock);
		INIT_LIST_HEAD(&ct->buckets[i].list);
	}
	atomic64_set(&ct->auth_failures, 0);
	atomic64_set(&ct->read_errors, 0);
	atomic64_set(&ct->write_errors, 0);
	atomic64_set(&ct->last_bad_block, -1);
	ct->read_only = !ccm_table_writable(ti);

	as.argc = argc - 2;
	as.argv = argv + 2;
	r = ccm_parse_opt_args(ct, &as);
	if (r)
		goto bad;

	r = ccm_get_device(ti, argv[0], &ct->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}

	r = ccm_sb_read(ct->dev->bdev, &ct->sb, &ti->error);
	if (r)
		goto bad;
	r = ccm_sb_validate(&ct->sb, bdev_nr_sectors(ct->dev->bdev),
			    &ct->layout, &ti->error);
	if (r)
		goto bad;

	ct->block_size = le32_to_cpu(ct->sb.data_block_size);
	ct->block_shift = ilog2(ct->block_size);
	if (bdev_logical_block_size(ct->dev->bdev) > ct->block_size) {
		DMERR("%pg: logical block size %u, data block size %u",
		      ct->dev->bdev, bdev_logical_block_size(ct->dev->bdev),
		      ct->block_size);
		ti->error = "Device logical block size is larger than the data block size";
		r = -EINVAL;
		goto bad;
	}
	capacity = ct->layout.data_blocks << (ct->block_shift - SECTOR_SHIFT);
	if (ti->len > capacity) {
		DMERR("target length %llu sectors, data capacity %llu",
		      (unsigned long long)ti->len, capacity);
		ti->error = "Target length exceeds the device's data capacity";
		r = -EINVAL;
		goto bad;
	}
	if (ti->len & ((ct->block_size >> SECTOR_SHIFT) - 1)) {
		ti->error = "Target length is not a multiple of the data block size";
		r = -EINVAL;
		goto bad;
	}

	r = ccm_key_load(&ct->key, argv[1], ct->sb.key_size, &ti->error);
	if (r)
		goto bad;
	r = ccm_crypt_init(&ct->crypt, &ct->key, &ct->sb, CCM_MIN_REQS,
			   &ti->error);
	ccm_key_wipe_bytes(&ct->key);
	if (r)
		goto bad;
	r = ccm_crypt_verify_key(&ct->crypt, &ct->sb, &ti->error);
	if (r)
		goto bad;

	r = ccm_alloc_io(ct);
	if (r)
		goto bad;

	r = dm_set_target_max_io_len(ti, CCM_ENTRIES_PER_META <<
				     (ct->block_shift - SECTOR_SHIFT));
	if (r)
		goto bad;
	ti->num_flush_bios = 1;
	/* Metadata is cached: advertise a write cache even without one. */
	ti->flush_supported = true;
	ti->num_discard_bios = 0;
	ti->per_io_data_size = sizeof(struct ccm_io);
	return 0;

bad:
	ccm_free(ct);
	ti->private = NULL;
	return r;
}

/* Context: process (table destruction, after postsuspend). */
static void ccm_dtr(struct dm_target *ti)
{
	struct ccm_target *ct = ti->private;

	cancel_delayed_work_sync(&ct->commit_work);
	if (!ct->read_only)
		ccm_commit_meta(ct);
	ccm_free(ct);
}

/* No I/O is in flight.  Make the metadata durable.  Context: process. */
static void ccm_postsuspend(struct dm_target *ti)
{
	struct ccm_target *ct = ti->private;

	cancel_delayed_work_sync(&ct->commit_work);
	if (!ct->read_only)
		ccm_commit_meta(ct);
}

static void ccm_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct ccm_target *ct = ti->private;
	s64 last = atomic64_read(&ct->last_bad_block);
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%u %llu %llu %llu %llu ", ct->block_size,
		       ct->layout.data_blocks,
		       (unsigned long long)atomic64_read(&ct->auth_failures),
		       (unsigned long long)atomic64_read(&ct->read_errors),
		       (unsigned long long)atomic64_read(&ct->write_errors));
		if (last < 0)
			DMEMIT("- ");
		else
			DMEMIT("%llu ", (unsigned long long)last);
		DMEMIT("%s", ccm_is_read_only(ct) ? "ro" : "rw");
		break;
	case STATUSTYPE_TABLE:
		/* The key reference, never the key. */
		DMEMIT("%s %s", ct->dev->name, ct->key.ref);
		if (ct->commit_ms_set)
			DMEMIT(" 1 commit_time:%u", ct->commit_ms);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",data_block_size=%u,data_blocks=%llu,key_size=%u,read_only=%c;",
		       ct->block_size, ct->layout.data_blocks,
		       ct->sb.key_size, ct->read_only ? 'y' : 'n');
		break;
	}
}

static int ccm_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct ccm_target *ct = ti->private;

	return fn(ti, ct->dev, ct->layout.data_offset, ti->len, data);
}

static void ccm_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct ccm_target *ct = ti->private;
	unsigned int bs = ct->block_size;

	limits->logical_block_size =
		max_t(unsigned int, limits->logical_block_size, bs);
	limits->physical_block_size =
		max_t(unsigned int, limits->physical_block_size, bs);
	limits->io_min = max_t(unsigned int, limits->io_min, bs);
}

static struct target_type ccm_target_type = {
	.name		 = "ccm",
	.version	 = {1, 0, 0},
	.module		 = THIS_MODULE,
	.ctr		 = ccm_ctr,
	.dtr		 = ccm_dtr,
	.map		 = ccm_map,
	.postsuspend	 = ccm_postsuspend,
	.status		 = ccm_status,
	.iterate_devices = ccm_iterate_devices,
	.io_hints	 = ccm_io_hints,
};

int dm_ccm_target_init(void)
{
	BUILD_BUG_ON(sizeof(struct ccm_superblock) != 512);
	BUILD_BUG_ON(sizeof(struct ccm_meta_entry) != CCM_META_ENTRY_SIZE);
	BUILD_BUG_ON(sizeof(struct ccm_aad) != CCM_AAD_SIZE);
	BUILD_BUG_ON(PAGE_SIZE < CCM_META_BLOCK_BYTES);

	return dm_register_target(&ccm_target_type);
}

void dm_ccm_target_exit(void)
{
	dm_unregister_target(&ccm_target_type);
}
