// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: messages, size parsing, device I/O, progress, confirmation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "ccm-util.h"

const char *ccm_prog = "ccm-mirror";

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", ccm_prog, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ccm_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void ccm_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

int ccm_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	unsigned long long v;
	const char *u;
	char *end;
	unsigned int shift = 0;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end) {
		u = strchr(units, *end & ~0x20);
		if (!u || !*u)
			return -1;
		shift = 10 * (unsigned int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -1;
		if (v > (UINT64_MAX >> shift))
			return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

void ccm_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	double v = (double)bytes;
	unsigned int i = 0;

	while (v >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	if (i)
		snprintf(buf, len, "%.1f %s", v, units[i]);
	else
		snprintf(buf, len, "%" PRIu64 " B", bytes);
}

int ccm_dev_open(struct ccm_dev *d, const char *path, unsigned int flags)
{
	int oflags = (flags & CCM_DEV_WRITE) ? O_RDWR : O_RDONLY;
	struct stat st;
	int fd;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->path = path;
	if (stat(path, &st)) {
		ccm_err("%s: %s", path, strerror(errno));
		return CCM_EXIT_IO;
	}
	d->is_blk = S_ISBLK(st.st_mode);
	d->is_reg = S_ISREG(st.st_mode);
	if (!d->is_blk && !d->is_reg) {
		ccm_err("%s: not a block device or regular file", path);
		return CCM_EXIT_BADDEV;
	}
	if (d->is_blk && (flags & CCM_DEV_EXCL))
		oflags |= O_EXCL;
	fd = open(path, oflags | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY) {
			ccm_err("%s is in use (mounted, mapped or open exclusively); refusing",
				path);
			return CCM_EXIT_REFUSED;
		}
		ccm_err("%s: %s", path, strerror(errno));
		return CCM_EXIT_IO;
	}
	d->fd = fd;
	d->lbs = 512;
	if (d->is_blk) {
		int lbs = 0;

		if (ioctl(fd, BLKGETSIZE64, &d->size) ||
		    ioctl(fd, BLKSSZGET, &lbs)) {
			ccm_err("%s: cannot get the device size: %s", path,
				strerror(errno));
			ccm_dev_close(d);
			return CCM_EXIT_IO;
		}
		if (lbs > 0)
			d->lbs = (unsigned int)lbs;
		/*
		 * The kernel's targets write around the page cache: drop what
		 * an earlier run may have cached so reads see the device.
		 */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	} else {
		d->size = (uint64_t)st.st_size;
	}
	return CCM_EXIT_OK;
}

static int dev_io(struct ccm_dev *d, void *buf, size_t len, uint64_t off,
		  bool wr)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = wr ? pwrite(d->fd, p, len, (off_t)off) :
				 pread(d->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ccm_err("%s: %s error at byte %" PRIu64 ": %s", d->path,
				wr ? "write" : "read", off,
				n ? strerror(errno) : "unexpected end of device");
			return CCM_EXIT_IO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return CCM_EXIT_OK;
}

int ccm_dev_read(struct ccm_dev *d, void *buf, size_t len, uint64_t off)
{
	return dev_io(d, buf, len, off, false);
}

int ccm_dev_write(struct ccm_dev *d, const void *buf, size_t len,
		  uint64_t off)
{
	return dev_io(d, (void *)buf, len, off, true);
}

int ccm_dev_zero(struct ccm_dev *d, uint64_t off, uint64_t len)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *zero = calloc(1, CHUNK);
	int ret = CCM_EXIT_OK;

	if (!zero) {
		ccm_err("out of memory");
		return CCM_EXIT_IO;
	}
	while (len && !ret) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;

		ret = ccm_dev_write(d, zero, n, off);
		off += n;
		len -= n;
	}
	free(zero);
	return ret;
}

int ccm_dev_sync(struct ccm_dev *d)
{
	if (fsync(d->fd)) {
		ccm_err("%s: flush failed: %s", d->path, strerror(errno));
		return CCM_EXIT_IO;
	}
	return CCM_EXIT_OK;
}

void ccm_dev_close(struct ccm_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

ssize_t ccm_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int ccm_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress_print(struct ccm_progress *p, const struct timespec *now)
{
	double secs = elapsed(&p->start, now);
	double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	char done[32], speed[32];

	ccm_human_size(p->done, done, sizeof(done));
	ccm_human_size((uint64_t)rate, speed, sizeof(speed));
	fprintf(stderr, "\r%s: %5.1f%%, %s done, %s/s   ", p->label, pct, done,
		speed);
	p->last = *now;
}

void ccm_progress_start(struct ccm_progress *p, const char *label,
			uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->total = total;
	p->tty = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
}

void ccm_progress_add(struct ccm_progress *p, uint64_t n)
{
	struct timespec now;

	p->done += n;
	if (!p->tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (elapsed(&p->last, &now) >= 0.25)
		progress_print(p, &now);
}

void ccm_progress_end(struct ccm_progress *p)
{
	struct timespec now;

	if (!p->tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	progress_print(p, &now);
	fputc('\n', stderr);
}

bool ccm_confirm(const char *question)
{
	char line[16];

	if (!isatty(STDIN_FILENO))
		return false;
	fprintf(stderr, "%s\nType YES (in capitals) to continue: ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return !strcmp(line, "YES\n");
}
