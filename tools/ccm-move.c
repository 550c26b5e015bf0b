// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: live move of a device-mapper device onto another disk, and
 * the commands that act on a running move (status, pause, resume, rate).
 *
 * For a visible device <name> (the one the filesystem is on):
 *   <name>          during the move:
 *                     0 <sectors> ccm-mirror <old> <secondary> <region> [opts]
 *   <name>-ccm-old  hidden: <name>'s original table (every line), dm uuid
 *                   CCM-OLD-<uuid of <name>, or its name>
 *   <name>-ccm-new  hidden, plain moves only, when the new disk is larger:
 *                   a linear slice of it of exactly <sectors> (the target
 *                   needs equal sizes), dm uuid CCM-NEW-<...>
 *   <name>-ccm-meta hidden, plain moves only, when the new disk has room
 *                   for it after <sectors> (1 MiB aligned): the metadata
 *                   device that keeps the copy progress across a reboot,
 *                   dm uuid CCM-META-<...>
 * Encrypted moves format the whole new disk as ccm with a plaintext
 * capacity of exactly <sectors>; the kernel keeps the progress in its
 * header.  Every mirror gets "id <FNV-1a 64 of the dm uuid or name>":
 * running the same move again after a reboot finds its copy state (on the
 * metadata area or the header) and resumes instead of starting over.
 *
 * Start: (format, or zero the metadata area,) create the hidden devices,
 * reload <name>, suspend, resume.  Ready: reload <name> to "linear <new>
 * 0" or "ccm <new> <key reference>", suspend, check that the live mirror
 * is still ready (else drop the new table and resume: go on waiting),
 * resume, clear the copy state, remove the hidden devices.  Abort (at any
 * time, and when the secondary fails): reload <name> to the hidden
 * device's table, suspend, resume, clear the copy state, remove the
 * hidden devices: every write always reached the old disk, so nothing is
 * lost.  Clearing the copy state at the end keeps a later move of the
 * same device onto the same disk from resuming from stale progress.  SIGINT/SIGTERM are blocked during
 * every table change; they only interrupt the wait for events.  Table
 * changes of one device are serialised between ccm-mirror processes by
 * an flock on /run/lock/ccm-mirror-<name>.lock, and each re-reads the
 * state under the lock (one process may watch while another aborts).
 *
 * What a command finds (detect()):
 *   ST_NONE     no move
 *   ST_MIRROR   <name> is a ccm-mirror over our <name>-ccm-old
 *   ST_HALF     <name>-ccm-old exists, <name> still has the same table:
 *               a start interrupted before the switch
 *   ST_PIVOTED  hidden devices left, <name> has another table: a pivot
 *               interrupted before the clean-up
 *   ST_FOREIGN  <name> is a ccm-mirror mapping not made by this tool
 *
 * Encrypted moves (--encrypt --key-file F) need ccm-mirror >= 1.1.0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#include "ccm-cmd.h"
#include "ccm-dm.h"
#include "ccm-mstatus.h"

#define OLD_SUFFIX		"-ccm-old"
#define NEW_SUFFIX		"-ccm-new"
#define META_SUFFIX		"-ccm-meta"
#define OLD_UUID_PREFIX		"CCM-OLD-"
#define NEW_UUID_PREFIX		"CCM-NEW-"
#define META_UUID_PREFIX	"CCM-META-"
#define MIB			(1ULL << 20)
#define LIVENESS_S		2.0	/* longest wait without a look */
#define LOCK_DIR		"/run/lock"
#define MAX_DEPS		64
#define MAX_DEPTH		16

/* The first ccm-mirror target version with encrypted secondaries. */
static const unsigned int encrypt_min_version[3] = { 1, 1, 0 };

/* Targets whose constructor reads or claims state that the live copy
 * keeps changing: a second instance of their table is not safe. */
static const char *const stateful_targets[] = {
	"thin-pool", "thin", "cache", "writecache", "era", "clone",
	"snapshot", "snapshot-origin", "snapshot-merge", "raid", "mirror",
	"integrity", "multipath", "log-writes", "vdo", "zoned", "ccm",
	"ccm-mirror",
};

enum mode { MODE_PLAIN, MODE_ENCRYPTED };
enum found { ST_NONE, ST_MIRROR, ST_HALF, ST_PIVOTED, ST_FOREIGN };
enum watch_end { W_READY, W_FAILED, W_INTERRUPTED, W_GONE, W_ERROR };

struct mv {
	const struct ccm_opts *o;
	enum mode mode;
	/* the visible device */
	char name[CCM_DM_NAME_LEN];
	struct ccm_dm_info vis;
	struct ccm_dm_lines lines;	/* its live table */
	dev_t vis_dev;
	uint64_t sectors;
	unsigned int vis_lbs;
	/* hidden devices */
	char old_name[CCM_DM_NAME_LEN], new_name[CCM_DM_NAME_LEN];
	char meta_name[CCM_DM_NAME_LEN];
	char old_uuid[CCM_DM_UUID_LEN], new_uuid[CCM_DM_UUID_LEN];
	char meta_uuid[CCM_DM_UUID_LEN];
	struct ccm_dm_info old, slice, meta;
	bool old_ours, slice_ours, meta_ours;
	enum found st;
	/* identity and copy state */
	uint64_t id;
	uint64_t region_bytes;		/* of this move */
	bool use_meta;			/* plain: persistent, metadata device */
	bool meta_fits;			/* the new device has room for it */
	uint64_t meta_off, meta_bytes;	/* on the new device */
	bool resume;			/* the new device holds our progress */
	uint64_t resume_carried;	/* regions it records as copied */
	uint64_t resume_total;
	/* encrypted moves */
	struct ccm_key key;
	bool have_key;
	uint32_t enc_bs;		/* data block size of the format */
	uint64_t enc_min_bytes;		/* smallest new device that fits */
	struct ccm_sb sb;		/* the new device's, once known */
	bool have_sb;
	char key_desc[CCM_KEY_DESC_MAX];
	char key_ref[CCM_KEY_REF_MAX];
	bool key_added;
	/* the running mirror (ST_MIRROR) */
	struct ccm_mtable mt;
	dev_t target;			/* the new disk itself */
	bool have_target;
	/* the new device (a start) */
	const char *new_path;
	dev_t new_dev;
	uint64_t new_bytes;
	unsigned int new_lbs;
	bool use_slice;
	/* output */
	bool bar;			/* progress bar on stderr */
	bool bar_shown;
	struct timespec t0;
	struct ccm_speed speed;
	struct ccm_prog last;
	bool have_last;
	char released[256];		/* the old disks, for the summary */
	char removed[3 * CCM_DM_NAME_LEN + 8];	/* hidden devices removed */
	int lock_fd;
};

/* ---- messages ---- */

/* snprintf where truncation is acceptable (names, descriptions). */
__attribute__((format(printf, 3, 4)))
static void bprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void bar_end(struct mv *m)
{
	if (m->bar_shown) {
		fputc('\n', stderr);
		m->bar_shown = false;
	}
}

/* Human messages: stdout, or stderr with --json (stdout is JSON only). */
__attribute__((format(printf, 2, 3)))
static void say(struct mv *m, const char *fmt, ...)
{
	FILE *f = m->o->json ? stderr : stdout;
	va_list ap;

	bar_end(m);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double elapsed_s(const struct mv *m)
{
	return now_s() - ((double)m->t0.tv_sec + (double)m->t0.tv_nsec / 1e9);
}

/* "/dev/loop1 (7:1)" or "/dev/mapper/<name> (253:4)" */
static void dev_desc(dev_t d, char *buf, size_t len)
{
	char link[128], target[256];
	struct ccm_dm_info i;
	const char *base;
	ssize_t n;

	if (ccm_dm_is_dm_major(major(d)) &&
	    !ccm_dm_info(NULL, major(d), minor(d), &i) && i.exists) {
		snprintf(buf, len, "/dev/mapper/%s (%u:%u)", i.name, major(d),
			 minor(d));
		return;
	}
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(d),
		 minor(d));
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		base = strrchr(target, '/');
		bprintf(buf, len, "/dev/%s (%u:%u)", base ? base + 1 : target,
			major(d), minor(d));
	} else {
		snprintf(buf, len, "%u:%u", major(d), minor(d));
	}
}

static int sysfs_uint(dev_t d, const char *rel, unsigned long *v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(d),
		 minor(d), rel);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fscanf(f, "%lu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* ---- serialising table changes between ccm-mirror processes ---- */

static void mv_lock(struct mv *m)
{
	char path[sizeof(LOCK_DIR) + CCM_DM_NAME_LEN + 32];

	if (m->lock_fd >= 0)
		return;
	bprintf(path, sizeof(path), "%s/ccm-mirror-%s.lock", LOCK_DIR,
		m->name);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock_fd < 0)
		return;		/* no /run/lock: no serialisation */
	while (flock(m->lock_fd, LOCK_EX) && errno == EINTR)
		;
}

static void mv_unlock(struct mv *m)
{
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
}

/* ---- signals: they end the wait for events, never a table change ---- */

static volatile sig_atomic_t g_signal, g_tick;
static sigset_t g_mask, g_oldmask;
static struct sigaction g_old_int, g_old_term, g_old_alrm;
static bool g_installed;

static void on_signal(int sig)
{
	/* One landing between the flag check and the wait is seen at the
	 * next timer tick at the latest. */
	g_signal = sig;
}

static void on_alarm(int sig)
{
	(void)sig;
	g_tick = 1;
}

static void signals_install(double interval)
{
	struct sigaction sa;
	struct itimerval it;

	if (g_installed)
		return;
	sigemptyset(&g_mask);
	sigaddset(&g_mask, SIGINT);
	sigaddset(&g_mask, SIGTERM);
	sigaddset(&g_mask, SIGALRM);
	sigprocmask(SIG_BLOCK, &g_mask, &g_oldmask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_mask = g_mask;
	sa.sa_flags = 0;	/* no SA_RESTART: the wait ioctl returns EINTR */
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &g_old_int);
	sigaction(SIGTERM, &sa, &g_old_term);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, &g_old_alrm);
	/*
	 * A periodic timer ends every wait: for the progress lines, and to
	 * notice within LIVENESS_S a table swapped by another process (an
	 * abort or a switch elsewhere raises no event on the device).
	 */
	if (interval <= 0 || interval > LIVENESS_S)
		interval = LIVENESS_S;
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_sec = (time_t)interval;
	it.it_interval.tv_usec = (suseconds_t)((interval -
		(double)(time_t)interval) * 1e6);
	if (!it.it_interval.tv_sec && it.it_interval.tv_usec < 10000)
		it.it_interval.tv_usec = 10000;
	it.it_value = it.it_interval;
	setitimer(ITIMER_REAL, &it, NULL);
	g_installed = true;
}

static void signals_restore(void)
{
	struct itimerval off;
	struct sigaction ign;

	if (!g_installed)
		return;
	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	alarm(0);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;	/* discards a pending SIGALRM */
	sigaction(SIGALRM, &ign, NULL);
	sigaction(SIGALRM, &g_old_alrm, NULL);
	sigaction(SIGINT, &g_old_int, NULL);
	sigaction(SIGTERM, &g_old_term, NULL);
	sigprocmask(SIG_SETMASK, &g_oldmask, NULL);
	g_installed = false;
}

