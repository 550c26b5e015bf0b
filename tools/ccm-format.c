// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: CRC-32C, layout, superblock and copy-state slots.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ccm-format.h"

/* The header is the contract: catch any drift at compile time. */
_Static_assert(sizeof(struct ccm_superblock) == CCM_SB_BYTES, "superblock");
_Static_assert(offsetof(struct ccm_superblock, kcv_nonce) == 112, "kcv_nonce");
_Static_assert(offsetof(struct ccm_superblock, kcv) == 128, "kcv");
_Static_assert(offsetof(struct ccm_superblock, crc32c) == 508, "sb crc");
_Static_assert(sizeof(struct ccm_meta_entry) == CCM_META_ENTRY_SIZE, "meta");
_Static_assert(sizeof(struct ccm_aad) == CCM_AAD_SIZE, "aad");
_Static_assert(sizeof(struct ccm_slot_header) == 64, "slot header");
_Static_assert(offsetof(struct ccm_slot_header, crc32c) == 60, "slot crc");

#define CRC32C_POLY	0x82f63b78U	/* Castagnoli, reflected */

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ ((c & 1) ? CRC32C_POLY : 0);
		crc_table[i] = c;
	}
}

uint32_t ccm_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_table[1])
		crc_table_init();
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t ccm_crc32c(const void *buf, size_t len)
{
	return ~ccm_crc32c_update(~0U, buf, len);
}

int ccm_layout_make(struct ccm_layout *l, uint64_t device_bytes,
		    uint32_t block_size, uint64_t region_bytes,
		    uint64_t data_bytes, char *why, size_t why_len)
{
	uint64_t dev_sectors = device_bytes / 512, region_sectors, bitmap;

	if (block_size != 512 && block_size != 4096) {
		snprintf(why, why_len, "block size %" PRIu32
			 " is not 512 or 4096", block_size);
		return -EINVAL;
	}
	if (region_bytes < block_size || (region_bytes & (region_bytes - 1)) ||
	    region_bytes / 512 > (1ULL << 31)) {
		snprintf(why, why_len, "region size %" PRIu64
			 " is not a power of two between the block size and 1 TiB",
			 region_bytes);
		return -EINVAL;
	}
	if (data_bytes % block_size) {
		snprintf(why, why_len, "data size %" PRIu64
			 " is not a multiple of the block size %" PRIu32,
			 data_bytes, block_size);
		return -EINVAL;
	}
	region_sectors = region_bytes / 512;
	bitmap = ccm_round_up(ccm_div_round_up(ccm_div_round_up(dev_sectors,
					region_sectors), 8), CCM_ALIGN_BYTES);
	if (bitmap > UINT32_MAX) {
		snprintf(why, why_len, "region size %" PRIu64
			 " is too small for this device", region_bytes);
		return -EINVAL;
	}
	if (ccm_layout_compute(l, dev_sectors, block_size,
			       (uint32_t)region_sectors, data_bytes / 512)) {
		snprintf(why, why_len, "%" PRIu64
			 " bytes are too small for a ccm device", device_bytes);
		return -ENOSPC;
	}
	if (data_bytes && ccm_data_bytes(l) < data_bytes) {
		snprintf(why, why_len, "%" PRIu64
			 " bytes hold only %" PRIu64 " bytes of data, not %" PRIu64,
			 device_bytes, ccm_data_bytes(l), data_bytes);
		return -ENOSPC;
	}
	return 0;
}

const char *ccm_layout_diff(const struct ccm_layout *a,
			    const struct ccm_layout *b)
{
#define CMP(f) do { if (a->f != b->f) return #f; } while (0)
	CMP(device_sectors);
	CMP(data_block_size);
	CMP(region_sectors);
	CMP(region_count);
	CMP(bitmap_bytes);
	CMP(bitmap_offset);
	CMP(bitmap_sectors);
	CMP(meta_offset);
	CMP(meta_sectors);
	CMP(data_offset);
	CMP(data_blocks);
#undef CMP
	return NULL;
}

