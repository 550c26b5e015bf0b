// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the ccm-mirror core (ccm-format.c, ccm-crypto.c,
 * ccm-util.c): CRC-32C, AES-CCM known answers, the block construction,
 * the key-check value, layout invariants, superblock and slot encoding,
 * the keyring key reference; the move's status/table parsing and progress
 * (ccm-mstatus.c).
 * TAP 13 output; exit status 0 only if every test passed.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm-crypto.h"
#include "ccm-dm.h"
#include "ccm-format.h"
#include "ccm-mstatus.h"
#include "ccm-util.h"
#include "ccm-kat.h"
#include <sys/sysmacros.h>

static unsigned int n_tests, n_failed;

static bool ok(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %u - ", cond ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return cond;
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

/* ---- CRC-32C ---- */

static void test_crc32c(void)
{
	uint8_t buf[32];
	unsigned int i;
	uint32_t c;

	ok(ccm_crc32c("123456789", 9) == 0xe3069283,
	   "crc32c(\"123456789\") = 0xe3069283");
	/* RFC 3720 (iSCSI) B.4 */
	memset(buf, 0, sizeof(buf));
	ok(ccm_crc32c(buf, 32) == 0x8a9136aa, "crc32c(32 x 0x00) = 0x8a9136aa");
	memset(buf, 0xff, sizeof(buf));
	ok(ccm_crc32c(buf, 32) == 0x62a8ab43, "crc32c(32 x 0xff) = 0x62a8ab43");
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	ok(ccm_crc32c(buf, 32) == 0x46dd794e, "crc32c(0..31) = 0x46dd794e");
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	ok(ccm_crc32c(buf, 32) == 0x113fdb5c, "crc32c(31..0) = 0x113fdb5c");
	c = ~ccm_crc32c_update(ccm_crc32c_update(~0U, buf, 10), buf + 10, 22);
	ok(c == ccm_crc32c(buf, 32), "crc32c: chained update = one pass");
	ok(ccm_crc32c(buf, 0) == 0, "crc32c(empty) = 0");
}

/* ---- AES-CCM known answers ---- */

static void kat_one(const char *name, const uint8_t *key, size_t klen,
		    const uint8_t *nonce, size_t nlen, const uint8_t *aad,
		    size_t alen, const uint8_t *pt, const uint8_t *ct,
		    size_t plen, const uint8_t *tag, size_t tlen, bool fail)
{
	uint8_t *out = malloc(plen + 1), got_tag[16];
	struct ccm_aead a;
	int r;

	if (!ok(!ccm_aead_init(&a, key, klen, nlen, tlen),
		"%s: init (key %zu, nonce %zu, tag %zu)", name, klen, nlen,
		tlen)) {
		free(out);
		return;
	}
	if (!fail) {
		r = ccm_aead_seal(&a, nonce, aad, alen, pt, plen, out,
				  got_tag);
		ok(!r && !memcmp(out, ct, plen) && !memcmp(got_tag, tag, tlen),
		   "%s: encrypt gives the expected ciphertext and tag", name);
	}
	r = ccm_aead_open(&a, nonce, aad, alen, ct, plen, out, tag);
	if (fail)
		ok(r == 1, "%s: decrypt rejects the wrong tag", name);
	else
		ok(!r && !memcmp(out, pt, plen),
		   "%s: decrypt authenticates and gives the plaintext", name);
	if (!fail && tlen) {
		memcpy(got_tag, tag, tlen);
		got_tag[tlen - 1] ^= 0x80;
		ok(ccm_aead_open(&a, nonce, aad, alen, ct, plen, out,
				 got_tag) == 1,
		   "%s: decrypt rejects a flipped tag bit", name);
	}
	ccm_aead_free(&a);
	free(out);
}

static void test_kat_testmgr(void)
{
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(ccm_kats) / sizeof(ccm_kats[0]); i++) {
		const struct ccm_kat *k = &ccm_kats[i];

		snprintf(name, sizeof(name), "testmgr aes_ccm #%zu", i);
		kat_one(name, (const uint8_t *)k->key, k->klen,
			(const uint8_t *)k->nonce, k->nlen,
			(const uint8_t *)k->aad, k->alen,
			(const uint8_t *)k->pt, (const uint8_t *)k->ct, k->plen,
			(const uint8_t *)k->tag, k->tlen, k->fail);
	}
}

