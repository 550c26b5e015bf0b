// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: device-mapper and keyring helpers.
 *
 * dm-crypt's key reference, which the ccm targets follow
 * (drivers/md/dm-crypt.c, crypt_set_keyring_key):
 *   :<key size in bytes>:<key type>:<key description>
 * no whitespace; the description is everything after the second colon
 * that follows the size.  The kernel finds the key with request_key() in
 * the context of the process loading the table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <keyutils.h>
#include <libdevmapper.h>

#include "ccm-dm.h"
#include "ccm-format.h"
#include "ccm-util.h"

void ccm_key_desc(const uint8_t uuid[16], char *out, size_t len)
{
	char u[CCM_UUID_STR_LEN];

	ccm_uuid_format(uuid, u);
	snprintf(out, len, "%s%s", CCM_KEY_DESC_PREFIX, u);
}

void ccm_key_ref(const char *desc, size_t key_len, char *out, size_t len)
{
	snprintf(out, len, ":%zu:%s:%s", key_len, CCM_KEY_TYPE, desc);
}

int ccm_key_ref_parse(const char *ref, char *desc, size_t len)
{
	const char *size_end, *type_end;

	if (ref[0] != ':')
		return -1;
	size_end = strchr(ref + 1, ':');
	type_end = size_end ? strchr(size_end + 1, ':') : NULL;
	if (!type_end || !type_end[1] || strlen(type_end + 1) >= len)
		return -1;
	snprintf(desc, len, "%s", type_end + 1);
	return 0;
}

int ccm_keyring_add(const char *desc, const uint8_t *key, size_t key_len)
{
	key_serial_t id;

	id = add_key(CCM_KEY_TYPE, desc, key, key_len, KEY_SPEC_USER_KEYRING);
	if (id < 0) {
		ccm_err("cannot add key %s to the user keyring: %s", desc,
			strerror(errno));
		return CCM_EXIT_IO;
	}
	/*
	 * request_key() searches the thread, process and session keyrings;
	 * @u is only reached through a session keyring that links it (not
	 * so under every service manager).  A link from our own thread
	 * keyring, gone when we exit, makes the table load find the key.
	 */
	if (keyctl_link(id, KEY_SPEC_THREAD_KEYRING) < 0)
		ccm_warn("cannot link key %s into the thread keyring: %s",
			 desc, strerror(errno));
	return CCM_EXIT_OK;
}

