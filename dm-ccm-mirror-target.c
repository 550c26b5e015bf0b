// SPDX-License-Identifier: GPL-2.0
/*
 * dm-ccm-mirror: the "ccm-mirror" target and the module's init/exit.
 *
 * ccm-mirror serves all I/O from a primary device while it copies the
 * primary, region by region, onto a secondary device in the background:
 *
 * - reads go to the primary; once a region is in sync, a primary read error
 *   on it is retried on the secondary;
 * - writes to a region that is not copied yet go to the primary only (the
 *   copy picks them up), writes to a region in sync go to both legs and
 *   complete when both have, writes to a region being copied are held until
 *   that copy ends.  dm core splits every bio at region boundaries
 *   (max_io_len = region size), so a bio touches exactly one region and the
 *   exclusion between user writes and copies is by region overlap;
 * - a copy never starts on a region with writes in flight (per-region-hash
 *   counters), so a copy can never read the primary while a write to the
 *   same region is still landing there;
 * - two writes to a region in sync whose sectors overlap are never in
 *   flight at once: the later one is held until the earlier has completed
 *   on both legs (the block layer may reorder writes in flight, so each
 *   leg could otherwise keep a different one of the two);
 * - when every region is copied and a flush of the secondary has
 *   completed, the mirror is "ready";
 * - a secondary write or flush error fails the mirror: copying stops, user
 *   I/O keeps going to the primary only and succeeds, an event is raised.
 *
 * Locking:
 * - mc->lock (spinlock, irq-safe: taken from bio completion) protects the
 *   region bitmaps in_sync/copying/failed_once, nr_in_sync, cursor,
 *   inflight, the deferred, retries and overlap_wait bio lists, the lists
 *   of mirrored writes in flight (fanout[]), the leg health characters
 *   and the measured copy rate.
 * - mc->flags are atomic bitops, read without the lock.
 * - The token bucket (tb_*) belongs to the copier, copy_work, which never
 *   runs concurrently with itself.
 * - busy[] and the error counters are atomics.
 *
 * Contexts: map() runs in the submitter's context and never sleeps (clone
 * allocation is GFP_NOWAIT; on failure the bio is deferred to bio_work).
 * end_io() and secondary_endio() may run in interrupt context.
 * copy_complete() runs in kcopyd's thread (plain) or on copy_wq.
 * Everything else that sleeps runs on mc->wq: the copier (copy_work),
 * held and retried bios (bio_work), commits (commit_work) and
 * dm_table_event() (event_work).
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-ccm-mirror-compat.h"
#include "dm-ccm-mirror-crypt.h"
#include "dm-ccm-mirror-engine.h"
#include "dm-ccm-mirror-metadata.h"

#define DM_MSG_PREFIX "ccm-mirror"

#define MIN_REGION_SECTORS	8		/* 4 KiB */
#define MAX_REGION_SECTORS	BIT(21)		/* 1 GiB */
#define MAX_REGIONS		BIT(24)
#define DEFAULT_PARALLEL	4
#define MAX_PARALLEL		64
#define MAX_RATE_MIB		BIT(20)		/* 1 TiB/s: "no limit" */
#define BUSY_BUCKETS		1024
#define FANOUT_BUCKETS		64		/* mirrored writes in flight */
#define MAX_SCAN		256		/* candidates per pick */
#define RETRY_DELAY		(HZ / 50)
#define COMMIT_PERIOD		HZ
#define MAX_CHUNK_PAGES		128		/* encrypted copy unit */

/* mc->flags */
enum {
	MC_PAUSED,	/* copying paused by message or start_paused */
	MC_SUSPENDED,	/* between presuspend and resume */
	MC_READY,	/* all regions copied and the secondary flushed */
	MC_FAILED,	/* one-way: the secondary is abandoned */
	MC_LOADED,	/* persistent copy state loaded (first preresume) */
	MC_FAIL_RECORDED, /* persistent: the failure is in the copy state */
};

/* Leg health, one character each in the status line (as dm-raid1). */
#define HEALTH_ALIVE		'A'
#define HEALTH_READ_ERR		'R'
#define HEALTH_WRITE_ERR	'D'
#define HEALTH_FLUSH_ERR	'F'

/* Per-bio flags */
#define PB_COUNTED	BIT(0)	/* holds a busy[] count */
#define PB_SECONDARY	BIT(1)	/* flush sent to the secondary */
#define PB_RETRIED	BIT(2)	/* read resubmitted to the secondary */
#define PB_FANOUT	BIT(3)	/* mirrored write, on mc->fanout[] */

struct ccm_mirror;

struct mirror_pb {
	struct ccm_mirror *mc;
	unsigned long region;
	unsigned int flags;
	/*
	 * Reads: to retry on the secondary.  Mirrored writes: the sectors
	 * written (bi_iter advances as the bio completes).
	 */
	struct bvec_iter iter;
	struct list_head fanout_entry;	/* PB_FANOUT: on mc->fanout[] */
	/* Reads: the rest of what a retry restores (record_read()). */
	int remaining;
	unsigned short bi_flags;
};

/* One region copy in flight. */
struct mirror_copy {
	struct ccm_mirror *mc;
	unsigned long region;
	sector_t sectors;
	struct work_struct work;	/* encrypted copies */
	struct page *pages[MAX_CHUNK_PAGES];
};

struct ccm_mirror {
	struct dm_target *ti;
	struct dm_dev *primary;
	struct dm_dev *secondary;
	struct ccm_engine *engine;	/* encrypted: the secondary's format */

	sector_t region_sectors;
	unsigned int region_shift;
	unsigned long nr_regions;
	bool start_paused;

	/* Persistent copy state (NULL metadev and !persistent: in memory). */
	bool persistent;
	bool overwrite;
	u64 primary_id;
	struct dm_dev *metadev;
	struct ccm_meta meta;
	unsigned long nr_carried;
	unsigned long *commit_copied;	/* commit_work's scratch */
	unsigned long *commit_dirty;
	unsigned long *commit_want;

	spinlock_t lock;		/* protects the fields up to flags */
	/* in_sync: copied (in memory); the rest: persistent mode only */
	unsigned long *in_sync;
	unsigned long *copied_ondisk;	/* "copied" as last committed */
	unsigned long *dirty_ondisk;	/* "dirty" committed, still wanted */
	unsigned long *dirty_want;	/* writes wait for these to commit */
	struct bio_list meta_wait;	/* writes waiting for dirty_want */
	struct bio_list flush_wait;	/* user flushes waiting for a commit */
	unsigned long *copying;
	unsigned long *failed_once;
	unsigned long nr_in_sync;
	unsigned long cursor;
	unsigned int inflight;
	struct bio_list deferred;
	struct bio_list retries;
	/* mirrored writes in flight, hashed by region; writes they block */
	struct list_head fanout[FANOUT_BUCKETS];
	struct bio_list overlap_wait;
	char primary_health;
	char secondary_health;
	unsigned long rate_stamp;
	u64 rate_mark;
	unsigned long rate_kib;

	unsigned long flags;
	atomic_t busy[BUSY_BUCKETS];

	unsigned int rate_mib;		/* 0: unlimited; WRITE_ONCE by message */
	unsigned int parallel;		/* WRITE_ONCE by message */
	unsigned long tb_stamp;
	u64 tb_tokens;
	unsigned int tb_rate;

	atomic64_t copied_bytes;
	atomic_t primary_read_errors;
	atomic_t primary_write_errors;
	atomic_t secondary_read_errors;
	atomic_t secondary_write_errors;

	struct workqueue_struct *wq;
	struct delayed_work copy_work;
	struct work_struct bio_work;
	struct work_struct event_work;
	struct delayed_work commit_work;
	wait_queue_head_t inflight_wait;

	struct dm_kcopyd_client *kc;	/* plain copies */
	struct workqueue_struct *copy_wq; /* encrypted copies */
	mempool_t page_pool;		/* encrypted copies' buffers */
	struct mutex page_lock;		/* one copy takes pages at a time */
	struct bio_set copy_bs;
	unsigned int chunk_sectors;	/* encrypted copy unit */
	mempool_t copy_pool;
	struct bio_set bs;
};

enum mirror_state {
	MS_COPYING,
	MS_PAUSED,
	MS_READY,
	MS_FAILED,
};

static const char * const state_names[] = {
	[MS_COPYING] = "copying",
	[MS_PAUSED] = "paused",
	[MS_READY] = "ready",
	[MS_FAILED] = "failed",
};

/* Any context. */
static enum mirror_state mirror_state(struct ccm_mirror *mc)
{
	if (test_bit(MC_FAILED, &mc->flags))
		return MS_FAILED;
	if (test_bit(MC_READY, &mc->flags))
		return MS_READY;
	if (test_bit(MC_PAUSED, &mc->flags))
		return MS_PAUSED;
	return MS_COPYING;
}

static inline atomic_t *busy_bucket(struct ccm_mirror *mc,
				    unsigned long region)
{
	return &mc->busy[region % BUSY_BUCKETS];
}

static inline struct list_head *fanout_bucket(struct ccm_mirror *mc,
					      unsigned long region)
{
	return &mc->fanout[region % FANOUT_BUCKETS];
}

/* Any context: tell userspace (dmsetup wait) that something changed. */
static void raise_event(struct ccm_mirror *mc)
{
	queue_work(mc->wq, &mc->event_work);
}