/* ---- the visible device and its hidden devices ---- */

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static int resolve_visible(struct mv *m, const char *arg)
{
	struct stat st;
	int ret;

	if (strchr(arg, '/')) {
		if (stat(arg, &st)) {
			ccm_err("%s: %s", arg, strerror(errno));
			return errno == ENOENT ? CCM_EXIT_BADDEV : CCM_EXIT_IO;
		}
		if (!S_ISBLK(st.st_mode)) {
			ccm_err("%s is not a block device", arg);
			return CCM_EXIT_BADDEV;
		}
		if (!ccm_dm_is_dm_major(major(st.st_rdev))) {
			ccm_err("%s is not a device-mapper device (%u:%u): ccm-mirror moves device-mapper devices (LVM volumes, dmsetup mappings); map it with dm-linear first",
				arg, major(st.st_rdev), minor(st.st_rdev));
			return CCM_EXIT_BADDEV;
		}
		ret = ccm_dm_info(NULL, major(st.st_rdev), minor(st.st_rdev),
				  &m->vis);
	} else {
		ret = ccm_dm_info(arg, 0, 0, &m->vis);
	}
	if (ret)
		return ret;
	if (!m->vis.exists) {
		ccm_err("%s is not a device-mapper device (no such mapping; see dmsetup ls)",
			arg);
		return CCM_EXIT_BADDEV;
	}
	snprintf(m->name, sizeof(m->name), "%s", m->vis.name);
	m->vis_dev = makedev(m->vis.major, m->vis.minor);
	if (strlen(m->name) + strlen(META_SUFFIX) >= CCM_DM_NAME_LEN) {
		ccm_err("the name %s is too long to add \"%s\" to it", m->name,
			META_SUFFIX);
		return CCM_EXIT_REFUSED;
	}
	bprintf(m->old_name, sizeof(m->old_name), "%s%s", m->name,
		OLD_SUFFIX);
	bprintf(m->new_name, sizeof(m->new_name), "%s%s", m->name,
		NEW_SUFFIX);
	bprintf(m->old_uuid, sizeof(m->old_uuid), "%s%s", OLD_UUID_PREFIX,
		m->vis.uuid[0] ? m->vis.uuid : m->name);
	bprintf(m->new_uuid, sizeof(m->new_uuid), "%s%s", NEW_UUID_PREFIX,
		m->vis.uuid[0] ? m->vis.uuid : m->name);
	bprintf(m->meta_name, sizeof(m->meta_name), "%s%s", m->name,
		META_SUFFIX);
	bprintf(m->meta_uuid, sizeof(m->meta_uuid), "%s%s", META_UUID_PREFIX,
		m->vis.uuid[0] ? m->vis.uuid : m->name);
	m->id = ccm_move_id(m->vis.uuid[0] ? m->vis.uuid : m->name);
	return CCM_EXIT_OK;
}

/* The new disk under the slice: its table must be "linear M:m 0". */
static int slice_target(struct mv *m, dev_t *out)
{
	struct ccm_dm_lines l;
	char dev[32];
	unsigned long long off;
	int ret, n = 0;

	ret = ccm_dm_lines_get(m->new_name, false, &l);
	if (ret)
		return ret;
	ret = CCM_EXIT_REFUSED;
	if (l.n == 1 && !strcmp(l.v[0].type, "linear") &&
	    sscanf(l.v[0].params, "%31s %llu%n", dev, &off, &n) == 2 &&
	    !l.v[0].params[n] && !off && !ccm_devno_parse(dev, out))
		ret = CCM_EXIT_OK;
	else
		ccm_err("%s does not have the table of a ccm-mirror slice",
			m->new_name);
	ccm_dm_lines_free(&l);
	return ret;
}

static int detect(struct mv *m)
{
	struct ccm_dm_lines old_lines;
	int ret;

	ccm_dm_lines_free(&m->lines);
	m->have_target = false;
	ret = ccm_dm_info(m->name, 0, 0, &m->vis);
	if (!ret && !m->vis.exists) {
		ccm_err("%s disappeared", m->name);
		ret = CCM_EXIT_BADDEV;
	}
	if (!ret)
		ret = ccm_dm_lines_get(m->name, false, &m->lines);
	if (!ret)
		ret = ccm_dm_info(m->old_name, 0, 0, &m->old);
	if (!ret)
		ret = ccm_dm_info(m->new_name, 0, 0, &m->slice);
	if (!ret)
		ret = ccm_dm_info(m->meta_name, 0, 0, &m->meta);
	if (ret)
		return ret;
	m->sectors = ccm_dm_lines_sectors(&m->lines);
	m->old_ours = m->old.exists && has_prefix(m->old.uuid, OLD_UUID_PREFIX);
	m->slice_ours = m->slice.exists &&
			has_prefix(m->slice.uuid, NEW_UUID_PREFIX);
	m->meta_ours = m->meta.exists &&
		       has_prefix(m->meta.uuid, META_UUID_PREFIX);
	if ((m->old.exists && !m->old_ours) ||
	    (m->slice.exists && !m->slice_ours) ||
	    (m->meta.exists && !m->meta_ours)) {
		const struct ccm_dm_info *i = m->old.exists && !m->old_ours ?
			&m->old : m->slice.exists && !m->slice_ours ?
			&m->slice : &m->meta;

		ccm_err("a device named %s exists and was not made by ccm-mirror move (its dm uuid is \"%s\"); rename or remove it",
			i->name, i->uuid);
		return CCM_EXIT_REFUSED;
	}
	if (m->lines.n == 1 && !strcmp(m->lines.v[0].type, CCM_MIRROR_TARGET)) {
		if (ccm_mtable_parse(m->lines.v[0].params, &m->mt) ||
		    !m->old_ours ||
		    m->mt.primary != makedev(m->old.major, m->old.minor)) {
			m->st = ST_FOREIGN;
			return CCM_EXIT_OK;
		}
		m->st = ST_MIRROR;
		m->mode = m->mt.has_key ? MODE_ENCRYPTED : MODE_PLAIN;
		if (m->mt.has_key)
			snprintf(m->key_ref, sizeof(m->key_ref), "%s",
				 m->mt.key_ref);
		m->target = m->mt.secondary;
		if (m->slice_ours && m->mt.secondary ==
		    makedev(m->slice.major, m->slice.minor)) {
			ret = slice_target(m, &m->target);
			if (ret)
				return ret;
		}
		m->have_target = true;
		return CCM_EXIT_OK;
	}
	if (m->old_ours) {
		ret = ccm_dm_lines_get(m->old_name, false, &old_lines);
		if (ret)
			return ret;
		m->st = ccm_dm_lines_equal(&old_lines, &m->lines) ? ST_HALF :
								      ST_PIVOTED;
		ccm_dm_lines_free(&old_lines);
		return CCM_EXIT_OK;
	}
	m->st = m->slice_ours || m->meta_ours ? ST_PIVOTED : ST_NONE;
	return CCM_EXIT_OK;
}

/* Remove the hidden devices that exist. */
static int remove_hidden(struct mv *m)
{
	int ret = CCM_EXIT_OK;

	if (m->old.exists && ccm_dm_remove(m->old_name))
		ret = CCM_EXIT_IO;
	else
		m->old.exists = false;
	if (m->slice.exists && ccm_dm_remove(m->new_name))
		ret = CCM_EXIT_IO;
	else
		m->slice.exists = false;
	if (m->meta.exists && ccm_dm_remove(m->meta_name))
		ret = CCM_EXIT_IO;
	else
		m->meta.exists = false;
	return ret;
}

/* "a", "a and b", "a, b and c" */
static void name_list(char *buf, size_t len, const char *const *v,
		      unsigned int n)
{
	unsigned int k;

	buf[0] = 0;
	for (k = 0; k < n; k++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 !k ? "" : k == n - 1 ? " and " : ", ", v[k]);
}

static void hidden_names(const struct mv *m, char *buf, size_t len)
{
	const char *v[3];
	unsigned int n = 0;

	if (m->old.exists)
		v[n++] = m->old_name;
	if (m->slice.exists)
		v[n++] = m->new_name;
	if (m->meta.exists)
		v[n++] = m->meta_name;
	name_list(buf, len, v, n);
}

/*
 * A table load or suspend left by an interrupted run: drop the inactive
 * table and resume, so that the live table (always a consistent one) is
 * what counts.
 */
static int repair(struct mv *m)
{
	int ret = CCM_EXIT_OK;

	if (!m->vis.inactive_table && !m->vis.suspended)
		return CCM_EXIT_OK;
	if (m->o->dry_run) {
		say(m, "would first drop the table load and resume %s (left by an interrupted ccm-mirror)",
		    m->name);
		return CCM_EXIT_OK;
	}
	ccm_warn("%s has %s left by an interrupted ccm-mirror: %s", m->name,
		 m->vis.inactive_table ? "a table load" : "been suspended",
		 m->vis.inactive_table ? "dropping it" : "resuming it");
	if (m->vis.inactive_table)
		ret = ccm_dm_clear(m->name);
	if (!ret && m->vis.suspended)
		ret = ccm_dm_resume(m->name);
	if (!ret)
		ret = detect(m);
	return ret;
}

/* The whole disk of a partition, or @d itself. */
static dev_t whole_disk(dev_t d)
{
	char path[160];
	unsigned int ma, mi;
	FILE *f;
	dev_t w = d;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition",
		 major(d), minor(d));
	if (access(path, F_OK))
		return d;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(d),
		 minor(d));
	f = fopen(path, "re");
	if (f && fscanf(f, "%u:%u", &ma, &mi) == 2)
		w = makedev(ma, mi);
	if (f)
		fclose(f);
	return w;
}

/* Same device, or a disk and one of its partitions. */
static bool overlaps(dev_t a, dev_t b)
{
	return a == b || whole_disk(a) == b || whole_disk(b) == a;
}

/* Does the table of dm device @name use @dev (or a disk or partition
 * overlapping it), directly or further down? */
static int depends_on(const char *name, dev_t dev, int depth, bool *yes)
{
	dev_t deps[MAX_DEPS];
	struct ccm_dm_info i;
	unsigned int n, k;
	int ret;

	if (depth > MAX_DEPTH)
		return CCM_EXIT_OK;
	ret = ccm_dm_deps(name, deps, MAX_DEPS, &n);
	for (k = 0; !ret && !*yes && k < n; k++) {
		if (overlaps(deps[k], dev)) {
			*yes = true;
			break;
		}
		if (!ccm_dm_is_dm_major(major(deps[k])))
			continue;
		ret = ccm_dm_info(NULL, major(deps[k]), minor(deps[k]), &i);
		if (!ret && i.exists)
			ret = depends_on(i.name, dev, depth + 1, yes);
	}
	return ret;
}

/* "loop0, loop3": the devices the table of @name uses. */
static void deps_desc(const char *name, char *buf, size_t len)
{
	dev_t deps[MAX_DEPS];
	unsigned int n, k;
	char d[160];

	buf[0] = 0;
	if (ccm_dm_deps(name, deps, MAX_DEPS, &n))
		return;
	for (k = 0; k < n; k++) {
		dev_desc(deps[k], d, sizeof(d));
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 k ? ", " : "", d);
	}
}

/* ---- the tables ---- */

static void devno_str(dev_t d, char *buf, size_t len)
{
	snprintf(buf, len, "%u:%u", major(d), minor(d));
}

static int one_line(struct ccm_dm_lines *l, uint64_t sectors,
		    const char *type, const char *params)
{
	memset(l, 0, sizeof(*l));
	if (ccm_dm_lines_add(l, 0, sectors, type, params)) {
		ccm_err("out of memory");
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

/* The mirror: @old, @secondary and @meta (NULL: none) as the table
 * names them; options in the order the kernel prints them. */
static int mirror_line(struct mv *m, const char *old, const char *secondary,
		       const char *meta, struct ccm_dm_lines *l)
{
	char params[768], opts[512] = "";
	unsigned int n = 2;		/* id */

	if (m->o->rate_set && m->o->rate_mib)
		n += 2;
	if (m->o->parallel)
		n += 2;
	if (meta)
		n += 2;
	if (m->mode == MODE_ENCRYPTED)
		n += 2;
	snprintf(opts, sizeof(opts), " %u", n);
	if (m->o->rate_set && m->o->rate_mib)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " rate %u", m->o->rate_mib);
	if (m->o->parallel)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " parallel %u", m->o->parallel);
	if (meta)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " metadata %s", meta);
	snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
		 " id %" PRIx64, m->id);
	if (m->mode == MODE_ENCRYPTED)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " key %s", m->key_ref);
	snprintf(params, sizeof(params), "%s %s %" PRIu64 "%s", old,
		 secondary, m->region_bytes / 512, opts);
	return one_line(l, m->sectors, CCM_MIRROR_TARGET, params);
}