/* NIST SP 800-38C, Appendix C, examples 1 to 4 (key 40..4f). */
static void test_kat_sp800_38c(void)
{
	static const struct {
		const char *nonce, *aad, *pt, *ct_tag;
		unsigned int tlen;
	} ex[] = {
		{ "10111213141516", "0001020304050607", "20212223",
		  "7162015b4dac255d", 4 },
		{ "1011121314151617", "000102030405060708090a0b0c0d0e0f",
		  "202122232425262728292a2b2c2d2e2f",
		  "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd", 6 },
		{ "101112131415161718191a1b",
		  "000102030405060708090a0b0c0d0e0f10111213",
		  "202122232425262728292a2b2c2d2e2f3031323334353637",
		  "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5"
		  "484392fbc1b09951", 8 },
		/* Example 4: 2^16 bytes of AAD, byte i = i mod 256 */
		{ "101112131415161718191a1b1c", NULL,
		  "202122232425262728292a2b2c2d2e2f"
		  "303132333435363738393a3b3c3d3e3f",
		  "69915dad1e84c6376a68c2967e4dab615ae0fd1faec44cc4"
		  "84828529463ccf72b4ac6bec93e8598e7f0dadbcea5b", 14 },
	};
	uint8_t key[16], nonce[13], pt[32], ct[48], *aad;
	size_t i, j, nlen, alen, plen;
	char name[64];

	unhex("404142434445464748494a4b4c4d4e4f", key, 16);
	aad = malloc(65536);
	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		nlen = strlen(ex[i].nonce) / 2;
		plen = strlen(ex[i].pt) / 2;
		if (ex[i].aad) {
			alen = strlen(ex[i].aad) / 2;
			unhex(ex[i].aad, aad, alen);
		} else {
			alen = 65536;
			for (j = 0; j < alen; j++)
				aad[j] = (uint8_t)j;
		}
		unhex(ex[i].nonce, nonce, nlen);
		unhex(ex[i].pt, pt, plen);
		unhex(ex[i].ct_tag, ct, plen + ex[i].tlen);
		snprintf(name, sizeof(name), "SP 800-38C example %zu", i + 1);
		kat_one(name, key, 16, nonce, nlen, aad, alen, pt, ct, plen,
			ct + plen, ex[i].tlen, false);
	}
	free(aad);
}

/* ---- the format's block construction and key check value ---- */

static void test_block_construction(void)
{
	static const uint8_t key[32] = { 1, 2, 3 };
	uint8_t uuid[16], uuid2[16], nonce[CCM_NONCE_SIZE], pt[4096];
	uint8_t ct[4096], ct2[4096], out[4096], tag[16], tag2[16], aad[24];
	struct ccm_aead a, raw;
	uint64_t blk = 0x0102030405060708ULL;
	unsigned int i;

	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 7);
	for (i = 0; i < 16; i++)
		uuid[i] = uuid2[i] = (uint8_t)(0xa0 + i);
	uuid2[15] ^= 1;
	memset(nonce, 0x5a, sizeof(nonce));
	ccm_format_aead_init(&a, key, sizeof(key));
	ccm_aead_init(&raw, key, sizeof(key), 13, 16);

	/* AAD bytes: little-endian block number, then the uuid */
	for (i = 0; i < 8; i++)
		aad[i] = (uint8_t)(blk >> (8 * i));
	memcpy(aad + 8, uuid, 16);
	ccm_block_seal(&a, uuid, blk, nonce, pt, sizeof(pt), ct, tag);
	ccm_aead_seal(&raw, nonce, aad, sizeof(aad), pt, sizeof(pt), ct2, tag2);
	ok(!memcmp(ct, ct2, sizeof(ct)) && !memcmp(tag, tag2, 16),
	   "block: AAD is le64 block number then the 16-byte uuid");
	ok(!ccm_block_open(&a, uuid, blk, nonce, ct, sizeof(ct), out, tag) &&
	   !memcmp(out, pt, sizeof(pt)), "block: round trip");
	ok(ccm_block_open(&a, uuid, blk + 1, nonce, ct, sizeof(ct), out,
			  tag) == 1, "block: another block number fails");
	ok(ccm_block_open(&a, uuid2, blk, nonce, ct, sizeof(ct), out,
			  tag) == 1, "block: another device uuid fails");
	nonce[12] ^= 1;
	ok(ccm_block_open(&a, uuid, blk, nonce, ct, sizeof(ct), out,
			  tag) == 1, "block: another nonce fails");
	nonce[12] ^= 1;
	ct[4095] ^= 0x10;
	ok(ccm_block_open(&a, uuid, blk, nonce, ct, sizeof(ct), out,
			  tag) == 1, "block: a flipped data bit fails");
	ct[4095] ^= 0x10;
	ok(ccm_block_open(&a, uuid, blk, nonce, ct, 512, out, tag) == 1,
	   "block: a truncated block fails");
	ccm_aead_free(&raw);
	ccm_aead_free(&a);
}

