/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-ccm-mirror on-disk format, shared by the kernel module and the
 * userspace tools (tools/ccm-mirror).  Everything is little endian.
 *
 * A ccm formatted device is laid out in 4 KiB aligned areas:
 *
 *   +-----------------+  sector 0
 *   | superblock      |  CCM_SB_AREA_BYTES (struct ccm_superblock + zeros)
 *   +-----------------+  bitmap_offset
 *   | copy state      |  2 slots (ping-pong), each CCM_SLOT_HDR_BYTES of
 *   |                 |  struct ccm_slot_header followed by the "copied"
 *   |                 |  and the "dirty" region bitmaps (bitmap_bytes each)
 *   +-----------------+  meta_offset
 *   | metadata        |  one struct ccm_meta_entry (nonce + tag) per data
 *   |                 |  block, CCM_ENTRIES_PER_META per 4 KiB meta block
 *   +-----------------+  data_offset
 *   | data            |  data_blocks blocks of data_block_size bytes,
 *   |                 |  each AES-CCM encrypted on its own
 *   +-----------------+
 *
 * Every offset is stored in the superblock; ccm_layout_compute() is the one
 * place that derives them from a device size, and both the kernel and the
 * tools check a superblock against it.
 *
 * Block encryption: AES-CCM (RFC 3610) with the key from the keyring,
 * a 13-byte nonce (L = 2, so messages are at most 64 KiB) that is freshly
 * random on every write, a 16-byte tag, and as associated data
 * struct ccm_aad: the data block number and the device UUID, so that a
 * block moved to another place or another device fails authentication.
 *
 * The key-check value: the same construction with block number
 * CCM_KCV_BLOCK, nonce kcv_nonce and 16 zero bytes of plaintext gives the
 * 16 bytes of kcv[] followed by the 16 bytes of kcv_tag[].  A wrong key
 * therefore fails when a table is loaded instead of as EIO later.
 */
#ifndef DM_CCM_MIRROR_H
#define DM_CCM_MIRROR_H

#include <linux/types.h>

#define CCM_SB_MAGIC		"CCM-MIRR"	/* 8 bytes, no NUL stored */
#define CCM_SB_MAGIC_LEN	8
#define CCM_SB_VERSION		1

#define CCM_SB_AREA_BYTES	4096
#define CCM_META_BLOCK_BYTES	4096
#define CCM_SLOT_HDR_BYTES	4096
#define CCM_ALIGN_BYTES		4096

#define CCM_NONCE_SIZE		13
#define CCM_TAG_SIZE		16
#define CCM_IV_SIZE		16
#define CCM_L			(15 - CCM_NONCE_SIZE)	/* length field: 2 bytes */
#define CCM_MAX_MSG		65535

#define CCM_META_ENTRY_SIZE	32
#define CCM_ENTRIES_PER_META	(CCM_META_BLOCK_BYTES / CCM_META_ENTRY_SIZE)

#define CCM_KCV_BLOCK		(~0ULL)

/* Superblock flags */
#define CCM_SB_F_WIPED		0x1U	/* format wrote every block */
#define CCM_SB_F_KNOWN		(CCM_SB_F_WIPED)

#define CCM_SLOT_MAGIC		0x54534d43U	/* "CMST" */
#define CCM_SLOT_VERSION	1

#define CCM_DEFAULT_REGION_SECTORS	2048	/* 1 MiB */

/*
 * The superblock: the first 512 bytes of the device, the rest of the first
 * 4 KiB is zero.  crc32c is the standard CRC-32C (Castagnoli, as iSCSI:
 * initial value and final xor 0xffffffff) over bytes [0, 508).
 */