/* What <name> becomes at the pivot. */
static int final_line(struct mv *m, dev_t target, struct ccm_dm_lines *l)
{
	char params[CCM_KEY_REF_MAX + 48], d[32];

	devno_str(target, d, sizeof(d));
	if (m->mode == MODE_ENCRYPTED) {
		snprintf(params, sizeof(params), "%s %s", d, m->key_ref);
		return one_line(l, m->sectors, "ccm", params);
	}
	snprintf(params, sizeof(params), "%s 0", d);
	return one_line(l, m->sectors, "linear", params);
}

/* <name>-ccm-new: the first <sectors> of the new device. */
static int slice_line(struct mv *m, struct ccm_dm_lines *l)
{
	char params[48], d[32];

	devno_str(m->new_dev, d, sizeof(d));
	snprintf(params, sizeof(params), "%s 0", d);
	return one_line(l, m->sectors, "linear", params);
}

/* <name>-ccm-meta: the metadata area of the new device. */
static int meta_line(struct mv *m, struct ccm_dm_lines *l)
{
	char params[64], d[32];

	devno_str(m->new_dev, d, sizeof(d));
	snprintf(params, sizeof(params), "%s %" PRIu64, d, m->meta_off / 512);
	return one_line(l, m->meta_bytes / 512, "linear", params);
}

/* Is @l the end of a move onto @dev ("linear <dev> 0" or "ccm <dev> ...")? */
static int table_is_final_on(const struct ccm_dm_lines *l, dev_t dev)
{
	char want[40];
	size_t n;

	if (l->n != 1)
		return 0;
	n = (size_t)snprintf(want, sizeof(want), "%u:%u", major(dev),
			     minor(dev));
	if (!strcmp(l->v[0].type, "linear"))
		return !strncmp(l->v[0].params, want, n) &&
		       !strcmp(l->v[0].params + n, " 0");
	if (!strcmp(l->v[0].type, "ccm"))
		return !strncmp(l->v[0].params, want, n) &&
		       l->v[0].params[n] == ' ';
	return 0;
}

/* The device node of @d (devtmpfs name from sysfs): exit code. */
static int dev_path(dev_t d, char *buf, size_t len)
{
	char path[128], line[256];
	struct stat st;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(d),
		 minor(d));
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8))
			continue;
		line[strcspn(line, "\n")] = 0;
		bprintf(buf, len, "/dev/%s", line + 8);
		found = true;
	}
	if (f)
		fclose(f);
	if (!found || stat(buf, &st) || !S_ISBLK(st.st_mode) ||
	    st.st_rdev != d) {
		ccm_err("no device node for %u:%u (looked for %s)", major(d),
			minor(d), found ? buf : "its name in sysfs");
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

/* ---- copy state on the new device ---- */

/*
 * Read the two slots of a copy state area at @off of @d and find the
 * current one.  1 if it belongs to this move (id, size, @region_sectors),
 * with the regions it carries in *@carried; 0 if not (or no valid slot);
 * or an exit code (negated).
 */
static int state_probe(struct mv *m, struct ccm_dev *d, uint64_t off,
		       uint32_t bitmap_bytes, uint64_t region_sectors,
		       struct ccm_slot *s, uint64_t *carried)
{
	size_t bytes = 2 * (CCM_SLOT_HDR_BYTES + 2 * (size_t)bitmap_bytes);
	uint8_t *area;
	int r;

	if (off + bytes > d->size)
		return 0;
	area = malloc(bytes);
	if (!area) {
		ccm_err("out of memory");
		return -CCM_EXIT_IO;
	}
	r = ccm_dev_read(d, area, bytes, off);
	if (r) {
		free(area);
		return -r;
	}
	r = ccm_slot_current(area, bitmap_bytes, s, carried) >= 0 &&
	    s->primary_id == m->id && s->primary_sectors == m->sectors &&
	    s->region_sectors == region_sectors &&
	    s->region_count == ccm_div_round_up(m->sectors, region_sectors);
	free(area);
	return r;
}

static uint32_t meta_bitmap_bytes(uint64_t regions)
{
	return (uint32_t)ccm_round_up(ccm_div_round_up(regions, 8),
				      CCM_ALIGN_BYTES);
}

/* Where a plain move keeps its metadata device, for @region_bytes. */
static void meta_place(struct mv *m, uint64_t region_bytes)
{
	m->meta_off = ccm_round_up(m->sectors * 512, MIB);
	m->meta_bytes = ccm_meta_dev_bytes(ccm_div_round_up(m->sectors * 512,
							    region_bytes));
	m->meta_fits = m->meta_off + m->meta_bytes <= m->new_bytes;
	m->use_meta = m->meta_fits && m->mode == MODE_PLAIN;
}

/* A region size from a slot header, if it is one a move accepts. */
static bool region_ok(const struct mv *m, uint64_t sectors)
{
	char why[128];

	return sectors <= CCM_MAX_REGION_BYTES / 512 &&
	       !ccm_region_check(sectors * 512, why, sizeof(why)) &&
	       sectors * 512 >= m->vis_lbs;
}

/* ---- checks before a start ---- */

static int check_target(struct mv *m, unsigned int v[3])
{
	int r = ccm_dm_target_version(CCM_MIRROR_TARGET, v);

	(void)m;
	if (r < 0)
		return CCM_EXIT_IO;
	if (!r) {
		ccm_err("the ccm-mirror target is not available in this kernel: load the dm-ccm-mirror module (modprobe dm-ccm-mirror, or insmod dm-ccm-mirror.ko)");
		return CCM_EXIT_UNSUPPORTED;
	}
	return CCM_EXIT_OK;
}

static bool version_at_least(const unsigned int v[3],
			     const unsigned int min[3])
{
	unsigned int k;

	for (k = 0; k < 3; k++)
		if (v[k] != min[k])
			return v[k] > min[k];
	return true;
}

static int check_encrypt(struct mv *m, const unsigned int v[3])
{
	unsigned int cv[3];
	int r;

	if (m->mode != MODE_ENCRYPTED)
		return CCM_EXIT_OK;
	if (!version_at_least(v, encrypt_min_version)) {
		ccm_err("--encrypt: not supported by this kernel module: the loaded ccm-mirror target is version %u.%u.%u, encrypted moves need %u.%u.%u or later",
			v[0], v[1], v[2], encrypt_min_version[0],
			encrypt_min_version[1], encrypt_min_version[2]);
		return CCM_EXIT_UNSUPPORTED;
	}
	r = ccm_dm_target_version("ccm", cv);
	if (r < 0)
		return CCM_EXIT_IO;
	if (!r) {
		ccm_err("--encrypt: the ccm target is not available in this kernel (it comes with the dm-ccm-mirror module)");
		return CCM_EXIT_UNSUPPORTED;
	}
	return CCM_EXIT_OK;
}

static int check_visible(struct mv *m)
{
	unsigned long lbs;
	unsigned int k, j;

	if (m->vis.suspended || m->vis.inactive_table) {
		ccm_err("%s is %s: finish what is going on with it first (dmsetup info %s)",
			m->name, m->vis.suspended ? "suspended" :
			"waiting with a loaded inactive table", m->name);
		return CCM_EXIT_REFUSED;
	}
	if (m->vis.read_only) {
		ccm_err("%s is read-only: the mirror needs a read-write device",
			m->name);
		return CCM_EXIT_REFUSED;
	}
	if (!m->lines.n) {
		ccm_err("%s has no table", m->name);
		return CCM_EXIT_BADDEV;
	}
	for (k = 0; k < m->lines.n; k++)
		for (j = 0; j < sizeof(stateful_targets) /
				sizeof(stateful_targets[0]); j++)
			if (!strcmp(m->lines.v[k].type, stateful_targets[j])) {
				ccm_err("%s uses the %s target, which keeps state that a second copy of its table would not see: not supported (move the devices under it instead)",
					m->name, m->lines.v[k].type);
				return CCM_EXIT_REFUSED;
			}
	if (sysfs_uint(m->vis_dev, "queue/logical_block_size", &lbs)) {
		ccm_err("cannot read the logical block size of %s", m->name);
		return CCM_EXIT_IO;
	}
	m->vis_lbs = (unsigned int)lbs;
	return CCM_EXIT_OK;
}

static int stat_new(struct mv *m, const char *path)
{
	struct stat st;

	m->new_path = path;
	if (stat(path, &st)) {
		ccm_err("%s: %s", path, strerror(errno));
		return errno == ENOENT ? CCM_EXIT_BADDEV : CCM_EXIT_IO;
	}
	if (!S_ISBLK(st.st_mode)) {
		ccm_err("%s is not a block device (for an image file, attach it with losetup first)",
			path);
		return CCM_EXIT_BADDEV;
	}
	m->new_dev = st.st_rdev;
	return CCM_EXIT_OK;
}

static int holders(dev_t d, char *buf, size_t len)
{
	char path[128];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders", major(d),
		 minor(d));
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		bprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			n++ ? ", " : "", e->d_name);
	}
	closedir(dir);
	return n;
}

/* A partition of @d in use: its name in @buf, 1; else 0. */
static int partition_in_use(dev_t d, char *buf, size_t len)
{
	char path[128], part[300], held[256];
	struct dirent *e;
	unsigned int ma, mi;
	int fd, busy = 0;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(d),
		 minor(d));
	dir = opendir(path);
	if (!dir)
		return 0;
	while (!busy && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		bprintf(part, sizeof(part), "%s/%s/partition", path, e->d_name);
		if (access(part, F_OK))
			continue;
		bprintf(part, sizeof(part), "%s/%s/dev", path, e->d_name);
		f = fopen(part, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &ma, &mi) == 2) {
			if (holders(makedev(ma, mi), held, sizeof(held)))
				busy = 1;
			bprintf(part, sizeof(part), "/dev/%s", e->d_name);
			fd = busy ? -1 : open(part, O_RDONLY | O_EXCL | O_CLOEXEC);
			if (!busy && fd < 0 && errno == EBUSY)
				busy = 1;
			if (fd >= 0)
				close(fd);
			if (busy)
				bprintf(buf, len, "%s", part);
		}
		fclose(f);
	}
	closedir(dir);
	return busy;
}

/* Encrypted: the format that fits, on the whole new device. */
static int check_new_encrypted(struct mv *m)
{
	uint64_t need = m->sectors * 512, est;
	char why[200], s1[32], s2[32];
	struct ccm_layout l;
	unsigned int k;

	m->use_slice = false;
	m->enc_bs = m->vis_lbs >= 4096 ? 4096 : 512;
	if (m->new_lbs > m->enc_bs) {
		ccm_err("%s has %u-byte logical blocks: an encrypted copy of %s (%u-byte logical blocks) needs %u-byte data blocks, which %s cannot write",
			m->new_path, m->new_lbs, m->name, m->vis_lbs,
			m->enc_bs, m->new_path);
		return CCM_EXIT_BADDEV;
	}
	if (need % m->enc_bs) {
		ccm_err("%s is not a whole number of %u-byte blocks: it cannot be encrypted",
			m->name, m->enc_bs);
		return CCM_EXIT_BADDEV;
	}
	if (!ccm_layout_make(&l, m->new_bytes, m->enc_bs, m->region_bytes,
			     need, why, sizeof(why)))
		return CCM_EXIT_OK;
	/* The smallest device that holds it, for the message. */
	est = CCM_SB_AREA_BYTES + 2 * (CCM_SLOT_HDR_BYTES + 2 *
		(uint64_t)meta_bitmap_bytes(ccm_div_round_up(need,
							     m->region_bytes))) +
	      ccm_div_round_up(need / m->enc_bs, CCM_ENTRIES_PER_META) *
	      CCM_META_BLOCK_BYTES + ccm_round_up(need, CCM_ALIGN_BYTES);
	for (k = 0; k < 100000 &&
	     ccm_layout_make(&l, est, m->enc_bs, m->region_bytes, need, why,
			     sizeof(why)); k++)
		est += CCM_ALIGN_BYTES;
	m->enc_min_bytes = est;
	ccm_human_size(m->new_bytes, s1, sizeof(s1));
	ccm_human_size(est, s2, sizeof(s2));
	ccm_err("%s is too small for an encrypted copy of %s: %" PRIu64
		" bytes (%s); the encrypted format (%u-byte blocks, %" PRIu64
		" KiB regions) needs at least %" PRIu64 " bytes (%s)",
		m->new_path, m->name, m->new_bytes, s1, m->enc_bs,
		m->region_bytes / 1024, est, s2);
	return CCM_EXIT_BADDEV;
}