static void test_kcv(void)
{
	uint8_t key[24] = { 9 }, other[24] = { 8 };
	struct ccm_layout l;
	struct ccm_aead a, b;
	struct ccm_sb sb;
	char why[160];

	ccm_layout_make(&l, 64 << 20, 4096, 1 << 20, 0, why, sizeof(why));
	ccm_sb_init(&sb, &l, sizeof(key));
	memset(sb.uuid, 0x11, 16);
	memset(sb.kcv_nonce, 0x22, sizeof(sb.kcv_nonce));
	ccm_format_aead_init(&a, key, sizeof(key));
	ccm_format_aead_init(&b, other, sizeof(other));
	ok(!ccm_kcv_make(&a, &sb), "kcv: computed");
	ok(ccm_kcv_check(&a, &sb) == 0, "kcv: the right key passes");
	ok(ccm_kcv_check(&b, &sb) == 1, "kcv: another key fails");
	sb.uuid[0] ^= 1;
	ok(ccm_kcv_check(&a, &sb) == 1, "kcv: bound to the uuid");
	ccm_aead_free(&a);
	ccm_aead_free(&b);
}

/* ---- layout ---- */

static bool layout_sane(const struct ccm_layout *l, uint64_t dev_bytes,
			char *why, size_t len)
{
	uint64_t data_sectors = ccm_data_bytes(l) / 512;

#define CHECK(c) do { if (!(c)) { snprintf(why, len, "%s", #c); \
	return false; } } while (0)
	CHECK(l->bitmap_offset == CCM_SB_AREA_BYTES / 512);
	CHECK(l->meta_offset == l->bitmap_offset + l->bitmap_sectors);
	CHECK(l->data_offset == l->meta_offset + l->meta_sectors);
	CHECK(ccm_layout_end(l) <= dev_bytes);
	CHECK(l->bitmap_offset % 8 == 0 && l->bitmap_sectors % 16 == 0);
	CHECK(l->meta_offset % 8 == 0 && l->meta_sectors % 8 == 0);
	CHECK(l->data_offset % 8 == 0);
	CHECK(l->meta_sectors * 512 / CCM_META_ENTRY_SIZE >= l->data_blocks);
	CHECK((l->meta_sectors / 8 - 1) * CCM_ENTRIES_PER_META <
	      l->data_blocks);
	CHECK(ccm_slot_bytes(l) == CCM_SLOT_HDR_BYTES + 2ULL * l->bitmap_bytes);
	CHECK((uint64_t)l->bitmap_bytes * 8 >= l->region_count);
	CHECK(l->region_count * l->region_sectors >= data_sectors);
	CHECK((l->region_count - 1) * l->region_sectors < data_sectors);
#undef CHECK
	return true;
}

static void test_layout(void)
{
	static const uint64_t regions[] = { 4096, 1 << 20, 64 << 20 };
	const uint64_t MiB = 1 << 20, TiB = MiB << 20;
	uint64_t size, worst_size = 0, ov, region;
	unsigned int bs, r, checked = 0, bad = 0, ov_bad = 0;
	double pct, worst = 0;
	struct ccm_layout l;
	char why[160] = "";

	for (bs = 512; bs <= 4096; bs *= 8) {
		for (r = 0; r < 3; r++) {
			region = regions[r] < bs ? bs : regions[r];
			/* powers of two and odd sizes, 1 MiB .. 16 TiB */
			for (size = MiB; size <= 16 * TiB;
			     size += size / 2 + (size & 1 ? 0 : 4096 * 3 + 1)) {
				if (ccm_layout_make(&l, size, bs, region, 0,
						    why, sizeof(why)) ||
				    !layout_sane(&l, size, why, sizeof(why))) {
					if (!bad++)
						printf("# size %" PRIu64 " bs %u region %" PRIu64 ": %s\n",
						       size, bs, region, why);
					continue;
				}
				checked++;
				ov = size - ccm_data_bytes(&l);
				pct = 100.0 * (double)ov / (double)size;
				if (bs == 4096 && size >= 14 * MiB && pct > 1.0)
					ov_bad++;
				if (bs == 4096 && pct > worst) {
					worst = pct;
					worst_size = size;
				}
			}
		}
	}
	ok(!bad && checked > 200,
	   "layout: %u layouts in order, aligned, inside the device", checked);
	ok(!ov_bad, "layout: overhead <= 1%% at 4 KiB blocks from 14 MiB to 16 TiB");
	ok(worst < 3.6, "layout: overhead <= 3.6%% from 1 MiB (worst %.2f%% at %" PRIu64 " bytes)",
	   worst, worst_size);

	ccm_layout_make(&l, 1 << 30, 4096, 1 << 20, 0, why, sizeof(why));
	pct = 100.0 * (double)((1 << 30) - ccm_data_bytes(&l)) / (1 << 30);
	ok(pct < 0.8, "layout: 1 GiB at 4 KiB blocks: %.3f%% overhead", pct);
	ok(!ccm_layout_make(&l, 1 << 30, 4096, 1 << 20, 100 << 20, why,
			    sizeof(why)) && ccm_data_bytes(&l) == 100 << 20 &&
	   layout_sane(&l, 1 << 30, why, sizeof(why)),
	   "layout: --data-size caps the capacity exactly");
	ok(ccm_layout_make(&l, 10 << 20, 4096, 1 << 20, 10 << 20, why,
			   sizeof(why)) == -ENOSPC,
	   "layout: a data size that does not fit is refused (%s)", why);
	ok(ccm_layout_make(&l, 1 << 30, 4096, 1 << 20, 4097, why,
			   sizeof(why)) == -EINVAL,
	   "layout: a data size that is not whole blocks is refused");
	ok(ccm_layout_make(&l, 1 << 30, 1024, 1 << 20, 0, why,
			   sizeof(why)) == -EINVAL,
	   "layout: block size 1024 is refused");
	ok(ccm_layout_make(&l, 1 << 30, 4096, 3 << 20, 0, why,
			   sizeof(why)) == -EINVAL &&
	   ccm_layout_make(&l, 1 << 30, 4096, 2048, 0, why,
			   sizeof(why)) == -EINVAL,
	   "layout: region sizes not a power of two or below a block are refused");
	ok(ccm_layout_make(&l, 32 << 10, 4096, 1 << 20, 0, why,
			   sizeof(why)) == -ENOSPC,
	   "layout: a 32 KiB device is too small (%s)", why);
	ok(!ccm_layout_make(&l, (64 << 20) + 4095, 4096, 1 << 20, 0, why,
			    sizeof(why)) &&
	   ccm_layout_end(&l) <= 64 << 20,
	   "layout: a tail that is not whole 4 KiB is left unused");
}

