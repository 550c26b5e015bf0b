// SPDX-License-Identifier: GPL-2.0
/*
 * dm-ccm-mirror: the ccm I/O engine (dm-ccm-mirror-engine.h) - the
 * plaintext view of an AES-CCM formatted device (format: dm-ccm-mirror.h,
 * Documentation/ccm-format.rst) as a bio sink - and the `ccm` target, a
 * thin device-mapper front end of it.
 *
 * Table: ccm <device> <key reference> [<#opt_args> <opt_args>...]
 *   key reference: :<bytes>:logon:<description> or :<bytes>:user:<...>
 *   opt_args:      commit_time:<ms>   metadata writeback delay (default
 *                                     1000, 0 = only on flush/FUA/suspend)
 *
 * Every data block is encrypted and authenticated on its own; its 13-byte
 * random nonce and 16-byte tag live in a 32-byte metadata entry, 128
 * entries per 4 KiB metadata block, cached with dm-bufio.  A bio never
 * spans two metadata blocks (ccm_engine_max_io()), never a partial data
 * block (the `ccm` target sets max_io_len and logical_block_size so).
 *
 * The engine works on any bio it is given (the `ccm` target's own dm
 * bios, the encrypted mirror's clones, its retried reads and its copy
 * bios): it never uses bi_bdev nor dm per-bio data; the state of one
 * I/O (struct ccm_io) comes from a mempool.
 *
 * I/O path (ccm_engine_submit() never sleeps; the rest runs from
 * workqueues):
 *   submit: take an I/O from io_pool without waiting (else the bio goes
 *        to the deferred list, served in order from defer_wq), take the
 *        block range lock (FIFO, see below); once granted queue
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
 * defer_wq waits for io_pool, given back by the last stage of an I/O
 * (comp_wq or io_wq), so it is a third queue that nobody waits on.
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
#include "dm-ccm-mirror-engine.h"

#define DM_MSG_PREFIX "ccm"

#define CCM_MIN_IOS		16
#define CCM_MIN_REQS		64
#define CCM_RANGE_BUCKETS	64	/* power of two */
#define CCM_COMMIT_MS_DEFAULT	1000
#define CCM_COMMIT_MS_MAX	3600000

/*
 * Block range lock.  A bio covers the data blocks [first, end) of one
 * metadata group (CCM_ENTRIES_PER_META blocks); ranges of one group hash
 * to one bucket.  Each bio is appended to its bucket's list on submission
 * and may run once no *earlier* entry of the list overlaps it, unless
 * both are reads.  So writes to one block are serialized in arrival order
 * (data and tag always match), a read never sees a block between its data
 * and its metadata update, and nobody starves.
 */
struct ccm_range {
	struct list_head entry;		/* bucket lock: in the bucket list */
	u64 first;			/* first, end, write: set on submit */
	u64 end;
	bool write;
	bool granted;			/* bucket lock */
};

struct ccm_range_bucket {
	spinlock_t lock;		/* protects list and ->granted */
	struct list_head list;		/* struct ccm_range, arrival order */
};

/*
 * One engine (one ccm formatted device).  Everything not listed below is
 * set in ccm_engine_create() and read-only afterwards (commit_ms: also by
 * the `ccm` constructor, before any I/O).
 */
struct ccm_engine {
	struct dm_target *ti;		/* names only */
	struct dm_dev *dev;		/* opened by the caller */
	struct ccm_superblock sb;
	struct ccm_layout layout;
	struct ccm_key key;		/* bytes wiped once the tfm has them */
	struct ccm_crypt crypt;

	unsigned int block_size;	/* bytes: 512 or 4096 */
	unsigned int block_shift;
	unsigned int commit_ms;
	bool read_only;			/* table loaded without write */

	/* Metadata blocks; dm-bufio has its own locking. */
	struct dm_bufio_client *bufio;

	struct workqueue_struct *io_wq;		/* stages that may wait */
	struct workqueue_struct *comp_wq;	/* stages that give back */
	struct workqueue_struct *defer_wq;	/* waits for io_pool only */
	struct delayed_work commit_work;	/* periodic metadata write */
	struct work_struct defer_work;

	/*
	 * Bios that found io_pool empty, in arrival order.  While any is
	 * waiting (deferring), later bios queue behind them.
	 */
	spinlock_t defer_lock;		/* protects deferred, deferring */
	struct bio_list deferred;
	bool deferring;

