// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: the subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ccm-blocks.h"
#include "ccm-cmd.h"
#include "ccm-dm.h"

static int sb_load(struct ccm_dev *d, struct ccm_sb *sb)
{
	uint8_t buf[CCM_SB_BYTES];
	char why[200];
	int ret;

	if (d->size < CCM_SB_AREA_BYTES) {
		ccm_err("%s: too small (%" PRIu64 " bytes) to be a ccm device",
			d->path, d->size);
		return CCM_EXIT_BADDEV;
	}
	ret = ccm_dev_read(d, buf, sizeof(buf), 0);
	if (ret)
		return ret;
	if (ccm_sb_decode(buf, sb, why, sizeof(why)) != CCM_SB_OK) {
		ccm_err("%s: %s", d->path, why);
		return CCM_EXIT_BADDEV;
	}
	if (d->size < ccm_layout_end(&sb->layout)) {
		ccm_err("%s: %" PRIu64 " bytes, smaller than the %" PRIu64
			" its superblock describes (truncated?)",
			d->path, d->size, ccm_layout_end(&sb->layout));
		return CCM_EXIT_BADDEV;
	}
	return CCM_EXIT_OK;
}

int ccm_ctx_check_key(struct ccm_ctx *c)
{
	int ret;

	if (c->key.len != c->sb.key_size) {
		ccm_err("wrong key: %s uses a %u-byte key, the key given has %zu bytes",
			c->dev.path, c->sb.key_size, c->key.len);
		return CCM_EXIT_BADKEY;
	}
	ccm_aead_free(&c->aead);
	if (ccm_format_aead_init(&c->aead, c->key.bytes, c->key.len)) {
		ccm_err("cannot set up AES-CCM (OpenSSL)");
		return CCM_EXIT_IO;
	}
	ret = ccm_kcv_check(&c->aead, &c->sb);
	if (ret < 0) {
		ccm_err("key check failed (OpenSSL)");
		return CCM_EXIT_IO;
	}
	if (ret) {
		ccm_err("wrong key for %s (key check value mismatch)",
			c->dev.path);
		return CCM_EXIT_BADKEY;
	}
	return CCM_EXIT_OK;
}

static int ctx_key(struct ccm_ctx *c, const char *key_file)
{
	int ret = ccm_key_read(key_file, &c->key);

	return ret ? ret : ccm_ctx_check_key(c);
}

void ccm_ctx_init(struct ccm_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->dev.fd = -1;
}

int ccm_ctx_open(struct ccm_ctx *c, const char *path, unsigned int flags,
		 const char *key_file)
{
	int ret;

	ccm_ctx_init(c);
	ret = ccm_dev_open(&c->dev, path, flags);
	if (!ret)
		ret = sb_load(&c->dev, &c->sb);
	if (!ret && key_file)
		ret = ctx_key(c, key_file);
	return ret;
}

void ccm_ctx_close(struct ccm_ctx *c)
{
	ccm_aead_free(&c->aead);
	ccm_key_wipe(&c->key);
	ccm_dev_close(&c->dev);
}

static double overhead_pct(const struct ccm_layout *l)
{
	double dev = (double)l->device_sectors * 512;

	return dev ? 100.0 * (dev - (double)ccm_data_bytes(l)) / dev : 0;
}

/* ---- format ---- */

static int format_confirm(const struct ccm_opts *o, struct ccm_ctx *c)
{
	char why[200], existing[CCM_UUID_STR_LEN + 64] = "";
	uint8_t buf[CCM_SB_BYTES];
	struct ccm_sb old;
	char question[512];

	if (o->yes)
		return CCM_EXIT_OK;
	if (c->dev.size >= sizeof(buf) &&
	    !ccm_dev_read(&c->dev, buf, sizeof(buf), 0) &&
	    ccm_sb_decode(buf, &old, why, sizeof(why)) != CCM_SB_BAD_MAGIC) {
		char u[CCM_UUID_STR_LEN];

		ccm_uuid_format(old.uuid, u);
		snprintf(existing, sizeof(existing),
			 "\nIt holds a ccm device (uuid %s).", u);
	}
	snprintf(question, sizeof(question),
		 "This will overwrite all data on %s.%s", c->dev.path,
		 existing);
	if (!ccm_confirm(question)) {
		ccm_err("not confirmed; nothing written");
		return CCM_EXIT_REFUSED;
	}
	return CCM_EXIT_OK;
}