/* ---- superblock ---- */

static void sb_sample(struct ccm_sb *sb)
{
	struct ccm_layout l;
	char why[160];
	unsigned int i;

	ccm_layout_make(&l, 3ULL << 30, 4096, 1 << 20, 0, why, sizeof(why));
	ccm_sb_init(sb, &l, 32);
	sb->flags = CCM_SB_F_WIPED;
	for (i = 0; i < 16; i++) {
		sb->uuid[i] = (uint8_t)(0x10 + i);
		sb->kcv[i] = (uint8_t)(0x30 + i);
		sb->kcv_tag[i] = (uint8_t)(0x40 + i);
	}
	for (i = 0; i < CCM_NONCE_SIZE; i++)
		sb->kcv_nonce[i] = (uint8_t)(0x20 + i);
}

static void reseal(uint8_t *buf)
{
	uint32_t crc = htole32(ccm_crc32c(buf, 508));

	memcpy(buf + 508, &crc, 4);
}

static enum ccm_sb_status decode_patched(const struct ccm_sb *sb,
					 size_t off, const void *val,
					 size_t len, char *why, size_t wlen)
{
	uint8_t buf[CCM_SB_BYTES];
	struct ccm_sb out;

	ccm_sb_encode(sb, buf);
	memcpy(buf + off, val, len);
	reseal(buf);
	return ccm_sb_decode(buf, &out, why, wlen);
}

