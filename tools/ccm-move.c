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
 *   <name>-ccm-new  hidden, only when the new disk is larger: a linear
 *                   slice of it of exactly <sectors> (the target needs
 *                   equal sizes), dm uuid CCM-NEW-<...>
 * Start: create the hidden device(s), reload <name>, suspend, resume.
 * Ready: reload <name> to "linear <new> 0", suspend, check that the live
 * mirror is still ready (else drop the new table and resume: go on
 * waiting), resume, remove the hidden devices.  Abort (at any time, and
 * when the secondary fails): reload <name> to the hidden device's table,
 * suspend, resume, remove the hidden devices: every write always reached
 * the old disk, so nothing is lost.  SIGINT/SIGTERM are blocked during
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
 * Encrypted moves (--encrypt --key-file F) need ccm-mirror >= 1.1.0; they
 * slot in at the MODE_ENCRYPTED places (mirror_line(), final_line(),
 * check_encrypt()).
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
#define OLD_UUID_PREFIX		"CCM-OLD-"
#define NEW_UUID_PREFIX		"CCM-NEW-"
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
	char old_uuid[CCM_DM_UUID_LEN], new_uuid[CCM_DM_UUID_LEN];
	struct ccm_dm_info old, slice;
	bool old_ours, slice_ours;
	enum found st;
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
	char removed[2 * CCM_DM_NAME_LEN + 8];	/* hidden devices removed */
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

static volatile sig_atomic_t g_signal, g_tick, g_rearm;
static sigset_t g_mask, g_oldmask;
static struct sigaction g_old_int, g_old_term, g_old_alrm;
static bool g_installed;

static void on_signal(int sig)
{
	g_signal = sig;
	/* Without a periodic timer a signal that lands between the flag
	 * check and the wait would go unnoticed until the next event. */
	if (g_rearm)
		alarm(1);
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
	g_rearm = interval <= 0;
	if (interval > 0) {
		memset(&it, 0, sizeof(it));
		it.it_interval.tv_sec = (time_t)interval;
		it.it_interval.tv_usec = (suseconds_t)((interval -
			(double)(time_t)interval) * 1e6);
		if (!it.it_interval.tv_sec && it.it_interval.tv_usec < 10000)
			it.it_interval.tv_usec = 10000;
		it.it_value = it.it_interval;
		setitimer(ITIMER_REAL, &it, NULL);
	}
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
	if (strlen(m->name) + strlen(OLD_SUFFIX) >= CCM_DM_NAME_LEN) {
		ccm_err("the name %s is too long to add \"%s\" to it", m->name,
			OLD_SUFFIX);
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
	if (ret)
		return ret;
	m->sectors = ccm_dm_lines_sectors(&m->lines);
	m->old_ours = m->old.exists && has_prefix(m->old.uuid, OLD_UUID_PREFIX);
	m->slice_ours = m->slice.exists &&
			has_prefix(m->slice.uuid, NEW_UUID_PREFIX);
	if ((m->old.exists && !m->old_ours) ||
	    (m->slice.exists && !m->slice_ours)) {
		ccm_err("a device named %s exists and was not made by ccm-mirror move (its dm uuid is \"%s\"); rename or remove it",
			m->old.exists && !m->old_ours ? m->old_name :
							m->new_name,
			m->old.exists && !m->old_ours ? m->old.uuid :
							m->slice.uuid);
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
	m->st = m->slice_ours ? ST_PIVOTED : ST_NONE;
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
	return ret;
}

static void hidden_names(const struct mv *m, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", m->old.exists ? m->old_name : "",
		 m->old.exists && m->slice.exists ? " and " : "",
		 m->slice.exists ? m->new_name : "");
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

/* The mirror: @old and @secondary as the table names them. */
static int mirror_line(struct mv *m, const char *old, const char *secondary,
		       struct ccm_dm_lines *l)
{
	char params[512], opts[96] = "";
	unsigned int n = 0;

	if (m->o->rate_set && m->o->rate_mib)
		n += 2;
	if (m->o->parallel)
		n += 2;
	if (n)
		snprintf(opts, sizeof(opts), " %u", n);
	if (m->o->rate_set && m->o->rate_mib)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " rate %u", m->o->rate_mib);
	if (m->o->parallel)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 " parallel %u", m->o->parallel);
	switch (m->mode) {
	case MODE_PLAIN:
		snprintf(params, sizeof(params), "%s %s %" PRIu64 "%s", old,
			 secondary, m->o->region_size / 512, opts);
		break;
	case MODE_ENCRYPTED:
		/* ccm-mirror >= 1.1.0: a key reference follows (later). */
		ccm_err("--encrypt: not implemented by this ccm-mirror tool yet");
		return CCM_EXIT_UNSUPPORTED;
	}
	return one_line(l, m->sectors, CCM_MIRROR_TARGET, params);
}