int ccm_keyring_drop(const char *desc)
{
	long id = keyctl_search(KEY_SPEC_USER_KEYRING, CCM_KEY_TYPE, desc, 0);

	if (id < 0 && (errno == ENOKEY || errno == EKEYREVOKED ||
		       errno == EKEYEXPIRED))
		return CCM_EXIT_OK;
	if (id < 0 || keyctl_unlink((key_serial_t)id,
				    KEY_SPEC_USER_KEYRING) < 0) {
		ccm_err("cannot remove key %s from the user keyring: %s", desc,
			strerror(errno));
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

int ccm_keyring_link(const char *desc)
{
	long id = keyctl_search(KEY_SPEC_USER_KEYRING, CCM_KEY_TYPE, desc, 0);

	if (id < 0 && (errno == ENOKEY || errno == EKEYREVOKED ||
		       errno == EKEYEXPIRED))
		return 1;
	if (id < 0 || keyctl_link((key_serial_t)id,
				  KEY_SPEC_THREAD_KEYRING) < 0) {
		ccm_err("cannot find key %s in the user keyring: %s", desc,
			strerror(errno));
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

void ccm_dm_init(void)
{
	/* No udev (the test VM): libdevmapper creates the nodes itself. */
	if (getenv("DM_DISABLE_UDEV"))
		dm_udev_set_sync_support(0);
}

static struct dm_task *dm_task_for(int type, const char *name,
				   const char *uuid)
{
	struct dm_task *dmt = dm_task_create(type);

	if (!dmt) {
		ccm_err("device-mapper: cannot create a task (is dm_mod loaded?)");
		return NULL;
	}
	if ((name && !dm_task_set_name(dmt, name)) ||
	    (uuid && !dm_task_set_uuid(dmt, uuid))) {
		ccm_err("device-mapper: bad device name or uuid");
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/* Run @dmt; with @udev, under a udev cookie (with @flags) so the node is
 * created. */
static bool dm_run_flags(struct dm_task *dmt, bool udev, uint16_t flags)
{
	uint32_t cookie = 0;
	bool ok;

	if (udev && !dm_task_set_cookie(dmt, &cookie, flags))
		return false;
	ok = dm_task_run(dmt);
	if (udev)
		dm_udev_wait(cookie);
	return ok;
}

static bool dm_run(struct dm_task *dmt, bool udev)
{
	return dm_run_flags(dmt, udev, 0);
}

int ccm_dm_exists(const char *name, const char *uuid, char *found,
		  size_t found_len)
{
	struct dm_task *dmt;
	struct dm_info info;
	int ret = -1;

	dmt = dm_task_for(DM_DEVICE_INFO, uuid ? NULL : name, uuid);
	if (!dmt)
		return -1;
	if (dm_run(dmt, false) && dm_task_get_info(dmt, &info)) {
		ret = info.exists ? 1 : 0;
		if (ret && found)
			snprintf(found, found_len, "%s",
				 dm_task_get_name(dmt));
	}
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_create(const char *name, const char *uuid, uint64_t sectors,
		  const char *type, const char *params, bool read_only)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_CREATE, name, uuid);
	int ret = CCM_EXIT_IO;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_task_add_target(dmt, 0, sectors, type, params) ||
	    (read_only && !dm_task_set_ro(dmt)) ||
	    !dm_task_secure_data(dmt)) {
		ccm_err("device-mapper: cannot prepare the table");
	} else if (!dm_run(dmt, true)) {
		ccm_err("device-mapper: cannot create %s (the kernel log has the target's reason)",
			name);
	} else {
		ret = CCM_EXIT_OK;
	}
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_table(const char *name, struct ccm_dm_table *t)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_TABLE, name, NULL);
	uint64_t start, len;
	char *type, *params;
	struct dm_info info;
	void *next = NULL;
	int ret = CCM_EXIT_IO;

	memset(t, 0, sizeof(*t));
	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_run(dmt, false) || !dm_task_get_info(dmt, &info)) {
		ccm_err("device-mapper: cannot read the table of %s", name);
		goto out;
	}
	if (!info.exists) {
		ccm_err("no device-mapper device named %s", name);
		ret = CCM_EXIT_BADDEV;
		goto out;
	}
	t->open_count = info.open_count;
	t->read_only = info.read_only;
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type,
					  &params);
		if (!type)
			break;
		if (!t->targets++) {
			snprintf(t->type, sizeof(t->type), "%s", type);
			t->params = strdup(params ? params : "");
			if (!t->params) {
				ccm_err("out of memory");
				goto out;
			}
		}
		t->sectors = start + len;
	} while (next);
	ret = CCM_EXIT_OK;
out:
	dm_task_destroy(dmt);
	return ret;
}

void ccm_dm_table_free(struct ccm_dm_table *t)
{
	free(t->params);
	t->params = NULL;
}

int ccm_dm_remove(const char *name)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_REMOVE, name, NULL);
	int ret = CCM_EXIT_OK;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_task_retry_remove(dmt) || !dm_run(dmt, true)) {
		ccm_err("device-mapper: cannot remove %s", name);
		ret = CCM_EXIT_IO;
	}
	dm_task_destroy(dmt);
	return ret;
}

/* ---- live move ---- */

static void info_fill(struct dm_task *dmt, const struct dm_info *di,
		      struct ccm_dm_info *i)
{
	const char *s;

	i->exists = di->exists;
	if (!di->exists)
		return;
	i->suspended = di->suspended;
	i->live_table = di->live_table;
	i->inactive_table = di->inactive_table;
	i->read_only = di->read_only;
	i->open_count = di->open_count;
	i->event_nr = di->event_nr;
	i->major = di->major;
	i->minor = di->minor;
	s = dm_task_get_name(dmt);
	snprintf(i->name, sizeof(i->name), "%s", s ? s : "");
	s = dm_task_get_uuid(dmt);
	snprintf(i->uuid, sizeof(i->uuid), "%s", s ? s : "");
}

int ccm_dm_info(const char *name, unsigned int major, unsigned int minor,
		struct ccm_dm_info *i)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_INFO, name, NULL);
	struct dm_info di;
	int ret = CCM_EXIT_IO;

	memset(i, 0, sizeof(*i));
	if (!dmt)
		return CCM_EXIT_IO;
	if (!name && !dm_task_set_major_minor(dmt, (int)major, (int)minor, 0)) {
		ccm_err("device-mapper: bad device number %u:%u", major, minor);
		goto out;
	}
	if (!dm_run(dmt, false) || !dm_task_get_info(dmt, &di)) {
		if (name)
			ccm_err("device-mapper: cannot get the state of %s",
				name);
		else
			ccm_err("device-mapper: cannot get the state of %u:%u",
				major, minor);
		goto out;
	}
	info_fill(dmt, &di, i);
	ret = CCM_EXIT_OK;
