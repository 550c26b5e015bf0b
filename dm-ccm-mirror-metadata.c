// SPDX-License-Identifier: GPL-2.0
/*
 * dm-ccm-mirror: persistent copy state of a ccm-mirror (two ping-pong
 * slots).  See dm-ccm-mirror-metadata.h for the contract and
 * Documentation/ccm-format.rst for the bytes.
 */

#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "dm-ccm-mirror.h"
#include "dm-ccm-mirror-compat.h"
#include "dm-ccm-mirror-metadata.h"

#define DM_MSG_PREFIX "ccm-mirror"

enum slot_verdict {
	SLOT_BLANK,		/* header all zero */
	SLOT_FOREIGN,		/* not a slot header */
	SLOT_CORRUPT,		/* our magic, bad version or CRC */
	SLOT_OTHER,		/* valid, another geometry or primary */
	SLOT_MATCH,		/* valid and ours */
};

u32 ccm_meta_bitmap_bytes(unsigned long nr_regions)
{
	return round_up(DIV_ROUND_UP(nr_regions, 8), CCM_ALIGN_BYTES);
}

sector_t ccm_meta_area_sectors(u32 bitmap_bytes)
{
	return 2 * to_sector(CCM_SLOT_HDR_BYTES + 2 * (u64)bitmap_bytes);
}

static struct ccm_slot_header *slot_hdr(struct ccm_meta *m)
{
	return m->buf;
}

static u8 *slot_bitmap(struct ccm_meta *m, unsigned int which)
{
	return (u8 *)m->buf + CCM_SLOT_HDR_BYTES + which * m->bitmap_bytes;
}

static u32 slot_crc(struct ccm_meta *m)
{
	u32 crc;

	crc = crc32c(~0U, m->buf, offsetof(struct ccm_slot_header, crc32c));
	crc = crc32c(crc, slot_bitmap(m, 0), 2 * m->bitmap_bytes);
	return ~crc;
}

/* In-memory bitmap <-> on-disk little-endian bit order. */
static void bitmap_to_disk(u8 *dst, const unsigned long *src,
			   unsigned long nbits, u32 bytes)
{
	__le32 *d = (__le32 *)dst;
	unsigned int i, words = BITS_TO_U32(nbits);

	memset(dst, 0, bytes);
	bitmap_to_arr32((u32 *)dst, src, nbits);
	for (i = 0; i < words; i++)
		d[i] = cpu_to_le32(((u32 *)dst)[i]);
}

static void bitmap_from_disk(unsigned long *dst, const u8 *src,
			     unsigned long nbits)
{
	const __le32 *s = (const __le32 *)src;
	unsigned int i, words = BITS_TO_U32(nbits);
	u32 *tmp = (u32 *)src;

	/* In place: the slot buffer is ours and re-read before reuse. */
	for (i = 0; i < words; i++)
		tmp[i] = le32_to_cpu(s[i]);
	bitmap_from_arr32(dst, tmp, nbits);
}

static int slot_io(struct ccm_meta *m, unsigned int slot, bool write)
{
	struct dm_io_region where = {
		.bdev = m->bdev,
		.sector = m->offset + slot * m->slot_sectors,
		.count = m->slot_sectors,
	};
	struct dm_io_request req = {
		.bi_opf = write ? REQ_OP_WRITE | REQ_SYNC | REQ_FUA :
				  REQ_OP_READ,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = m->buf,
		.client = m->io,
	};

	return ccm_dm_io(&req, 1, &where);
}

static enum slot_verdict slot_check(struct ccm_meta *m, u64 *seq)
{
	struct ccm_slot_header *h = slot_hdr(m);

	if (le32_to_cpu(h->magic) != CCM_SLOT_MAGIC)
		return memchr_inv(m->buf, 0, sizeof(*h)) ? SLOT_FOREIGN :
							   SLOT_BLANK;
	if (le32_to_cpu(h->version) != CCM_SLOT_VERSION ||
	    le32_to_cpu(h->crc32c) != slot_crc(m))
		return SLOT_CORRUPT;
	*seq = le64_to_cpu(h->seq);
	if (le64_to_cpu(h->region_count) != m->nr_regions ||
	    le32_to_cpu(h->region_sectors) != m->region_sectors ||
	    le64_to_cpu(h->primary_sectors) != m->primary_sectors ||
	    le64_to_cpu(h->primary_id) != m->primary_id)
		return SLOT_OTHER;
	return SLOT_MATCH;
}

int ccm_meta_commit(struct ccm_meta *m, const unsigned long *copied,
		    const unsigned long *dirty)
{
	struct ccm_slot_header *h = slot_hdr(m);
	unsigned int next = m->slot ^ 1;
	int r;

	memset(h, 0, CCM_SLOT_HDR_BYTES);
	h->magic = cpu_to_le32(CCM_SLOT_MAGIC);
	h->version = cpu_to_le32(CCM_SLOT_VERSION);
	h->seq = cpu_to_le64(m->seq + 1);
	h->region_count = cpu_to_le64(m->nr_regions);
	h->region_sectors = cpu_to_le32(m->region_sectors);
	h->primary_sectors = cpu_to_le64(m->primary_sectors);
	h->copied_count = cpu_to_le64(bitmap_weight(copied, m->nr_regions));
	h->primary_id = cpu_to_le64(m->primary_id);
	bitmap_to_disk(slot_bitmap(m, 0), copied, m->nr_regions,
		       m->bitmap_bytes);
	bitmap_to_disk(slot_bitmap(m, 1), dirty, m->nr_regions,
		       m->bitmap_bytes);
	h->crc32c = cpu_to_le32(slot_crc(m));

	r = slot_io(m, next, true);
	if (r)
		return r;
	m->seq++;
	m->slot = next;
	return 0;
}