/*
 * Any context.  A leg's health character shows its first error; a write
 * error replaces a read error.  A change raises an event.
 */
static void set_health(struct ccm_mirror *mc, char *leg_health, char why)
{
	unsigned long flags;
	bool changed;

	spin_lock_irqsave(&mc->lock, flags);
	changed = *leg_health == HEALTH_ALIVE ||
		  (*leg_health == HEALTH_READ_ERR && why == HEALTH_WRITE_ERR);
	if (changed)
		*leg_health = why;
	spin_unlock_irqrestore(&mc->lock, flags);
	if (changed)
		raise_event(mc);
}

/* Any context: let the copier look for work now. */
static void wake_copier(struct ccm_mirror *mc)
{
	mod_delayed_work(mc->wq, &mc->copy_work, 0);
}

static void event_work(struct work_struct *ws)
{
	struct ccm_mirror *mc = container_of(ws, struct ccm_mirror, event_work);

	dm_table_event(mc->ti->table);
}

/* Process context: flush the primary, 0 or -errno. */
static int flush_primary(struct ccm_mirror *mc)
{
	return blkdev_issue_flush(mc->primary->bdev);
}

/* Process context: flush the secondary (its metadata too), 0 or -errno. */
static int flush_secondary(struct ccm_mirror *mc)
{
	if (mc->engine)
		return ccm_engine_flush(mc->engine);
	return blkdev_issue_flush(mc->secondary->bdev);
}

/*
 * Any context.  One-way switch to the failed state: the secondary is no
 * longer written, the copy stops, user I/O continues on the primary.
 * @leg_health points at the health character of the leg to blame.
 */
static void mirror_fail(struct ccm_mirror *mc, char *leg_health, char why,
			const char *msg)
{
	unsigned long flags;
	bool first;

	spin_lock_irqsave(&mc->lock, flags);
	if (*leg_health == HEALTH_ALIVE)
		*leg_health = why;
	first = !test_and_set_bit(MC_FAILED, &mc->flags);
	spin_unlock_irqrestore(&mc->lock, flags);

	if (first) {
		DMERR("%s: %s; mirror failed, I/O continues on the primary",
		      dm_table_device_name(mc->ti->table), msg);
		raise_event(mc);
	}
}

/* ---------------------------------------------------------------------
 * User I/O
 * ---------------------------------------------------------------------
 */

/* Interrupt context: the secondary half of an in-sync write finished. */
static void secondary_endio(struct bio *clone)
{
	struct bio *bio = clone->bi_private;
	struct mirror_pb *pb = dm_per_bio_data(bio, sizeof(struct mirror_pb));
	struct ccm_mirror *mc = pb->mc;

	if (clone->bi_status) {
		atomic_inc(&mc->secondary_write_errors);
		mirror_fail(mc, &mc->secondary_health, HEALTH_WRITE_ERR,
			    "secondary write error");
	}
	bio_put(clone);
	/* Drops the count taken by bio_inc_remaining(). */
	bio_endio(bio);
}

/*
 * Called with mc->lock held.  True if a mirrored write in flight overlaps
 * the sectors of @pb (a write within one region: dm core splits writes at
 * region boundaries).
 */
static bool __fanout_overlaps(struct ccm_mirror *mc, struct mirror_pb *pb)
{
	sector_t start = pb->iter.bi_sector;
	sector_t end = bvec_iter_end_sector(pb->iter);
	struct mirror_pb *other;

	lockdep_assert_held(&mc->lock);
	list_for_each_entry(other, fanout_bucket(mc, pb->region),
			    fanout_entry) {
		if (start < bvec_iter_end_sector(other->iter) &&
		    other->iter.bi_sector < end)
			return true;
	}
	return false;
}

/*
 * Any context.  The mirrored write of @pb has completed on both legs (or
 * was never sent): writes it was holding back may be mapped again.
 */
static void fanout_done(struct ccm_mirror *mc, struct mirror_pb *pb)
{
	unsigned long flags;
	bool requeue;

	spin_lock_irqsave(&mc->lock, flags);
	list_del(&pb->fanout_entry);
	pb->flags &= ~PB_FANOUT;
	requeue = !bio_list_empty(&mc->overlap_wait);
	bio_list_merge(&mc->deferred, &mc->overlap_wait);
	bio_list_init(&mc->overlap_wait);
	spin_unlock_irqrestore(&mc->lock, flags);
	if (requeue)
		queue_work(mc->wq, &mc->bio_work);
}

/*
 * Map a write or discard (already offset to the device).  Returns
 * DM_MAPIO_REMAPPED with @bio pointed at the primary (and, for a region in
 * sync, a clone already submitted to the secondary), or DM_MAPIO_SUBMITTED
 * when @bio was held: until a failed mirror's state is committed, by a
 * copy of its region, until its region is committed dirty, by an
 * overlapping mirrored write in flight, or after a failed GFP_NOWAIT
 * allocation.
 *
 * Context: map() with GFP_NOWAIT, or bio_work/commit_work with GFP_NOIO.
 */
static int map_write(struct ccm_mirror *mc, struct bio *bio, gfp_t gfp)
{
	struct mirror_pb *pb = dm_per_bio_data(bio, sizeof(struct mirror_pb));
	sector_t last = bio_end_sector(bio) - (bio_sectors(bio) ? 1 : 0);
	bool discard = bio_op(bio) == REQ_OP_DISCARD;
	unsigned long r = pb->region;
	unsigned long r_end = last >> mc->region_shift;
	bool failed, fanout, lost = false, want_dirty = false;
	unsigned long flags, i;
	struct bio *clone;

	spin_lock_irqsave(&mc->lock, flags);
	failed = test_bit(MC_FAILED, &mc->flags);
	if (failed && mc->persistent &&
	    !test_bit(MC_FAIL_RECORDED, &mc->flags)) {
		/*
		 * Written only to the primary from now on: not before the
		 * copy state on disk says that nothing is copied any more.
		 */
		bio_list_add(&mc->meta_wait, bio);
		spin_unlock_irqrestore(&mc->lock, flags);
		mod_delayed_work(mc->wq, &mc->commit_work, 0);
		return DM_MAPIO_SUBMITTED;
	}
	for (i = r; !failed && i <= r_end; i++) {
		if (test_bit(i, mc->copying)) {
			bio_list_add(&mc->deferred, bio);
			spin_unlock_irqrestore(&mc->lock, flags);
			return DM_MAPIO_SUBMITTED;
		}
		/*
		 * Persistent: a region committed as copied is committed
		 * dirty before a write or discard may change either leg.
		 */
		if (mc->persistent && test_bit(i, mc->copied_ondisk) &&
		    !test_bit(i, mc->dirty_ondisk)) {
			__set_bit(i, mc->dirty_want);
			want_dirty = true;
		}
	}
	if (want_dirty) {
		bio_list_add(&mc->meta_wait, bio);
		spin_unlock_irqrestore(&mc->lock, flags);
		mod_delayed_work(mc->wq, &mc->commit_work, 0);
		return DM_MAPIO_SUBMITTED;
	}
	fanout = !failed && !discard && test_bit(r, mc->in_sync);
	if (fanout) {
		/* Overlapping mirrored writes land in one order on both legs. */
		pb->iter = bio->bi_iter;
		if (__fanout_overlaps(mc, pb)) {
			bio_list_add(&mc->overlap_wait, bio);
			spin_unlock_irqrestore(&mc->lock, flags);
			return DM_MAPIO_SUBMITTED;
		}
		list_add_tail(&pb->fanout_entry, fanout_bucket(mc, r));
		pb->flags |= PB_FANOUT;
	}
	atomic_inc(busy_bucket(mc, r));
	pb->flags |= PB_COUNTED;

	if (!failed && discard) {
		/*
		 * The primary may now read back anything: copy the regions
		 * again rather than let the secondary keep stale data.
		 */
		for (i = r; i <= r_end; i++) {
			if (__test_and_clear_bit(i, mc->in_sync)) {
				mc->nr_in_sync--;
				lost = true;
			}
			if (mc->persistent)
				__clear_bit(i, mc->copied_ondisk);
		}
		if (lost && mc->cursor > r)
			mc->cursor = r;
	}
	spin_unlock_irqrestore(&mc->lock, flags);

	if (lost) {
		if (test_and_clear_bit(MC_READY, &mc->flags))
			raise_event(mc);
		wake_copier(mc);
	}
	if (mc->persistent && (bio->bi_opf & REQ_FUA))
		mod_delayed_work(mc->wq, &mc->commit_work, 0);

	if (fanout) {
		clone = bio_alloc_clone(mc->secondary->bdev, bio, gfp, &mc->bs);
		if (unlikely(!clone)) {
			/* GFP_NOWAIT only: retry from process context. */
			fanout_done(mc, pb);
			atomic_dec(busy_bucket(mc, r));
			pb->flags &= ~PB_COUNTED;
			spin_lock_irqsave(&mc->lock, flags);
			bio_list_add(&mc->deferred, bio);
			spin_unlock_irqrestore(&mc->lock, flags);
			queue_work(mc->wq, &mc->bio_work);
			return DM_MAPIO_SUBMITTED;
		}
		/*
		 * Never polled: it completes through secondary_endio().  Not
		 * provoked by a selftest: dm refuses REQ_NOWAIT bios (which
		 * polled ones are) for a target without DM_TARGET_NOWAIT.
		 */
		bio_clear_polled(clone);
		clone->bi_end_io = secondary_endio;
		clone->bi_private = bio;
		bio_inc_remaining(bio);
		if (mc->engine)
			ccm_engine_submit(mc->engine, clone);
		else
			dm_submit_bio_remap(bio, clone);
	}

	bio_set_dev(bio, mc->primary->bdev);
	return DM_MAPIO_REMAPPED;
}