struct ccm_superblock {
	__u8	magic[CCM_SB_MAGIC_LEN];	/*   0 */
	__le32	version;			/*   8 */
	__le32	flags;				/*  12 */
	__u8	uuid[16];			/*  16 */
	__le32	data_block_size;		/*  32: 512 or 4096 bytes */
	__u8	nonce_size;			/*  36: 13 */
	__u8	tag_size;			/*  37: 16 */
	__u8	key_size;			/*  38: 16, 24 or 32 */
	__u8	meta_entry_size;		/*  39: 32 */
	__le64	data_blocks;			/*  40 */
	__le64	bitmap_offset;			/*  48: sectors */
	__le64	bitmap_sectors;			/*  56: both slots */
	__le64	meta_offset;			/*  64: sectors */
	__le64	meta_sectors;			/*  72 */
	__le64	data_offset;			/*  80: sectors */
	__le32	region_sectors;			/*  88: copy region size */
	__le32	bitmap_bytes;			/*  92: one bitmap in a slot */
	__le64	region_count;			/*  96 */
	__le64	device_sectors;			/* 104: size at format time */
	__u8	kcv_nonce[CCM_NONCE_SIZE];	/* 112 */
	__u8	pad0[3];			/* 125 */
	__u8	kcv[16];			/* 128 */
	__u8	kcv_tag[CCM_TAG_SIZE];		/* 144 */
	__u8	reserved[348];			/* 160 */
	__le32	crc32c;				/* 508 */
};

/* Per data block metadata: 32 bytes, CCM_ENTRIES_PER_META per meta block. */
struct ccm_meta_entry {
	__u8	nonce[CCM_NONCE_SIZE];
	__u8	reserved[3];			/* zero */
	__u8	tag[CCM_TAG_SIZE];
};

/* Associated data of every block: binds its place and its device. */
struct ccm_aad {
	__le64	block;
	__u8	uuid[16];
};

#define CCM_AAD_SIZE	24

/*
 * Copy state slot header, written by ccm-mirror (dm-ccm-mirror-metadata.c)
 * into the bitmap area of an encrypted secondary, or at sector 0 of the
 * metadata device of a persistent plain mirror.  Two slots alternate; the
 * valid slot with the highest seq is current.  crc32c (standard CRC-32C)
 * covers the header bytes [0, 60) followed by both bitmaps (bitmap_bytes
 * each, padding included).  Bitmaps: bit n is bit (n % 8) of byte n / 8.
 * Bit n of "copied" set: region n holds the primary's data as of the
 * commit.  Bit n of "dirty" set: region n may have been written since, so
 * it is copied again after a crash.  primary_id identifies the primary the
 * state belongs to (0 if the table gave none).
 */
struct ccm_slot_header {
	__le32	magic;				/*  0 */
	__le32	version;			/*  4 */
	__le64	seq;				/*  8 */
	__le64	region_count;			/* 16 */
	__le32	region_sectors;			/* 24 */
	__le32	flags;				/* 28 */
	__le64	primary_sectors;		/* 32 */
	__le64	copied_count;			/* 40 */
	__le64	primary_id;			/* 48: from the table's "id" */
	__u8	reserved[4];			/* 56 */
	__le32	crc32c;				/* 60 */
};

/*
 * struct ccm_layout - every area of a ccm device, in 512-byte sectors.
 * Derived from (device size, block size, region size) by
 * ccm_layout_compute(); a superblock is valid only if it matches.
 */
struct ccm_layout {
	__u64	device_sectors;
	__u32	data_block_size;
	__u32	region_sectors;
	__u64	region_count;
	__u32	bitmap_bytes;
	__u64	bitmap_offset;
	__u64	bitmap_sectors;
	__u64	meta_offset;
	__u64	meta_sectors;
	__u64	data_offset;
	__u64	data_blocks;
};

static inline __u64 ccm_div_round_up(__u64 n, __u64 d)
{
	return (n + d - 1) / d;
}

static inline __u64 ccm_round_up(__u64 n, __u64 a)
{
	return ccm_div_round_up(n, a) * a;
}

/*
 * ccm_layout_compute - lay out a device of @device_sectors sectors with
 * @block_size byte data blocks and @region_sectors sector copy regions.
 * @max_data_sectors, if non-zero, caps the plaintext capacity (to make a
 * secondary exactly as large as a primary).  Returns 0, or -1 when the
 * device is too small to hold one data block.
 *
 * Only 64-bit divisions by small constants: fine on 64-bit kernels, which
 * is all this module builds for (see Kbuild).
 */