static void test_superblock(void)
{
	uint8_t buf[CCM_SB_BYTES], copy[CCM_SB_BYTES];
	struct ccm_sb sb, out;
	char why[200];
	uint32_t v32, crc;
	uint64_t v64;
	unsigned int i, bad_crc = 0;

	sb_sample(&sb);
	ccm_sb_encode(&sb, buf);
	ok(ccm_sb_decode(buf, &out, why, sizeof(why)) == CCM_SB_OK,
	   "superblock: decodes (%s)", why);
	ccm_sb_encode(&out, copy);
	ok(!memcmp(buf, copy, sizeof(buf)) &&
	   !ccm_layout_diff(&sb.layout, &out.layout) &&
	   out.flags == sb.flags && !memcmp(out.uuid, sb.uuid, 16) &&
	   !memcmp(out.kcv_nonce, sb.kcv_nonce, CCM_NONCE_SIZE) &&
	   !memcmp(out.kcv, sb.kcv, 16) && !memcmp(out.kcv_tag, sb.kcv_tag, 16),
	   "superblock: round trip");
	memcpy(&crc, buf + 508, 4);
	memcpy(&v64, buf + 40, 8);
	memcpy(&v32, buf + 32, 4);
	ok(!memcmp(buf, CCM_SB_MAGIC, 8) && buf[8] == 1 && !buf[9] &&
	   le32toh(crc) == ccm_crc32c(buf, 508) &&
	   le64toh(v64) == sb.layout.data_blocks && le32toh(v32) == 4096 &&
	   buf[36] == 13 && buf[37] == 16 && buf[38] == 32 && buf[39] == 32 &&
	   buf[112] == 0x20 && buf[128] == 0x30 && buf[144] == 0x40,
	   "superblock: fields at the header's offsets, little endian");
	for (i = 0; i < 508; i++)
		if (buf[i] && i >= 160)
			bad_crc++;
	ok(!bad_crc, "superblock: reserved bytes are zero");

	for (i = 0; i < CCM_SB_BYTES * 8; i += 7) {
		memcpy(copy, buf, sizeof(copy));
		copy[i / 8] ^= (uint8_t)(1 << (i % 8));
		if (ccm_sb_decode(copy, &out, why, sizeof(why)) !=
		    (i < 64 ? CCM_SB_BAD_MAGIC : CCM_SB_BAD_CRC))
			bad_crc++;
	}
	ok(!bad_crc, "superblock: every flipped bit is caught (magic or CRC)");

	memset(buf, 0, sizeof(buf));
	ok(ccm_sb_decode(buf, &out, why, sizeof(why)) == CCM_SB_BAD_MAGIC,
	   "superblock: zeros are not a ccm device (%s)", why);
	v32 = htole32(2);
	ok(decode_patched(&sb, 8, &v32, 4, why, sizeof(why)) ==
	   CCM_SB_BAD_VERSION, "superblock: version 2 (%s)", why);
	v32 = htole32(1U << 5);
	ok(decode_patched(&sb, 12, &v32, 4, why, sizeof(why)) ==
	   CCM_SB_BAD_FIELD, "superblock: unknown flag (%s)", why);
	buf[0] = 20;
	ok(decode_patched(&sb, 38, buf, 1, why, sizeof(why)) ==
	   CCM_SB_BAD_FIELD, "superblock: key size 20 (%s)", why);
	buf[0] = 12;
	ok(decode_patched(&sb, 36, buf, 1, why, sizeof(why)) ==
	   CCM_SB_BAD_FIELD, "superblock: nonce size 12 (%s)", why);
	buf[0] = 1;
	ok(decode_patched(&sb, 126, buf, 1, why, sizeof(why)) ==
	   CCM_SB_BAD_FIELD, "superblock: pad0 not zero (%s)", why);
	ok(decode_patched(&sb, 400, buf, 1, why, sizeof(why)) ==
	   CCM_SB_BAD_FIELD, "superblock: reserved not zero (%s)", why);
	v64 = htole64(sb.layout.data_blocks + 1);
	ok(decode_patched(&sb, 40, &v64, 8, why, sizeof(why)) ==
	   CCM_SB_BAD_LAYOUT, "superblock: one block too many (%s)", why);
	v32 = htole32(sb.layout.bitmap_bytes * 2);
	ok(decode_patched(&sb, 92, &v32, 4, why, sizeof(why)) ==
	   CCM_SB_BAD_LAYOUT, "superblock: bitmap size (%s)", why);
	v64 = htole64(sb.layout.data_blocks - 1);
	ok(decode_patched(&sb, 40, &v64, 8, why, sizeof(why)) == CCM_SB_OK,
	   "superblock: one block fewer is a valid --data-size layout");
	v64 = htole64(sb.layout.meta_offset + 8);
	ok(decode_patched(&sb, 64, &v64, 8, why, sizeof(why)) ==
	   CCM_SB_BAD_LAYOUT, "superblock: moved meta area (%s)", why);
	v32 = htole32(3000);
	ok(decode_patched(&sb, 88, &v32, 4, why, sizeof(why)) ==
	   CCM_SB_BAD_LAYOUT, "superblock: bad region size (%s)", why);
	v32 = htole32(1024);
	ok(decode_patched(&sb, 32, &v32, 4, why, sizeof(why)) ==
	   CCM_SB_BAD_LAYOUT, "superblock: block size 1024 (%s)", why);
}

/* ---- copy-state slots ---- */