/*
 * A read may be retried on the secondary once the primary has completed
 * it: save, and later put back, what the primary's stack changed, as
 * dm_bio_record()/dm_bio_restore() do (drivers/md/dm-bio-record.h is not
 * exported).  A primary that splits the bio chains the pieces to it
 * (BIO_CHAIN, __bi_remaining, both spent by then); resubmitted with them
 * as they are, the bio would complete twice once the secondary splits it
 * too.  bi_iter has been advanced.  Any context.  mirror-read-retry reads
 * through null_blk legs that split, but cannot see the double completion
 * on Debian's kernels (no KASAN): it passes with or without this.
 */
static void record_read(struct mirror_pb *pb, struct bio *bio)
{
	pb->iter = bio->bi_iter;
	pb->remaining = atomic_read(&bio->__bi_remaining);
	pb->bi_flags = bio->bi_flags;
}

static void restore_read(struct mirror_pb *pb, struct bio *bio)
{
	bio->bi_iter = pb->iter;
	atomic_set(&bio->__bi_remaining, pb->remaining);
	bio->bi_flags = pb->bi_flags;
	bio->bi_status = BLK_STS_OK;
}

static int ccm_mirror_map(struct dm_target *ti, struct bio *bio)
{
	struct ccm_mirror *mc = ti->private;
	struct mirror_pb *pb = dm_per_bio_data(bio, sizeof(struct mirror_pb));

	pb->mc = mc;
	pb->flags = 0;

	if (bio->bi_opf & REQ_PREFLUSH) {
		if (mc->persistent && !test_bit(MC_FAILED, &mc->flags)) {
			/* A commit flushes both legs, then the copy state. */
			spin_lock_irq(&mc->lock);
			bio_list_add(&mc->flush_wait, bio);
			spin_unlock_irq(&mc->lock);
			mod_delayed_work(mc->wq, &mc->commit_work, 0);
			return DM_MAPIO_SUBMITTED;
		}
		/* Empty flush: bio 0 to the primary, bio 1 to the secondary. */
		if (dm_bio_get_target_bio_nr(bio) == 1 &&
		    !test_bit(MC_FAILED, &mc->flags)) {
			pb->flags |= PB_SECONDARY;
			bio_set_dev(bio, mc->secondary->bdev);
		} else {
			bio_set_dev(bio, mc->primary->bdev);
		}
		return DM_MAPIO_REMAPPED;
	}

	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	pb->region = bio->bi_iter.bi_sector >> mc->region_shift;

	if (bio_data_dir(bio) == READ) {
		record_read(pb, bio);
		bio_set_dev(bio, mc->primary->bdev);
		return DM_MAPIO_REMAPPED;
	}

	return map_write(mc, bio, GFP_NOWAIT);
}

/* Interrupt context. */
static int ccm_mirror_end_io(struct dm_target *ti, struct bio *bio,
			     blk_status_t *error)
{
	struct ccm_mirror *mc = ti->private;
	struct mirror_pb *pb = dm_per_bio_data(bio, sizeof(struct mirror_pb));
	unsigned long flags;
	bool retry;

	if (pb->flags & PB_FANOUT)
		fanout_done(mc, pb);
	if (pb->flags & PB_COUNTED) {
		pb->flags &= ~PB_COUNTED;
		atomic_dec(busy_bucket(mc, pb->region));
	}

	if (pb->flags & PB_SECONDARY) {
		if (*error) {
			atomic_inc(&mc->secondary_write_errors);
			mirror_fail(mc, &mc->secondary_health, HEALTH_FLUSH_ERR,
				    "secondary flush error");
			*error = BLK_STS_OK;
		}
		return DM_ENDIO_DONE;
	}

	if (!*error || *error == BLK_STS_AGAIN || *error == BLK_STS_NOTSUPP)
		return DM_ENDIO_DONE;

	if (bio_data_dir(bio) == WRITE) {
		atomic_inc(&mc->primary_write_errors);
		set_health(mc, &mc->primary_health, HEALTH_WRITE_ERR);
		return DM_ENDIO_DONE;
	}

	if (pb->flags & PB_RETRIED) {
		atomic_inc(&mc->secondary_read_errors);
		set_health(mc, &mc->secondary_health, HEALTH_READ_ERR);
		return DM_ENDIO_DONE;
	}

	atomic_inc(&mc->primary_read_errors);
	set_health(mc, &mc->primary_health, HEALTH_READ_ERR);
	spin_lock_irqsave(&mc->lock, flags);
	retry = !test_bit(MC_FAILED, &mc->flags) &&
		test_bit(pb->region, mc->in_sync);
	if (retry) {
		pb->flags |= PB_RETRIED;
		bio_list_add(&mc->retries, bio);
	}
	spin_unlock_irqrestore(&mc->lock, flags);

	if (!retry)
		return DM_ENDIO_DONE;
	queue_work(mc->wq, &mc->bio_work);
	return DM_ENDIO_INCOMPLETE;
}

/*
 * Workqueue: map held writes again, submitting those that may go now
 * (from here, nobody would poll them).
 */
