/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: device-mapper (libdevmapper) and kernel keyring (keyutils).
 * Generic enough for the live-move subcommands (reload, message, status)
 * to be added beside create/table/remove.
 */
#ifndef CCM_DM_H
#define CCM_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Keys live in the user keyring (@u) as "logon" keys (the kernel can read
 * them, userspace cannot) described "ccm-mirror:<device uuid>", and are
 * referenced from a table as ":<key bytes>:logon:ccm-mirror:<uuid>".
 */
#define CCM_KEY_TYPE		"logon"
#define CCM_KEY_DESC_PREFIX	"ccm-mirror:"
#define CCM_KEY_DESC_MAX	64
#define CCM_DM_UUID_PREFIX	"CCM-"
#define CCM_DM_UUID_MAX		64

void ccm_key_desc(const uint8_t uuid[16], char *out, size_t len);
/* Table key reference for a key of @key_len bytes. */
void ccm_key_ref(const char *desc, size_t key_len, char *out, size_t len);
/* Key description from a key reference; 0, or -1 if it is not one. */
int ccm_key_ref_parse(const char *ref, char *desc, size_t len);

/* Each returns an exit code and prints its own message on failure. */
int ccm_keyring_add(const char *desc, const uint8_t *key, size_t key_len);
int ccm_keyring_drop(const char *desc);
/*
 * Make the key @desc of the user keyring visible to table loads of this
 * process (see ccm_keyring_add()): 0, or 1 if @u has no such key (no
 * message), or an exit code.
 */
int ccm_keyring_link(const char *desc);

struct ccm_dm_table {
	char type[32];		/* target type of the first target */
	char *params;		/* its parameters (malloc) */
	uint64_t sectors;	/* size of the whole mapping */
	unsigned int targets;
	int open_count;
	bool read_only;
};

void ccm_dm_init(void);
/* 1 if a mapping @name (or, if @uuid, with dm uuid @uuid) exists, 0 if not,
 * -1 on error; the existing mapping's name goes to @found. */
int ccm_dm_exists(const char *name, const char *uuid, char *found,
		  size_t found_len);
int ccm_dm_create(const char *name, const char *uuid, uint64_t sectors,
		  const char *type, const char *params, bool read_only);
/* CCM_EXIT_BADDEV if there is no mapping @name. */
int ccm_dm_table(const char *name, struct ccm_dm_table *t);
void ccm_dm_table_free(struct ccm_dm_table *t);
int ccm_dm_remove(const char *name);

/* ---- live move: whole tables, suspend/resume, messages, events ---- */

#define CCM_DM_NAME_LEN		128	/* DM_NAME_LEN, with the NUL */
#define CCM_DM_UUID_LEN		129	/* DM_UUID_LEN, with the NUL */

struct ccm_dm_info {
	bool exists;
	bool suspended;
	bool live_table;
	bool inactive_table;
	bool read_only;
	int open_count;
	uint32_t event_nr;
	unsigned int major, minor;
	char name[CCM_DM_NAME_LEN];
	char uuid[CCM_DM_UUID_LEN];	/* "" if none */
};

/*
 * Info of the mapping @name, or (if @name is NULL) of @major:@minor.
 * Returns an exit code; a missing mapping is not an error (!i->exists).
 */
int ccm_dm_info(const char *name, unsigned int major, unsigned int minor,
		struct ccm_dm_info *i);

/* One table line ("dmsetup table" or "dmsetup status"). */
struct ccm_dm_line {
	uint64_t start, len;
	char type[32];
	char *params;		/* malloc */
};

struct ccm_dm_lines {
	struct ccm_dm_line *v;
	unsigned int n;
};

/* The live table (@status false) or status (@status true) of @name;
 * CCM_EXIT_BADDEV if there is no mapping @name. */
int ccm_dm_lines_get(const char *name, bool status, struct ccm_dm_lines *l);
/* Append a line; 0, or -1 without memory. */
int ccm_dm_lines_add(struct ccm_dm_lines *l, uint64_t start, uint64_t len,
		     const char *type, const char *params);
void ccm_dm_lines_free(struct ccm_dm_lines *l);
uint64_t ccm_dm_lines_sectors(const struct ccm_dm_lines *l);
bool ccm_dm_lines_equal(const struct ccm_dm_lines *a,
			const struct ccm_dm_lines *b);
/* "start len type params" lines, each prefixed by @indent, to @f. */
void ccm_dm_lines_print(const struct ccm_dm_lines *l, const char *indent,
			FILE *f);

/* Each returns an exit code and prints its own message on failure. */
/* @hidden: udev rules other than device-mapper's own skip the device. */
int ccm_dm_create_lines(const char *name, const char *uuid,
			const struct ccm_dm_lines *l, bool hidden);
int ccm_dm_reload(const char *name, const struct ccm_dm_lines *l);
int ccm_dm_suspend(const char *name);
int ccm_dm_resume(const char *name);
int ccm_dm_clear(const char *name);
int ccm_dm_message(const char *name, const char *msg);

/*
 * "dmsetup wait" semantics: block until the event counter of @name is no
 * longer @event_nr.  0 after an event, 1 if a signal interrupted the wait
 * (install handlers without SA_RESTART), otherwise an exit code.
 */
int ccm_dm_wait_event(const char *name, uint32_t event_nr);

/* 1 if target @type is registered (version in @v), 0 if not, -1 error. */
int ccm_dm_target_version(const char *type, unsigned int v[3]);

/* Devices the live table of @name uses (at most @max), into @devs. */
int ccm_dm_deps(const char *name, dev_t *devs, unsigned int max,
		unsigned int *n);

bool ccm_dm_is_dm_major(unsigned int major);

#endif /* CCM_DM_H */