void ccm_sb_init(struct ccm_sb *sb, const struct ccm_layout *layout,
		 unsigned int key_size)
{
	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, CCM_SB_MAGIC, CCM_SB_MAGIC_LEN);
	sb->version = CCM_SB_VERSION;
	sb->nonce_size = CCM_NONCE_SIZE;
	sb->tag_size = CCM_TAG_SIZE;
	sb->key_size = (uint8_t)key_size;
	sb->meta_entry_size = CCM_META_ENTRY_SIZE;
	sb->layout = *layout;
}

void ccm_sb_encode(const struct ccm_sb *sb, uint8_t *buf)
{
	const struct ccm_layout *l = &sb->layout;
	struct ccm_superblock d;
	uint32_t crc;

	memset(&d, 0, sizeof(d));
	memcpy(d.magic, sb->magic, CCM_SB_MAGIC_LEN);
	d.version = htole32(sb->version);
	d.flags = htole32(sb->flags);
	memcpy(d.uuid, sb->uuid, sizeof(d.uuid));
	d.data_block_size = htole32(l->data_block_size);
	d.nonce_size = sb->nonce_size;
	d.tag_size = sb->tag_size;
	d.key_size = sb->key_size;
	d.meta_entry_size = sb->meta_entry_size;
	d.data_blocks = htole64(l->data_blocks);
	d.bitmap_offset = htole64(l->bitmap_offset);
	d.bitmap_sectors = htole64(l->bitmap_sectors);
	d.meta_offset = htole64(l->meta_offset);
	d.meta_sectors = htole64(l->meta_sectors);
	d.data_offset = htole64(l->data_offset);
	d.region_sectors = htole32(l->region_sectors);
	d.bitmap_bytes = htole32(l->bitmap_bytes);
	d.region_count = htole64(l->region_count);
	d.device_sectors = htole64(l->device_sectors);
	memcpy(d.kcv_nonce, sb->kcv_nonce, sizeof(d.kcv_nonce));
	memcpy(d.kcv, sb->kcv, sizeof(d.kcv));
	memcpy(d.kcv_tag, sb->kcv_tag, sizeof(d.kcv_tag));
	crc = ccm_crc32c(&d, offsetof(struct ccm_superblock, crc32c));
	d.crc32c = htole32(crc);
	memcpy(buf, &d, sizeof(d));
}

static enum ccm_sb_status sb_check_fields(const struct ccm_sb *sb, char *why,
					  size_t why_len)
{
	if (sb->flags & ~CCM_SB_F_KNOWN) {
		snprintf(why, why_len, "unsupported flags 0x%" PRIx32,
			 sb->flags & ~CCM_SB_F_KNOWN);
		return CCM_SB_BAD_FIELD;
	}
	if (sb->nonce_size != CCM_NONCE_SIZE || sb->tag_size != CCM_TAG_SIZE ||
	    sb->meta_entry_size != CCM_META_ENTRY_SIZE) {
		snprintf(why, why_len,
			 "unsupported nonce/tag/entry size %u/%u/%u",
			 sb->nonce_size, sb->tag_size, sb->meta_entry_size);
		return CCM_SB_BAD_FIELD;
	}
	if (sb->key_size != 16 && sb->key_size != 24 && sb->key_size != 32) {
		snprintf(why, why_len, "bad key size %u", sb->key_size);
		return CCM_SB_BAD_FIELD;
	}
	return CCM_SB_OK;
}