static void remap_held(struct ccm_mirror *mc, struct bio_list *held)
{
	struct bio *bio;

	while ((bio = bio_list_pop(held))) {
		bio_clear_polled(bio);
		if (map_write(mc, bio, GFP_NOIO) == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
	}
}

/*
 * Workqueue: writes held by a copy, by an overlapping mirrored write or
 * after a failed allocation; read retries.
 */
static void bio_work(struct work_struct *ws)
{
	struct ccm_mirror *mc = container_of(ws, struct ccm_mirror, bio_work);
	struct bio_list deferred, retries;
	struct mirror_pb *pb;
	struct bio *bio;

	spin_lock_irq(&mc->lock);
	deferred = mc->deferred;
	bio_list_init(&mc->deferred);
	retries = mc->retries;
	bio_list_init(&mc->retries);
	spin_unlock_irq(&mc->lock);

	remap_held(mc, &deferred);

	while ((bio = bio_list_pop(&retries))) {
		pb = dm_per_bio_data(bio, sizeof(struct mirror_pb));
		restore_read(pb, bio);
		if (mc->engine) {
			/* Decrypted and authenticated by the engine. */
			ccm_engine_submit(mc->engine, bio);
			continue;
		}
		bio_set_dev(bio, mc->secondary->bdev);
		dm_submit_bio_remap(bio, NULL);
	}
}

/* ---------------------------------------------------------------------
 * Background copy
 * ---------------------------------------------------------------------
 */

/*
 * kcopyd thread (plain) or copy_wq (encrypted): one region copy finished.
 * The last touch of @mc is the release of mc->lock after inflight drops:
 * presuspend waits for inflight == 0 under that lock, so the works queued
 * here are queued before it can return (dtr then cancels or drains them).
 */
static void copy_complete(int read_err, unsigned long write_err, void *context)
{
	struct mirror_copy *copy = context;
	struct ccm_mirror *mc = copy->mc;
	unsigned long r = copy->region;
	bool give_up = false;
	unsigned long flags;

	if (write_err) {
		atomic_inc(&mc->secondary_write_errors);
		mirror_fail(mc, &mc->secondary_health, HEALTH_WRITE_ERR,
			    "secondary write error while copying");
	} else if (read_err) {
		atomic_inc(&mc->primary_read_errors);
	}

	spin_lock_irqsave(&mc->lock, flags);
	__clear_bit(r, mc->copying);
	if (!read_err && !write_err) {
		if (!__test_and_set_bit(r, mc->in_sync))
			mc->nr_in_sync++;
		__clear_bit(r, mc->failed_once);
	} else if (read_err && !write_err) {
		/* One more attempt, never an endless retry. */
		give_up = __test_and_set_bit(r, mc->failed_once);
	}
	spin_unlock_irqrestore(&mc->lock, flags);
	if (read_err && !write_err)
		set_health(mc, &mc->primary_health, HEALTH_READ_ERR);

	if (!read_err && !write_err)
		atomic64_add(to_bytes(copy->sectors), &mc->copied_bytes);
	else if (give_up)
		mirror_fail(mc, &mc->primary_health, HEALTH_READ_ERR,
			    "primary read error while copying, region cannot be copied");
	mempool_free(copy, &mc->copy_pool);

	spin_lock_irqsave(&mc->lock, flags);
	mc->inflight--;
	if (!bio_list_empty(&mc->deferred))
		queue_work(mc->wq, &mc->bio_work);
	if (mc->persistent)
		queue_delayed_work(mc->wq, &mc->commit_work, COMMIT_PERIOD);
	wake_copier(mc);
	wake_up(&mc->inflight_wait);
	spin_unlock_irqrestore(&mc->lock, flags);
}

/*
 * Called with mc->lock held.  The next region to copy, or nr_regions if
 * none can start now (*busy_skipped tells whether a region was passed
 * over because writes to it are in flight).
 */
static unsigned long pick_region(struct ccm_mirror *mc, bool *busy_skipped)
{
	unsigned int scanned = 0;
	bool wrapped = false;
	unsigned long r;

	while (scanned++ < MAX_SCAN) {
		r = find_next_zero_bit(mc->in_sync, mc->nr_regions, mc->cursor);
		if (r >= mc->nr_regions) {
			if (wrapped)
				break;
			wrapped = true;
			mc->cursor = 0;
			continue;
		}
		mc->cursor = r + 1;
		if (test_bit(r, mc->copying))
			continue;
		if (atomic_read(busy_bucket(mc, r))) {
			*busy_skipped = true;
			continue;
		}
		return r;
	}
	*busy_skipped = true;
	return mc->nr_regions;
}

/*
 * Copier only.  Token bucket for the rate limit: 0 if a region of @bytes
 * may start now (and the tokens are taken), else the delay in jiffies.
 */
static unsigned long rate_delay(struct ccm_mirror *mc, u64 bytes)
{
	unsigned int rate = READ_ONCE(mc->rate_mib);
	unsigned long now = jiffies;
	u64 per_sec, cap;

	if (!rate)
		return 0;
	per_sec = (u64)rate << 20;
	cap = max_t(u64, bytes, per_sec / 4);
	if (rate != mc->tb_rate) {
		mc->tb_rate = rate;
		mc->tb_stamp = now;
		mc->tb_tokens = bytes;
	}
	mc->tb_tokens += div_u64(per_sec * (now - mc->tb_stamp), HZ);
	mc->tb_stamp = now;
	if (mc->tb_tokens > cap)
		mc->tb_tokens = cap;
	if (mc->tb_tokens >= bytes) {
		mc->tb_tokens -= bytes;
		return 0;
	}
	return max_t(unsigned long, 1,
		     div64_u64((bytes - mc->tb_tokens) * HZ, per_sec));
}

static bool copier_stopped(struct ccm_mirror *mc)
{
	return test_bit(MC_FAILED, &mc->flags) ||
	       test_bit(MC_PAUSED, &mc->flags) ||
	       test_bit(MC_SUSPENDED, &mc->flags);
}

/* Copier: every region copied, nothing in flight. Flush, then ready. */
static void finish_copy(struct ccm_mirror *mc)
{
	bool ready;
	int r;

	if (test_bit(MC_READY, &mc->flags))
		return;
	if (mc->persistent) {
		/* The commit flushes the legs and sets ready. */
		mod_delayed_work(mc->wq, &mc->commit_work, 0);
		return;
	}
	r = flush_secondary(mc);
	if (r) {
		atomic_inc(&mc->secondary_write_errors);
		mirror_fail(mc, &mc->secondary_health, HEALTH_FLUSH_ERR,
			    "secondary flush error");
		return;
	}
	spin_lock_irq(&mc->lock);
	ready = mc->nr_in_sync == mc->nr_regions &&
		!test_bit(MC_FAILED, &mc->flags);
	if (ready)
		set_bit(MC_READY, &mc->flags);
	spin_unlock_irq(&mc->lock);
	if (ready) {
		DMINFO("%s: secondary in sync and flushed: ready",
		       dm_table_device_name(mc->ti->table));
		raise_event(mc);
	}
}

/*
 * Pages of one encrypted copy chunk.  Rounded up: with 64 KiB pages a
 * chunk (as small as a 4 KiB region) may be smaller than a page.  Not
 * provoked by a selftest: the VM's x86 kernels have 4 KiB pages.
 */
static unsigned int chunk_pages(struct ccm_mirror *mc)
{
	return DIV_ROUND_UP(to_bytes(mc->chunk_sectors), PAGE_SIZE);
}

static void enc_write_endio(struct bio *bio)
{
	complete(bio->bi_private);
}

/*
 * copy_wq: copy one region of an encrypted mirror, chunk by chunk (a
 * chunk never crosses an engine I/O boundary): read the primary, hand the
 * pages to the engine, which encrypts them and writes data and metadata.
 * Sleeps; waits only for the primary and for the engine's own workqueues.
 */
static void enc_copy_work(struct work_struct *ws)
{
	struct mirror_copy *copy = container_of(ws, struct mirror_copy, work);
	struct ccm_mirror *mc = copy->mc;
	unsigned int i, nr_pages = chunk_pages(mc);
	sector_t start = (sector_t)copy->region << mc->region_shift;
	sector_t done = 0, n;
	struct page **pages = copy->pages;
	DECLARE_COMPLETION_ONSTACK(wait);
	int read_err = 0, write_err = 0;
	struct bio *bio;

	mutex_lock(&mc->page_lock);
	for (i = 0; i < nr_pages; i++)
		pages[i] = mempool_alloc(&mc->page_pool, GFP_NOIO);
	mutex_unlock(&mc->page_lock);

	while (done < copy->sectors && !read_err && !write_err) {
		n = min_t(sector_t, mc->chunk_sectors, copy->sectors - done);
		bio = bio_alloc_bioset(mc->primary->bdev, nr_pages, REQ_OP_READ,
				       GFP_NOIO, &mc->copy_bs);
		bio->bi_iter.bi_sector = start + done;
		for (i = 0; i < DIV_ROUND_UP(to_bytes(n), PAGE_SIZE); i++)
			__bio_add_page(bio, pages[i],
				       min_t(u64, PAGE_SIZE,
					     to_bytes(n) - i * PAGE_SIZE), 0);
		read_err = submit_bio_wait(bio);
		if (!read_err) {
			bio_reset(bio, mc->secondary->bdev, REQ_OP_WRITE);
			bio->bi_iter.bi_sector = start + done;
			for (i = 0; i < DIV_ROUND_UP(to_bytes(n), PAGE_SIZE); i++)
				__bio_add_page(bio, pages[i],
					       min_t(u64, PAGE_SIZE,
						     to_bytes(n) - i * PAGE_SIZE),
					       0);
			reinit_completion(&wait);
			bio->bi_private = &wait;
			bio->bi_end_io = enc_write_endio;
			ccm_engine_submit(mc->engine, bio);
			wait_for_completion_io(&wait);
			write_err = blk_status_to_errno(bio->bi_status);
		}
		bio_put(bio);
		done += n;
	}

	for (i = 0; i < nr_pages; i++)
		mempool_free(pages[i], &mc->page_pool);
	copy_complete(read_err, write_err ? 1 : 0, copy);
}

static void issue_copy(struct ccm_mirror *mc, unsigned long r)
{
	struct dm_io_region from, to;
	struct mirror_copy *copy;
	sector_t start = (sector_t)r << mc->region_shift;

	copy = mempool_alloc(&mc->copy_pool, GFP_NOIO);
	INIT_WORK(&copy->work, enc_copy_work);
	copy->mc = mc;
	copy->region = r;
	copy->sectors = min_t(sector_t, mc->region_sectors,
			      mc->ti->len - start);

	if (mc->engine) {
		queue_work(mc->copy_wq, &copy->work);
		return;
	}
	from.bdev = mc->primary->bdev;
	from.sector = start;
	from.count = copy->sectors;
	to.bdev = mc->secondary->bdev;
	to.sector = start;
	to.count = copy->sectors;
	dm_kcopyd_copy(mc->kc, &from, 1, &to, 0, copy_complete, copy);
}

/* Workqueue: keep up to mc->parallel region copies in flight. */
static void copy_work(struct work_struct *ws)
{
	struct ccm_mirror *mc = container_of(to_delayed_work(ws),
					     struct ccm_mirror, copy_work);
	u64 region_bytes = to_bytes(mc->region_sectors);
	bool busy_skipped, all_done;
	unsigned long r, delay;

	while (!copier_stopped(mc)) {
		busy_skipped = false;
		spin_lock_irq(&mc->lock);
		if (mc->inflight >= READ_ONCE(mc->parallel)) {
			spin_unlock_irq(&mc->lock);
			return;
		}
		if (mc->nr_in_sync == mc->nr_regions) {
			all_done = !mc->inflight;
			spin_unlock_irq(&mc->lock);
			if (all_done)
				finish_copy(mc);
			return;
		}
		delay = rate_delay(mc, region_bytes);
		if (delay) {
			spin_unlock_irq(&mc->lock);
			queue_delayed_work(mc->wq, &mc->copy_work, delay);
			return;
		}
		r = pick_region(mc, &busy_skipped);
		if (r >= mc->nr_regions) {
			/* Give back the tokens, look again shortly. */
			mc->tb_tokens += region_bytes;
			spin_unlock_irq(&mc->lock);
			if (busy_skipped)
				queue_delayed_work(mc->wq, &mc->copy_work,
						   RETRY_DELAY);
			return;
		}
		__set_bit(r, mc->copying);
		mc->inflight++;
		spin_unlock_irq(&mc->lock);

		issue_copy(mc, r);
	}
}

static bool copies_in_flight(struct ccm_mirror *mc)
{
	bool busy;

	spin_lock_irq(&mc->lock);
	busy = mc->inflight;
	spin_unlock_irq(&mc->lock);
	return busy;
}

/* ---------------------------------------------------------------------
 * Persistent copy state
 * ---------------------------------------------------------------------
 */

/* Fail or complete the user flushes a commit was for. */
static void end_flushes(struct bio_list *flushes, blk_status_t status)
{
	struct bio *bio;

	while ((bio = bio_list_pop(flushes))) {
		bio->bi_status = status;
		bio_endio(bio);
	}
}

/*
 * commit_work or postsuspend, once the mirror has failed: commit a copy
 * state with no region copied, before any write goes to the primary alone
 * (map_write() holds them until MC_FAIL_RECORDED), so that a reload of
 * the same table copies everything again instead of carrying regions the
 * secondary missed writes to.  If even that write fails (the copy state
 * lives on the secondary that failed), a reload may carry regions the
 * secondary does not hold: say so, the copy must then be started over.
 */
static void record_failure(struct ccm_mirror *mc)
{
	int err;

	if (!mc->persistent || test_and_set_bit(MC_FAIL_RECORDED, &mc->flags))
		return;
	if (!test_bit(MC_LOADED, &mc->flags))
		return;		/* failed before any I/O: nothing to record */
	bitmap_zero(mc->commit_copied, mc->nr_regions);
	bitmap_zero(mc->commit_dirty, mc->nr_regions);
	err = ccm_meta_commit(&mc->meta, mc->commit_copied, mc->commit_dirty);
	if (err)
		DMERR("%s: cannot record the failure in the copy state: %d",
		      dm_table_device_name(mc->ti->table), err);
}

/*
 * Called with mc->lock held, step a of do_commit(): promote regions copied
 * since the last commit, without writes in flight, to "copied" (they are
 * left in commit_want) and drop "dirty" from regions without writes in
 * flight or waiting (left in commit_dirty), so that do_commit() can take
 * both back if the primary's flush fails.
 */
static void __commit_pick(struct ccm_mirror *mc)
{
	unsigned long r, n = mc->nr_regions;

	lockdep_assert_held(&mc->lock);
	bitmap_andnot(mc->commit_want, mc->in_sync, mc->copied_ondisk, n);
	for_each_set_bit(r, mc->commit_want, n) {
		if (atomic_read(busy_bucket(mc, r)))
			__clear_bit(r, mc->commit_want);
	}
	bitmap_or(mc->copied_ondisk, mc->copied_ondisk, mc->commit_want, n);

	bitmap_andnot(mc->commit_dirty, mc->dirty_ondisk, mc->dirty_want, n);
	for_each_set_bit(r, mc->commit_dirty, n) {
		if (atomic_read(busy_bucket(mc, r)))
			__clear_bit(r, mc->commit_dirty);
	}
	bitmap_andnot(mc->dirty_ondisk, mc->dirty_ondisk, mc->commit_dirty, n);
}

/*
 * Workqueue (commit_work, never concurrent with itself), or postsuspend
 * with commit_work cancelled.  One commit:
 *  a. promote regions copied since the last commit (without writes in
 *     flight) to "copied", drop "dirty" from regions without writes in
 *     flight, take the user flushes waiting;
 *  b. flush both legs: everything those bits describe is durable;
 *  c. write the slot with the regions that writes wait for marked dirty;
 *  d. release those writes, complete the flushes, maybe become ready.
 * A failed primary flush undoes a (the slot then only adds dirty bits).
 */
static void do_commit(struct ccm_mirror *mc)
{
	struct bio_list flushes = BIO_EMPTY_LIST, held = BIO_EMPTY_LIST;
	blk_status_t flush_status = BLK_STS_OK;
	unsigned long n = mc->nr_regions;
	bool all, again, ready = false;
	char why;
	int err;

	if (test_bit(MC_FAILED, &mc->flags))
		goto failed;

	spin_lock_irq(&mc->lock);
	__commit_pick(mc);
	bio_list_merge(&flushes, &mc->flush_wait);
	bio_list_init(&mc->flush_wait);
	spin_unlock_irq(&mc->lock);

	if (flush_primary(mc)) {
		/*
		 * What was copied from the primary may not be durable there:
		 * record nothing new as copied or clean, only dirty bits.
		 * Not provoked by a selftest: no target in the VM fails a
		 * flush without failing writes, and the VM's disks keep
		 * what they acknowledged anyway.
		 */
		flush_status = BLK_STS_IOERR;
		spin_lock_irq(&mc->lock);
		bitmap_andnot(mc->copied_ondisk, mc->copied_ondisk,
			      mc->commit_want, n);
		bitmap_or(mc->dirty_ondisk, mc->dirty_ondisk, mc->commit_dirty,
			  n);
		spin_unlock_irq(&mc->lock);
	}
	spin_lock_irq(&mc->lock);
	bitmap_copy(mc->commit_copied, mc->copied_ondisk, n);
	spin_unlock_irq(&mc->lock);
	why = HEALTH_FLUSH_ERR;
	err = flush_secondary(mc);
	if (!err) {
		spin_lock_irq(&mc->lock);
		bitmap_copy(mc->commit_want, mc->dirty_want, n);
		bitmap_or(mc->commit_dirty, mc->dirty_ondisk, mc->commit_want,
			  n);
		spin_unlock_irq(&mc->lock);
		why = HEALTH_WRITE_ERR;
		err = ccm_meta_commit(&mc->meta, mc->commit_copied,
				      mc->commit_dirty);
	}
	if (err) {
		atomic_inc(&mc->secondary_write_errors);
		mirror_fail(mc, &mc->secondary_health, why,
			    why == HEALTH_FLUSH_ERR ? "secondary flush error" :
						      "copy state write error");
		end_flushes(&flushes, flush_status);
		goto failed;
	}

	spin_lock_irq(&mc->lock);
	bitmap_or(mc->dirty_ondisk, mc->dirty_ondisk, mc->commit_want, n);
	bitmap_andnot(mc->dirty_want, mc->dirty_want, mc->commit_want, n);
	bio_list_merge(&held, &mc->meta_wait);
	bio_list_init(&mc->meta_wait);
	all = mc->nr_in_sync == n && bitmap_full(mc->commit_copied, n);
	again = !bitmap_empty(mc->dirty_want, n) ||
		!bio_list_empty(&mc->flush_wait);
	if (all && !test_bit(MC_FAILED, &mc->flags) &&
	    !test_and_set_bit(MC_READY, &mc->flags))
		ready = true;
	spin_unlock_irq(&mc->lock);

	end_flushes(&flushes, flush_status);
	remap_held(mc, &held);
	if (ready) {
		DMINFO("%s: secondary in sync and committed: ready",
		       dm_table_device_name(mc->ti->table));
		raise_event(mc);
	}

	spin_lock_irq(&mc->lock);
	if (!again)
		again = !bitmap_empty(mc->dirty_want, n);
	all = bitmap_equal(mc->in_sync, mc->copied_ondisk, n) &&
	      bitmap_empty(mc->dirty_ondisk, n);
	spin_unlock_irq(&mc->lock);
	if (again)
		mod_delayed_work(mc->wq, &mc->commit_work, 0);
	else if (!all || (mc->nr_in_sync == n && !ready &&
			  !test_bit(MC_READY, &mc->flags)))
		queue_delayed_work(mc->wq, &mc->commit_work, COMMIT_PERIOD);
	return;

failed:
	record_failure(mc);
	/* The secondary is gone: flushes and held writes use the primary. */
	spin_lock_irq(&mc->lock);
	bio_list_merge(&flushes, &mc->flush_wait);
	bio_list_init(&mc->flush_wait);
	bio_list_merge(&held, &mc->meta_wait);
	bio_list_init(&mc->meta_wait);
	spin_unlock_irq(&mc->lock);
	if (!bio_list_empty(&flushes))
		end_flushes(&flushes, flush_primary(mc) ? BLK_STS_IOERR :
							  BLK_STS_OK);
	remap_held(mc, &held);
}

static void commit_work(struct work_struct *ws)
{
	struct ccm_mirror *mc = container_of(to_delayed_work(ws),
					     struct ccm_mirror, commit_work);

	do_commit(mc);
}

/* ---------------------------------------------------------------------
 * Constructor, destructor
 * ---------------------------------------------------------------------
 */

/* Optional arguments: name, number of values. */
enum mirror_opt {
	OPT_RATE,
	OPT_PARALLEL,
	OPT_START_PAUSED,
	OPT_METADATA,
	OPT_ID,
	OPT_OVERWRITE,
	OPT_KEY,
	NR_OPTS,
};

static const struct {
	const char *name;
	unsigned int values;
} mirror_opts[NR_OPTS] = {
	[OPT_RATE] = { "rate", 1 },
	[OPT_PARALLEL] = { "parallel", 1 },
	[OPT_START_PAUSED] = { "start_paused", 0 },
	[OPT_METADATA] = { "metadata", 1 },
	[OPT_ID] = { "id", 1 },
	[OPT_OVERWRITE] = { "overwrite", 0 },
	[OPT_KEY] = { "key", 1 },
};

/* The values of the string options, for the constructor. */
struct mirror_opt_strings {
	const char *metadata;
	const char *key;
};

static int parse_features(struct ccm_mirror *mc, struct dm_arg_set *as,
			  struct mirror_opt_strings *str, char **error)
{
	static const struct dm_arg _args[] = {
		{0, 12, "Invalid number of optional arguments"},
	};
	unsigned int argc, seen = 0, o;
	const char *arg, *val;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &argc, error);
	if (r)
		return r;

	while (argc) {
		arg = dm_shift_arg(as);
		argc--;
		for (o = 0; o < NR_OPTS; o++)
			if (!strcasecmp(arg, mirror_opts[o].name))
				break;
		if (o == NR_OPTS) {
			*error = "Unknown optional argument";
			return -EINVAL;
		}
		if (seen & BIT(o)) {
			*error = "Repeated optional argument";
			return -EINVAL;
		}
		seen |= BIT(o);
		if (argc < mirror_opts[o].values) {
			*error = "Optional argument is missing its value";
			return -EINVAL;
		}
		argc -= mirror_opts[o].values;
		val = mirror_opts[o].values ? dm_shift_arg(as) : NULL;

		switch (o) {
		case OPT_RATE:
			if (kstrtouint(val, 10, &mc->rate_mib) ||
			    mc->rate_mib > MAX_RATE_MIB) {
				*error = "Invalid rate (MiB/s)";
				return -EINVAL;
			}
			break;
		case OPT_PARALLEL:
			if (kstrtouint(val, 10, &mc->parallel) ||
			    !mc->parallel || mc->parallel > MAX_PARALLEL) {
				*error = "Invalid parallel (1-64)";
				return -EINVAL;
			}
			break;
		case OPT_START_PAUSED:
			mc->start_paused = true;
			break;
		case OPT_METADATA:
			str->metadata = val;
			break;
		case OPT_ID:
			if (kstrtou64(val, 16, &mc->primary_id)) {
				*error = "Invalid id (up to 16 hex digits)";
				return -EINVAL;
			}
			break;
		case OPT_OVERWRITE:
			mc->overwrite = true;
			break;
		case OPT_KEY:
			str->key = val;
			break;
		}
	}
	if (as->argc) {
		*error = "Too many arguments";
		return -EINVAL;
	}
	if (str->key && str->metadata) {
		*error = "Encrypted mirrors keep copy state in the secondary: no metadata";
		return -EINVAL;
	}
	return 0;
}