static int check_new(struct mv *m)
{
	const char *p = m->new_path;
	char held[256], size1[32], size2[32];
	uint64_t need = m->sectors * 512;
	struct ccm_dm_info i;
	bool under = false;
	int fd, lbs = 0, ro = 0, ret;

	if (m->new_dev == m->vis_dev) {
		ccm_err("%s is %s itself: the new device must be another device",
			p, m->name);
		return CCM_EXIT_REFUSED;
	}
	ret = depends_on(m->name, m->new_dev, 0, &under);
	if (ret)
		return ret;
	if (under) {
		ccm_err("%s is the same device as (or a part of) the device %s is on: it cannot be moved onto itself",
			p, m->name);
		return CCM_EXIT_REFUSED;
	}
	if (ccm_dm_is_dm_major(major(m->new_dev))) {
		ret = ccm_dm_info(NULL, major(m->new_dev), minor(m->new_dev),
				  &i);
		if (!ret && i.exists)
			ret = depends_on(i.name, m->vis_dev, 0, &under);
		if (ret)
			return ret;
		if (under) {
			ccm_err("%s is built on %s: it cannot hold %s's data",
				p, m->name, m->name);
			return CCM_EXIT_REFUSED;
		}
	}
	if (holders(m->new_dev, held, sizeof(held))) {
		ccm_err("%s is in use: held by %s (a device-mapper, md or other device is built on it)",
			p, held);
		return CCM_EXIT_REFUSED;
	}
	if (partition_in_use(m->new_dev, held, sizeof(held))) {
		ccm_err("%s is in use: its partition %s is mounted, mapped or open",
			p, held);
		return CCM_EXIT_REFUSED;
	}
	fd = open(p, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY) {
			ccm_err("%s is in use (mounted, or open exclusively by another program)",
				p);
			return CCM_EXIT_REFUSED;
		}
		ccm_err("%s: %s", p, strerror(errno));
		return CCM_EXIT_IO;
	}
	if (ioctl(fd, BLKGETSIZE64, &m->new_bytes) ||
	    ioctl(fd, BLKSSZGET, &lbs) || ioctl(fd, BLKROGET, &ro)) {
		ccm_err("%s: %s", p, strerror(errno));
		close(fd);
		return CCM_EXIT_IO;
	}
	close(fd);
	m->new_lbs = (unsigned int)lbs;
	if (ro) {
		ccm_err("%s is read-only", p);
		return CCM_EXIT_REFUSED;
	}
	if (m->new_bytes < need) {
		ccm_human_size(m->new_bytes, size1, sizeof(size1));
		ccm_human_size(need, size2, sizeof(size2));
		ccm_err("%s is too small: %" PRIu64 " bytes (%s), %s needs %"
			PRIu64 " bytes (%s)", p, m->new_bytes, size1, m->name,
			need, size2);
		return CCM_EXIT_BADDEV;
	}
	if (m->new_lbs > m->vis_lbs) {
		ccm_err("%s has %u-byte logical blocks, larger than the %u-byte blocks of %s: what is on %s may write %u-byte blocks, which %s cannot store; use a device with logical blocks of %u bytes or less",
			p, m->new_lbs, m->vis_lbs, m->name, m->name,
			m->vis_lbs, p, m->vis_lbs);
		return CCM_EXIT_BADDEV;
	}
	if (m->region_bytes < m->vis_lbs) {
		ccm_err("--region-size %" PRIu64
			" is smaller than the %u-byte logical blocks of %s",
			m->region_bytes, m->vis_lbs, m->name);
		return CCM_EXIT_USAGE;
	}
	if (m->mode == MODE_ENCRYPTED)
		return check_new_encrypted(m);
	m->use_slice = m->new_bytes > need;
	meta_place(m, m->region_bytes);
	return CCM_EXIT_OK;
}

/* ---- resuming: is the copy state of this move on the new device? ---- */

/*
 * The ccm superblock of @d and, if its current slot belongs to this move,
 * 1 (*@carried set), else 0; or a negated exit code.  @sb is valid when
 * the return value is 1 or *@is_ccm.
 */
static int enc_state(struct mv *m, struct ccm_dev *d, struct ccm_sb *sb,
		     bool *is_ccm, uint64_t *carried)
{
	uint8_t buf[CCM_SB_BYTES];
	struct ccm_slot s;
	char why[200];
	int r;

	*is_ccm = false;
	if (d->size < CCM_SB_AREA_BYTES)
		return 0;
	r = ccm_dev_read(d, buf, sizeof(buf), 0);
	if (r)
		return -r;
	if (ccm_sb_decode(buf, sb, why, sizeof(why)) != CCM_SB_OK ||
	    ccm_layout_end(&sb->layout) > d->size)
		return 0;
	*is_ccm = true;
	return state_probe(m, d, sb->layout.bitmap_offset * 512,
			   sb->layout.bitmap_bytes, sb->layout.region_sectors,
			   &s, carried);
}

/* Plain: progress of this move on the metadata area?  Encrypted progress
 * of it on the header is refused (it would be overwritten). */
static int probe_plain(struct mv *m)
{
	uint64_t carried = 0, cand[2], want = m->region_bytes / 512;
	uint8_t hdr[CCM_SLOT_HDR_BYTES];
	unsigned int n = 0, k;
	struct ccm_slot s;
	struct ccm_dev d;
	struct ccm_sb sb;
	bool is_ccm;
	int r;

	r = ccm_dev_open(&d, m->new_path, 0);
	if (r)
		return r;
	r = m->o->restart ? 0 : enc_state(m, &d, &sb, &is_ccm, &carried);
	if (r > 0) {
		ccm_err("%s holds an encrypted move of %s in progress (%" PRIu64
			" regions copied): resume it with --encrypt --key-file, or start over in plain mode with --restart",
			m->new_path, m->name, carried);
		r = -CCM_EXIT_REFUSED;
	}
	if (r < 0 || m->o->restart)
		goto out;
	/* The region size of the state found there, unless given. */
	meta_place(m, m->region_bytes);
	memset(hdr, 0, sizeof(hdr));
	if (m->meta_off + sizeof(hdr) <= d.size) {
		r = ccm_dev_read(&d, hdr, sizeof(hdr), m->meta_off);
		if (r) {
			r = -r;
			goto out;
		}
		ccm_slot_decode(hdr, 0, &s);
		if (s.magic == CCM_SLOT_MAGIC && s.primary_id == m->id &&
		    s.primary_sectors == m->sectors &&
		    s.region_sectors != want && region_ok(m, s.region_sectors)) {
			if (m->o->region_set)
				ccm_warn("%s holds progress of a move of %s with %" PRIu32
					 " KiB regions: starting over with --region-size %" PRIu64
					 " KiB (leave it out to resume)",
					 m->new_path, m->name,
					 s.region_sectors / 2, want / 2);
			else
				cand[n++] = s.region_sectors;
		}
	}
	cand[n++] = want;
	for (k = 0; k < n && !m->resume; k++) {
		uint64_t regions = ccm_div_round_up(m->sectors, cand[k]);

		meta_place(m, cand[k] * 512);
		if (!m->use_meta)
			continue;
		r = state_probe(m, &d, m->meta_off, meta_bitmap_bytes(regions),
				cand[k], &s, &carried);
		if (r < 0)
			goto out;
		if (r) {
			m->resume = true;
			m->region_bytes = cand[k] * 512;
			m->resume_carried = carried;
			m->resume_total = regions;
		}
	}
	if (!m->resume)
		meta_place(m, m->region_bytes);
	r = 0;
out:
	ccm_dev_close(&d);
	return -r;
}

/* Encrypted: the new device already formatted for this move, with its
 * progress in the header? */
static int probe_encrypted(struct mv *m)
{
	uint64_t carried = 0, regions;
	struct ccm_ctx c;
	bool is_ccm;
	int r;

	meta_place(m, m->region_bytes);
	if (m->o->restart)
		return CCM_EXIT_OK;
	ccm_ctx_init(&c);
	r = ccm_dev_open(&c.dev, m->new_path, 0);
	if (r)
		return r;
	r = enc_state(m, &c.dev, &c.sb, &is_ccm, &carried);
	if (r <= 0)
		goto out;
	regions = c.sb.layout.region_count;
	if (ccm_data_bytes(&c.sb.layout) != m->sectors * 512 ||
	    c.sb.layout.data_block_size != m->enc_bs) {
		ccm_warn("%s holds progress of an encrypted move of %s, but its format does not fit (capacity %" PRIu64
			 ", %u-byte blocks): formatting it again",
			 m->new_path, m->name, ccm_data_bytes(&c.sb.layout),
			 c.sb.layout.data_block_size);
		r = 0;
		goto out;
	}
	if (m->o->region_set &&
	    c.sb.layout.region_sectors != m->region_bytes / 512) {
		ccm_warn("%s holds progress of an encrypted move of %s with %" PRIu32
			 " KiB regions: starting over with --region-size %" PRIu64
			 " KiB (leave it out to resume)", m->new_path, m->name,
			 c.sb.layout.region_sectors / 2,
			 m->region_bytes / 1024);
		r = 0;
		goto out;
	}
	c.key = m->key;
	r = ccm_ctx_check_key(&c);
	if (r) {
		ccm_err("%s holds an encrypted move of %s in progress (%" PRIu64
			" of %" PRIu64 " regions copied) made with another key: give that key, or start over with --restart",
			m->new_path, m->name, carried, regions);
		r = -r;
		goto out;
	}
	m->resume = true;
	m->region_bytes = (uint64_t)c.sb.layout.region_sectors * 512;
	m->resume_carried = carried;
	m->resume_total = regions;
	m->sb = c.sb;
	m->have_sb = true;
	r = 0;
out:
	ccm_ctx_close(&c);
	return -r;
}

/* The key description and table reference (a placeholder before the
 * format has chosen the uuid: dry runs). */
static void set_key_ref(struct mv *m)
{
	if (m->have_sb)
		ccm_key_desc(m->sb.uuid, m->key_desc, sizeof(m->key_desc));
	else
		snprintf(m->key_desc, sizeof(m->key_desc), "%s<new-uuid>",
			 CCM_KEY_DESC_PREFIX);
	ccm_key_ref(m->key_desc, m->key.len, m->key_ref, sizeof(m->key_ref));
}

/* ---- progress ---- */

static void progress_print(struct mv *m, const struct ccm_prog *p)
{
	char buf[512];

	if (m->o->json) {
		ccm_fmt_json(p, m->name, buf, sizeof(buf));
		printf("%s\n", buf);
		fflush(stdout);
	} else if (m->bar) {
		ccm_fmt_bar(p, 30, buf, sizeof(buf));
		fprintf(stderr, "\r%s\033[K", buf);
		fflush(stderr);
		m->bar_shown = true;
	} else {
		ccm_fmt_line(p, buf, sizeof(buf));
		printf("%s\n", buf);
		fflush(stdout);
	}
}

/* A JSON line for the CLI's own states (done, aborted, interrupted). */
static void json_event(struct mv *m, const char *state, const char *extra)
{
	struct ccm_prog p = m->last;
	char buf[1024];
	size_t n;

	if (!m->o->json)
		return;
	if (!m->have_last) {
		memset(&p, 0, sizeof(p));
		p.speed_bps = -1;
		p.eta_s = -1;
		p.bytes_total = m->sectors * 512;
		snprintf(p.health, sizeof(p.health), "--");
	}
	p.state = state;
	ccm_fmt_json(&p, m->name, buf, sizeof(buf));
	n = strlen(buf);
	if (extra && n > 1 && n + strlen(extra) + 2 < sizeof(buf)) {
		buf[n - 1] = 0;
		printf("%s,%s}\n", buf, extra);
	} else {
		printf("%s\n", buf);
	}
	fflush(stdout);
}