/* What <name> becomes at the pivot. */
static int final_line(struct mv *m, dev_t target, struct ccm_dm_lines *l)
{
	char params[64], d[32];

	devno_str(target, d, sizeof(d));
	switch (m->mode) {
	case MODE_PLAIN:
		snprintf(params, sizeof(params), "%s 0", d);
		return one_line(l, m->sectors, "linear", params);
	case MODE_ENCRYPTED:
		/* "ccm <new> <key reference>" (later) */
		break;
	}
	ccm_err("--encrypt: not implemented by this ccm-mirror tool yet");
	return CCM_EXIT_UNSUPPORTED;
}

static int table_is_linear_on(const struct ccm_dm_lines *l, dev_t dev)
{
	char want[40];

	snprintf(want, sizeof(want), "%u:%u 0", major(dev), minor(dev));
	return l->n == 1 && !strcmp(l->v[0].type, "linear") &&
	       !strcmp(l->v[0].params, want);
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
	struct ccm_key key;
	int ret;

	if (!m->o->encrypt)
		return CCM_EXIT_OK;
	ret = ccm_key_read(m->o->key_file, &key);
	ccm_key_wipe(&key);
	if (ret)
		return ret;
	if (!version_at_least(v, encrypt_min_version)) {
		ccm_err("--encrypt: not supported yet by this kernel module: the loaded ccm-mirror target is version %u.%u.%u, encrypted moves need %u.%u.%u or later",
			v[0], v[1], v[2], encrypt_min_version[0],
			encrypt_min_version[1], encrypt_min_version[2]);
		return CCM_EXIT_UNSUPPORTED;
	}
	ccm_err("--encrypt: not supported yet by this ccm-mirror tool (the loaded ccm-mirror target is version %u.%u.%u)",
		v[0], v[1], v[2]);
	return CCM_EXIT_UNSUPPORTED;
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
	if (m->o->region_size < m->vis_lbs) {
		ccm_err("--region-size %" PRIu64
			" is smaller than the %u-byte logical blocks of %s",
			m->o->region_size, m->vis_lbs, m->name);
		return CCM_EXIT_USAGE;
	}
	m->use_slice = m->new_bytes > need;
	return CCM_EXIT_OK;
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

static int start(struct mv *m)
{
	struct ccm_dm_lines mirror = { 0 }, slice = { 0 };
	char old[32], sec[32], desc[160], size[32], region[32];
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
	ret = ccm_dm_create_lines(m->old_name, m->old_uuid, &m->lines, true);
	if (!ret)
		ret = ccm_dm_info(m->old_name, 0, 0, &m->old);
	if (ret)
		goto out;
	devno_str(makedev(m->old.major, m->old.minor), old, sizeof(old));
	devno_str(m->new_dev, sec, sizeof(sec));
	if (m->use_slice) {
		ret = final_line(m, m->new_dev, &slice);
		if (!ret)
			ret = ccm_dm_create_lines(m->new_name, m->new_uuid,
						  &slice, true);
		if (!ret)
			ret = ccm_dm_info(m->new_name, 0, 0, &m->slice);
		if (ret)
			goto undo;
		devno_str(makedev(m->slice.major, m->slice.minor), sec,
			  sizeof(sec));
	}
	ret = mirror_line(m, old, sec, &mirror);
	if (!ret)
		ret = swap_table(m, &mirror);
	if (ret)
		goto undo;
	m->target = m->new_dev;
	m->have_target = true;
	dev_desc(m->new_dev, desc, sizeof(desc));
	ccm_human_size(m->sectors * 512, size, sizeof(size));
	ccm_human_size(m->o->region_size, region, sizeof(region));
	say(m, "%s: moving %s onto %s in %s regions; its old table is now %s",
	    m->name, size, desc, region, m->old_name);
	goto out;
undo:
	if (remove_hidden(m))
		ccm_err("could not remove %s%s%s: remove by hand (dmsetup remove)",
			m->old_name, m->use_slice ? " / " : "",
			m->use_slice ? m->new_name : "");
out:
	ccm_dm_lines_free(&mirror);
	ccm_dm_lines_free(&slice);
	return ret;
}

/* 0: done; 1: not ready any more (the mirror runs on); or an exit code */
static int pivot(struct mv *m)
{
	struct ccm_dm_lines fin;
	struct ccm_mstatus s;
	int ret;

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
	if (remove_hidden(m)) {
		ccm_err("%s is on the new disk, but removing the hidden devices failed: run ccm-mirror move --pivot %s again",
			m->name, m->name);
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

static int abort_move(struct mv *m)
{
	struct ccm_dm_lines old;
	char desc[160] = "";
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
	if (remove_hidden(m)) {
		ccm_err("%s is back on its old table, but removing the hidden devices failed: run ccm-mirror move --abort %s again",
			m->name, m->name);
		return CCM_EXIT_IO;
	}
	say(m, "%s: back on its old table; %s%sis no longer used", m->name,
	    desc, desc[0] ? " " : "the new device ");
	return CCM_EXIT_OK;
}

/* ---- finishing a move ---- */

static void summary(struct mv *m)
{
	char desc[160], size[32], speed[32], dur[16], extra[512], q[200];
	double secs = elapsed_s(m);

	dev_desc(m->target, desc, sizeof(desc));
	ccm_human_size(m->sectors * 512, size, sizeof(size));
	ccm_human_size(secs > 0 ? (uint64_t)((double)m->sectors * 512 / secs) :
				  0, speed, sizeof(speed));
	ccm_fmt_duration((int64_t)(secs + 0.5), dur, sizeof(dur));
	say(m, "%s: moved to %s: %s in %s (%s/s)", m->name, desc, size, dur,
	    speed);
	say(m, "%s: table now 0 %" PRIu64 " linear %u:%u 0", m->name,
	    m->sectors, major(m->target), minor(m->target));
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
			if (m->have_target && table_is_linear_on(&l, m->target)) {
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

	if (m->o->region_set && m->o->region_size / 512 != m->mt.region_sectors)
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
	char desc[160], size[32], path[CCM_DM_NAME_LEN + 16];
	char sec[CCM_DM_NAME_LEN + 16];

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
	say(m, "would create %s (dm uuid %s) with the table of %s:",
	    m->old_name, m->old_uuid, m->name);
	ccm_dm_lines_print(&m->lines, "  ", m->o->json ? stderr : stdout);
	snprintf(path, sizeof(path), "/dev/mapper/%s", m->old_name);
	devno_str(m->new_dev, sec, sizeof(sec));
	if (m->use_slice && !final_line(m, m->new_dev, &l)) {
		say(m, "would create %s (dm uuid %s), %s being larger:",
		    m->new_name, m->new_uuid, m->new_path);
		ccm_dm_lines_print(&l, "  ", m->o->json ? stderr : stdout);
		ccm_dm_lines_free(&l);
		snprintf(sec, sizeof(sec), "/dev/mapper/%s", m->new_name);
	}
	if (!mirror_line(m, path, sec, &l)) {
		say(m, "would load into %s, then suspend and resume it:",
		    m->name);
		ccm_dm_lines_print(&l, "  ", m->o->json ? stderr : stdout);
		ccm_dm_lines_free(&l);
	}
	if (m->o->no_pivot) {
		say(m, "would stop when ready (--no-pivot)");
	} else if (!final_line(m, m->new_dev, &l)) {
		say(m, "when ready, would load into %s, suspend and resume it:",
		    m->name);
		ccm_dm_lines_print(&l, "  ", m->o->json ? stderr : stdout);
		ccm_dm_lines_free(&l);
		say(m, "and remove %s%s%s", m->old_name,
		    m->use_slice ? " and " : "",
		    m->use_slice ? m->new_name : "");
	}
	if (m->o->json)
		printf("{\"device\":\"%s\",\"state\":\"dry_run\",\"bytes_total\":%"
		       PRIu64 ",\"new_device_bytes\":%" PRIu64 ",\"slice\":%s}\n",
		       m->name, m->sectors * 512, m->new_bytes,
		       m->use_slice ? "true" : "false");
}

static int confirm(struct mv *m)
{
	char q[512], desc[160];

	if (m->o->yes)
		return CCM_EXIT_OK;
	dev_desc(m->new_dev, desc, sizeof(desc));
	if (!isatty(STDIN_FILENO)) {
		ccm_err("refusing to overwrite %s without --yes: cannot ask for confirmation (standard input is not a terminal)",
			desc);
		return CCM_EXIT_REFUSED;
	}
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
	if (ret)
		return ret;
	if (m->o->dry_run) {
		print_plan(m, v);
		return CCM_EXIT_OK;
	}
	ret = confirm(m);
	if (ret)
		return ret;
	signals_install(m->o->interval);
	ret = start(m);
	if (ret) {
		signals_restore();
		return ret;
	}
	return finish(m, !m->o->no_pivot);
}

static int cleanup_pivoted(struct mv *m)
{
	char names[2 * CCM_DM_NAME_LEN + 8];
	int ret;

	hidden_names(m, names, sizeof(names));
	if (m->o->dry_run) {
		say(m, "would remove %s, left by an interrupted ccm-mirror",
		    names);
		return CCM_EXIT_OK;
	}
	if ((m->old.exists && m->old.open_count) ||
	    (m->slice.exists && m->slice.open_count)) {
		ccm_err("%s %s still open: not removing", names,
			m->old.exists && m->slice.exists ? "are" : "is");
		return CCM_EXIT_REFUSED;
	}
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
		if (m->o->encrypt) {
			ccm_err("the running move of %s is not encrypted; --encrypt does not apply",
				m->name);
			return CCM_EXIT_USAGE;
		}
		if (m->o->dry_run) {
			say(m, "dry run: %s is already being moved to %s; would watch it%s",
			    m->name, desc, m->o->no_pivot ? "" :
			    " and switch to it when ready");
			return CCM_EXIT_OK;
		}
		say(m, "%s: already being moved to %s: watching it", m->name,
		    desc);
		ret = apply_runtime_opts(m);
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
		if (table_is_linear_on(&m->lines, m->new_dev)) {
			dev_desc(m->new_dev, desc, sizeof(desc));
			say(m, "%s: already moved to %s", m->name, desc);
			return cleanup_pivoted(m);
		}
		{
			char names[2 * CCM_DM_NAME_LEN + 8];

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
	struct ccm_dm_lines l;
	char desc[160];
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
			say(m, "and remove %s%s%s", m->old_name,
			    m->slice.exists ? " and " : "",
			    m->slice.exists ? m->new_name : "");
			return CCM_EXIT_OK;
		}
		say(m, "%s: switching to %s when ready", m->name, desc);
		ret = apply_runtime_opts(m);
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
			say(m, "and remove %s%s%s", m->old_name,
			    m->slice.exists ? " and " : "",
			    m->slice.exists ? m->new_name : "");
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
	if (o->key_file && !o->encrypt) {
		ccm_err("--key-file applies to --encrypt only");
		return CCM_EXIT_USAGE;
	}
	if (o->encrypt && !o->key_file) {
		ccm_err("--encrypt needs --key-file FILE (or - for standard input)");
		return CCM_EXIT_USAGE;
	}
	if (o->encrypt && (o->pivot || o->abort)) {
		ccm_err("--encrypt applies to starting a move only");
		return CCM_EXIT_USAGE;
	}
	if (ccm_region_check(o->region_size, why, sizeof(why))) {
		ccm_err("%s", why);
		return CCM_EXIT_USAGE;
	}
	mv_init(&m, o);
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
		       ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "],\"made_by_move\":%s}\n",
		       buf, s->mode, q1, q2, s->region_sectors * 512,
		       s->inflight, s->rate_mib, s->parallel, s->errors[0],
		       s->errors[1], s->errors[2], s->errors[3],
		       m->st == ST_MIRROR ? "true" : "false");
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