static inline int ccm_layout_compute(struct ccm_layout *l,
				     __u64 device_sectors, __u32 block_size,
				     __u32 region_sectors,
				     __u64 max_data_sectors)
{
	__u64 dev_bytes = (device_sectors * 512) / CCM_ALIGN_BYTES *
			  CCM_ALIGN_BYTES;
	__u64 region_max, bm_bytes, slot_bytes, used, avail, group, groups;
	__u64 rem, extra = 0, blocks;

	if (block_size != 512 && block_size != 4096)
		return -1;
	if (!region_sectors || (region_sectors & (region_sectors - 1)))
		return -1;

	region_max = ccm_div_round_up(device_sectors, region_sectors);
	bm_bytes = ccm_round_up(ccm_div_round_up(region_max, 8),
				CCM_ALIGN_BYTES);
	slot_bytes = CCM_SLOT_HDR_BYTES + 2 * bm_bytes;
	used = CCM_SB_AREA_BYTES + 2 * slot_bytes;
	if (dev_bytes <= used + CCM_META_BLOCK_BYTES)
		return -1;
	avail = dev_bytes - used;

	group = CCM_META_BLOCK_BYTES + (__u64)CCM_ENTRIES_PER_META * block_size;
	groups = avail / group;
	rem = avail - groups * group;
	if (rem > CCM_META_BLOCK_BYTES) {
		extra = (rem - CCM_META_BLOCK_BYTES) / block_size;
		if (extra > CCM_ENTRIES_PER_META)
			extra = CCM_ENTRIES_PER_META;
	}
	blocks = groups * CCM_ENTRIES_PER_META + extra;
	if (max_data_sectors && blocks > max_data_sectors * 512 / block_size)
		blocks = max_data_sectors * 512 / block_size;
	if (!blocks)
		return -1;

	l->device_sectors = device_sectors;
	l->data_block_size = block_size;
	l->region_sectors = region_sectors;
	l->region_count = ccm_div_round_up(blocks * (block_size / 512),
					   region_sectors);
	l->bitmap_bytes = (__u32)bm_bytes;
	l->bitmap_offset = CCM_SB_AREA_BYTES / 512;
	l->bitmap_sectors = 2 * slot_bytes / 512;
	l->meta_offset = l->bitmap_offset + l->bitmap_sectors;
	l->meta_sectors = ccm_div_round_up(blocks, CCM_ENTRIES_PER_META) *
			  (CCM_META_BLOCK_BYTES / 512);
	l->data_offset = l->meta_offset + l->meta_sectors;
	l->data_blocks = blocks;
	return 0;
}

/* Sector of the meta block holding block @blk's entry, and its index. */
static inline __u64 ccm_meta_sector(const struct ccm_layout *l, __u64 blk)
{
	return l->meta_offset +
	       (blk / CCM_ENTRIES_PER_META) * (CCM_META_BLOCK_BYTES / 512);
}

static inline unsigned int ccm_meta_index(__u64 blk)
{
	return (unsigned int)(blk % CCM_ENTRIES_PER_META);
}

/* First sector of data block @blk on the device. */
static inline __u64 ccm_data_sector(const struct ccm_layout *l, __u64 blk)
{
	return l->data_offset + blk * (l->data_block_size / 512);
}

/* AES-CCM IV as the kernel's ccm(aes) and RFC 3610 want it. */
static inline void ccm_build_iv(__u8 iv[CCM_IV_SIZE],
				const __u8 nonce[CCM_NONCE_SIZE])
{
	unsigned int i;

	iv[0] = CCM_L - 1;
	for (i = 0; i < CCM_NONCE_SIZE; i++)
		iv[1 + i] = nonce[i];
	for (i = 1 + CCM_NONCE_SIZE; i < CCM_IV_SIZE; i++)
		iv[i] = 0;
}

#endif /* DM_CCM_MIRROR_H */