static int check_devices(struct ccm_mirror *mc, char **error)
{
	struct block_device *p = mc->primary->bdev, *s = mc->secondary->bdev;
	unsigned int plbs = bdev_logical_block_size(p);
	unsigned int slbs = bdev_logical_block_size(s);
	sector_t ssize = bdev_nr_sectors(s);

	if (p == s) {
		*error = "Primary and secondary are the same device";
		return -EINVAL;
	}
	if (mc->engine) {
		ssize = ccm_engine_sectors(mc->engine);
		slbs = max(slbs, ccm_engine_block_size(mc->engine));
		if (ccm_engine_block_size(mc->engine) > plbs) {
			/* A filesystem on top may write smaller blocks. */
			*error = "Secondary block size exceeds the primary's logical block size";
			return -EINVAL;
		}
	}
	if (bdev_nr_sectors(p) != ssize) {
		*error = mc->engine ?
			 "Primary size differs from the secondary's plaintext capacity" :
			 "Primary and secondary sizes differ";
		return -EINVAL;
	}
	if (mc->ti->len > bdev_nr_sectors(p)) {
		*error = "Target length exceeds the device size";
		return -EINVAL;
	}
	if (plbs % slbs && slbs % plbs) {
		*error = "Incompatible logical block sizes";
		return -EINVAL;
	}
	if (bdev_read_only(p)) {
		*error = "Primary device is read-only";
		return -EACCES;
	}
	if (bdev_read_only(s)) {
		*error = "Secondary device is read-only";
		return -EACCES;
	}
	if (mc->region_sectors < to_sector(max(plbs, slbs))) {
		*error = "Region size smaller than the logical block size";
		return -EINVAL;
	}
	return 0;
}