out:
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_lines_add(struct ccm_dm_lines *l, uint64_t start, uint64_t len,
		     const char *type, const char *params)
{
	struct ccm_dm_line *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	l->v = v;
	v += l->n;
	v->params = strdup(params ? params : "");
	if (!v->params)
		return -1;
	v->start = start;
	v->len = len;
	snprintf(v->type, sizeof(v->type), "%s", type);
	l->n++;
	return 0;
}

void ccm_dm_lines_free(struct ccm_dm_lines *l)
{
	unsigned int k;

	for (k = 0; k < l->n; k++)
		free(l->v[k].params);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

uint64_t ccm_dm_lines_sectors(const struct ccm_dm_lines *l)
{
	return l->n ? l->v[l->n - 1].start + l->v[l->n - 1].len : 0;
}

bool ccm_dm_lines_equal(const struct ccm_dm_lines *a,
			const struct ccm_dm_lines *b)
{
	unsigned int k;

	if (a->n != b->n)
		return false;
	for (k = 0; k < a->n; k++)
		if (a->v[k].start != b->v[k].start ||
		    a->v[k].len != b->v[k].len ||
		    strcmp(a->v[k].type, b->v[k].type) ||
		    strcmp(a->v[k].params, b->v[k].params))
			return false;
	return true;
}

void ccm_dm_lines_print(const struct ccm_dm_lines *l, const char *indent,
			FILE *f)
{
	unsigned int k;

	for (k = 0; k < l->n; k++)
		fprintf(f, "%s%" PRIu64 " %" PRIu64 " %s%s%s\n", indent,
			l->v[k].start, l->v[k].len, l->v[k].type,
			l->v[k].params[0] ? " " : "", l->v[k].params);
}

int ccm_dm_lines_get(const char *name, bool status, struct ccm_dm_lines *l)
{
	struct dm_task *dmt;
	uint64_t start, len;
	char *type, *params;
	struct dm_info info;
	void *next = NULL;
	int ret = CCM_EXIT_IO;

	memset(l, 0, sizeof(*l));
	dmt = dm_task_for(status ? DM_DEVICE_STATUS : DM_DEVICE_TABLE, name,
			  NULL);
	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_task_secure_data(dmt) || !dm_run(dmt, false) ||
	    !dm_task_get_info(dmt, &info)) {
		ccm_err("device-mapper: cannot read the %s of %s",
			status ? "status" : "table", name);
		goto out;
	}
	if (!info.exists) {
		ccm_err("no device-mapper device named %s", name);
		ret = CCM_EXIT_BADDEV;
		goto out;
	}
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type,
					  &params);
		if (!type)
			break;
		if (ccm_dm_lines_add(l, start, len, type, params)) {
			ccm_err("out of memory");
			ccm_dm_lines_free(l);
			goto out;
		}
	} while (next);
	ret = CCM_EXIT_OK;
out:
	dm_task_destroy(dmt);
	return ret;
}

static bool add_lines(struct dm_task *dmt, const struct ccm_dm_lines *l)
{
	unsigned int k;

	for (k = 0; k < l->n; k++)
		if (!dm_task_add_target(dmt, l->v[k].start, l->v[k].len,
					l->v[k].type, l->v[k].params))
			return false;
	return dm_task_secure_data(dmt);
}

int ccm_dm_create_lines(const char *name, const char *uuid,
			const struct ccm_dm_lines *l, bool hidden)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_CREATE, name, uuid);
	/* As LVM's private layers: no blkid scan, no /dev/disk/by-* links
	 * (the hidden copy of a table shows the same filesystem UUID). */
	uint16_t flags = hidden ? DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG |
				  DM_UDEV_DISABLE_DISK_RULES_FLAG |
				  DM_UDEV_DISABLE_OTHER_RULES_FLAG : 0;
	int ret = CCM_EXIT_IO;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!add_lines(dmt, l))
		ccm_err("device-mapper: cannot prepare the table of %s", name);
	else if (!dm_run_flags(dmt, true, flags))
		ccm_err("device-mapper: cannot create %s (the kernel log has the target's reason)",
			name);
	else
		ret = CCM_EXIT_OK;
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_reload(const char *name, const struct ccm_dm_lines *l)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_RELOAD, name, NULL);
	int ret = CCM_EXIT_IO;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!add_lines(dmt, l))
		ccm_err("device-mapper: cannot prepare the table of %s", name);
	else if (!dm_run(dmt, false))
		ccm_err("device-mapper: the kernel refused the new table of %s (its log, dmesg, says why)",
			name);
	else
		ret = CCM_EXIT_OK;
	dm_task_destroy(dmt);
	return ret;
}

