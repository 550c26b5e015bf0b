/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: the on-disk format of dm-ccm-mirror.h in host byte order:
 * CRC-32C, layout, superblock and copy-state slot encode/decode.  No I/O,
 * no crypto: shared with the unit tests.
 */
#ifndef CCM_FORMAT_H
#define CCM_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm-ccm-mirror.h"

#define CCM_SB_BYTES		512	/* the encoded superblock */
#define CCM_UUID_STR_LEN	37	/* 36 characters and a NUL */

/* Standard CRC-32C: ccm_crc32c(buf, len) == ~ccm_crc32c_update(~0, ...). */
uint32_t ccm_crc32c_update(uint32_t crc, const void *buf, size_t len);
uint32_t ccm_crc32c(const void *buf, size_t len);

/*
 * Lay out a device of @device_bytes: ccm_layout_compute() after checking
 * the parameters (block size 512 or 4096, region size a power of two of at
 * least one block, @data_bytes 0 or a whole number of blocks).  Returns 0,
 * -EINVAL for bad parameters or -ENOSPC when the device is too small for
 * them, with the reason in @why.
 */
int ccm_layout_make(struct ccm_layout *l, uint64_t device_bytes,
		    uint32_t block_size, uint64_t region_bytes,
		    uint64_t data_bytes, char *why, size_t why_len);

/* Name of the first field where @a and @b differ, NULL if equal. */
const char *ccm_layout_diff(const struct ccm_layout *a,
			    const struct ccm_layout *b);

static inline uint64_t ccm_data_bytes(const struct ccm_layout *l)
{
	return l->data_blocks * l->data_block_size;
}

/* Bytes the layout occupies from sector 0 to the end of the data area. */
static inline uint64_t ccm_layout_end(const struct ccm_layout *l)
{
	return l->data_offset * 512 + ccm_data_bytes(l);
}

static inline uint64_t ccm_slot_bytes(const struct ccm_layout *l)
{
	return l->bitmap_sectors * 512 / 2;
}

/* The superblock, decoded. */
struct ccm_sb {
	uint8_t magic[CCM_SB_MAGIC_LEN];
	uint32_t version;
	uint32_t flags;
	uint8_t uuid[16];
	uint8_t nonce_size;
	uint8_t tag_size;
	uint8_t key_size;
	uint8_t meta_entry_size;
	struct ccm_layout layout;
	uint8_t kcv_nonce[CCM_NONCE_SIZE];
	uint8_t kcv[16];
	uint8_t kcv_tag[CCM_TAG_SIZE];
	uint32_t crc_stored;		/* decode only */
	uint32_t crc_computed;		/* decode only */
};

enum ccm_sb_status {
	CCM_SB_OK,
	CCM_SB_BAD_MAGIC,	/* not a ccm device */
	CCM_SB_BAD_CRC,
	CCM_SB_BAD_VERSION,	/* unsupported version */
	CCM_SB_BAD_FIELD,	/* a field out of range, unknown flags */
	CCM_SB_BAD_LAYOUT,	/* areas disagree with ccm_layout_compute() */
};

/* Fill the fixed fields (magic, version, sizes) and @layout. */
void ccm_sb_init(struct ccm_sb *sb, const struct ccm_layout *layout,
		 unsigned int key_size);
/* Encode into CCM_SB_BYTES bytes, computing the CRC. */
void ccm_sb_encode(const struct ccm_sb *sb, uint8_t *buf);
/*
 * Decode CCM_SB_BYTES bytes.  Every field is decoded whenever the magic
 * matches, so a damaged superblock can still be shown; @why explains a
 * status other than CCM_SB_OK.
 */
enum ccm_sb_status ccm_sb_decode(const uint8_t *buf, struct ccm_sb *sb,
				 char *why, size_t why_len);

/* A copy-state slot (header + "copied" and "dirty" bitmaps), decoded. */
struct ccm_slot {
	uint32_t magic;
	uint32_t version;
	uint64_t seq;
	uint64_t region_count;
	uint32_t region_sectors;
	uint32_t flags;
	uint64_t primary_sectors;
	uint64_t copied_count;
	uint64_t primary_id;
	uint32_t crc_stored;
	uint32_t crc_computed;
};

/* @buf holds ccm_slot_bytes(): the header block then both bitmaps. */
void ccm_slot_encode(const struct ccm_slot *s, uint8_t *buf,
		     uint32_t bitmap_bytes);
/* true if the slot is valid (magic and CRC). */
bool ccm_slot_decode(const uint8_t *buf, uint32_t bitmap_bytes,
		     struct ccm_slot *s);

/*
 * The current slot of a copy state area of two slots (@area holds both,
 * 2 * (CCM_SLOT_HDR_BYTES + 2 * @bitmap_bytes) bytes): the valid one with
 * the highest seq, decoded into @s.  *@carried (if not NULL) gets the
 * number of regions it records as copied and not dirty, what a mirror
 * created on it carries over.  Returns 0 or 1 (the slot), or -1 if
 * neither slot is valid.
 */
int ccm_slot_current(const uint8_t *area, uint32_t bitmap_bytes,
		     struct ccm_slot *s, uint64_t *carried);
/* true if @len bytes at @buf are all zero. */
bool ccm_all_zero(const void *buf, size_t len);

void ccm_uuid_format(const uint8_t uuid[16], char out[CCM_UUID_STR_LEN]);
void ccm_hex(const uint8_t *buf, size_t len, char *out);	/* 2*len+1 */

#endif /* CCM_FORMAT_H */