#define NR_BITMAPS		9
#define NR_CORE_BITMAPS		3

/*
 * Every region bitmap of @mc into @maps; returns how many this mode uses
 * (the first three are needed in every mode, the others only with
 * persistent copy state).
 */
static unsigned int mirror_bitmaps(struct ccm_mirror *mc,
				   unsigned long **maps[NR_BITMAPS])
{
	maps[0] = &mc->in_sync;
	maps[1] = &mc->copying;
	maps[2] = &mc->failed_once;
	maps[3] = &mc->copied_ondisk;
	maps[4] = &mc->dirty_ondisk;
	maps[5] = &mc->dirty_want;
	maps[6] = &mc->commit_copied;
	maps[7] = &mc->commit_dirty;
	maps[8] = &mc->commit_want;
	return mc->persistent ? NR_BITMAPS : NR_CORE_BITMAPS;
}

static int alloc_bitmaps(struct ccm_mirror *mc)
{
	unsigned long **maps[NR_BITMAPS];
	unsigned int i, n = mirror_bitmaps(mc, maps);

	for (i = 0; i < n; i++) {
		*maps[i] = kvcalloc(BITS_TO_LONGS(mc->nr_regions),
				    sizeof(unsigned long), GFP_KERNEL);
		if (!*maps[i])
			return -ENOMEM;
	}
	return 0;
}

static void ccm_mirror_free(struct ccm_mirror *mc)
{
	unsigned long **maps[NR_BITMAPS];
	unsigned int i;

	mirror_bitmaps(mc, maps);
	if (mc->kc)
		dm_kcopyd_client_destroy(mc->kc);
	if (mc->copy_wq)
		destroy_workqueue(mc->copy_wq);
	if (mc->wq)
		destroy_workqueue(mc->wq);
	if (mc->engine)
		ccm_engine_destroy(mc->engine);
	bioset_exit(&mc->copy_bs);
	mempool_exit(&mc->page_pool);
	bioset_exit(&mc->bs);
	mempool_exit(&mc->copy_pool);
	ccm_meta_close(&mc->meta);
	for (i = 0; i < NR_BITMAPS; i++)
		kvfree(*maps[i]);
	if (mc->metadev)
		dm_put_device(mc->ti, mc->metadev);
	if (mc->secondary)
		dm_put_device(mc->ti, mc->secondary);
	if (mc->primary)
		dm_put_device(mc->ti, mc->primary);
	kfree(mc);
}

/*
 * Constructor: an encrypted mirror - the secondary is a ccm formatted
 * device written through the engine; copies go through copy_wq.
 */
static int open_encrypted(struct ccm_mirror *mc, const char *keyref,
			  char **error)
{
	sector_t max_io;
	int r;

	r = ccm_engine_create(mc->ti, mc->secondary, keyref, &mc->engine,
			      error);
	if (r) {
		mc->engine = NULL;
		return r;
	}
	max_io = ccm_engine_max_io(mc->engine);
	mc->chunk_sectors = min_t(sector_t, mc->region_sectors,
				  min_t(sector_t, max_io,
					MAX_CHUNK_PAGES << (PAGE_SHIFT - 9)));
	mc->copy_wq = alloc_workqueue("ccm-mirror-copy",
				      WQ_MEM_RECLAIM | WQ_UNBOUND,
				      MAX_PARALLEL);
	if (!mc->copy_wq) {
		*error = "Cannot allocate copy workqueue";
		return -ENOMEM;
	}
	mutex_init(&mc->page_lock);
	r = mempool_init_page_pool(&mc->page_pool,
				   chunk_pages(mc), 0);
	if (!r)
		r = bioset_init(&mc->copy_bs, MAX_PARALLEL, 0,
				BIOSET_NEED_BVECS);
	if (r)
		*error = "Cannot allocate copy buffers";
	return r;
}

/* Constructor: the metadata device of a persistent plain mirror. */
static int open_metadata(struct ccm_mirror *mc, const char *path,
			 char **error)
{
	struct dm_target *ti = mc->ti;
	int r;

	r = ccm_get_device(ti, path, &mc->metadev);
	if (r) {
		*error = "Cannot open metadata device";
		return r;
	}
	if (mc->metadev->bdev == mc->primary->bdev ||
	    mc->metadev->bdev == mc->secondary->bdev) {
		*error = "Metadata device must differ from both legs";
		return -EINVAL;
	}
	mc->persistent = true;
	return ccm_meta_open(&mc->meta, mc->metadev->bdev, 0,
			     ccm_meta_bitmap_bytes(mc->nr_regions),
			     mc->nr_regions, mc->region_sectors, ti->len,
			     mc->primary_id, mc->overwrite, error);
}

/*
 * ccm-mirror <primary> <secondary> <region sectors>
 *            [<#opt args> [rate <MiB/s>] [parallel <n>] [start_paused]
 *             [metadata <dev>] [id <hex>] [overwrite]]
 */