static void test_slots(void)
{
	const uint32_t bm = 4096;
	uint8_t *buf = calloc(1, CCM_SLOT_HDR_BYTES + 2 * bm);
	struct ccm_slot s = {
		.magic = CCM_SLOT_MAGIC, .version = 1, .seq = 42,
		.region_count = 1000, .region_sectors = 2048,
		.primary_sectors = 2048000, .copied_count = 3,
	}, out;
	uint32_t crc;
	unsigned int i;

	for (i = 0; i < 3; i++)
		buf[CCM_SLOT_HDR_BYTES + i * 100] = 1 << (i % 8);
	ccm_slot_encode(&s, buf, bm);
	ok(ccm_slot_decode(buf, bm, &out) && out.seq == 42 &&
	   out.copied_count == 3 && out.region_count == 1000,
	   "slot: round trip");
	crc = ~ccm_crc32c_update(ccm_crc32c_update(~0U, buf, 60),
				 buf + CCM_SLOT_HDR_BYTES, 2 * bm);
	ok(crc == out.crc_stored && !memcmp(buf, "CMST", 4),
	   "slot: crc32c over header [0,60) then both bitmaps");
	{
		size_t sb = CCM_SLOT_HDR_BYTES + 2 * bm;
		uint8_t *two = calloc(2, sb);
		uint64_t carried = 0;

		/* slot 0: seq 42; slot 1: seq 43, regions 0-9 copied, 3 and
		 * 5 dirty, id set */
		memcpy(two, buf, sb);
		two[sb + CCM_SLOT_HDR_BYTES] = 0xff;
		two[sb + CCM_SLOT_HDR_BYTES + 1] = 0x03;
		two[sb + CCM_SLOT_HDR_BYTES + bm] = 0x28;
		s.seq = 43;
		s.primary_id = 0x1234abcdULL;
		ccm_slot_encode(&s, two + sb, bm);
		ok(ccm_slot_current(two, bm, &out, &carried) == 1 &&
		   out.seq == 43 && out.primary_id == 0x1234abcdULL &&
		   carried == 8, "slot: newest valid slot, carried = copied & ~dirty");
		two[sb + 8] ^= 1;	/* torn: seq changed, CRC wrong */
		ok(ccm_slot_current(two, bm, &out, &carried) == 0 &&
		   out.seq == 42 && !out.primary_id,
		   "slot: a torn newer slot falls back to the older");
		memset(two, 0, 2 * sb);
		ok(ccm_slot_current(two, bm, &out, NULL) < 0 &&
		   ccm_all_zero(two, 2 * sb) && !ccm_all_zero(buf, sb),
		   "slot: no valid slot in a blank area");
		free(two);
	}
	buf[CCM_SLOT_HDR_BYTES + 2 * bm - 1] ^= 1;
	ok(!ccm_slot_decode(buf, bm, &out), "slot: a flipped dirty bit is caught");
	memset(buf, 0, CCM_SLOT_HDR_BYTES + 2 * bm);
	ok(!ccm_slot_decode(buf, bm, &out) && !out.magic,
	   "slot: zeros are an empty slot");
	free(buf);
}

/* ---- helpers ---- */

static void test_key_ref(void)
{
	uint8_t u[16] = { 0xab, 0xcd };
	char desc[CCM_KEY_DESC_MAX], ref[CCM_KEY_DESC_MAX + 16], back[64];

	ccm_key_desc(u, desc, sizeof(desc));
	ccm_key_ref(desc, 32, ref, sizeof(ref));
	ok(!strcmp(ref, ":32:logon:ccm-mirror:abcd0000-0000-0000-0000-000000000000"),
	   "key reference: %s", ref);
	ok(!ccm_key_ref_parse(ref, back, sizeof(back)) && !strcmp(back, desc),
	   "key reference: the description parses back");
	ok(ccm_key_ref_parse("0011", back, sizeof(back)) &&
	   ccm_key_ref_parse(":32:logon", back, sizeof(back)) &&
	   ccm_key_ref_parse(":32:logon:", back, sizeof(back)),
	   "key reference: hex keys and truncated references are not parsed");
}

static void test_misc(void)
{
	uint8_t u[16];
	char s[CCM_UUID_STR_LEN];
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < 16; i++)
		u[i] = (uint8_t)(i * 0x11);
	ccm_uuid_format(u, s);
	ok(!strcmp(s, "00112233-4455-6677-8899-aabbccddeeff"),
	   "uuid: formatted as 8-4-4-4-12 (%s)", s);
	ok(!ccm_parse_size("4096", &v) && v == 4096 &&
	   !ccm_parse_size("1M", &v) && v == 1 << 20 &&
	   !ccm_parse_size("64KiB", &v) && v == 64 << 10 &&
	   !ccm_parse_size("2g", &v) && v == 2ULL << 30 &&
	   !ccm_parse_size("16TB", &v) && v == 16ULL << 40,
	   "sizes: 4096, 1M, 64KiB, 2g, 16TB");
	test_key_ref();
	ok(ccm_parse_size("", &v) && ccm_parse_size("-1", &v) &&
	   ccm_parse_size("12X", &v) && ccm_parse_size("1Mx", &v) &&
	   ccm_parse_size("99999999999E", &v) && ccm_parse_size("M", &v),
	   "sizes: garbage and overflow are refused");
}

