/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-ccm-mirror: persistent copy state of a ccm-mirror.
 *
 * Two slots (struct ccm_slot_header + "copied" bitmap + "dirty" bitmap, see
 * dm-ccm-mirror.h) alternate on disk; a commit writes the older slot with
 * the next sequence number and REQ_FUA, so a torn commit leaves the other
 * slot, one commit older, valid.  The slots live in the bitmap area of an
 * encrypted secondary or at the start of a plain mirror's metadata device.
 *
 * The caller orders the commits (see dm-ccm-mirror-target.c): data of
 * both legs is flushed before a commit that sets "copied" or clears
 * "dirty" bits, and a region is committed "dirty" before a user write to
 * it reaches the secondary.
 *
 * No locking inside: struct ccm_meta belongs to one target and is used by
 * its constructor and then only by its commit work, one call at a time.
 * Every function sleeps (process context only).
 */
#ifndef DM_CCM_MIRROR_METADATA_H
#define DM_CCM_MIRROR_METADATA_H

#include <linux/types.h>

struct block_device;
struct dm_io_client;

struct ccm_meta {
	struct dm_io_client *io;
	struct block_device *bdev;
	sector_t offset;		/* first sector of slot 0 */
	sector_t slot_sectors;
	unsigned long nr_regions;
	u32 region_sectors;
	u32 bitmap_bytes;		/* one bitmap, padded */
	u64 primary_sectors;
	u64 primary_id;
	bool overwrite;
	void *buf;			/* one slot image (vmalloc) */
	u64 seq;			/* sequence of the newest slot */
	unsigned int slot;		/* index of the newest slot */
};

/* Padded size of one bitmap of @nr_regions bits (4 KiB multiple). */
u32 ccm_meta_bitmap_bytes(unsigned long nr_regions);

/* Sectors taken by both slots with bitmaps of @bitmap_bytes. */
sector_t ccm_meta_area_sectors(u32 bitmap_bytes);

/*
 * ccm_meta_open - check the copy state at @offset on @bdev (no write).
 *
 * A valid slot of another geometry or primary (region size, region count,
 * primary size, primary id), or an area that is neither blank nor ours,
 * is refused with -EEXIST unless @overwrite.  Constructor context.
 * Returns 0 or -errno with *@error set.
 */
int ccm_meta_open(struct ccm_meta *m, struct block_device *bdev,
		  sector_t offset, u32 bitmap_bytes, unsigned long nr_regions,
		  u32 region_sectors, u64 primary_sectors, u64 primary_id,
		  bool overwrite, char **error);

/*
 * ccm_meta_load - read the newest slot again (a table being replaced has
 * committed since ccm_meta_open()), load its "copied" minus "dirty" bits
 * into @copied, and claim the area with a first commit (those bits,
 * nothing dirty).  Returns the number of regions carried over, or -errno.
 * Call from preresume, once.
 */
long ccm_meta_load(struct ccm_meta *m, unsigned long *copied);

/*
 * ccm_meta_commit - write @copied and @dirty (bitmaps of nr_regions bits)
 * into the older slot with REQ_FUA.  Returns 0 or -errno (the slot on disk
 * before the call stays valid).
 */
int ccm_meta_commit(struct ccm_meta *m, const unsigned long *copied,
		    const unsigned long *dirty);

/* Free what ccm_meta_open() allocated.  Safe on a zeroed @m. */
void ccm_meta_close(struct ccm_meta *m);

#endif /* DM_CCM_MIRROR_METADATA_H */