static int read_status(struct mv *m, struct ccm_mstatus *s)
{
	struct ccm_dm_lines l;
	int ret = ccm_dm_lines_get(m->name, true, &l);

	if (ret)
		return ret;
	ret = CCM_EXIT_OK;
	if (l.n != 1 || strcmp(l.v[0].type, CCM_MIRROR_TARGET)) {
		ret = -1;	/* not a mirror any more */
	} else if (ccm_mstatus_parse(l.v[0].params, s)) {
		ccm_err("%s: unexpected ccm-mirror status \"%s\"", m->name,
			l.v[0].params);
		ret = CCM_EXIT_IO;
	}
	ccm_dm_lines_free(&l);
	return ret;
}

/*
 * Wait for the mirror to be ready or failed, printing progress every
 * interval (a periodic SIGALRM ends each wait) and on every event.
 */
static enum watch_end watch(struct mv *m, int *err)
{
	double interval = m->o->interval, t, last_print = -1e9;
	struct ccm_mstatus s;
	char last_state[16] = "";
	uint32_t ev;
	int r;

	for (;;) {
		r = ccm_dm_info(m->name, 0, 0, &m->vis);
		if (!r && !m->vis.exists)
			return W_GONE;
		ev = m->vis.event_nr;
		if (!r)
			r = read_status(m, &s);
		if (r < 0)
			return W_GONE;
		if (r) {
			*err = r;
			return W_ERROR;
		}
		t = elapsed_s(m);
		ccm_speed_add(&m->speed, t, s.copied * s.region_sectors * 512);
		if (strcmp(s.state, last_state) ||
		    (interval > 0 && t - last_print >= interval * 0.9) ||
		    s.st == CCM_MS_READY || s.st == CCM_MS_FAILED) {
			double sp = ccm_speed_get(&m->speed);

			if (sp < 0 && s.kib_s)
				sp = (double)s.kib_s * 1024;
			ccm_prog_compute(&m->last, &s, m->sectors * 512, sp);
			m->have_last = true;
			progress_print(m, &m->last);
			last_print = t;
			snprintf(last_state, sizeof(last_state), "%s",
				 s.state);
		}
		if (s.st == CCM_MS_READY)
			return W_READY;
		if (s.st == CCM_MS_FAILED) {
			snprintf(m->last.health, sizeof(m->last.health), "%s",
				 s.health);
			return W_FAILED;
		}
		if (g_signal)
			return W_INTERRUPTED;
		sigprocmask(SIG_UNBLOCK, &g_mask, NULL);
		r = CCM_EXIT_OK;
		if (!g_signal && !g_tick)
			r = ccm_dm_wait_event(m->name, ev);
		sigprocmask(SIG_BLOCK, &g_mask, NULL);
		g_tick = 0;
		if (r > 1) {
			*err = r;
			return W_ERROR;
		}
	}
}

/* ---- table changes (signals blocked) ---- */

static int swap_table(struct mv *m, const struct ccm_dm_lines *l)
{
	int ret = ccm_dm_reload(m->name, l);

	if (ret)
		return ret;
	ret = ccm_dm_suspend(m->name);
	if (ret) {
		ccm_dm_clear(m->name);
		return ret;
	}
	ret = ccm_dm_resume(m->name);
	if (ret)
		ccm_err("%s may be left suspended: check with dmsetup info %s, then dmsetup resume %s",
			m->name, m->name, m->name);
	return ret;
}

/* Zero @len bytes at @off of the device @d (a dm device or a disk). */
static int zero_on(dev_t d, uint64_t off, uint64_t len, bool excl)
{
	char path[64];
	struct ccm_dev dev;
	int ret;

	ret = dev_path(d, path, sizeof(path));
	if (!ret)
		ret = ccm_dev_open(&dev, path, CCM_DEV_WRITE |
				   (excl ? CCM_DEV_EXCL : 0));
	if (ret)
		return ret;
	if (off > dev.size)
		off = dev.size;
	if (len > dev.size - off)
		len = dev.size - off;
	ret = ccm_dev_zero(&dev, off, len);
	if (!ret)
		ret = ccm_dev_sync(&dev);
	ccm_dev_close(&dev);
	return ret;
}

/*
 * Forget the copy state of a move that ended (switched or cancelled): zero
 * the metadata device, or the copy state slots of the encrypted @target,
 * so that a later move of the same device onto the same disk cannot
 * resume from it.  Only warnings: the move itself is done.
 */
static void clear_state(struct mv *m, bool encrypted, dev_t target,
			bool excl)
{
	char path[64];
	struct ccm_ctx c;

	if (m->meta.exists &&
	    zero_on(makedev(m->meta.major, m->meta.minor), 0, UINT64_MAX,
		    false))
		ccm_warn("could not clear the copy state on %s", m->meta_name);
	if (!encrypted)
		return;
	ccm_ctx_init(&c);
	if (dev_path(target, path, sizeof(path)) ||
	    ccm_ctx_open(&c, path, 0, NULL) ||
	    zero_on(target, c.sb.layout.bitmap_offset * 512,
		    c.sb.layout.bitmap_sectors * 512, excl))
		ccm_warn("could not clear the copy state in the header of %u:%u",
			 major(target), minor(target));
	ccm_ctx_close(&c);
}

/*
 * Before the tables change: format the new device (encrypted) or zero its
 * metadata area and first block (plain), unless resuming; load the key.
 */
static int prepare_new(struct mv *m)
{
	char u[CCM_UUID_STR_LEN], desc[160];
	int ret = CCM_EXIT_OK;

	dev_desc(m->new_dev, desc, sizeof(desc));
	if (!m->resume) {
		/* Stale state of an earlier move must not survive: a ccm
		 * superblock (plain) or a metadata area (both). */
		if (m->meta_fits)
			ret = zero_on(m->new_dev, m->meta_off, m->meta_bytes,
				      true);
		if (!ret && m->mode == MODE_PLAIN)
			ret = zero_on(m->new_dev, 0, CCM_SB_AREA_BYTES, true);
		if (ret)
			return ret;
	}
	if (m->mode == MODE_PLAIN)
		return CCM_EXIT_OK;
	if (!m->resume) {
		ret = ccm_format_dev(m->new_path, &m->key, m->enc_bs,
				     m->region_bytes, m->sectors * 512, false,
				     &m->sb);
		if (ret)
			return ret;
		m->have_sb = true;
		ccm_uuid_format(m->sb.uuid, u);
		say(m, "%s: formatted %s for the encrypted copy: uuid %s, %u-byte blocks, AES-%zu-CCM",
		    m->name, desc, u, m->enc_bs, m->key.len * 8);
	}
	set_key_ref(m);
	ret = ccm_keyring_add(m->key_desc, m->key.bytes, m->key.len);
	if (!ret)
		m->key_added = true;
	return ret;
}

static void persistence_say(struct mv *m, const char *how)
{
	char desc[160], sz[32];

	dev_desc(m->new_dev, desc, sizeof(desc));
	if (m->mode == MODE_ENCRYPTED) {
		say(m, "%s: copy progress %s in the header of %s: if interrupted (reboot, crash), run the same command again to resume",
		    m->name, how, desc);
	} else if (m->use_meta) {
		ccm_human_size(m->meta_bytes, sz, sizeof(sz));
		say(m, "%s: copy progress %s on %s (%s at byte %" PRIu64
		    " of %s): if interrupted (reboot, crash), run the same command again to resume",
		    m->name, how, m->meta_name, sz, m->meta_off, desc);
	} else {
		ccm_human_size(m->meta_off + m->meta_bytes - m->sectors * 512, sz,
			       sizeof(sz));
		say(m, "%s: copy progress %s in memory only: a reboot or crash during the copy starts it over (%s needs %s more than %s for a metadata area)",
		    m->name, how, desc, sz, m->name);
	}
}

static int start(struct mv *m)
{
	struct ccm_dm_lines mirror = { 0 }, hid = { 0 };
	char old[32], sec[32], meta[32], desc[160], size[32], region[32];
	struct ccm_mstatus s;
	int ret;

	/* Under the lock: nothing changed since the checks? */
	ret = detect(m);
	if (ret)
		return ret;
	if (m->st != ST_NONE || m->vis.suspended || m->vis.inactive_table) {
		ccm_err("%s changed while being checked (another ccm-mirror?): nothing done",
			m->name);
		return CCM_EXIT_REFUSED;
	}
	ret = prepare_new(m);
	if (ret)
		goto undo;
	ret = ccm_dm_create_lines(m->old_name, m->old_uuid, &m->lines, true);
	if (!ret)
		ret = ccm_dm_info(m->old_name, 0, 0, &m->old);
	if (ret)
		goto undo;
	devno_str(makedev(m->old.major, m->old.minor), old, sizeof(old));
	devno_str(m->new_dev, sec, sizeof(sec));
	if (m->use_slice) {
		ret = slice_line(m, &hid);
		if (!ret)
			ret = ccm_dm_create_lines(m->new_name, m->new_uuid,
						  &hid, true);
		if (!ret)
			ret = ccm_dm_info(m->new_name, 0, 0, &m->slice);
		ccm_dm_lines_free(&hid);
		if (ret)
			goto undo;
		devno_str(makedev(m->slice.major, m->slice.minor), sec,
			  sizeof(sec));
	}
	if (m->use_meta) {
		ret = meta_line(m, &hid);
		if (!ret)
			ret = ccm_dm_create_lines(m->meta_name, m->meta_uuid,
						  &hid, true);
		if (!ret)
			ret = ccm_dm_info(m->meta_name, 0, 0, &m->meta);
		ccm_dm_lines_free(&hid);
		if (ret)
			goto undo;
		devno_str(makedev(m->meta.major, m->meta.minor), meta,
			  sizeof(meta));
	}
	ret = mirror_line(m, old, sec, m->use_meta ? meta : NULL, &mirror);
	if (!ret)
		ret = swap_table(m, &mirror);
	if (ret)
		goto undo;
	m->target = m->new_dev;
	m->have_target = true;
	dev_desc(m->new_dev, desc, sizeof(desc));
	ccm_human_size(m->sectors * 512, size, sizeof(size));
	ccm_human_size(m->region_bytes, region, sizeof(region));
	say(m, "%s: moving %s onto %s%s in %s regions; its old table is now %s",
	    m->name, size, desc, m->mode == MODE_ENCRYPTED ? ", encrypted," :
	    "", region, m->old_name);
	if (m->resume && read_status(m, &s) == CCM_EXIT_OK)
		say(m, "%s: resuming: %" PRIu64 " regions carried over (of %"
		    PRIu64 ")", m->name, s.carried, s.total);
	persistence_say(m, "kept");
	goto out;
undo:
	if (remove_hidden(m)) {
		char names[3 * CCM_DM_NAME_LEN + 8];

		hidden_names(m, names, sizeof(names));
		ccm_err("could not remove %s: remove by hand (dmsetup remove)",
			names);
	}
	if (m->key_added)
		ccm_keyring_drop(m->key_desc);
	m->key_added = false;
out:
	ccm_dm_lines_free(&mirror);
	return ret;
}

/*
 * Encrypted: the key the final table needs, visible to this process: the
 * key given (checked against the header of @target), or the one in the
 * user keyring.
 */
static int ensure_key(struct mv *m, dev_t target)
{
	char desc[CCM_KEY_DESC_MAX], path[64];
	struct ccm_ctx c;
	int ret;

	if (m->mode != MODE_ENCRYPTED || m->key_added)
		return CCM_EXIT_OK;
	if (ccm_key_ref_parse(m->key_ref, desc, sizeof(desc))) {
		ccm_err("%s: unexpected key reference \"%s\"", m->name,
			m->key_ref);
		return CCM_EXIT_IO;
	}
	if (!m->have_key) {
		ret = ccm_keyring_link(desc);
		if (ret == 1)
			ccm_err("the key of the encrypted move of %s (%s) is not in the user keyring: give it with --key-file",
				m->name, desc);
		return ret;
	}
	ccm_ctx_init(&c);
	ret = dev_path(target, path, sizeof(path));
	if (!ret)
		ret = ccm_ctx_open(&c, path, 0, NULL);
	if (!ret) {
		c.key = m->key;
		ret = ccm_ctx_check_key(&c);
	}
	if (!ret) {
		ccm_key_desc(c.sb.uuid, m->key_desc, sizeof(m->key_desc));
		if (strcmp(m->key_desc, desc)) {
			ccm_err("%s: the table refers to key %s, the header of %s is %s",
				m->name, desc, path, m->key_desc);
			ret = CCM_EXIT_IO;
		}
	}
	if (!ret)
		ret = ccm_keyring_add(desc, m->key.bytes, m->key.len);
	if (!ret)
		m->key_added = true;
	ccm_ctx_close(&c);
	return ret;
}