	mempool_t io_pool;		/* struct ccm_io */
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
 * One I/O, from io_pool.  Owned by whichever stage currently runs for
 * the bio; stages hand over through work items or completions, so there
 * is no concurrent access and no lock.
 */
struct ccm_io {
	struct ccm_engine *e;
	struct bio *bio;		/* the caller's bio */
	struct work_struct work;
	struct ccm_range range;
	struct bvec_iter iter;		/* the bio's data as submitted */
	struct ccm_batch batch;
	struct bio *data_bio;		/* bounce bio to/from the device */
	struct dm_buffer *meta_buf;	/* writes: held from start to commit */
	struct ccm_meta_entry *ents;	/* nonces+tags of this bio's blocks */
	blk_status_t status;
};

/* The `ccm` target: the engine plus what only the table knows. */
struct ccm_target {
	struct ccm_engine *e;
	struct dm_dev *dev;
	unsigned int commit_ms;
	bool commit_ms_set;		/* given in the table */
};

static unsigned int ccm_io_blocks(struct ccm_io *io)
{
	return io->range.end - io->range.first;
}

static bool ccm_is_read_only(struct ccm_engine *e)
{
	return e->read_only || bdev_read_only(e->dev->bdev);
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

static struct ccm_range_bucket *ccm_bucket(struct ccm_engine *e,
					   struct ccm_range *r)
{
	return &e->buckets[(r->first / CCM_ENTRIES_PER_META) &
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
static bool ccm_range_lock(struct ccm_engine *e, struct ccm_range *r)
{
	struct ccm_range_bucket *b = ccm_bucket(e, r);
	unsigned long flags;
	bool granted;

	spin_lock_irqsave(&b->lock, flags);
	list_add_tail(&r->entry, &b->list);
	granted = ccm_range_may_run(b, r);
	r->granted = granted;
	spin_unlock_irqrestore(&b->lock, flags);
	/*
	 * Not r->granted: once the lock is dropped, ccm_range_unlock() on
	 * another CPU may grant @r and queue its work itself; reading the
	 * flag here would queue it a second time (and run the I/O twice).
	 */
	return granted;
}

/* Remove @r and start the waiters it was blocking.  Context: any. */
static void ccm_range_unlock(struct ccm_engine *e, struct ccm_range *r)
{
	struct ccm_range_bucket *b = ccm_bucket(e, r);
	struct ccm_range *o;
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	list_del(&r->entry);
	list_for_each_entry(o, &b->list, entry) {
		if (o->granted || !ccm_range_may_run(b, o))
			continue;
		o->granted = true;
		queue_work(e->io_wq, &container_of(o, struct ccm_io,
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
static struct bio *ccm_alloc_data_bio(struct ccm_engine *e,
				      struct ccm_io *io, blk_opf_t opf)
{
	unsigned int bytes = ccm_io_blocks(io) << e->block_shift;
	unsigned int nr = DIV_ROUND_UP(bytes, PAGE_SIZE);
	gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;
	struct bio *bio;
	unsigned int i;

retry:
	if (gfp == GFP_NOIO)
		mutex_lock(&e->bounce_lock);

	bio = bio_alloc_bioset(e->dev->bdev, nr, opf, GFP_NOIO, &e->bs);
	bio->bi_iter.bi_sector = ccm_data_sector(&e->layout, io->range.first);
	bio->bi_ioprio = io->bio->bi_ioprio;
	bio->bi_private = io;

	for (i = 0; i < nr; i++) {
		unsigned int len = min_t(unsigned int, bytes - i * PAGE_SIZE,
					 PAGE_SIZE);
		struct page *page = mempool_alloc(&e->page_pool, gfp);

		if (!page) {
			while (i--)
				mempool_free(bio->bi_io_vec[i].bv_page,
					     &e->page_pool);
			bio_put(bio);
			gfp = GFP_NOIO;
			goto retry;
		}
		/* One page per bvec, never merged: bi_io_vec[i] is page i. */
		__bio_add_page(bio, page, len, 0);
	}

	if (gfp == GFP_NOIO)
		mutex_unlock(&e->bounce_lock);
	return bio;
}

/* Context: any. */
static void ccm_free_data_bio(struct ccm_engine *e, struct bio *bio)
{
	unsigned short i;

	for (i = 0; i < bio->bi_vcnt; i++)
		mempool_free(bio->bi_io_vec[i].bv_page, &e->page_pool);
	bio_put(bio);
}

/* Data block @i of @io in the bounce bio. */
static struct page *ccm_bounce_page(struct ccm_io *io, unsigned int i,
				    unsigned int *offset)
{
	size_t pos = (size_t)i << io->e->block_shift;

	*offset = offset_in_page(pos);
	return io->data_bio->bi_io_vec[pos >> PAGE_SHIFT].bv_page;
}

/* Copy between the bio's data and the bounce pages.  Context: any. */
static void ccm_copy_data(struct ccm_io *io, bool to_bounce)
{
	struct bio_vec *bounce = io->data_bio->bi_io_vec;
	struct bvec_iter iter;
	struct bio_vec bv;
	size_t pos = 0;

	__bio_for_each_segment(bv, io->bio, iter, io->iter) {
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
static int ccm_commit_meta(struct ccm_engine *e)
{
	int r;

	r = dm_bufio_write_dirty_buffers(e->bufio);
	if (r) {
		atomic64_inc(&e->write_errors);
		DMERR_LIMIT("%pg: metadata commit failed: %d",
			    e->dev->bdev, r);
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
	struct ccm_engine *e = container_of(to_delayed_work(work),
					    struct ccm_engine, commit_work);

	dm_bufio_write_dirty_buffers_async(e->bufio);
}

/*
 * No I/O is in flight: stop the periodic writeback and make the metadata
 * durable.  Context: process.
 */
static void ccm_engine_quiesce(struct ccm_engine *e)
{
	cancel_delayed_work_sync(&e->commit_work);
	if (!e->read_only)
		ccm_commit_meta(e);
}

/* ------------------------------------------------------------------ */
/* Completion of an I/O */

/*
 * Give back everything @io holds, @io itself included, and complete its
 * bio with @status (the engine is not touched afterwards: the caller may
 * destroy it once its last bio completed).  Context: process (it may
 * release a dm-bufio buffer).
 */
static void ccm_io_free_end(struct ccm_io *io, blk_status_t status)
{
	struct ccm_engine *e = io->e;
	struct bio *bio = io->bio;

	mempool_free(io, &e->io_pool);
	bio->bi_status = status;
	bio_endio(bio);
}

static void ccm_io_end(struct ccm_io *io)
{
	struct ccm_engine *e = io->e;

	if (io->meta_buf)
		dm_bufio_release(io->meta_buf);
	if (io->data_bio)
		ccm_free_data_bio(e, io->data_bio);
	if (io->ents)
		mempool_free(io->ents, &e->ents_pool);
	ccm_range_unlock(e, &io->range);
	ccm_io_free_end(io, io->status);
}

/* batch->failed: one block failed to decrypt/encrypt.  Context: any. */
static void ccm_block_failed(struct ccm_batch *batch, u64 block, int err)
{
	struct ccm_io *io = container_of(batch, struct ccm_io, batch);
	struct ccm_engine *e = io->e;
	struct ccm_meta_entry *ent = &io->ents[block - io->range.first];

	atomic64_set(&e->last_bad_block, block);
	if (err != -EBADMSG) {
		DMERR_LIMIT("%pg: AES-CCM failed on block %llu: %d",
			    e->dev->bdev, block, err);
		return;
	}
	atomic64_inc(&e->auth_failures);
	if (!memchr_inv(ent, 0, sizeof(*ent)))
		DMERR_LIMIT("%pg: block %llu has never been written",
			    e->dev->bdev, block);
	else
		DMERR_LIMIT("%pg: block %llu failed authentication",
			    e->dev->bdev, block);
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

	ccm_queue(io, io->e->comp_wq, ccm_read_finish);
}

static void ccm_read_decrypt(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_engine *e = io->e;
	unsigned int i, n = ccm_io_blocks(io);

	if (io->status) {
		atomic64_inc(&e->read_errors);
		DMERR_LIMIT("%pg: read error on data blocks %llu-%llu: %d",
			    e->dev->bdev, io->range.first, io->range.end - 1,
			    blk_status_to_errno(io->status));
		ccm_io_end(io);
		return;
	}

	ccm_batch_init(&io->batch, ccm_read_crypt_done, ccm_block_failed);
	for (i = 0; i < n; i++) {
		unsigned int off;
		struct page *page = ccm_bounce_page(io, i, &off);

		ccm_crypt_block(&e->crypt, &io->batch, false,
				io->range.first + i, page, off, &io->ents[i]);
	}
	ccm_batch_end(&io->batch);
}

/* ------------------------------------------------------------------ */
/* Writes */

static void ccm_write_commit(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_engine *e = io->e;
	unsigned int idx = ccm_meta_index(io->range.first);
	unsigned int n = ccm_io_blocks(io);
	struct ccm_meta_entry *meta;

	if (io->status) {
		/* The metadata keeps the old nonces and tags. */
		atomic64_inc(&e->write_errors);
		DMERR_LIMIT("%pg: write error on data blocks %llu-%llu: %d",
			    e->dev->bdev, io->range.first, io->range.end - 1,
			    blk_status_to_errno(io->status));
		ccm_io_end(io);
		return;
	}

	meta = dm_bufio_get_block_data(io->meta_buf);
	memcpy(meta + idx, io->ents, n * sizeof(*meta));
	dm_bufio_mark_partial_buffer_dirty(io->meta_buf, idx * sizeof(*meta),
					   (idx + n) * sizeof(*meta));

	if (io->bio->bi_opf & REQ_FUA) {
		if (ccm_commit_meta(e))
			io->status = BLK_STS_IOERR;
	} else if (e->commit_ms) {
		queue_delayed_work(e->comp_wq, &e->commit_work,
				   msecs_to_jiffies(e->commit_ms));
	}
	ccm_io_end(io);
}

/* Context: any (bio completion). */
static void ccm_data_endio(struct bio *data_bio)
{
	struct ccm_io *io = data_bio->bi_private;

	io->status = data_bio->bi_status;
	ccm_queue(io, io->e->comp_wq, op_is_write(bio_op(data_bio)) ?
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
	submit_bio_noacct(io->data_bio);
}

/* batch->done.  Context: any. */
static void ccm_write_crypt_done(struct ccm_batch *batch)
{
	struct ccm_io *io = container_of(batch, struct ccm_io, batch);

	ccm_queue(io, io->e->comp_wq, ccm_write_submit);
}

/* ------------------------------------------------------------------ */
/* Start of an I/O, flushes */

/* The flags of the caller's bio that the bounce bio keeps. */
static blk_opf_t ccm_data_opf(struct bio *bio)
{
	return bio_op(bio) |
	       (bio->bi_opf & (REQ_SYNC | REQ_META | REQ_PRIO | REQ_FUA));
}

/* First stage of a read or write, once its range is granted.  io_wq. */
static void ccm_io_start(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_engine *e = io->e;
	struct bio *bio = io->bio;
	u64 group = io->range.first / CCM_ENTRIES_PER_META;
	unsigned int idx = ccm_meta_index(io->range.first);
	unsigned int i, n = ccm_io_blocks(io);
	struct ccm_meta_entry *meta;
	struct dm_buffer *buf;

	io->ents = mempool_alloc(&e->ents_pool, GFP_NOIO);

	meta = dm_bufio_read(e->bufio, group, &buf);
	if (IS_ERR(meta)) {
		atomic64_inc(&e->read_errors);
		DMERR_LIMIT("%pg: cannot read metadata block %llu: %ld",
			    e->dev->bdev, group, PTR_ERR(meta));
		io->status = BLK_STS_IOERR;
		ccm_io_end(io);
		return;
	}

	if (!op_is_write(bio_op(bio))) {
		memcpy(io->ents, meta + idx, n * sizeof(*meta));
		dm_bufio_release(buf);
		io->data_bio = ccm_alloc_data_bio(e, io, ccm_data_opf(bio));
		io->data_bio->bi_end_io = ccm_data_endio;
		submit_bio_noacct(io->data_bio);
		return;
	}

	io->meta_buf = buf;
	io->data_bio = ccm_alloc_data_bio(e, io, ccm_data_opf(bio));
	ccm_copy_data(io, true);

	ccm_batch_init(&io->batch, ccm_write_crypt_done, ccm_block_failed);
	for (i = 0; i < n; i++) {
		unsigned int off;
		struct page *page = ccm_bounce_page(io, i, &off);

		ccm_crypt_block(&e->crypt, &io->batch, true,
				io->range.first + i, page, off, &io->ents[i]);
	}
	ccm_batch_end(&io->batch);
}

static void ccm_flush_work(struct work_struct *work);

/*
 * Start @bio (validated by ccm_engine_submit()) with @io.  Context: any,
 * no sleep.
 */
static void ccm_io_begin(struct ccm_engine *e, struct ccm_io *io,
			 struct bio *bio)
{
	unsigned int shift = e->block_shift - SECTOR_SHIFT;

	io->e = e;
	io->bio = bio;
	io->data_bio = NULL;
	io->meta_buf = NULL;
	io->ents = NULL;
	io->status = BLK_STS_OK;

	if (bio->bi_opf & REQ_PREFLUSH) {
		ccm_queue(io, e->io_wq, ccm_flush_work);
		return;
	}

	io->iter = bio->bi_iter;
	io->range.first = bio->bi_iter.bi_sector >> shift;
	io->range.end = bio_end_sector(bio) >> shift;
	io->range.write = op_is_write(bio_op(bio));
	INIT_WORK(&io->work, ccm_io_start);
	if (ccm_range_lock(e, &io->range))
		queue_work(e->io_wq, &io->work);
}

/*
 * REQ_PREFLUSH: every write completed so far has its metadata in
 * dm-bufio; write it out, then flush the device.  The data of a
 * non-empty bio follows as a plain write.  io_wq.
 */
static void ccm_flush_work(struct work_struct *work)
{
	struct ccm_io *io = container_of(work, struct ccm_io, work);
	struct ccm_engine *e = io->e;
	struct bio *bio = io->bio;

	if (ccm_commit_meta(e)) {
		ccm_io_free_end(io, BLK_STS_IOERR);
		return;
	}
	if (!bio->bi_iter.bi_size) {
		ccm_io_free_end(io, BLK_STS_OK);
		return;
	}
	bio->bi_opf &= ~REQ_PREFLUSH;
	ccm_io_begin(e, io, bio);
}

/* defer_wq: start the bios that found io_pool empty, in order. */
static void ccm_defer_work(struct work_struct *work)
{
	struct ccm_engine *e = container_of(work, struct ccm_engine,
					    defer_work);
	struct ccm_io *io;
	struct bio *bio;

	for (;;) {
		spin_lock_irq(&e->defer_lock);
		bio = bio_list_pop(&e->deferred);
		if (!bio)
			WRITE_ONCE(e->deferring, false);
		spin_unlock_irq(&e->defer_lock);
		if (!bio)
			return;
		io = mempool_alloc(&e->io_pool, GFP_NOIO);
		ccm_io_begin(e, io, bio);
	}
}

/*
 * Check @bio against the engine contract: BLK_STS_OK or the status to
 * fail it with.  Context: any.
 */
static blk_status_t ccm_engine_check(struct ccm_engine *e, struct bio *bio)
{
	unsigned int spb_mask = (e->block_size >> SECTOR_SHIFT) - 1;
	sector_t max_io = ccm_engine_max_io(e);
	sector_t start = bio->bi_iter.bi_sector;
	sector_t end = bio_end_sector(bio);

	if ((bio->bi_opf & REQ_PREFLUSH) && !bio->bi_iter.bi_size)
		return BLK_STS_OK;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		break;
	case REQ_OP_WRITE:
		if (ccm_is_read_only(e)) {
			DMERR_LIMIT("%pg: write to a read-only ccm device refused",
				    e->dev->bdev);
			return BLK_STS_IOERR;
		}
		break;
	default:
		return BLK_STS_NOTSUPP;
	}

	if (!bio->bi_iter.bi_size)
		return BLK_STS_OK;
	if (WARN_ON_ONCE(((start | end) & spb_mask) ||
			 end > ccm_engine_sectors(e) ||
			 (start ^ (end - 1)) & ~(max_io - 1))) {
		DMERR_LIMIT("%pg: bio outside the engine's limits at sector %llu, %u sectors",
			    e->dev->bdev, (unsigned long long)start,
			    bio_sectors(bio));
		return BLK_STS_IOERR;
	}
	return BLK_STS_OK;
}

/* ------------------------------------------------------------------ */
/* Engine interface (dm-ccm-mirror-engine.h) */

void ccm_engine_submit(struct ccm_engine *e, struct bio *bio)
{
	blk_status_t status = ccm_engine_check(e, bio);
	unsigned long flags;
	struct ccm_io *io;

	if (status || (!bio->bi_iter.bi_size &&
		       !(bio->bi_opf & REQ_PREFLUSH))) {
		bio->bi_status = status;
		bio_endio(bio);
		return;
	}

	if (!READ_ONCE(e->deferring)) {
		io = mempool_alloc(&e->io_pool, GFP_NOWAIT | __GFP_NOWARN);
		if (io) {
			ccm_io_begin(e, io, bio);
			return;
		}
	}

	spin_lock_irqsave(&e->defer_lock, flags);
	bio_list_add(&e->deferred, bio);
	WRITE_ONCE(e->deferring, true);
	spin_unlock_irqrestore(&e->defer_lock, flags);
	queue_work(e->defer_wq, &e->defer_work);
}

int ccm_engine_flush(struct ccm_engine *e)
{
	/* This writes whatever the periodic writeback would have. */
	cancel_delayed_work(&e->commit_work);
	return ccm_commit_meta(e);
}

const struct ccm_superblock *ccm_engine_sb(struct ccm_engine *e)
{
	return &e->sb;
}

const struct ccm_layout *ccm_engine_layout(struct ccm_engine *e)
{
	return &e->layout;
}

sector_t ccm_engine_sectors(struct ccm_engine *e)
{
	return e->layout.data_blocks << (e->block_shift - SECTOR_SHIFT);
}

unsigned int ccm_engine_block_size(struct ccm_engine *e)
{
	return e->block_size;
}

sector_t ccm_engine_max_io(struct ccm_engine *e)
{
	return (sector_t)CCM_ENTRIES_PER_META <<
	       (e->block_shift - SECTOR_SHIFT);
}

const char *ccm_engine_keyref(struct ccm_engine *e)
{
	return e->key.ref;
}

u64 ccm_engine_auth_failures(struct ccm_engine *e)
{
	return atomic64_read(&e->auth_failures);
}

/* Free @e and everything it holds; safe on a partial create. */
static void ccm_engine_free(struct ccm_engine *e)
{
	cancel_delayed_work_sync(&e->commit_work);
	if (e->defer_wq)
		destroy_workqueue(e->defer_wq);
	if (e->io_wq)
		destroy_workqueue(e->io_wq);
	if (e->comp_wq)
		destroy_workqueue(e->comp_wq);
	if (e->bufio)
		dm_bufio_client_destroy(e->bufio);
	bioset_exit(&e->bs);
	mempool_exit(&e->io_pool);
	mempool_exit(&e->ents_pool);
	mempool_exit(&e->page_pool);
	ccm_crypt_exit(&e->crypt);
	ccm_key_free(&e->key);
	mutex_destroy(&e->bounce_lock);
	kfree_sensitive(e);
}

void ccm_engine_destroy(struct ccm_engine *e)
{
	ccm_engine_quiesce(e);
	ccm_engine_free(e);
}

/* Allocate what the I/O path needs.  Context: process. */
static int ccm_engine_alloc_io(struct ccm_engine *e, char **error)
{
	const char *devname = dm_table_device_name(e->ti->table);
	unsigned int max_pages = DIV_ROUND_UP(CCM_ENTRIES_PER_META <<
					      e->block_shift, PAGE_SIZE);
	int r;

	r = mempool_init_page_pool(&e->page_pool, max_pages, 0);
	if (!r)
		r = mempool_init_kmalloc_pool(&e->ents_pool, CCM_MIN_IOS,
					      CCM_META_BLOCK_BYTES);
	if (!r)
		r = mempool_init_kmalloc_pool(&e->io_pool, CCM_MIN_IOS,
					      sizeof(struct ccm_io));
	if (!r)
		r = bioset_init(&e->bs, CCM_MIN_IOS, 0, BIOSET_NEED_BVECS);
	if (r) {
		*error = "Cannot allocate I/O memory pools";
		return r;
	}

	e->io_wq = alloc_workqueue("kccmd_io/%s", WQ_MEM_RECLAIM | WQ_UNBOUND,
				   0, devname);
	e->comp_wq = alloc_workqueue("kccmd/%s", WQ_MEM_RECLAIM | WQ_UNBOUND,
				     0, devname);
	e->defer_wq = alloc_ordered_workqueue("kccmd_defer/%s",
					      WQ_MEM_RECLAIM, devname);
	if (!e->io_wq || !e->comp_wq || !e->defer_wq) {
		*error = "Cannot allocate workqueues";
		return -ENOMEM;
	}

	e->bufio = dm_bufio_client_create(e->dev->bdev, CCM_META_BLOCK_BYTES,
					  1, 0, NULL, NULL, 0);
	if (IS_ERR(e->bufio)) {
		r = PTR_ERR(e->bufio);
		e->bufio = NULL;
		*error = "Cannot create the metadata cache";
		return r;
	}
	dm_bufio_set_sector_offset(e->bufio, e->layout.meta_offset);
	return 0;
}

int ccm_engine_create(struct dm_target *ti, struct dm_dev *dev,
		      const char *keyref, struct ccm_engine **engine,
		      char **error)
{
	struct ccm_engine *e;
	unsigned int i;
	int r;

	*engine = NULL;
	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e) {
		*error = "Cannot allocate ccm context";
		return -ENOMEM;
	}
	e->ti = ti;
	e->dev = dev;
	e->commit_ms = CCM_COMMIT_MS_DEFAULT;
	e->read_only = !ccm_table_writable(ti);
	mutex_init(&e->bounce_lock);
	INIT_DELAYED_WORK(&e->commit_work, ccm_commit_work);
	INIT_WORK(&e->defer_work, ccm_defer_work);
	spin_lock_init(&e->defer_lock);
	bio_list_init(&e->deferred);
	for (i = 0; i < CCM_RANGE_BUCKETS; i++) {
		spin_lock_init(&e->buckets[i].lock);
		INIT_LIST_HEAD(&e->buckets[i].list);
	}
	atomic64_set(&e->auth_failures, 0);
	atomic64_set(&e->read_errors, 0);
	atomic64_set(&e->write_errors, 0);
	atomic64_set(&e->last_bad_block, -1);

	r = ccm_sb_read(dev->bdev, &e->sb, error);
	if (r)
		goto bad;
	r = ccm_sb_validate(&e->sb, bdev_nr_sectors(dev->bdev), &e->layout,
			    error);
	if (r)
		goto bad;

	e->block_size = le32_to_cpu(e->sb.data_block_size);
	e->block_shift = ilog2(e->block_size);
	if (bdev_logical_block_size(dev->bdev) > e->block_size) {
		DMERR("%pg: logical block size %u, data block size %u",
		      dev->bdev, bdev_logical_block_size(dev->bdev),
		      e->block_size);
		*error = "Device logical block size is larger than the data block size";
		r = -EINVAL;
		goto bad;
	}

	r = ccm_key_load(&e->key, keyref, e->sb.key_size, error);
	if (r)
		goto bad;
	r = ccm_crypt_init(&e->crypt, &e->key, &e->sb, CCM_MIN_REQS, error);
	ccm_key_wipe_bytes(&e->key);
	if (r)
		goto bad;
	r = ccm_crypt_verify_key(&e->crypt, &e->sb, error);
	if (r)
		goto bad;

	r = ccm_engine_alloc_io(e, error);
	if (r)
		goto bad;

	*engine = e;
	return 0;

bad:
	ccm_engine_free(e);
	return r;
}

/* ------------------------------------------------------------------ */
/* The `ccm` target */

/* Context: bio submission; must not sleep. */
static int ccm_map(struct dm_target *ti, struct bio *bio)
{
	struct ccm_target *ct = ti->private;
	struct ccm_engine *e = ct->e;
	sector_t offset = dm_target_offset(ti, bio->bi_iter.bi_sector);
	unsigned int spb_mask = (e->block_size >> SECTOR_SHIFT) - 1;
	u64 first, last;

	if (bio->bi_opf & REQ_PREFLUSH) {
		/* dm core sends flushes empty; the data follows apart. */
		if (bio->bi_iter.bi_size)
			return DM_MAPIO_KILL;
		ccm_engine_submit(e, bio);
		return DM_MAPIO_SUBMITTED;
	}

	/* The engine refuses other operations and read-only writes. */
	if (!bio->bi_iter.bi_size) {
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}

	first = offset >> (e->block_shift - SECTOR_SHIFT);
	last = (offset + bio_sectors(bio) - 1) >> (e->block_shift -
						   SECTOR_SHIFT);
	if (((offset | bio_sectors(bio)) & spb_mask) ||
	    first / CCM_ENTRIES_PER_META != last / CCM_ENTRIES_PER_META) {
		DMERR_LIMIT("%pg: misaligned bio at sector %llu, %u sectors",
			    e->dev->bdev, (unsigned long long)offset,
			    bio_sectors(bio));
		return DM_MAPIO_KILL;
	}

	bio->bi_iter.bi_sector = offset;
	ccm_engine_submit(e, bio);
	return DM_MAPIO_SUBMITTED;
}

static int ccm_parse_opt_args(struct ccm_target *ct, struct dm_target *ti,
			      struct dm_arg_set *as)
{
	static const struct dm_arg group = {
		.min = 0,
		.max = 1,
		.error = "Invalid number of optional arguments",
	};
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
static void ccm_free(struct dm_target *ti, struct ccm_target *ct)
{
	if (ct->e)
		ccm_engine_destroy(ct->e);
	if (ct->dev)
		dm_put_device(ti, ct->dev);
	kfree(ct);
}

/*
 * ccm <device> <key reference> [<#opt_args> <opt_args>...]
 * Context: process (table load).
 */
static int ccm_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct ccm_target *ct;
	struct dm_arg_set as;
	struct ccm_engine *e;
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
	ct->commit_ms = CCM_COMMIT_MS_DEFAULT;

	as.argc = argc - 2;
	as.argv = argv + 2;
	r = ccm_parse_opt_args(ct, ti, &as);
	if (r)
		goto bad;

	r = ccm_get_device(ti, argv[0], &ct->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}

	r = ccm_engine_create(ti, ct->dev, argv[1], &ct->e, &ti->error);
	if (r)
		goto bad;
	e = ct->e;
	e->commit_ms = ct->commit_ms;

	if (ti->len > ccm_engine_sectors(e)) {
		DMERR("target length %llu sectors, data capacity %llu",
		      (unsigned long long)ti->len,
		      (unsigned long long)ccm_engine_sectors(e));
		ti->error = "Target length exceeds the device's data capacity";
		r = -EINVAL;
		goto bad;
	}
	if (ti->len & ((e->block_size >> SECTOR_SHIFT) - 1)) {
		ti->error = "Target length is not a multiple of the data block size";
		r = -EINVAL;
		goto bad;
	}

	r = dm_set_target_max_io_len(ti, ccm_engine_max_io(e));
	if (r)
		goto bad;
	ti->num_flush_bios = 1;
	/* Metadata is cached: advertise a write cache even without one. */
	ti->flush_supported = true;
	ti->num_discard_bios = 0;
	ti->private = ct;
	return 0;

bad:
	ccm_free(ti, ct);
	return r;
}

/* Context: process (table destruction, after postsuspend). */
static void ccm_dtr(struct dm_target *ti)
{
	ccm_free(ti, ti->private);
}

/* No I/O is in flight.  Make the metadata durable.  Context: process. */
static void ccm_postsuspend(struct dm_target *ti)
{
	struct ccm_target *ct = ti->private;

	ccm_engine_quiesce(ct->e);
}

static void ccm_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct ccm_target *ct = ti->private;
	struct ccm_engine *e = ct->e;
	s64 last = atomic64_read(&e->last_bad_block);
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%u %llu %llu %llu %llu ", e->block_size,
		       e->layout.data_blocks,
		       (unsigned long long)atomic64_read(&e->auth_failures),
		       (unsigned long long)atomic64_read(&e->read_errors),
		       (unsigned long long)atomic64_read(&e->write_errors));
		if (last < 0)
			DMEMIT("- ");
		else
			DMEMIT("%llu ", (unsigned long long)last);
		DMEMIT("%s", ccm_is_read_only(e) ? "ro" : "rw");
		break;
	case STATUSTYPE_TABLE:
		/* The key reference, never the key. */
		DMEMIT("%s %s", ct->dev->name, ccm_engine_keyref(e));
		if (ct->commit_ms_set)
			DMEMIT(" 1 commit_time:%u", ct->commit_ms);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",data_block_size=%u,data_blocks=%llu,key_size=%u,read_only=%c;",
		       e->block_size, e->layout.data_blocks,
		       e->sb.key_size, e->read_only ? 'y' : 'n');
		break;
	}
}

static int ccm_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct ccm_target *ct = ti->private;

	return fn(ti, ct->dev, ct->e->layout.data_offset, ti->len, data);
}

static void ccm_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct ccm_target *ct = ti->private;
	unsigned int bs = ct->e->block_size;

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