static int format_layout(struct ccm_ctx *c, uint32_t block_size,
			 uint64_t region_bytes, uint64_t data_bytes,
			 struct ccm_layout *l)
{
	char why[200];
	int ret;

	if (c->dev.is_blk && block_size < c->dev.lbs) {
		ccm_err("%s: block size %" PRIu32
			" is smaller than the device's logical block size %u",
			c->dev.path, block_size, c->dev.lbs);
		return CCM_EXIT_BADDEV;
	}
	ret = ccm_layout_make(l, c->dev.size, block_size, region_bytes,
			      data_bytes, why, sizeof(why));
	if (ret) {
		ccm_err("%s: %s", c->dev.path, why);
		return ret == -EINVAL ? CCM_EXIT_USAGE : CCM_EXIT_BADDEV;
	}
	return CCM_EXIT_OK;
}

static int format_new_sb(struct ccm_ctx *c, const struct ccm_layout *l,
			 bool wipe)
{
	ccm_sb_init(&c->sb, l, (unsigned int)c->key.len);
	if (wipe)
		c->sb.flags |= CCM_SB_F_WIPED;
	if (ccm_random(c->sb.uuid, sizeof(c->sb.uuid)) ||
	    ccm_random(c->sb.kcv_nonce, sizeof(c->sb.kcv_nonce))) {
		ccm_err("no random bytes (OpenSSL)");
		return CCM_EXIT_IO;
	}
	c->sb.uuid[6] = (c->sb.uuid[6] & 0x0f) | 0x40;	/* RFC 4122 v4 */
	c->sb.uuid[8] = (c->sb.uuid[8] & 0x3f) | 0x80;
	if (ccm_format_aead_init(&c->aead, c->key.bytes, c->key.len) ||
	    ccm_kcv_make(&c->aead, &c->sb)) {
		ccm_err("cannot compute the key check value (OpenSSL)");
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

/* Invalidate, fill the areas, flush, then write the superblock last. */
static int format_write(struct ccm_ctx *c, bool wipe)
{
	const struct ccm_layout *l = &c->sb.layout;
	uint8_t area[CCM_SB_AREA_BYTES] = { 0 };
	int ret;

	ret = ccm_dev_zero(&c->dev, 0, CCM_SB_AREA_BYTES);
	if (!ret)
		ret = ccm_dev_zero(&c->dev, l->bitmap_offset * 512,
				   l->bitmap_sectors * 512);
	if (!ret && !wipe)
		ret = ccm_dev_zero(&c->dev, l->meta_offset * 512,
				   l->meta_sectors * 512);
	else if (!ret)
		ret = ccm_blocks_wipe(c);
	if (!ret)
		ret = ccm_dev_sync(&c->dev);
	if (ret)
		return ret;
	ccm_sb_encode(&c->sb, area);
	ret = ccm_dev_write(&c->dev, area, sizeof(area), 0);
	return ret ? ret : ccm_dev_sync(&c->dev);
}

int ccm_format_dev(const char *path, const struct ccm_key *key,
		   uint32_t block_size, uint64_t region_bytes,
		   uint64_t data_bytes, bool wipe, struct ccm_sb *sb)
{
	struct ccm_layout l;
	struct ccm_ctx c;
	int ret;

	ccm_ctx_init(&c);
	c.key = *key;
	ret = ccm_dev_open(&c.dev, path, CCM_DEV_WRITE | CCM_DEV_EXCL);
	if (!ret)
		ret = format_layout(&c, block_size, region_bytes, data_bytes,
				    &l);
	if (!ret)
		ret = format_new_sb(&c, &l, wipe);
	if (!ret)
		ret = format_write(&c, wipe);
	if (!ret)
		*sb = c.sb;
	ccm_ctx_close(&c);
	return ret;
}

int cmd_format(const struct ccm_opts *o)
{
	struct ccm_layout l;
	struct ccm_ctx c;
	char u[CCM_UUID_STR_LEN], cap[32];
	int ret;

	ccm_ctx_init(&c);
	if (!o->yes && (!strcmp(o->key_file, "-") || !isatty(STDIN_FILENO))) {
		ccm_err("refusing to format without --yes: cannot ask for confirmation (standard input is %s)",
			strcmp(o->key_file, "-") ? "not a terminal" :
						   "the key");
		return CCM_EXIT_REFUSED;
	}
	ret = ccm_key_read(o->key_file, &c.key);
	if (!ret)
		ret = ccm_dev_open(&c.dev, o->args[0],
				   CCM_DEV_WRITE | CCM_DEV_EXCL);
	if (!ret)
		ret = format_layout(&c, o->block_size, o->region_size,
				    o->data_size, &l);
	if (!ret)
		ret = format_confirm(o, &c);
	if (!ret)
		ret = format_new_sb(&c, &l, !o->no_wipe);
	if (!ret)
		ret = format_write(&c, !o->no_wipe);
	if (!ret) {
		ccm_uuid_format(c.sb.uuid, u);
		ccm_human_size(ccm_data_bytes(&l), cap, sizeof(cap));
		printf("formatted %s: uuid %s, %" PRIu64 " blocks of %" PRIu32
		       " bytes, capacity %" PRIu64 " bytes (%s), overhead %.2f%%%s\n",
		       o->args[0], u, (uint64_t)l.data_blocks, l.data_block_size,
		       ccm_data_bytes(&l), cap, overhead_pct(&l),
		       o->no_wipe ? ", not wiped" : "");
	}
	ccm_ctx_close(&c);
	return ret;
}

/* ---- dump ---- */

/* Prints one field as "label   value" or as a JSON member. */
struct out {
	bool json;
	bool first;
};

static void out_key(struct out *o, const char *key, const char *label)
{
	if (o->json)
		printf("%s\"%s\":", o->first ? "" : ",", key);
	else
		printf("%-24s", label);
	o->first = false;
}

static void out_str(struct out *o, const char *key, const char *label,
		    const char *v)
{
	const char *p;

	out_key(o, key, label);
	if (!o->json) {
		printf("%s\n", v);
		return;
	}
	putchar('"');
	for (p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* A value printed as @json (a JSON literal) or as @text. */
static void out_pair(struct out *o, const char *key, const char *label,
		     const char *json, const char *text)
{
	out_key(o, key, label);
	if (o->json)
		fputs(json, stdout);
	else
		puts(text);
}

static void out_u64(struct out *o, const char *key, const char *label,
		    uint64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	out_pair(o, key, label, num, num);
}

static void out_bool(struct out *o, const char *key, const char *label,
		     bool v)
{
	out_pair(o, key, label, v ? "true" : "false", v ? "yes" : "no");
}

static void out_area(struct out *o, const char *key, const char *label,
		     uint64_t offset, uint64_t sectors)
{
	char k[48], text[96];

	if (o->json) {
		snprintf(k, sizeof(k), "%s_offset", key);
		out_u64(o, k, NULL, offset);
		snprintf(k, sizeof(k), "%s_sectors", key);
		out_u64(o, k, NULL, sectors);
		return;
	}
	snprintf(text, sizeof(text), "sector %" PRIu64 ", %" PRIu64
		 " sectors (%" PRIu64 " bytes)", offset, sectors,
		 sectors * 512);
	out_str(o, key, label, text);
}

static void dump_slots(struct out *o, struct ccm_dev *d,
		       const struct ccm_layout *l)
{
	uint64_t slot_bytes = ccm_slot_bytes(l);
	uint8_t *buf = malloc(slot_bytes);
	struct ccm_slot s;
	char key[32], text[160];
	unsigned int i;

	for (i = 0; buf && i < 2; i++) {
		bool valid;

		if (ccm_dev_read(d, buf, slot_bytes, l->bitmap_offset * 512 +
				 i * slot_bytes))
			break;
		valid = ccm_slot_decode(buf, l->bitmap_bytes, &s);
		snprintf(key, sizeof(key), "slot%u", i);
		if (valid)
			snprintf(text, sizeof(text), "valid, seq %" PRIu64
				 ", %" PRIu64 "/%" PRIu64
				 " regions copied, primary id %" PRIx64,
				 s.seq, s.copied_count, s.region_count,
				 s.primary_id);
		else
			snprintf(text, sizeof(text), "%s",
				 s.magic ? "invalid (bad CRC or magic)" :
					   "empty");
		out_str(o, key, key, text);
		if (o->json && valid) {
			snprintf(key, sizeof(key), "slot%u_seq", i);
			out_u64(o, key, NULL, s.seq);
			snprintf(key, sizeof(key), "slot%u_copied", i);
			out_u64(o, key, NULL, s.copied_count);
			snprintf(key, sizeof(key), "slot%u_primary_id", i);
			snprintf(text, sizeof(text), "\"%" PRIx64 "\"",
				 s.primary_id);
			out_pair(o, key, NULL, text, text);
		}
	}
	free(buf);
}

static void dump_sb(struct out *o, const struct ccm_sb *sb)
{
	const struct ccm_layout *l = &sb->layout;
	char u[CCM_UUID_STR_LEN], text[96], cap[32], num[32];

	out_u64(o, "version", "version", sb->version);
	ccm_uuid_format(sb->uuid, u);
	out_str(o, "uuid", "uuid", u);
	snprintf(text, sizeof(text), "0x%08" PRIx32 "%s", sb->flags,
		 (sb->flags & CCM_SB_F_WIPED) ? " (wiped)" : " (not wiped)");
	snprintf(num, sizeof(num), "%" PRIu32, sb->flags);
	out_pair(o, "flags", "flags", num, text);
	out_bool(o, "wiped", "wiped", sb->flags & CCM_SB_F_WIPED);
	out_u64(o, "data_block_size", "block size (bytes)",
		l->data_block_size);
	out_u64(o, "key_size", "key size (bytes)", sb->key_size);
	out_u64(o, "nonce_size", "nonce size (bytes)", sb->nonce_size);
	out_u64(o, "tag_size", "tag size (bytes)", sb->tag_size);
	out_u64(o, "meta_entry_size", "meta entry (bytes)",
		sb->meta_entry_size);
	out_u64(o, "data_blocks", "data blocks", l->data_blocks);
	ccm_human_size(ccm_data_bytes(l), cap, sizeof(cap));
	snprintf(text, sizeof(text), "%" PRIu64 " bytes (%s)",
		 ccm_data_bytes(l), cap);
	snprintf(num, sizeof(num), "%" PRIu64, ccm_data_bytes(l));
	out_pair(o, "capacity_bytes", "capacity", num, text);
	out_u64(o, "device_sectors", "device sectors (format)",
		l->device_sectors);
	out_area(o, "superblock", "superblock area", 0,
		 CCM_SB_AREA_BYTES / 512);
	out_area(o, "bitmap", "copy state area", l->bitmap_offset,
		 l->bitmap_sectors);
	out_area(o, "meta", "metadata area", l->meta_offset, l->meta_sectors);
	out_area(o, "data", "data area", l->data_offset,
		 ccm_data_bytes(l) / 512);
	out_u64(o, "region_sectors", "region size (sectors)",
		l->region_sectors);
	out_u64(o, "region_count", "regions", l->region_count);
	out_u64(o, "bitmap_bytes", "bitmap size (bytes)", l->bitmap_bytes);
	snprintf(num, sizeof(num), "%.3f", overhead_pct(l));
	out_pair(o, "overhead_percent", "overhead (%)", num, num);
}

int cmd_dump(const struct ccm_opts *o)
{
	struct out out = { .json = o->json, .first = true };
	enum ccm_sb_status st = CCM_SB_BAD_MAGIC;
	uint8_t buf[CCM_SB_BYTES];
	struct ccm_dev d;
	struct ccm_sb sb;
	char why[200] = "too small to be a ccm device", crc[64], crc_json[16];
	int ret;

	ret = ccm_dev_open(&d, o->args[0], 0);
	if (ret)
		return ret;
	if (d.size >= CCM_SB_AREA_BYTES) {
		ret = ccm_dev_read(&d, buf, sizeof(buf), 0);
		if (ret) {
			ccm_dev_close(&d);
			return ret;
		}
		st = ccm_sb_decode(buf, &sb, why, sizeof(why));
	}
	if (st == CCM_SB_OK && d.size < ccm_layout_end(&sb.layout))
		snprintf(why, sizeof(why), "device truncated: %" PRIu64
			 " bytes, the layout needs %" PRIu64, d.size,
			 ccm_layout_end(&sb.layout));
	if (o->json)
		putchar('{');
	out_str(&out, "device", "device", o->args[0]);
	out_u64(&out, "device_bytes", "device size (bytes)", d.size);
	out_bool(&out, "valid", "valid", !strcmp(why, "ok"));
	out_str(&out, "status", "status", why);
	if (st != CCM_SB_BAD_MAGIC) {
		dump_sb(&out, &sb);
		snprintf(crc, sizeof(crc), "0x%08" PRIx32 " (%s)",
			 sb.crc_stored, sb.crc_stored == sb.crc_computed ?
			 "ok" : "BAD");
		snprintf(crc_json, sizeof(crc_json), "\"0x%08" PRIx32 "\"",
			 sb.crc_stored);
		out_pair(&out, "crc32c", "crc32c", crc_json, crc);
		out_bool(&out, "crc_ok", "crc ok",
			 sb.crc_stored == sb.crc_computed);
	}
	if (st == CCM_SB_OK && strcmp(why, "ok") == 0)
		dump_slots(&out, &d, &sb.layout);
	if (o->json)
		printf("}\n");
	ccm_dev_close(&d);
	return strcmp(why, "ok") ? CCM_EXIT_BADDEV : CCM_EXIT_OK;
}

/* ---- verify ---- */

int cmd_verify(const struct ccm_opts *o)
{
	struct ccm_verify_result r = { .max = o->max_report };
	struct ccm_ctx c;
	uint64_t i;
	int ret;

	r.list = calloc(r.max ? r.max : 1, sizeof(*r.list));
	if (!r.list) {
		ccm_err("out of memory");
		return CCM_EXIT_IO;
	}
	ret = ccm_ctx_open(&c, o->args[0], 0, o->key_file);
	if (!ret)
		ret = ccm_blocks_verify(&c, &r);
	if (!ret) {
		for (i = 0; i < r.bad && i < r.max; i++)
			printf("bad block %" PRIu64 "\n", r.list[i]);
		if (r.bad > r.max)
			printf("... and %" PRIu64 " more bad blocks\n",
			       r.bad - r.max);
		if (r.unwritten)
			printf("%" PRIu64 " blocks never written (formatted with --no-wipe): they read as I/O errors until written\n",
			       r.unwritten);
		printf("%s: %" PRIu64 " blocks, %" PRIu64
		       " failed authentication\n", o->args[0],
		       (uint64_t)c.sb.layout.data_blocks, r.bad);
		if (r.bad)
			ret = CCM_EXIT_AUTH;
	}
	ccm_ctx_close(&c);
	free(r.list);
	return ret;
}

/* ---- encrypt / decrypt ---- */

/* Open a plaintext image ("-": stdin/stdout); *size or UINT64_MAX. */
static int image_open(const char *path, bool wr, int *fd, uint64_t *size)
{
	struct stat st;

	*size = UINT64_MAX;
	if (!strcmp(path, "-")) {
		*fd = wr ? STDOUT_FILENO : STDIN_FILENO;
	} else {
		*fd = wr ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0600) :
			   open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0) {
			ccm_err("%s: %s", path, strerror(errno));
			return CCM_EXIT_IO;
		}
	}
	if (!wr && !fstat(*fd, &st)) {
		if (S_ISREG(st.st_mode))
			*size = (uint64_t)st.st_size;
		else if (S_ISBLK(st.st_mode) && ioctl(*fd, BLKGETSIZE64, size))
			*size = UINT64_MAX;
	}
	return CCM_EXIT_OK;
}

static void image_close(const char *path, int fd)
{
	if (strcmp(path, "-"))
		close(fd);
}

static int check_stdin_once(const struct ccm_opts *o, const char *image)
{
	if (!strcmp(o->key_file, "-") && !strcmp(image, "-")) {
		ccm_err("the key and the image cannot both come from standard input");
		return CCM_EXIT_USAGE;
	}
	return CCM_EXIT_OK;
}

static int encrypt_run(const struct ccm_opts *o, struct ccm_ctx *c, int fd,
		       uint64_t size)
{
	const char *in = o->args[0];
	uint64_t cap = ccm_data_bytes(&c->sb.layout), got = 0;
	uint8_t extra;
	int ret;

	if (size != UINT64_MAX && size > cap) {
		ccm_err("%s is %" PRIu64 " bytes, more than the %" PRIu64
			" bytes %s holds", in, size, cap, c->dev.path);
		return CCM_EXIT_BADDEV;
	}
	ret = ccm_blocks_encrypt(c, fd, in, &got);
	if (!ret && got == cap && size == UINT64_MAX &&
	    ccm_read_full(fd, &extra, 1) == 1) {
		ccm_err("%s holds more than the %" PRIu64
			" bytes %s holds; the rest was not written", in, cap,
			c->dev.path);
		ret = CCM_EXIT_BADDEV;
	}
	if (!ret)
		ret = ccm_dev_sync(&c->dev);
	if (!ret)
		printf("encrypted %" PRIu64 " bytes (%" PRIu64
		       " blocks) into %s\n", got,
		       (got + c->sb.layout.data_block_size - 1) /
		       c->sb.layout.data_block_size, c->dev.path);
	return ret;
}

int cmd_encrypt(const struct ccm_opts *o)
{
	struct ccm_ctx c;
	uint64_t size;
	int ret, fd = -1;

	ccm_ctx_init(&c);
	ret = check_stdin_once(o, o->args[0]);
	if (!ret)
		ret = ccm_ctx_open(&c, o->args[1],
				   CCM_DEV_WRITE | CCM_DEV_EXCL, o->key_file);
	if (!ret)
		ret = image_open(o->args[0], false, &fd, &size);
	if (!ret) {
		ret = encrypt_run(o, &c, fd, size);
		image_close(o->args[0], fd);
	}
	ccm_ctx_close(&c);
	return ret;
}

int cmd_decrypt(const struct ccm_opts *o)
{
	const char *out = o->args[1];
	struct ccm_ctx c;
	uint64_t bytes, dummy;
	int ret, fd = -1;

	ccm_ctx_init(&c);
	ret = check_stdin_once(o, out);
	if (!ret)
		ret = ccm_ctx_open(&c, o->args[0], 0, o->key_file);
	if (ret)
		goto out;
	bytes = o->size ? o->size : ccm_data_bytes(&c.sb.layout);
	if (bytes > ccm_data_bytes(&c.sb.layout)) {
		ccm_err("--size %" PRIu64 " is more than the %" PRIu64
			" bytes %s holds", bytes,
			ccm_data_bytes(&c.sb.layout), c.dev.path);
		ret = CCM_EXIT_BADDEV;
		goto out;
	}
	ret = image_open(out, true, &fd, &dummy);
	if (ret)
		goto out;
	ret = ccm_blocks_decrypt(&c, fd, out, bytes);
	if (!ret && strcmp(out, "-") && fsync(fd) && errno != EINVAL) {
		ccm_err("%s: %s", out, strerror(errno));
		ret = CCM_EXIT_IO;
	}
	if (ret && strcmp(out, "-"))
		ccm_err("%s is incomplete", out);
	image_close(out, fd);
out:
	ccm_ctx_close(&c);
	return ret;
}

/* ---- open / close ---- */

static int open_check(const struct ccm_opts *o, const char *dm_uuid)
{
	char owner[128];
	int r;

	r = ccm_dm_exists(o->args[1], NULL, NULL, 0);
	if (r > 0) {
		ccm_err("a device-mapper device named %s already exists",
			o->args[1]);
		return CCM_EXIT_REFUSED;
	}
	if (!r)
		r = ccm_dm_exists(NULL, dm_uuid, owner, sizeof(owner));
	if (r > 0) {
		ccm_err("%s is already open as %s", o->args[0], owner);
		return CCM_EXIT_REFUSED;
	}
	return r < 0 ? CCM_EXIT_IO : CCM_EXIT_OK;
}

int cmd_open(const struct ccm_opts *o)
{
	char desc[CCM_KEY_DESC_MAX], ref[CCM_KEY_DESC_MAX + 16];
	char dm_uuid[CCM_DM_UUID_MAX], u[CCM_UUID_STR_LEN], params[256];
	struct ccm_ctx c;
	struct stat st;
	uint64_t sectors;
	int ret;

	ret = ccm_ctx_open(&c, o->args[0], 0, o->key_file);
	if (!ret && !c.dev.is_blk) {
		ccm_err("%s: open needs a block device (for an image file, attach it with losetup first)",
			o->args[0]);
		ret = CCM_EXIT_BADDEV;
	}
	if (!ret && fstat(c.dev.fd, &st)) {
		ccm_err("%s: %s", o->args[0], strerror(errno));
		ret = CCM_EXIT_IO;
	}
	if (ret)
		goto out;
	ccm_uuid_format(c.sb.uuid, u);
	snprintf(dm_uuid, sizeof(dm_uuid), "%s%s", CCM_DM_UUID_PREFIX, u);
	ccm_key_desc(c.sb.uuid, desc, sizeof(desc));
	ccm_key_ref(desc, c.key.len, ref, sizeof(ref));
	snprintf(params, sizeof(params), "%u:%u %s", major(st.st_rdev),
		 minor(st.st_rdev), ref);
	sectors = ccm_data_bytes(&c.sb.layout) / 512;
	ccm_dm_init();
	ret = open_check(o, dm_uuid);
	if (!ret)
		ret = ccm_keyring_add(desc, c.key.bytes, c.key.len);
	if (ret)
		goto out;
	ccm_dev_close(&c.dev);	/* let the kernel have it */
	ret = ccm_dm_create(o->args[1], dm_uuid, sectors, "ccm", params,
			    o->read_only);
	if (ret)
		ccm_keyring_drop(desc);
	else
		printf("/dev/mapper/%s\n", o->args[1]);
out:
	ccm_ctx_close(&c);
	return ret;
}

int cmd_close(const struct ccm_opts *o)
{
	const char *name = o->args[0];
	char desc[CCM_KEY_DESC_MAX], token[CCM_KEY_DESC_MAX + 16];
	struct ccm_dm_table t;
	const char *ref;
	bool have_desc;
	int ret;

	ccm_dm_init();
	ret = ccm_dm_table(name, &t);
	if (ret)
		return ret;
	if (t.targets != 1 || strcmp(t.type, "ccm")) {
		ccm_err("%s is not a ccm mapping (target %s); not closing",
			name, t.targets ? t.type : "none");
		ret = CCM_EXIT_REFUSED;
	} else if (t.open_count) {
		ccm_err("%s is in use (open count %d)", name, t.open_count);
		ret = CCM_EXIT_REFUSED;
	}
	/* Table line: <device> :<size>:<type>:<description> [options] */
	ref = strstr(t.params, " :");
	if (ref)
		snprintf(token, sizeof(token), "%.*s",
			 (int)strcspn(ref + 1, " "), ref + 1);
	have_desc = ref && !ccm_key_ref_parse(token, desc, sizeof(desc));
	if (!ret && !have_desc)
		ccm_warn("no key reference in the table of %s: no key unlinked",
			 name);
	ccm_dm_table_free(&t);
	if (!ret)
		ret = ccm_dm_remove(name);
	if (!ret && have_desc)
		ret = ccm_keyring_drop(desc);
	return ret;
}