static enum ccm_sb_status sb_check_layout(const struct ccm_sb *sb, char *why,
					  size_t why_len)
{
	const struct ccm_layout *l = &sb->layout;
	struct ccm_layout calc;
	const char *field;
	char reason[160];

	if (ccm_layout_make(&calc, l->device_sectors * 512,
			    l->data_block_size,
			    (uint64_t)l->region_sectors * 512,
			    ccm_data_bytes(l), reason, sizeof(reason))) {
		snprintf(why, why_len, "inconsistent layout: %s", reason);
		return CCM_SB_BAD_LAYOUT;
	}
	field = ccm_layout_diff(l, &calc);
	if (field) {
		snprintf(why, why_len,
			 "inconsistent layout: %s differs from the computed layout",
			 field);
		return CCM_SB_BAD_LAYOUT;
	}
	return CCM_SB_OK;
}

enum ccm_sb_status ccm_sb_decode(const uint8_t *buf, struct ccm_sb *sb,
				 char *why, size_t why_len)
{
	struct ccm_layout *l = &sb->layout;
	struct ccm_superblock d;
	enum ccm_sb_status st;

	memcpy(&d, buf, sizeof(d));
	memset(sb, 0, sizeof(*sb));
	snprintf(why, why_len, "ok");
	if (memcmp(d.magic, CCM_SB_MAGIC, CCM_SB_MAGIC_LEN)) {
		snprintf(why, why_len, "no ccm-mirror superblock (bad magic)");
		return CCM_SB_BAD_MAGIC;
	}
	memcpy(sb->magic, d.magic, CCM_SB_MAGIC_LEN);
	sb->version = le32toh(d.version);
	sb->flags = le32toh(d.flags);
	memcpy(sb->uuid, d.uuid, sizeof(sb->uuid));
	sb->nonce_size = d.nonce_size;
	sb->tag_size = d.tag_size;
	sb->key_size = d.key_size;
	sb->meta_entry_size = d.meta_entry_size;
	l->device_sectors = le64toh(d.device_sectors);
	l->data_block_size = le32toh(d.data_block_size);
	l->region_sectors = le32toh(d.region_sectors);
	l->region_count = le64toh(d.region_count);
	l->bitmap_bytes = le32toh(d.bitmap_bytes);
	l->bitmap_offset = le64toh(d.bitmap_offset);
	l->bitmap_sectors = le64toh(d.bitmap_sectors);
	l->meta_offset = le64toh(d.meta_offset);
	l->meta_sectors = le64toh(d.meta_sectors);
	l->data_offset = le64toh(d.data_offset);
	l->data_blocks = le64toh(d.data_blocks);
	memcpy(sb->kcv_nonce, d.kcv_nonce, sizeof(sb->kcv_nonce));
	memcpy(sb->kcv, d.kcv, sizeof(sb->kcv));
	memcpy(sb->kcv_tag, d.kcv_tag, sizeof(sb->kcv_tag));
	sb->crc_stored = le32toh(d.crc32c);
	sb->crc_computed = ccm_crc32c(buf, offsetof(struct ccm_superblock,
						    crc32c));

	if (sb->crc_stored != sb->crc_computed) {
		snprintf(why, why_len,
			 "bad superblock checksum (stored 0x%08" PRIx32
			 ", computed 0x%08" PRIx32 ")",
			 sb->crc_stored, sb->crc_computed);
		return CCM_SB_BAD_CRC;
	}
	if (sb->version != CCM_SB_VERSION) {
		snprintf(why, why_len,
			 "unsupported format version %" PRIu32
			 " (this tool knows version %d)",
			 sb->version, CCM_SB_VERSION);
		return CCM_SB_BAD_VERSION;
	}
	/* As the kernel: new fields come with a new version or flag. */
	if (!ccm_all_zero(d.pad0, sizeof(d.pad0)) ||
	    !ccm_all_zero(d.reserved, sizeof(d.reserved))) {
		snprintf(why, why_len, "reserved superblock bytes are not zero");
		return CCM_SB_BAD_FIELD;
	}
	st = sb_check_fields(sb, why, why_len);
	if (st == CCM_SB_OK)
		st = sb_check_layout(sb, why, why_len);
	return st;
}