static int ccm_mirror_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct mirror_opt_strings str = { };
	struct ccm_mirror *mc;
	unsigned int region;
	int r, i;

	if (argc < 3) {
		ti->error = "Expected: <primary> <secondary> <region sectors> [<#opts> <opts>...]";
		return -EINVAL;
	}
	if (!ccm_table_writable(ti)) {
		ti->error = "ccm-mirror needs a read-write table";
		return -EINVAL;
	}

	mc = kzalloc(sizeof(*mc), GFP_KERNEL);
	if (!mc) {
		ti->error = "Cannot allocate ccm-mirror context";
		return -ENOMEM;
	}
	mc->ti = ti;
	ti->private = mc;
	mc->parallel = DEFAULT_PARALLEL;
	mc->primary_health = HEALTH_ALIVE;
	mc->secondary_health = HEALTH_ALIVE;
	spin_lock_init(&mc->lock);
	bio_list_init(&mc->deferred);
	bio_list_init(&mc->retries);
	bio_list_init(&mc->overlap_wait);
	for (i = 0; i < FANOUT_BUCKETS; i++)
		INIT_LIST_HEAD(&mc->fanout[i]);
	bio_list_init(&mc->meta_wait);
	bio_list_init(&mc->flush_wait);
	init_waitqueue_head(&mc->inflight_wait);
	INIT_DELAYED_WORK(&mc->copy_work, copy_work);
	INIT_DELAYED_WORK(&mc->commit_work, commit_work);
	INIT_WORK(&mc->bio_work, bio_work);
	INIT_WORK(&mc->event_work, event_work);
	for (i = 0; i < BUSY_BUCKETS; i++)
		atomic_set(&mc->busy[i], 0);
	atomic64_set(&mc->copied_bytes, 0);

	r = ccm_get_device(ti, dm_shift_arg(&as), &mc->primary);
	if (r) {
		/* Opening read-write fails with -EACCES on a read-only disk. */
		ti->error = r == -EACCES ? "Primary device is read-only" :
					   "Cannot open primary device";
		goto bad;
	}
	r = ccm_get_device(ti, dm_shift_arg(&as), &mc->secondary);
	if (r) {
		ti->error = r == -EACCES ? "Secondary device is read-only" :
					   "Cannot open secondary device";
		goto bad;
	}

	if (kstrtouint(dm_shift_arg(&as), 10, &region) ||
	    !is_power_of_2(region) || region < MIN_REGION_SECTORS ||
	    region > MAX_REGION_SECTORS) {
		ti->error = "Invalid region size: a power of two from 8 to 2097152 sectors";
		r = -EINVAL;
		goto bad;
	}
	mc->region_sectors = region;
	mc->region_shift = __ffs(region);

	r = parse_features(mc, &as, &str, &ti->error);
	if (r)
		goto bad;
	if (mc->start_paused)
		set_bit(MC_PAUSED, &mc->flags);

	if (str.key) {
		r = open_encrypted(mc, str.key, &ti->error);
		if (r)
			goto bad;
	}
	r = check_devices(mc, &ti->error);
	if (r)
		goto bad;

	mc->nr_regions = dm_sector_div_up(ti->len, mc->region_sectors);
	if (mc->nr_regions > MAX_REGIONS) {
		/* Bitmaps of 2 MiB at most; commits and scans stay bounded. */
		ti->error = "Too many regions: at most 16777216, use a larger region size";
		r = -EINVAL;
		goto bad;
	}
	if (str.metadata) {
		r = open_metadata(mc, str.metadata, &ti->error);
		if (r)
			goto bad;
	} else if (mc->engine) {
		/* The copy state lives in the secondary's own header. */
		mc->persistent = true;
		r = ccm_meta_open(&mc->meta, mc->secondary->bdev,
				  ccm_engine_layout(mc->engine)->bitmap_offset,
				  ccm_engine_layout(mc->engine)->bitmap_bytes,
				  mc->nr_regions, mc->region_sectors, ti->len,
				  mc->primary_id, mc->overwrite, &ti->error);
		if (r)
			goto bad;
	}
	r = alloc_bitmaps(mc);
	if (r) {
		ti->error = "Cannot allocate region bitmaps";
		goto bad;
	}

	r = mempool_init_kmalloc_pool(&mc->copy_pool, MAX_PARALLEL,
				      sizeof(struct mirror_copy));
	if (r) {
		ti->error = "Cannot allocate copy mempool";
		goto bad;
	}
	r = bioset_init(&mc->bs, BIO_POOL_SIZE, 0, 0);
	if (r) {
		ti->error = "Cannot allocate bioset";
		goto bad;
	}
	mc->wq = alloc_workqueue("ccm-mirror", WQ_MEM_RECLAIM, 0);
	if (!mc->wq) {
		ti->error = "Cannot allocate workqueue";
		r = -ENOMEM;
		goto bad;
	}
	mc->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(mc->kc)) {
		r = PTR_ERR(mc->kc);
		mc->kc = NULL;
		ti->error = "Cannot create kcopyd client";
		goto bad;
	}

	r = dm_set_target_max_io_len(ti, mc->engine ?
				     min_t(sector_t, mc->region_sectors,
					   ccm_engine_max_io(mc->engine)) :
				     mc->region_sectors);
	if (r) {
		ti->error = "Cannot set max I/O length";
		goto bad;
	}
	/* Persistent: one flush, a commit flushes both legs. */
	ti->num_flush_bios = mc->persistent ? 1 : 2;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	ti->per_io_data_size = sizeof(struct mirror_pb);
	return 0;

bad:
	ccm_mirror_free(mc);
	ti->private = NULL;
	return r;
}

/*
 * Drain in dependency order: the copier (starts copies), the copies
 * (kcopyd jobs, copy_wq; their completion queues bio, commit and copy
 * work), the copier again, the commit, then everything left on mc->wq.
 */
static void ccm_mirror_dtr(struct dm_target *ti)
{
	struct ccm_mirror *mc = ti->private;

	set_bit(MC_SUSPENDED, &mc->flags);
	cancel_delayed_work_sync(&mc->copy_work);
	/* Waits for every kcopyd job, callbacks included. */
	dm_kcopyd_client_destroy(mc->kc);
	mc->kc = NULL;
	if (mc->copy_wq) {
		destroy_workqueue(mc->copy_wq);
		mc->copy_wq = NULL;
	}
	cancel_delayed_work_sync(&mc->copy_work);
	cancel_delayed_work_sync(&mc->commit_work);
	flush_workqueue(mc->wq);
	ccm_mirror_free(mc);
}

/* ---------------------------------------------------------------------
 * Suspend, resume
 * ---------------------------------------------------------------------
 */

/* Process context: stop copying and wait for the copies in flight. */
static void ccm_mirror_presuspend(struct dm_target *ti)
{
	struct ccm_mirror *mc = ti->private;

	set_bit(MC_SUSPENDED, &mc->flags);
	cancel_delayed_work_sync(&mc->copy_work);
	wait_event(mc->inflight_wait, !copies_in_flight(mc));
	/* copy_complete() may have requeued the copier: stop it again. */
	cancel_delayed_work_sync(&mc->copy_work);
}

/* Process context, no I/O in flight: commit the copy state once more. */
static void ccm_mirror_postsuspend(struct dm_target *ti)
{
	struct ccm_mirror *mc = ti->private;

	flush_workqueue(mc->wq);
	if (mc->persistent && test_bit(MC_LOADED, &mc->flags)) {
		cancel_delayed_work_sync(&mc->commit_work);
		do_commit(mc);
	}
	/*
	 * A commit flushed the engine unless the mirror failed: write its
	 * dirty metadata now, failed or not, so that it writes nothing once
	 * the next table on the same secondary is live (its periodic
	 * writeback would).  The error, if any, changes nothing any more.
	 * Not provoked by a selftest: the late write would only show as a
	 * race with the next table's own metadata writes.
	 */
	if (mc->engine && test_bit(MC_FAILED, &mc->flags) &&
	    ccm_engine_flush(mc->engine))
		DMWARN("%s: failed mirror: the secondary's metadata could not be written",
		       dm_table_device_name(ti->table));
}

/*
 * Process context.  The first resume loads the persistent copy state: a
 * table being replaced has been suspended, so its last commit is on disk.
 */
static int ccm_mirror_preresume(struct dm_target *ti)
{
	struct ccm_mirror *mc = ti->private;
	unsigned int noio;
	long carried;

	if (!mc->persistent || test_bit(MC_LOADED, &mc->flags))
		return 0;
	/*
	 * The device is suspended: an allocation that recursed into I/O
	 * to it would wait forever.  Not provoked by a selftest (it needs
	 * memory pressure at that instant).
	 */
	noio = memalloc_noio_save();
	carried = ccm_meta_load(&mc->meta, mc->in_sync);
	memalloc_noio_restore(noio);
	if (carried < 0) {
		DMERR("%s: cannot load the copy state: %ld",
		      dm_table_device_name(ti->table), carried);
		return carried;
	}
	spin_lock_irq(&mc->lock);
	mc->nr_in_sync = carried;
	mc->nr_carried = carried;
	bitmap_copy(mc->copied_ondisk, mc->in_sync, mc->nr_regions);
	spin_unlock_irq(&mc->lock);
	set_bit(MC_LOADED, &mc->flags);
	if (carried)
		DMINFO("%s: %ld of %lu regions carried over",
		       dm_table_device_name(ti->table), carried,
		       mc->nr_regions);
	return 0;
}

static void ccm_mirror_resume(struct dm_target *ti)
{
	struct ccm_mirror *mc = ti->private;

	clear_bit(MC_SUSPENDED, &mc->flags);
	wake_copier(mc);
	if (mc->persistent)
		queue_delayed_work(mc->wq, &mc->commit_work, COMMIT_PERIOD);
}

/* ---------------------------------------------------------------------
 * Status, messages, limits
 * ---------------------------------------------------------------------
 */