/* 0: done; 1: not ready any more (the mirror runs on); or an exit code */
static int pivot(struct mv *m)
{
	struct ccm_dm_lines fin;
	struct ccm_mstatus s;
	int ret;

	ret = ensure_key(m, m->target);
	if (!ret)
		ret = final_line(m, m->target, &fin);
	if (ret)
		return ret;
	deps_desc(m->old_name, m->released, sizeof(m->released));
	hidden_names(m, m->removed, sizeof(m->removed));
	ret = ccm_dm_reload(m->name, &fin);
	ccm_dm_lines_free(&fin);
	if (ret)
		return ret;
	ret = ccm_dm_suspend(m->name);
	if (ret) {
		ccm_dm_clear(m->name);
		return ret;
	}
	/* Nothing moves now: is the live mirror still ready? */
	ret = read_status(m, &s);
	if (ret || s.st != CCM_MS_READY) {
		if (ccm_dm_clear(m->name) || ccm_dm_resume(m->name)) {
			ccm_err("%s may be left suspended: check with dmsetup info %s",
				m->name, m->name);
			return CCM_EXIT_IO;
		}
		if (ret)
			return ret < 0 ? CCM_EXIT_IO : ret;
		say(m, "%s: not ready any more (%s): waiting again", m->name,
		    s.state);
		return 1;
	}
	ret = ccm_dm_resume(m->name);
	if (ret) {
		ccm_err("%s may be left suspended: check with dmsetup info %s",
			m->name, m->name);
		return ret;
	}
	clear_state(m, m->mode == MODE_ENCRYPTED, m->target, false);
	if (remove_hidden(m)) {
		ccm_err("%s is on the new disk, but removing the hidden devices failed: run ccm-mirror move --pivot %s again",
			m->name, m->name);
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

static int abort_move(struct mv *m)
{
	char desc[160] = "", kdesc[CCM_KEY_DESC_MAX];
	struct ccm_dm_lines old;
	int ret;

	ret = ccm_dm_lines_get(m->old_name, false, &old);
	if (ret)
		return ret;
	if (m->have_target)
		dev_desc(m->target, desc, sizeof(desc));
	ret = swap_table(m, &old);
	ccm_dm_lines_free(&old);
	if (ret)
		return ret;
	clear_state(m, false, 0, false);
	if (remove_hidden(m)) {
		ccm_err("%s is back on its old table, but removing the hidden devices failed: run ccm-mirror move --abort %s again",
			m->name, m->name);
		return CCM_EXIT_IO;
	}
	if (m->mode == MODE_ENCRYPTED && m->have_target)
		clear_state(m, true, m->target, true);
	if (m->mode == MODE_ENCRYPTED &&
	    !ccm_key_ref_parse(m->key_ref, kdesc, sizeof(kdesc)))
		ccm_keyring_drop(kdesc);
	m->key_added = false;
	say(m, "%s: back on its old table; %s%sis no longer used", m->name,
	    desc, desc[0] ? " " : "the new device ");
	return CCM_EXIT_OK;
}

/* ---- finishing a move ---- */

static void summary(struct mv *m)
{
	char desc[160], size[32], speed[32], dur[16], extra[512], q[200];
	double secs = elapsed_s(m);
	struct ccm_dm_lines fin;

	dev_desc(m->target, desc, sizeof(desc));
	ccm_human_size(m->sectors * 512, size, sizeof(size));
	ccm_human_size(secs > 0 ? (uint64_t)((double)m->sectors * 512 / secs) :
				  0, speed, sizeof(speed));
	ccm_fmt_duration((int64_t)(secs + 0.5), dur, sizeof(dur));
	say(m, "%s: moved to %s: %s in %s (%s/s)", m->name, desc, size, dur,
	    speed);
	if (!final_line(m, m->target, &fin)) {
		say(m, "%s: table now 0 %" PRIu64 " %s %s", m->name,
		    m->sectors, fin.v[0].type, fin.v[0].params);
		ccm_dm_lines_free(&fin);
	}
	say(m, "%s: removed %s%s%s", m->name, m->removed,
	    m->released[0] ? "; no longer used by it: " : "", m->released);
	if (m->o->json) {
		ccm_json_str(desc, q, sizeof(q));
		snprintf(extra, sizeof(extra), "\"new_device\":%s,\"elapsed_s\":%.1f",
			 q, secs);
		m->last.percent = 100.0;
		m->last.bytes_copied = m->last.bytes_total;
		m->last.copied_regions = m->last.total_regions;
		m->last.eta_s = 0;
		json_event(m, "done", extra);
	}
}

static void interrupted(struct mv *m)
{
	char desc[160] = "the new device";

	if (m->have_target)
		dev_desc(m->target, desc, sizeof(desc));
	say(m, "%s: interrupted; the copy to %s goes on in the kernel (%.1f%% done).",
	    m->name, desc, m->have_last ? m->last.percent : 0.0);
	if (m->new_path)
		say(m, "  watch it again:    ccm-mirror move %s %s%s", m->name,
		    m->new_path, m->o->no_pivot ? " --no-pivot" : "");
	if (m->new_path && m->mode == MODE_ENCRYPTED)
		say(m, "  after a reboot:    ccm-mirror move %s %s --encrypt --key-file %s (resumes)",
		    m->name, m->new_path, m->o->key_file &&
		    strcmp(m->o->key_file, "-") ? m->o->key_file : "FILE");
	else if (m->new_path && m->use_meta)
		say(m, "  after a reboot:    the same command (resumes)");
	say(m, "  switch when ready: ccm-mirror move --pivot %s", m->name);
	say(m, "  cancel:            ccm-mirror move --abort %s", m->name);
	json_event(m, "interrupted", NULL);
}

static const char *health_why(char c)
{
	switch (c) {
	case 'D':
		return "write error";
	case 'R':
		return "read error";
	case 'F':
		return "flush error";
	case 'S':
		return "sync error";
	default:
		return "error";
	}
}

/* Watch until ready, pivot (unless --no-pivot), or roll back. */
static int finish(struct mv *m, bool do_pivot)
{
	enum watch_end w;
	int ret = CCM_EXIT_OK, err = 0;
	char desc[160];

	signals_install(m->o->interval);
	mv_unlock(m);
	for (;;) {
		w = watch(m, &err);
		if (w == W_READY || w == W_FAILED) {
			/* Under the lock: is it still the same move? */
			dev_t target = m->target;

			mv_lock(m);
			ret = detect(m);
			if (ret) {
				mv_unlock(m);
				break;
			}
			if (m->st != ST_MIRROR || m->target != target) {
				m->target = target;
				m->have_target = true;
				mv_unlock(m);
				w = W_GONE;
			}
		}
		if (w == W_READY && !do_pivot) {
			say(m, "%s: ready: every region is copied and the new device flushed; the mirror keeps both in sync.",
			    m->name);
			say(m, "  switch: ccm-mirror move --pivot %s", m->name);
			say(m, "  cancel: ccm-mirror move --abort %s", m->name);
			break;
		}
		if (w == W_READY) {
			ret = pivot(m);
			mv_unlock(m);
			if (ret == 1)
				continue;
			if (!ret)
				summary(m);
			break;
		}
		if (w == W_FAILED) {
			dev_desc(m->target, desc, sizeof(desc));
			bar_end(m);
			ccm_err("%s failed during the move (%s health %s: %s): going back to the old disk",
				m->last.health[0] != 'A' ? "the old disk" :
							   desc,
				m->last.health[0] != 'A' ? "primary" :
							   "secondary",
				m->last.health,
				health_why(m->last.health[0] != 'A' ?
					   m->last.health[0] :
					   m->last.health[1]));
			ret = abort_move(m);
			mv_unlock(m);
			if (!ret) {
				json_event(m, "aborted", NULL);
				ret = CCM_EXIT_ROLLEDBACK;
			}
			break;
		}
		if (w == W_INTERRUPTED) {
			interrupted(m);
			ret = CCM_EXIT_INTERRUPTED;
			break;
		}
		if (w == W_GONE) {
			struct ccm_dm_lines l;

			bar_end(m);
			ret = ccm_dm_lines_get(m->name, false, &l);
			if (ret)
				break;
			if (m->have_target && table_is_final_on(&l, m->target)) {
				say(m, "%s: the move was completed by another ccm-mirror",
				    m->name);
			} else {
				ccm_err("%s is no longer a mirror: the move was cancelled (by ccm-mirror move --abort?)",
					m->name);
				ret = CCM_EXIT_ROLLEDBACK;
			}
			ccm_dm_lines_free(&l);
			break;
		}
		ret = err ? err : CCM_EXIT_IO;
		break;
	}
	bar_end(m);
	mv_unlock(m);
	signals_restore();
	return ret;
}

static int apply_runtime_opts(struct mv *m)
{
	char msg[32];
	int ret = CCM_EXIT_OK;

	if (m->o->region_set && m->region_bytes / 512 != m->mt.region_sectors)
		ccm_warn("--region-size ignored: the running mirror uses %" PRIu64
			 " KiB regions", m->mt.region_sectors / 2);
	if (m->o->rate_set) {
		snprintf(msg, sizeof(msg), "rate %u", m->o->rate_mib);
		ret = ccm_dm_message(m->name, msg);
	}
	if (!ret && m->o->parallel) {
		snprintf(msg, sizeof(msg), "parallel %u", m->o->parallel);
		ret = ccm_dm_message(m->name, msg);
	}
	return ret;
}

static void print_plan(struct mv *m, const unsigned int v[3])
{
	struct ccm_dm_lines l = { 0 };
	char desc[160], size[32], path[CCM_DM_NAME_LEN + 16], q[200];
	char sec[CCM_DM_NAME_LEN + 16], meta[CCM_DM_NAME_LEN + 16];
	char names[3 * CCM_DM_NAME_LEN + 8];
	const char *v3[3];
	unsigned int n = 0;
	FILE *f = m->o->json ? stderr : stdout;

	dev_desc(m->new_dev, desc, sizeof(desc));
	ccm_human_size(m->sectors * 512, size, sizeof(size));
	say(m, "dry run: nothing is changed");
	say(m, "%s (%u:%u): %" PRIu64 " sectors (%s), %u-byte logical blocks, %u table line%s",
	    m->name, m->vis.major, m->vis.minor, m->sectors, size, m->vis_lbs,
	    m->lines.n, m->lines.n == 1 ? "" : "s");
	ccm_human_size(m->new_bytes, size, sizeof(size));
	say(m, "%s: %s, %u-byte logical blocks, writable, not in use",
	    desc, size, m->new_lbs);
	say(m, "ccm-mirror target %u.%u.%u: available; checks passed",
	    v[0], v[1], v[2]);
	say(m, "move id %" PRIx64 " (FNV-1a of %s \"%s\")", m->id,
	    m->vis.uuid[0] ? "the dm uuid" : "the name",
	    m->vis.uuid[0] ? m->vis.uuid : m->name);
	if (m->resume)
		say(m, "would resume: %s holds this move's copy state, %" PRIu64
		    " of %" PRIu64 " regions copied (%" PRIu64
		    " KiB regions); it is not %s again",
		    desc, m->resume_carried, m->resume_total,
		    m->region_bytes / 1024,
		    m->mode == MODE_ENCRYPTED ? "formatted" : "cleared");
	else if (m->mode == MODE_ENCRYPTED)
		say(m, "would format %s for an encrypted copy (AES-%zu-CCM, %u-byte blocks, capacity %" PRIu64
		    " bytes, %" PRIu64 " KiB regions, data blocks not written), and add the key to the user keyring as logon key %s",
		    desc, m->key.len * 8, m->enc_bs, m->sectors * 512,
		    m->region_bytes / 1024, m->key_desc);
	persistence_say(m, "would be kept");
	say(m, "would create %s (dm uuid %s) with the table of %s:",
	    m->old_name, m->old_uuid, m->name);
	ccm_dm_lines_print(&m->lines, "  ", f);
	v3[n++] = m->old_name;
	snprintf(path, sizeof(path), "/dev/mapper/%s", m->old_name);
	devno_str(m->new_dev, sec, sizeof(sec));
	if (m->use_slice && !slice_line(m, &l)) {
		say(m, "would create %s (dm uuid %s), %s being larger:",
		    m->new_name, m->new_uuid, m->new_path);
		ccm_dm_lines_print(&l, "  ", f);
		ccm_dm_lines_free(&l);
		snprintf(sec, sizeof(sec), "/dev/mapper/%s", m->new_name);
		v3[n++] = m->new_name;
	}
	if (m->use_meta && !meta_line(m, &l)) {
		say(m, "would %s create %s (dm uuid %s) for the copy progress:",
		    m->resume ? "" : "zero its area, then",
		    m->meta_name, m->meta_uuid);
		ccm_dm_lines_print(&l, "  ", f);
		ccm_dm_lines_free(&l);
		snprintf(meta, sizeof(meta), "/dev/mapper/%s", m->meta_name);
		v3[n++] = m->meta_name;
	}
	if (!mirror_line(m, path, sec, m->use_meta ? meta : NULL, &l)) {
		say(m, "would load into %s, then suspend and resume it:",
		    m->name);
		ccm_dm_lines_print(&l, "  ", f);
		ccm_dm_lines_free(&l);
	}
	name_list(names, sizeof(names), v3, n);
	if (m->o->no_pivot) {
		say(m, "would stop when ready (--no-pivot)");
	} else if (!final_line(m, m->new_dev, &l)) {
		say(m, "when ready, would load into %s, suspend and resume it:",
		    m->name);
		ccm_dm_lines_print(&l, "  ", f);
		ccm_dm_lines_free(&l);
		say(m, "and remove %s", names);
	}
	if (m->o->json) {
		ccm_json_str(m->name, q, sizeof(q));
		printf("{\"device\":%s,\"state\":\"dry_run\",\"bytes_total\":%"
		       PRIu64 ",\"new_device_bytes\":%" PRIu64 ",\"slice\":%s,"
		       "\"mode\":\"%s\",\"persistence\":\"%s\",\"id\":\"%"
		       PRIx64 "\",\"resume\":%s,\"carried\":%" PRIu64
		       ",\"region_bytes\":%" PRIu64 "}\n",
		       q, m->sectors * 512, m->new_bytes,
		       m->use_slice ? "true" : "false",
		       m->mode == MODE_ENCRYPTED ? "encrypted" : "plain",
		       m->mode == MODE_ENCRYPTED ? "header" :
		       m->use_meta ? "metadata" : "core", m->id,
		       m->resume ? "true" : "false",
		       m->resume ? m->resume_carried : 0, m->region_bytes);
	}
}

static int confirm(struct mv *m)
{
	char q[512], desc[160];

	if (m->o->yes || m->resume)
		return CCM_EXIT_OK;
	dev_desc(m->new_dev, desc, sizeof(desc));
	if (m->have_key && !strcmp(m->o->key_file, "-")) {
		ccm_err("refusing to overwrite %s without --yes: cannot ask for confirmation (standard input is the key)",
			desc);
		return CCM_EXIT_REFUSED;
	}
	if (!isatty(STDIN_FILENO)) {
		ccm_err("refusing to overwrite %s without --yes: cannot ask for confirmation (standard input is not a terminal)",
			desc);
		return CCM_EXIT_REFUSED;
	}
	if (m->mode == MODE_ENCRYPTED)
		snprintf(q, sizeof(q), "This will format %s for an encrypted copy of %s: all data on it is lost.",
			 desc, m->name);
	else
		snprintf(q, sizeof(q), "This will overwrite all data on %s with the content of %s.",
			 desc, m->name);
	if (!ccm_confirm(q)) {
		ccm_err("not confirmed; nothing changed");
		return CCM_EXIT_REFUSED;
	}
	return CCM_EXIT_OK;
}

static int move_start(struct mv *m)
{
	unsigned int v[3];
	int ret;

	ret = check_target(m, v);
	if (!ret)
		ret = check_encrypt(m, v);
	if (!ret)
		ret = check_visible(m);
	if (!ret)
		ret = check_new(m);
	if (!ret)
		ret = m->mode == MODE_ENCRYPTED ? probe_encrypted(m) :
						  probe_plain(m);
	if (ret)
		return ret;
	if (m->mode == MODE_ENCRYPTED)
		set_key_ref(m);
	if (m->o->dry_run) {
		print_plan(m, v);
		return CCM_EXIT_OK;
	}
	ret = confirm(m);
	if (ret)
		return ret;
	if (m->resume) {
		char desc[160];

		dev_desc(m->new_dev, desc, sizeof(desc));
		say(m, "%s: %s holds the copy state of this move (%" PRIu64
		    " of %" PRIu64 " regions copied): resuming it",
		    m->name, desc, m->resume_carried, m->resume_total);
	}
	signals_install(m->o->interval);
	ret = start(m);
	if (ret) {
		signals_restore();
		return ret;
	}
	return finish(m, !m->o->no_pivot);
}

/* Remove the hidden devices left by an interrupted ccm-mirror, and the
 * copy state of the move, which ended. */
static int cleanup_pivoted(struct mv *m)
{
	char names[3 * CCM_DM_NAME_LEN + 8], dev[32];
	dev_t target;
	int ret;

	hidden_names(m, names, sizeof(names));
	if (m->o->dry_run) {
		say(m, "would remove %s, left by an interrupted ccm-mirror",
		    names);
		return CCM_EXIT_OK;
	}
	if ((m->old.exists && m->old.open_count) ||
	    (m->slice.exists && m->slice.open_count) ||
	    (m->meta.exists && m->meta.open_count)) {
		ccm_err("%s: still open: not removing", names);
		return CCM_EXIT_REFUSED;
	}
	/* A move that ended on "ccm <new> ...": its header's state too. */
	if (m->st == ST_PIVOTED && m->lines.n == 1 &&
	    !strcmp(m->lines.v[0].type, "ccm") &&
	    sscanf(m->lines.v[0].params, "%31s", dev) == 1 &&
	    !ccm_devno_parse(dev, &target))
		clear_state(m, true, target, false);
	else
		clear_state(m, false, 0, false);
	ret = remove_hidden(m);
	if (!ret)
		say(m, "%s: removed %s, left by an interrupted ccm-mirror",
		    m->name, names);
	return ret;
}

static int cmd_move_new(struct mv *m)
{
	char desc[160];
	int ret;

	ret = stat_new(m, m->o->args[1]);
	if (ret)
		return ret;
	switch (m->st) {
	case ST_FOREIGN:
		ccm_err("%s already is a ccm-mirror mapping that ccm-mirror move did not make (no %s); not touching it",
			m->name, m->old_name);
		return CCM_EXIT_REFUSED;
	case ST_MIRROR:
		ret = repair(m);
		if (ret)
			return ret;
		if (m->st != ST_MIRROR)
			return cmd_move_new(m);
		dev_desc(m->target, desc, sizeof(desc));
		if (m->target != m->new_dev) {
			ccm_err("%s is already being moved to %s: finish (move --pivot) or cancel (move --abort) that move first",
				m->name, desc);
			return CCM_EXIT_REFUSED;
		}
		if (m->o->encrypt && m->mode != MODE_ENCRYPTED) {
			ccm_err("the running move of %s is not encrypted; --encrypt does not apply",
				m->name);
			return CCM_EXIT_USAGE;
		}
		if (m->o->restart) {
			ccm_err("%s is being moved to %s: --restart applies to a move that is not running (cancel this one with move --abort first)",
				m->name, desc);
			return CCM_EXIT_REFUSED;
		}
		if (m->o->dry_run) {
			say(m, "dry run: %s is already being moved to %s; would watch it%s",
			    m->name, desc, m->o->no_pivot ? "" :
			    " and switch to it when ready");
			return CCM_EXIT_OK;
		}
		say(m, "%s: already being moved to %s%s: watching it", m->name,
		    desc, m->mode == MODE_ENCRYPTED ? " (encrypted)" : "");
		ret = apply_runtime_opts(m);
		if (!ret && m->have_key)
			ret = ensure_key(m, m->target);
		return ret ? ret : finish(m, !m->o->no_pivot);
	case ST_HALF:
		ret = repair(m);
		if (ret || m->st != ST_HALF)
			return ret ? ret : cmd_move_new(m);
		if (m->o->dry_run) {
			say(m, "would first remove %s, left by an interrupted start",
			    m->old_name);
			return move_start(m);
		}
		ccm_warn("removing %s, left by an interrupted start", m->old_name);
		ret = remove_hidden(m);
		if (!ret)
			ret = detect(m);
		return ret ? ret : move_start(m);
	case ST_PIVOTED:
		if (table_is_final_on(&m->lines, m->new_dev)) {
			dev_desc(m->new_dev, desc, sizeof(desc));
			say(m, "%s: already moved to %s", m->name, desc);
			return cleanup_pivoted(m);
		}
		{
			char names[3 * CCM_DM_NAME_LEN + 8];

			hidden_names(m, names, sizeof(names));
			ccm_err("%s has hidden devices left (%s), but its table is not the end of a move to %s: check with dmsetup table and remove them by hand",
				m->name, names, m->new_path);
		}
		return CCM_EXIT_REFUSED;
	case ST_NONE:
		break;
	}
	return move_start(m);
}

static int cmd_move_pivot(struct mv *m)
{
	char desc[160], names[3 * CCM_DM_NAME_LEN + 8];
	struct ccm_dm_lines l;
	int ret;

	if (m->st == ST_MIRROR) {
		ret = repair(m);
		if (ret)
			return ret;
	}
	switch (m->st) {
	case ST_MIRROR:
		dev_desc(m->target, desc, sizeof(desc));
		if (m->o->dry_run) {
			ret = final_line(m, m->target, &l);
			if (ret)
				return ret;
			say(m, "dry run: when %s is ready, would load into it, suspend and resume it:",
			    m->name);
			ccm_dm_lines_print(&l, "  ", m->o->json ? stderr : stdout);
			ccm_dm_lines_free(&l);
			hidden_names(m, names, sizeof(names));
			say(m, "and remove %s", names);
			return CCM_EXIT_OK;
		}
		if (m->have_key && m->mode != MODE_ENCRYPTED) {
			ccm_err("the running move of %s is not encrypted; --key-file does not apply",
				m->name);
			return CCM_EXIT_USAGE;
		}
		say(m, "%s: switching to %s when ready", m->name, desc);
		ret = apply_runtime_opts(m);
		if (!ret)
			ret = ensure_key(m, m->target);
		return ret ? ret : finish(m, true);
	case ST_PIVOTED:
		return cleanup_pivoted(m);
	case ST_HALF:
		ccm_err("no move in progress on %s: a start was interrupted before the copy began (ccm-mirror move --abort %s removes what it left)",
			m->name, m->name);
		return CCM_EXIT_BADDEV;
	case ST_FOREIGN:
		ccm_err("%s is a ccm-mirror mapping that ccm-mirror move did not make (no %s)",
			m->name, m->old_name);
		return CCM_EXIT_BADDEV;
	case ST_NONE:
		break;
	}
	ccm_err("no move in progress on %s (its table is %s)", m->name,
		m->lines.n ? m->lines.v[0].type : "empty");
	return CCM_EXIT_BADDEV;
}

static int cmd_move_abort(struct mv *m)
{
	char names[3 * CCM_DM_NAME_LEN + 8];
	struct ccm_dm_lines old;
	int ret;

	if (m->st == ST_MIRROR || m->st == ST_HALF) {
		ret = repair(m);
		if (ret)
			return ret;
	}
	switch (m->st) {
	case ST_MIRROR:
		if (m->o->dry_run) {
			ret = ccm_dm_lines_get(m->old_name, false, &old);
			if (ret)
				return ret;
			say(m, "dry run: would load into %s its old table, suspend and resume it:",
			    m->name);
			ccm_dm_lines_print(&old, "  ", m->o->json ? stderr : stdout);
			ccm_dm_lines_free(&old);
			hidden_names(m, names, sizeof(names));
			say(m, "and remove %s%s", names,
			    m->mode == MODE_ENCRYPTED ?
			    ", clear the copy state and drop the key" :
			    m->meta.exists ? ", clearing the copy state" : "");
			return CCM_EXIT_OK;
		}
		signals_install(0);
		ret = abort_move(m);
		signals_restore();
		if (!ret)
			json_event(m, "aborted", NULL);
		return ret;
	case ST_HALF:
		return cleanup_pivoted(m);
	case ST_PIVOTED:
		ccm_err("%s was already switched to the new disk; the old disk is out of date: nothing to abort (ccm-mirror move --pivot %s removes what is left)",
			m->name, m->name);
		return CCM_EXIT_REFUSED;
	case ST_FOREIGN:
		ccm_err("%s is a ccm-mirror mapping that ccm-mirror move did not make (no %s): not touching it",
			m->name, m->old_name);
		return CCM_EXIT_REFUSED;
	case ST_NONE:
		break;
	}
	ccm_err("no move in progress on %s", m->name);
	return CCM_EXIT_BADDEV;
}

static void mv_init(struct mv *m, const struct ccm_opts *o)
{
	memset(m, 0, sizeof(*m));
	m->o = o;
	m->lock_fd = -1;
	m->mode = o->encrypt ? MODE_ENCRYPTED : MODE_PLAIN;
	m->region_bytes = o->region_size;
	m->bar = !o->json && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &m->t0);
	ccm_speed_init(&m->speed, 10.0);
	g_signal = 0;
	g_tick = 0;
}

int cmd_move(const struct ccm_opts *o)
{
	char why[128];
	struct mv m;
	int ret;

	if (o->pivot + o->abort > 1) {
		ccm_err("--pivot and --abort exclude each other");
		return CCM_EXIT_USAGE;
	}
	if ((o->pivot || o->abort) && o->nargs != 1) {
		ccm_err("--%s takes only the device: ccm-mirror move --%s <dm-device>",
			o->pivot ? "pivot" : "abort",
			o->pivot ? "pivot" : "abort");
		return CCM_EXIT_USAGE;
	}
	if (!o->pivot && !o->abort && o->nargs != 2) {
		ccm_err("expected <dm-device> <new-device> (see ccm-mirror move --help)");
		return CCM_EXIT_USAGE;
	}
	if (o->key_file && !o->encrypt && !o->pivot) {
		ccm_err("--key-file applies to --encrypt (and to --pivot of an encrypted move) only");
		return CCM_EXIT_USAGE;
	}
	if (o->encrypt && !o->key_file) {
		ccm_err("--encrypt needs --key-file FILE (or - for standard input)");
		return CCM_EXIT_USAGE;
	}
	if ((o->encrypt || o->restart) && (o->pivot || o->abort)) {
		ccm_err("--%s applies to starting a move only",
			o->encrypt ? "encrypt" : "restart");
		return CCM_EXIT_USAGE;
	}
	if (ccm_region_check(o->region_size, why, sizeof(why))) {
		ccm_err("%s", why);
		return CCM_EXIT_USAGE;
	}
	mv_init(&m, o);
	/* The key first: a bad key file is a usage error, whatever else. */
	if (o->key_file) {
		ret = ccm_key_read(o->key_file, &m.key);
		if (ret)
			return ret;
		m.have_key = true;
	}
	ccm_dm_init();
	ret = resolve_visible(&m, o->args[0]);
	if (!ret && !o->dry_run)
		mv_lock(&m);
	if (!ret)
		ret = detect(&m);
	if (!ret) {
		if (o->abort)
			ret = cmd_move_abort(&m);
		else if (o->pivot)
			ret = cmd_move_pivot(&m);
		else
			ret = cmd_move_new(&m);
	}
	mv_unlock(&m);
	ccm_dm_lines_free(&m.lines);
	ccm_key_wipe(&m.key);
	return ret;
}

/* ---- status, pause, resume, rate ---- */

/* The visible device, which must be a mirror: exit code. */
static int open_mirror(struct mv *m, const char *arg)
{
	int ret;

	ccm_dm_init();
	ret = resolve_visible(m, arg);
	if (!ret)
		ret = detect(m);
	if (ret)
		return ret;
	if (m->st != ST_MIRROR && m->st != ST_FOREIGN) {
		ccm_err("no move in progress on %s (its table is %s)", m->name,
			m->lines.n ? m->lines.v[0].type : "empty");
		return CCM_EXIT_BADDEV;
	}
	if (m->st == ST_FOREIGN && ccm_mtable_parse(m->lines.v[0].params,
						    &m->mt)) {
		ccm_err("%s: unexpected ccm-mirror table \"%s\"", m->name,
			m->lines.v[0].params);
		return CCM_EXIT_IO;
	}
	if (m->st == ST_FOREIGN) {
		m->target = m->mt.secondary;
		m->have_target = true;
	}
	return CCM_EXIT_OK;
}

static void print_status(struct mv *m, const struct ccm_mstatus *s)
{
	struct ccm_prog p;
	char desc[160], old[160], buf[512], rate[32], q1[200], q2[200];

	dev_desc(m->target, desc, sizeof(desc));
	dev_desc(m->mt.primary, old, sizeof(old));
	ccm_prog_compute(&p, s, m->sectors * 512,
			 s->kib_s ? (double)s->kib_s * 1024 : -1);
	if (m->o->json) {
		ccm_fmt_json(&p, m->name, buf, sizeof(buf));
		buf[strlen(buf) - 1] = 0;
		ccm_json_str(desc, q1, sizeof(q1));
		ccm_json_str(old, q2, sizeof(q2));
		printf("%s,\"mode\":\"%s\",\"new_device\":%s,\"old_device\":%s,"
		       "\"region_bytes\":%" PRIu64 ",\"in_flight\":%u,"
		       "\"rate_mib\":%u,\"parallel\":%u,\"errors\":[%" PRIu64
		       ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "],\"made_by_move\":%s,"
		       "\"persistence\":\"%s\",\"carried\":%" PRIu64 "}\n",
		       buf, s->mode, q1, q2, s->region_sectors * 512,
		       s->inflight, s->rate_mib, s->parallel, s->errors[0],
		       s->errors[1], s->errors[2], s->errors[3],
		       m->st == ST_MIRROR ? "true" : "false",
		       s->has_carried ? s->persistence : "core", s->carried);
		return;
	}
	ccm_fmt_line(&p, buf, sizeof(buf));
	if (s->rate_mib)
		snprintf(rate, sizeof(rate), "%u MiB/s", s->rate_mib);
	else
		snprintf(rate, sizeof(rate), "none");
	printf("%s: moving onto %s (%s mode)\n", m->name, desc, s->mode);
	printf("  old:      %s\n", old);
	printf("  state:    %s, health %s (old, new)\n", s->state, s->health);
	printf("  progress: %s\n", buf + strlen("Moved: "));
	printf("  regions:  %" PRIu64 "/%" PRIu64 " of %" PRIu64
	       " KiB, %u copying, parallel %u, rate limit %s\n", s->copied,
	       s->total, s->region_sectors / 2, s->inflight, s->parallel,
	       rate);
	printf("  errors:   old read %" PRIu64 " write %" PRIu64
	       ", new read %" PRIu64 " write %" PRIu64 "\n", s->errors[0],
	       s->errors[1], s->errors[2], s->errors[3]);
	if (s->has_carried)
		printf("  progress kept: %s%s, %" PRIu64
		       " regions carried over at start\n",
		       !strcmp(s->persistence, "core") ? "in memory only" :
		       !strcmp(s->persistence, "metadata") ?
		       "on a metadata device" :
		       !strcmp(s->persistence, "header") ?
		       "in the new device's header" : s->persistence,
		       !strcmp(s->persistence, "core") ? " (a reboot starts over)" :
		       " (survives a reboot: run the move again)", s->carried);
}

int cmd_status(const struct ccm_opts *o)
{
	struct ccm_mstatus s;
	struct mv m;
	int ret;

	mv_init(&m, o);
	ccm_dm_init();
	ret = resolve_visible(&m, o->args[0]);
	if (!ret)
		ret = detect(&m);
	if (ret)
		goto out;
	if (m.st != ST_MIRROR && m.st != ST_FOREIGN) {
		if (o->json)
			printf("{\"device\":\"%s\",\"state\":\"none\",\"table\":\"%s\"}\n",
			       m.name, m.lines.n ? m.lines.v[0].type : "");
		else
			printf("%s: no move in progress (table: %s)\n", m.name,
			       m.lines.n ? m.lines.v[0].type : "empty");
		goto out;
	}
	ccm_dm_lines_free(&m.lines);
	ret = open_mirror(&m, o->args[0]);
	if (!ret) {
		ret = read_status(&m, &s);
		if (ret < 0)
			ret = CCM_EXIT_IO;
	}
	if (ret)
		goto out;
	if (!o->watch) {
		print_status(&m, &s);
		goto out;
	}
	signals_install(o->interval);
	{
		enum watch_end w;
		int err = 0;

		w = watch(&m, &err);
		bar_end(&m);
		switch (w) {
		case W_READY:
			say(&m, "%s: ready", m.name);
			break;
		case W_FAILED:
			ccm_err("%s: the mirror failed (health %s)", m.name,
				m.last.health);
			ret = CCM_EXIT_ROLLEDBACK;
			break;
		case W_INTERRUPTED:
			ret = CCM_EXIT_INTERRUPTED;
			break;
		case W_GONE:
			say(&m, "%s: no longer a mirror (switched or cancelled)",
			    m.name);
			break;
		case W_ERROR:
			ret = err ? err : CCM_EXIT_IO;
			break;
		}
	}
	signals_restore();
out:
	ccm_dm_lines_free(&m.lines);
	return ret;
}

static int send(const struct ccm_opts *o, const char *msg, const char *done)
{
	struct ccm_mstatus s;
	struct mv m;
	int ret;

	mv_init(&m, o);
	ret = open_mirror(&m, o->args[0]);
	if (!ret)
		ret = ccm_dm_message(m.name, msg);
	if (!ret) {
		ret = read_status(&m, &s);
		if (ret < 0)
			ret = CCM_EXIT_IO;
	}
	if (!ret) {
		struct ccm_prog p;

		ccm_prog_compute(&p, &s, m.sectors * 512, -1);
		printf("%s: %s (state %s, %.1f%% copied, rate limit %u MiB/s%s)\n",
		       m.name, done, s.state, p.percent, s.rate_mib,
		       s.rate_mib ? "" : " = none");
	}
	ccm_dm_lines_free(&m.lines);
	return ret;
}

int cmd_pause(const struct ccm_opts *o)
{
	return send(o, "pause", "copy paused");
}

int cmd_resume(const struct ccm_opts *o)
{
	return send(o, "resume", "copy resumed");
}

int cmd_rate(const struct ccm_opts *o)
{
	unsigned long v;
	char msg[32], *end;

	errno = 0;
	v = strtoul(o->args[1], &end, 10);
	if (o->args[1][0] < '0' || o->args[1][0] > '9' || *end || errno ||
	    v > CCM_MAX_RATE_MIB) {
		ccm_err("rate: \"%s\" is not a whole number of MiB/s from 0 (no limit) to %u",
			o->args[1], CCM_MAX_RATE_MIB);
		return CCM_EXIT_USAGE;
	}
	snprintf(msg, sizeof(msg), "rate %lu", v);
	return send(o, msg, "rate limit set");
}