static void test_mstatus(void)
{
	struct ccm_mstatus st;
	struct ccm_mtable t;
	struct ccm_speed sp;
	struct ccm_prog p;
	char buf[512], why[128];
	dev_t d;

	ok(!ccm_mstatus_parse("plain 2048 27/64 copying AA 4 11000 0 4 0 0 0 0",
			      &st) && st.st == CCM_MS_COPYING &&
	   st.region_sectors == 2048 && st.copied == 27 && st.total == 64 &&
	   !strcmp(st.health, "AA") && st.inflight == 4 &&
	   st.kib_s == 11000 && st.parallel == 4,
	   "mstatus: a copying line");
	ok(!ccm_mstatus_parse("plain 8 5/5 ready AA 0 0 3 2 1 2 3 4 extra 7",
			      &st) && st.st == CCM_MS_READY &&
	   st.rate_mib == 3 && st.errors[0] == 1 && st.errors[3] == 4,
	   "mstatus: ready, counters, later fields ignored");
	ok(!ccm_mstatus_parse("plain 2048 1/64 failed AD 0 0 0 4 0 0 0 1",
			      &st) && st.st == CCM_MS_FAILED &&
	   st.health[1] == 'D', "mstatus: failed, secondary D");
	ok(!ccm_mstatus_parse("plain 2048 1/64 frobbing AA 0 0 0 4 0 0 0 0",
			      &st) && st.st == CCM_MS_UNKNOWN,
	   "mstatus: an unknown state is UNKNOWN");
	ok(ccm_mstatus_parse("plain 2048 65/64 copying AA 0 0 0 4 0 0 0 0",
			     &st) < 0 &&
	   ccm_mstatus_parse("plain 2048 1/64 copying AA 0 0 0 4 0 0 0",
			     &st) < 0 &&
	   ccm_mstatus_parse("plain 0 1/64 copying AA 0 0 0 4 0 0 0 0",
			     &st) < 0 &&
	   ccm_mstatus_parse("plain 2048 1/64 copying AAA 0 0 0 4 0 0 0 0",
			     &st) < 0 &&
	   ccm_mstatus_parse("0 131072 linear 7:0 0", &st) < 0,
	   "mstatus: malformed lines refused");

	ok(!ccm_mtable_parse("253:1 7:1 2048", &t) &&
	   t.primary == makedev(253, 1) && t.secondary == makedev(7, 1) &&
	   t.region_sectors == 2048 && !t.rate_mib && !t.parallel &&
	   !t.start_paused, "mtable: no options");
	ok(!ccm_mtable_parse("253:1 7:1 8 5 rate 3 parallel 8 start_paused",
			     &t) && t.rate_mib == 3 && t.parallel == 8 &&
	   t.start_paused && t.region_sectors == 8, "mtable: options");
	ok(!ccm_mtable_parse("253:1 7:1 8 2 future 1 later", &t) &&
	   t.region_sectors == 8, "mtable: unknown options skipped");
	ok(ccm_mtable_parse("/dev/x 7:1 8", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1 8 2 rate", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1 0", &t) < 0,
	   "mtable: malformed lines refused");
	ok(!ccm_mstatus_parse("encrypted 256 3/192 copying AA 4 0 10 4 0 0 0 0 17 header",
			      &st) && st.has_carried && st.carried == 17 &&
	   !strcmp(st.persistence, "header") && !strcmp(st.mode, "encrypted"),
	   "mstatus: 1.1 carried and persistence");
	ok(!ccm_mstatus_parse("plain 2048 1/64 copying AA 0 0 0 4 0 0 0 0",
			      &st) && !st.has_carried && !st.carried,
	   "mstatus: 1.0 line without carried");
	ok(!ccm_mtable_parse("253:1 7:1 2048 9 rate 2 metadata 253:7 id c0ffee1234567890 key :32:logon:ccm-mirror:ab-cd overwrite",
			     &t) && t.rate_mib == 2 && t.has_metadata &&
	   t.metadata == makedev(253, 7) && t.id == 0xc0ffee1234567890ULL &&
	   t.has_key && !strcmp(t.key_ref, ":32:logon:ccm-mirror:ab-cd") &&
	   t.overwrite, "mtable: metadata, id, key, overwrite");
	ok(ccm_mtable_parse("253:1 7:1 8 2 id xyz", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1 8 2 id 11112222333344445", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1 8 2 metadata /dev/x", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1 8 2 key abc", &t) < 0 &&
	   ccm_mtable_parse("253:1 7:1 8 1 key", &t) < 0,
	   "mtable: malformed metadata, id, key refused");
	ok(ccm_move_id("") == 0xcbf29ce484222325ULL &&
	   ccm_move_id("a") == 0xaf63dc4c8601ec8cULL &&
	   ccm_move_id("foobar") == 0x85944171f73967e8ULL,
	   "move id: FNV-1a 64 test vectors");
	ok(ccm_meta_dev_bytes(1) == 1 << 20 &&
	   ccm_meta_dev_bytes(32768) == 1 << 20 &&
	   ccm_meta_dev_bytes(32769) == 1 << 20 &&
	   ccm_meta_dev_bytes(2064384) == 1 << 20 &&
	   ccm_meta_dev_bytes(2064385) == 2 << 20,
	   "metadata device size: 2*(4096+2B) rounded to 1 MiB");
	ok(!ccm_devno_parse("259:65536", &d) && major(d) == 259 &&
	   minor(d) == 65536 && ccm_devno_parse("7:1x", &d) < 0,
	   "devno: M:m");

	ok(!ccm_region_check(4096, why, sizeof(why)) &&
	   !ccm_region_check(1 << 20, why, sizeof(why)) &&
	   !ccm_region_check(1ULL << 30, why, sizeof(why)) &&
	   ccm_region_check(2048, why, sizeof(why)) < 0 &&
	   ccm_region_check(3 << 20, why, sizeof(why)) < 0 &&
	   ccm_region_check(1ULL << 31, why, sizeof(why)) < 0 &&
	   ccm_region_check(0, why, sizeof(why)) < 0,
	   "region size: powers of two from 4 KiB to 1 GiB");

	ccm_speed_init(&sp, 5.0);
	ok(ccm_speed_get(&sp) < 0, "speed: unknown without samples");
	ccm_speed_add(&sp, 0, 0);
	ccm_speed_add(&sp, 0.1, 100);
	ok(ccm_speed_get(&sp) < 0, "speed: unknown over 0.1 s");
	ccm_speed_add(&sp, 1, 1000);
	ccm_speed_add(&sp, 2, 2000);
	ok(ccm_speed_get(&sp) > 999 && ccm_speed_get(&sp) < 1001,
	   "speed: 1000 B/s");
	for (int k = 3; k < 40; k++)
		ccm_speed_add(&sp, k, 2000 + (uint64_t)(k - 2) * 10);
	ok(ccm_speed_get(&sp) > 9.9 && ccm_speed_get(&sp) < 10.1,
	   "speed: the window forgets old samples (%.2f)",
	   ccm_speed_get(&sp));

	ccm_mstatus_parse("plain 2048 27/64 copying AA 4 0 0 4 0 0 0 0", &st);
	ccm_prog_compute(&p, &st, 64ULL << 20, 1 << 20);
	ok(p.bytes_copied == 27ULL << 20 && p.percent > 42.09 &&
	   p.percent < 42.2 && p.eta_s == 37,
	   "progress: bytes, percent, eta (%.1f%%, %" PRId64 " s)",
	   p.percent, p.eta_s);
	ccm_fmt_line(&p, buf, sizeof(buf));
	ok(!strcmp(buf, "Moved: 42.1% 27.0 MiB/64.0 MiB 1.0 MiB/s ETA 00:00:37"),
	   "progress: plain line \"%s\"", buf);
	ccm_fmt_json(&p, "vol", buf, sizeof(buf));
	ok(!strcmp(buf, "{\"device\":\"vol\",\"state\":\"copying\","
		   "\"copied_regions\":27,\"total_regions\":64,"
		   "\"percent\":42.1,\"bytes_copied\":28311552,"
		   "\"bytes_total\":67108864,\"speed_bps\":1048576,"
		   "\"eta_s\":37,\"health\":\"AA\"}"),
	   "progress: JSON %s", buf);
	ccm_fmt_bar(&p, 10, buf, sizeof(buf));
	ok(!strncmp(buf, "[####......]  42.1% 27.0 MiB", 28),
	   "progress: bar \"%s\"", buf);
	ccm_prog_compute(&p, &st, 64ULL << 20, -1);
	ccm_fmt_json(&p, NULL, buf, sizeof(buf));
	ok(strstr(buf, "\"speed_bps\":null,\"eta_s\":null") &&
	   !strstr(buf, "device"), "progress: unknown speed is null");
	ccm_mstatus_parse("plain 2048 1999/2000 copying AA 4 0 0 4 0 0 0 0",
			  &st);
	ccm_prog_compute(&p, &st, 2000ULL << 20, -1);
	ok(p.percent < 100.0, "progress: 99.95%% is not shown as 100%%");
	/* A last partial region: bytes never exceed the size. */
	ccm_mstatus_parse("plain 2048 3/3 ready AA 0 0 0 4 0 0 0 0", &st);
	ccm_prog_compute(&p, &st, 5ULL << 19, 5);
	ok(p.bytes_copied == 5ULL << 19 && p.percent == 100.0 && !p.eta_s,
	   "progress: ready with a partial last region");
	ccm_mstatus_parse("plain 2048 3/9 paused AA 0 0 0 4 0 0 0 0", &st);
	ccm_prog_compute(&p, &st, 9ULL << 20, 5);
	ccm_fmt_line(&p, buf, sizeof(buf));
	ok(p.eta_s < 0 && strstr(buf, "ETA -- (paused)"),
	   "progress: paused has no ETA \"%s\"", buf);
	ccm_fmt_duration(3600 * 100 + 61, buf, sizeof(buf));
	ok(!strcmp(buf, "100:01:01"), "duration: %s", buf);
	ccm_json_str("a\"b\\c\n", buf, sizeof(buf));
	ok(!strcmp(buf, "\"a\\\"b\\\\c\\u000a\""), "json string: %s", buf);
}

int main(void)
{
	printf("TAP version 13\n");
	test_crc32c();
	test_kat_testmgr();
	test_kat_sp800_38c();
	test_block_construction();
	test_kcv();
	test_layout();
	test_superblock();
	test_slots();
	test_misc();
	test_mstatus();
	printf("1..%u\n", n_tests);
	printf("# %u tests: %u passed, %u failed\n", n_tests,
	       n_tests - n_failed, n_failed);
	return n_failed ? 1 : 0;
}