/* Average copy speed since the last sample at least a second ago. */
static unsigned long sample_rate_kib(struct ccm_mirror *mc)
{
	u64 copied = atomic64_read(&mc->copied_bytes);
	unsigned long now = jiffies, elapsed;

	elapsed = now - mc->rate_stamp;
	if (elapsed >= HZ || !mc->rate_stamp) {
		if (mc->rate_stamp)
			mc->rate_kib = div64_u64((copied - mc->rate_mark) * HZ,
						 (u64)elapsed * 1024);
		mc->rate_stamp = now;
		mc->rate_mark = copied;
	}
	return mc->rate_kib;
}

static void emit_info(struct ccm_mirror *mc, char *result, unsigned int maxlen)
{
	unsigned int sz = 0, inflight;
	unsigned long in_sync, rate;
	char ph, sh;

	spin_lock_irq(&mc->lock);
	in_sync = mc->nr_in_sync;
	inflight = mc->inflight;
	ph = mc->primary_health;
	sh = mc->secondary_health;
	rate = sample_rate_kib(mc);
	spin_unlock_irq(&mc->lock);

	DMEMIT("%s %llu %lu/%lu %s %c%c %u %lu %u %u %d %d %d %d %lu %s",
	       mc->engine ? "encrypted" : "plain",
	       (unsigned long long)mc->region_sectors, in_sync, mc->nr_regions,
	       state_names[mirror_state(mc)], ph, sh, inflight, rate,
	       READ_ONCE(mc->rate_mib), READ_ONCE(mc->parallel),
	       atomic_read(&mc->primary_read_errors),
	       atomic_read(&mc->primary_write_errors),
	       atomic_read(&mc->secondary_read_errors),
	       atomic_read(&mc->secondary_write_errors), mc->nr_carried,
	       mc->engine ? "header" : mc->metadev ? "metadata" : "core");
}

static void emit_table(struct ccm_mirror *mc, char *result, unsigned int maxlen)
{
	unsigned int sz = 0, nr_opts = 0;
	unsigned int rate = READ_ONCE(mc->rate_mib);
	unsigned int parallel = READ_ONCE(mc->parallel);
	bool paused = test_bit(MC_PAUSED, &mc->flags);

	nr_opts += rate ? 2 : 0;
	nr_opts += parallel != DEFAULT_PARALLEL ? 2 : 0;
	nr_opts += paused ? 1 : 0;
	nr_opts += mc->metadev ? 2 : 0;
	nr_opts += mc->primary_id ? 2 : 0;
	nr_opts += mc->overwrite ? 1 : 0;
	nr_opts += mc->engine ? 2 : 0;

	DMEMIT("%s %s %llu", mc->primary->name, mc->secondary->name,
	       (unsigned long long)mc->region_sectors);
	if (!nr_opts)
		return;
	DMEMIT(" %u", nr_opts);
	if (rate)
		DMEMIT(" rate %u", rate);
	if (parallel != DEFAULT_PARALLEL)
		DMEMIT(" parallel %u", parallel);
	if (paused)
		DMEMIT(" start_paused");
	if (mc->metadev)
		DMEMIT(" metadata %s", mc->metadev->name);
	if (mc->primary_id)
		DMEMIT(" id %llx", (unsigned long long)mc->primary_id);
	if (mc->overwrite)
		DMEMIT(" overwrite");
	if (mc->engine)
		DMEMIT(" key %s", ccm_engine_keyref(mc->engine));
}

static void ccm_mirror_status(struct dm_target *ti, status_type_t type,
			      unsigned int status_flags, char *result,
			      unsigned int maxlen)
{
	struct ccm_mirror *mc = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		emit_info(mc, result, maxlen);
		break;
	case STATUSTYPE_TABLE:
		emit_table(mc, result, maxlen);
		break;
	case STATUSTYPE_IMA:
		DMEMIT("target_name=%s,target_version=%u.%u.%u,mode=%s,state=%s;",
		       ti->type->name, ti->type->version[0],
		       ti->type->version[1], ti->type->version[2],
		       mc->engine ? "encrypted" : "plain",
		       state_names[mirror_state(mc)]);
		break;
	}
}

static int ccm_mirror_message(struct dm_target *ti, unsigned int argc,
			      char **argv, char *result, unsigned int maxlen)
{
	struct ccm_mirror *mc = ti->private;
	unsigned int value;

	if (argc == 1 && !strcasecmp(argv[0], "pause")) {
		if (!test_and_set_bit(MC_PAUSED, &mc->flags))
			raise_event(mc);
		return 0;
	}
	if (argc == 1 && !strcasecmp(argv[0], "resume")) {
		if (test_and_clear_bit(MC_PAUSED, &mc->flags))
			raise_event(mc);
		wake_copier(mc);
		return 0;
	}
	if (argc == 2 && !strcasecmp(argv[0], "rate")) {
		if (kstrtouint(argv[1], 10, &value) || value > MAX_RATE_MIB) {
			DMERR("Invalid rate: %s", argv[1]);
			return -EINVAL;
		}
		WRITE_ONCE(mc->rate_mib, value);
		wake_copier(mc);
		return 0;
	}
	if (argc == 2 && !strcasecmp(argv[0], "parallel")) {
		if (kstrtouint(argv[1], 10, &value) || !value ||
		    value > MAX_PARALLEL) {
			DMERR("Invalid parallel (1-%u): %s", MAX_PARALLEL,
			      argv[1]);
			return -EINVAL;
		}
		WRITE_ONCE(mc->parallel, value);
		wake_copier(mc);
		return 0;
	}
	DMERR("Unsupported message: %s (expected pause, resume, rate <MiB/s> or parallel <n>)",
	      argc ? argv[0] : "");
	return -EINVAL;
}

static int ccm_mirror_iterate_devices(struct dm_target *ti,
				      iterate_devices_callout_fn fn,
				      void *data)
{
	struct ccm_mirror *mc = ti->private;
	int r;

	r = fn(ti, mc->primary, 0, ti->len, data);
	if (!r)
		r = fn(ti, mc->secondary, 0, ti->len, data);
	return r;
}

/*
 * Discards must reach map() one region at a time: map_write() counts a
 * discard busy in its first region only, and the copier may re-copy any
 * region without writes in flight.  dm core passes discards through
 * bio_split_to_limits() (6.1 and 6.12), which cuts them at
 * max_discard_sectors with every piece ending on a discard_granularity
 * boundary (shifted by discard_alignment): region-sized, region-aligned
 * pieces.  Nothing changes when a leg cannot discard (limit 0).
 */
static void set_discard_limits(struct ccm_mirror *mc,
			       struct queue_limits *limits)
{
	sector_t begin = mc->ti->begin & (mc->region_sectors - 1);

	if (!limits->max_discard_sectors)
		return;
	limits->discard_granularity = to_bytes(mc->region_sectors);
	limits->discard_alignment = to_bytes(begin);
	limits->max_discard_sectors = min_t(sector_t,
					    limits->max_discard_sectors,
					    mc->region_sectors);
	limits->max_hw_discard_sectors = min_t(sector_t,
					       limits->max_hw_discard_sectors,
					       mc->region_sectors);
}

static void ccm_mirror_io_hints(struct dm_target *ti,
				struct queue_limits *limits)
{
	struct ccm_mirror *mc = ti->private;
	unsigned int lbs = max(bdev_logical_block_size(mc->primary->bdev),
			       bdev_logical_block_size(mc->secondary->bdev));

	if (mc->engine)
		lbs = max(lbs, ccm_engine_block_size(mc->engine));
	/* Every leg must accept every I/O: the larger block size wins. */
	limits->logical_block_size = max(limits->logical_block_size, lbs);
	limits->physical_block_size = max(limits->physical_block_size, lbs);
	limits->io_min = max(limits->io_min, lbs);
	set_discard_limits(mc, limits);
}

static struct target_type ccm_mirror_target = {
	.name = "ccm-mirror",
	.version = {1, 1, 0},
	.module = THIS_MODULE,
	.ctr = ccm_mirror_ctr,
	.dtr = ccm_mirror_dtr,
	.map = ccm_mirror_map,
	.end_io = ccm_mirror_end_io,
	.presuspend = ccm_mirror_presuspend,
	.presuspend_undo = ccm_mirror_resume,
	.postsuspend = ccm_mirror_postsuspend,
	.preresume = ccm_mirror_preresume,
	.resume = ccm_mirror_resume,
	.status = ccm_mirror_status,
	.message = ccm_mirror_message,
	.iterate_devices = ccm_mirror_iterate_devices,
	.io_hints = ccm_mirror_io_hints,
};

static int __init dm_ccm_mirror_init(void)
{
	int r;

	r = dm_register_target(&ccm_mirror_target);
	if (r < 0) {
		DMERR("register ccm-mirror failed %d", r);
		return r;
	}
	r = dm_ccm_target_init();
	if (r < 0) {
		dm_unregister_target(&ccm_mirror_target);
		return r;
	}
	return 0;
}

static void __exit dm_ccm_mirror_exit(void)
{
	dm_ccm_target_exit();
	dm_unregister_target(&ccm_mirror_target);
}

module_init(dm_ccm_mirror_init);
module_exit(dm_ccm_mirror_exit);

MODULE_DESCRIPTION(DM_NAME " live mirror onto a plain or AES-CCM encrypted secondary");
MODULE_AUTHOR("dm-ccm-mirror developers");
MODULE_LICENSE("GPL");