static int simple_task(int type, const char *name, bool udev,
		       const char *what)
{
	struct dm_task *dmt = dm_task_for(type, name, NULL);
	int ret = CCM_EXIT_OK;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_run(dmt, udev)) {
		ccm_err("device-mapper: cannot %s %s", what, name);
		ret = CCM_EXIT_IO;
	}
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_suspend(const char *name)
{
	return simple_task(DM_DEVICE_SUSPEND, name, false, "suspend");
}

int ccm_dm_resume(const char *name)
{
	return simple_task(DM_DEVICE_RESUME, name, true, "resume");
}

int ccm_dm_clear(const char *name)
{
	return simple_task(DM_DEVICE_CLEAR, name, false,
			   "drop the inactive table of");
}

int ccm_dm_message(const char *name, const char *msg)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_TARGET_MSG, name, NULL);
	int ret = CCM_EXIT_IO;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg))
		ccm_err("device-mapper: cannot prepare the message");
	else if (!dm_run(dmt, false))
		ccm_err("device-mapper: %s refused the message \"%s\"", name,
			msg);
	else
		ret = CCM_EXIT_OK;
	dm_task_destroy(dmt);
	return ret;
}

/* libdevmapper logs a failed ioctl as an error: not wanted for EINTR. */
static void quiet_log(int level, const char *file, int line, int dm_errno,
		      const char *f, ...)
{
	(void)level;
	(void)file;
	(void)line;
	(void)dm_errno;
	(void)f;
}

int ccm_dm_wait_event(const char *name, uint32_t event_nr)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_WAITEVENT, name, NULL);
	int ret = CCM_EXIT_OK, err;
	bool ok;

	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_task_set_event_nr(dmt, event_nr)) {
		dm_task_destroy(dmt);
		return CCM_EXIT_IO;
	}
	dm_log_with_errno_init(quiet_log);
	errno = 0;
	ok = dm_task_run(dmt);
	err = dm_task_get_errno(dmt);
	if (!err)
		err = errno;
	dm_log_with_errno_init(NULL);
	if (!ok) {
		if (err == EINTR) {
			ret = 1;
		} else {
			ccm_err("device-mapper: cannot wait for an event of %s: %s",
				name, strerror(err ? err : EIO));
			ret = CCM_EXIT_IO;
		}
	}
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_target_version(const char *type, unsigned int v[3])
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_LIST_VERSIONS, NULL, NULL);
	struct dm_versions *t, *last;
	int ret = -1;

	if (!dmt)
		return -1;
	if (!dm_run(dmt, false) || !(t = dm_task_get_versions(dmt))) {
		ccm_err("device-mapper: cannot list the targets");
		goto out;
	}
	ret = 0;
	do {
		last = t;
		if (!strcmp(t->name, type)) {
			v[0] = t->version[0];
			v[1] = t->version[1];
			v[2] = t->version[2];
			ret = 1;
			break;
		}
		t = (struct dm_versions *)((char *)t + t->next);
	} while (last != t);
out:
	dm_task_destroy(dmt);
	return ret;
}

int ccm_dm_deps(const char *name, dev_t *devs, unsigned int max,
		unsigned int *n)
{
	struct dm_task *dmt = dm_task_for(DM_DEVICE_DEPS, name, NULL);
	struct dm_deps *d;
	unsigned int k;
	int ret = CCM_EXIT_IO;

	*n = 0;
	if (!dmt)
		return CCM_EXIT_IO;
	if (!dm_run(dmt, false) || !(d = dm_task_get_deps(dmt))) {
		ccm_err("device-mapper: cannot list the devices under %s",
			name);
		goto out;
	}
	/* The kernel's huge_encode_dev(): 12-bit major, 20-bit minor. */
	for (k = 0; k < d->count && k < max; k++) {
		uint64_t x = d->device[k];

		devs[k] = makedev((x >> 8) & 0xfff,
				  (x & 0xff) | ((x >> 12) & 0xfff00));
	}
	*n = k;
	ret = CCM_EXIT_OK;
out:
	dm_task_destroy(dmt);
	return ret;
}

bool ccm_dm_is_dm_major(unsigned int major)
{
	return dm_is_dm_major(major);
}
