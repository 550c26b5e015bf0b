/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: exit codes, messages, device I/O and progress, shared by every
 * subcommand.
 */
#ifndef CCM_UTIL_H
#define CCM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

/* Exit codes: documented in --help and ccm-mirror(8); never renumber. */
enum {
	CCM_EXIT_OK = 0,	/* success; verify: every block authentic */
	CCM_EXIT_USAGE = 1,	/* bad command line, bad key file */
	CCM_EXIT_IO = 2,	/* I/O or system error (open, read, dm, keyring) */
	CCM_EXIT_AUTH = 3,	/* blocks failed authentication */
	CCM_EXIT_REFUSED = 4,	/* in use, not confirmed, already exists */
	CCM_EXIT_BADKEY = 5,	/* wrong key (key check value mismatch) */
	CCM_EXIT_BADDEV = 6,	/* not a ccm device, corrupt or unsupported
				 * superblock, device too small, input too big;
				 * move: not a dm device, new device too small,
				 * block sizes that do not fit, no move */
	CCM_EXIT_ROLLEDBACK = 7, /* move: the new device failed (or the move
				  * was cancelled elsewhere): the device is
				  * back on the old disk */
	CCM_EXIT_INTERRUPTED = 8, /* move: SIGINT/SIGTERM while waiting; the
				   * mirror keeps running in the kernel */
	CCM_EXIT_UNSUPPORTED = 9, /* no ccm-mirror target in the kernel, or
				   * --encrypt (kernel or tool lacks it) */
};

extern const char *ccm_prog;	/* "ccm-mirror" or "ccm-mirror <command>" */

void ccm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ccm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse "4096", "1M", "64KiB", "2G"... (binary units). 0 on success. */
int ccm_parse_size(const char *s, uint64_t *out);
void ccm_human_size(uint64_t bytes, char *buf, size_t len);

/* An open device or image file. */
struct ccm_dev {
	int fd;
	const char *path;
	uint64_t size;		/* bytes */
	unsigned int lbs;	/* logical block size, 512 for files */
	bool is_blk;
	bool is_reg;
};

#define CCM_DEV_WRITE	(1U << 0)	/* open read-write */
#define CCM_DEV_EXCL	(1U << 1)	/* block devices: refuse if in use */

/* Each returns an exit code and prints its own message on failure. */
int ccm_dev_open(struct ccm_dev *d, const char *path, unsigned int flags);
int ccm_dev_read(struct ccm_dev *d, void *buf, size_t len, uint64_t off);
int ccm_dev_write(struct ccm_dev *d, const void *buf, size_t len,
		  uint64_t off);
int ccm_dev_zero(struct ccm_dev *d, uint64_t off, uint64_t len);
int ccm_dev_sync(struct ccm_dev *d);
void ccm_dev_close(struct ccm_dev *d);

/* Whole-buffer read/write on a plain fd (images, pipes). */
ssize_t ccm_read_full(int fd, void *buf, size_t len);
int ccm_write_full(int fd, const void *buf, size_t len);

/* A progress line on stderr, only when stderr is a terminal. */
struct ccm_progress {
	const char *label;
	uint64_t total, done;
	struct timespec start, last;
	bool tty;
};

void ccm_progress_start(struct ccm_progress *p, const char *label,
			uint64_t total);
void ccm_progress_add(struct ccm_progress *p, uint64_t n);
void ccm_progress_end(struct ccm_progress *p);

/* Ask to type YES on the terminal; false if declined or not a terminal. */
bool ccm_confirm(const char *question);

#endif /* CCM_UTIL_H */