/*
 * Read both slots.  Returns the index of the newest slot of this mirror,
 * -1 if there is none and the area may be used, or -EEXIST / -errno.
 */
static int meta_scan(struct ccm_meta *m, bool overwrite, u64 *newest,
		     char **error)
{
	enum slot_verdict v[2];
	u64 seq[2] = { 0, 0 };
	int best = -1, i, r;

	for (i = 0; i < 2; i++) {
		r = slot_io(m, i, false);
		if (r) {
			*error = "Cannot read the copy state";
			return r;
		}
		v[i] = slot_check(m, &seq[i]);
		if (v[i] == SLOT_MATCH && (best < 0 || seq[i] > seq[best]))
			best = i;
	}
	*newest = max(seq[0], seq[1]);

	/*
	 * The first commit on a blank area goes to slot 0, the second to
	 * slot 1 (ccm_meta_load()): slot 0 ours but corrupt and slot 1
	 * blank is a first commit torn by a crash, which recorded nothing
	 * yet: blank.
	 */
	if (v[0] == SLOT_CORRUPT && v[1] == SLOT_BLANK)
		return -1;

	/* A newer valid slot of another mirror wins over an older match. */
	for (i = 0; i < 2; i++) {
		if (v[i] == SLOT_OTHER && (best < 0 || seq[i] > seq[best]))
			best = -EEXIST;
	}
	if (best == -EEXIST || (best < 0 && (v[0] > SLOT_BLANK ||
					     v[1] > SLOT_BLANK))) {
		if (!overwrite) {
			*error = best == -EEXIST ?
				 "Copy state of another primary (use overwrite)" :
				 "Copy state area holds unknown data (use overwrite)";
			return -EEXIST;
		}
		return -1;
	}
	return best;
}

int ccm_meta_open(struct ccm_meta *m, struct block_device *bdev,
		  sector_t offset, u32 bitmap_bytes, unsigned long nr_regions,
		  u32 region_sectors, u64 primary_sectors, u64 primary_id,
		  bool overwrite, char **error)
{
	u64 newest;
	int r;

	m->bdev = bdev;
	m->offset = offset;
	m->bitmap_bytes = bitmap_bytes;
	m->nr_regions = nr_regions;
	m->region_sectors = region_sectors;
	m->primary_sectors = primary_sectors;
	m->primary_id = primary_id;
	m->overwrite = overwrite;
	m->slot_sectors = ccm_meta_area_sectors(bitmap_bytes) / 2;

	if (bitmap_bytes < DIV_ROUND_UP(nr_regions, 8)) {
		*error = "Copy state area too small for the region count";
		return -EINVAL;
	}
	if (offset + 2 * m->slot_sectors > bdev_nr_sectors(bdev)) {
		*error = "Metadata device too small for the copy state";
		return -ENOSPC;
	}

	m->io = dm_io_client_create();
	if (IS_ERR(m->io)) {
		r = PTR_ERR(m->io);
		m->io = NULL;
		*error = "Cannot create dm-io client";
		return r;
	}
	m->buf = vzalloc(to_bytes(m->slot_sectors));
	if (!m->buf) {
		*error = "Cannot allocate copy state buffer";
		return -ENOMEM;
	}
	r = meta_scan(m, overwrite, &newest, error);
	return r < -1 ? r : 0;
}

long ccm_meta_load(struct ccm_meta *m, unsigned long *copied)
{
	unsigned long *dirty;
	char *error;
	u64 newest;
	long carried = 0;
	int best, r;

	dirty = kvcalloc(BITS_TO_LONGS(m->nr_regions), sizeof(long),
			 GFP_KERNEL);
	if (!dirty)
		return -ENOMEM;
	bitmap_zero(copied, m->nr_regions);

	best = meta_scan(m, m->overwrite, &newest, &error);
	if (best < -1) {
		DMERR("%s", error);
		r = best;
		goto out;
	}
	if (best >= 0) {
		r = slot_io(m, best, false);
		if (r)
			goto out;
		bitmap_from_disk(copied, slot_bitmap(m, 0), m->nr_regions);
		bitmap_from_disk(dirty, slot_bitmap(m, 1), m->nr_regions);
		/* Regions dirty at the crash are copied again. */
		bitmap_andnot(copied, copied, dirty, m->nr_regions);
		carried = bitmap_weight(copied, m->nr_regions);
		m->slot = best;
	} else {
		m->slot = 1;
	}
	m->seq = newest;

	bitmap_zero(dirty, m->nr_regions);
	r = ccm_meta_commit(m, copied, dirty);
out:
	kvfree(dirty);
	return r ? r : carried;
}

void ccm_meta_close(struct ccm_meta *m)
{
	vfree(m->buf);
	m->buf = NULL;
	if (m->io)
		dm_io_client_destroy(m->io);
	m->io = NULL;
}