static uint32_t slot_crc(const uint8_t *buf, uint32_t bitmap_bytes)
{
	uint32_t crc;

	crc = ccm_crc32c_update(~0U, buf,
				offsetof(struct ccm_slot_header, crc32c));
	crc = ccm_crc32c_update(crc, buf + CCM_SLOT_HDR_BYTES,
				2 * (size_t)bitmap_bytes);
	return ~crc;
}

void ccm_slot_encode(const struct ccm_slot *s, uint8_t *buf,
		     uint32_t bitmap_bytes)
{
	struct ccm_slot_header h;

	memset(&h, 0, sizeof(h));
	h.magic = htole32(s->magic);
	h.version = htole32(s->version);
	h.seq = htole64(s->seq);
	h.region_count = htole64(s->region_count);
	h.region_sectors = htole32(s->region_sectors);
	h.flags = htole32(s->flags);
	h.primary_sectors = htole64(s->primary_sectors);
	h.copied_count = htole64(s->copied_count);
	h.primary_id = htole64(s->primary_id);
	memset(buf, 0, CCM_SLOT_HDR_BYTES);
	memcpy(buf, &h, sizeof(h));
	h.crc32c = htole32(slot_crc(buf, bitmap_bytes));
	memcpy(buf, &h, sizeof(h));
}

bool ccm_slot_decode(const uint8_t *buf, uint32_t bitmap_bytes,
		     struct ccm_slot *s)
{
	struct ccm_slot_header h;

	memcpy(&h, buf, sizeof(h));
	s->magic = le32toh(h.magic);
	s->version = le32toh(h.version);
	s->seq = le64toh(h.seq);
	s->region_count = le64toh(h.region_count);
	s->region_sectors = le32toh(h.region_sectors);
	s->flags = le32toh(h.flags);
	s->primary_sectors = le64toh(h.primary_sectors);
	s->copied_count = le64toh(h.copied_count);
	s->primary_id = le64toh(h.primary_id);
	s->crc_stored = le32toh(h.crc32c);
	s->crc_computed = slot_crc(buf, bitmap_bytes);
	return s->magic == CCM_SLOT_MAGIC && s->crc_stored == s->crc_computed;
}

int ccm_slot_current(const uint8_t *area, uint32_t bitmap_bytes,
		     struct ccm_slot *s, uint64_t *carried)
{
	size_t slot_bytes = CCM_SLOT_HDR_BYTES + 2 * (size_t)bitmap_bytes;
	const uint8_t *copied, *dirty;
	struct ccm_slot t;
	uint64_t n = 0, bits, i;
	int best = -1, k;

	for (k = 0; k < 2; k++) {
		if (!ccm_slot_decode(area + k * slot_bytes, bitmap_bytes, &t))
			continue;
		if (best < 0 || t.seq > s->seq) {
			*s = t;
			best = k;
		}
	}
	if (best < 0 || !carried)
		return best;
	copied = area + best * slot_bytes + CCM_SLOT_HDR_BYTES;
	dirty = copied + bitmap_bytes;
	bits = s->region_count;
	if (bits > (uint64_t)bitmap_bytes * 8)
		bits = (uint64_t)bitmap_bytes * 8;
	for (i = 0; i < bits; i++)
		if ((copied[i / 8] >> (i % 8)) & ~(dirty[i / 8] >> (i % 8)) & 1)
			n++;
	*carried = n;
	return best;
}

bool ccm_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

void ccm_hex(const uint8_t *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 15];
	}
	out[2 * len] = '\0';
}

void ccm_uuid_format(const uint8_t uuid[16], char out[CCM_UUID_STR_LEN])
{
	static const unsigned int groups[] = { 4, 2, 2, 2, 6 };
	unsigned int g, i = 0;
	char *p = out;

	for (g = 0; g < 5; g++) {
		if (g)
			*p++ = '-';
		ccm_hex(uuid + i, groups[g], p);
		p += 2 * groups[g];
		i += groups[g];
	}
}
