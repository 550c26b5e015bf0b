/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccm-mirror: the ccm-mirror target's status and table lines, and the
 * progress of a live move (percent, bytes, speed, ETA) as a plain line, a
 * terminal bar or a JSON object.  No device-mapper calls: unit tested.
 *
 * Status INFO of ccm-mirror 1.0 (Documentation/dm-ccm-mirror.rst):
 *   <mode> <region sectors> <copied>/<total> <state> <health>
 *   <in flight> <copy KiB/s> <rate MiB/s> <parallel>
 *   <primary read errors> <primary write errors>
 *   <secondary read errors> <secondary write errors>
 * 1.1 appends <carried> <persistence>.  Later versions may append more
 * fields: they are ignored.
 */
#ifndef CCM_MSTATUS_H
#define CCM_MSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CCM_MIRROR_TARGET	"ccm-mirror"
#define CCM_MIN_REGION_BYTES	4096ULL
#define CCM_MAX_REGION_BYTES	(1ULL << 30)
#define CCM_MAX_PARALLEL	64
#define CCM_MAX_RATE_MIB	(1U << 20)
#define CCM_JSON_NAME_MAX	160

enum ccm_mstate {
	CCM_MS_COPYING,
	CCM_MS_PAUSED,
	CCM_MS_READY,
	CCM_MS_FAILED,
	CCM_MS_UNKNOWN,		/* a state this tool does not know */
};

struct ccm_mstatus {
	char mode[16];			/* "plain" (later "encrypted") */
	uint64_t region_sectors;
	uint64_t copied, total;		/* regions */
	char state[16];
	enum ccm_mstate st;
	char health[3];			/* primary, secondary; NUL */
	unsigned int inflight;
	uint64_t kib_s;			/* kernel-measured copy speed */
	unsigned int rate_mib;		/* 0: unlimited */
	unsigned int parallel;
	uint64_t errors[4];		/* primary r/w, secondary r/w */
	bool has_carried;		/* 1.1: the two fields below */
	uint64_t carried;		/* regions carried over at resume */
	char persistence[16];		/* core, metadata or header */
};

/* 0, or -1 if @params is not a ccm-mirror status line. */
int ccm_mstatus_parse(const char *params, struct ccm_mstatus *s);

#define CCM_KEY_REF_MAX		160

/* Table line: <primary> <secondary> <region> [<#opts> <opts>...] */
struct ccm_mtable {
	dev_t primary, secondary;	/* "M:m" as the kernel prints them */
	uint64_t region_sectors;
	unsigned int rate_mib;
	unsigned int parallel;		/* 0: the target's default */
	bool start_paused;
	bool has_metadata;
	dev_t metadata;			/* metadata <M:m> */
	bool has_key;
	char key_ref[CCM_KEY_REF_MAX];	/* key <reference> */
	uint64_t id;			/* id <hex>; 0 if none */
	bool overwrite;
};

int ccm_mtable_parse(const char *params, struct ccm_mtable *t);
/* "M:m" -> dev_t; 0, or -1. */
int ccm_devno_parse(const char *s, dev_t *dev);

/*
 * The id a move gives its mirror ("id <hex>"): 64-bit FNV-1a of @s, the
 * visible device's dm uuid (or its name if it has none).
 */
uint64_t ccm_move_id(const char *s);

/*
 * Bytes of a plain mirror's metadata device for @regions regions:
 * 2 * (4096 + 2 * B), B = ceil(regions / 8) rounded up to 4096, then
 * rounded up to 1 MiB.
 */
uint64_t ccm_meta_dev_bytes(uint64_t regions);

/* A region size a move accepts: 0, or -1 with the reason in @why. */
int ccm_region_check(uint64_t bytes, char *why, size_t len);

/* Copy speed over a sliding window of samples. */
#define CCM_SPEED_SAMPLES 16
struct ccm_speed {
	double t[CCM_SPEED_SAMPLES];	/* seconds */
	uint64_t b[CCM_SPEED_SAMPLES];	/* bytes copied at t */
	unsigned int n, head;
	double window;			/* seconds */
};

void ccm_speed_init(struct ccm_speed *sp, double window);
void ccm_speed_add(struct ccm_speed *sp, double t, uint64_t bytes);
/* Bytes per second, or -1 if not measurable yet. */
double ccm_speed_get(const struct ccm_speed *sp);

/* One progress sample of a move, as printed and as JSON. */
struct ccm_prog {
	const char *state;		/* copying, paused, ready, failed... */
	uint64_t copied_regions, total_regions;
	double percent;			/* 100.0 only when all copied */
	uint64_t bytes_copied, bytes_total;
	double speed_bps;		/* < 0: unknown */
	int64_t eta_s;			/* < 0: unknown */
	char health[3];
};

/* @speed_bps < 0: unknown. */
void ccm_prog_compute(struct ccm_prog *p, const struct ccm_mstatus *s,
		      uint64_t bytes_total, double speed_bps);
/* "HH:MM:SS" ("--:--:--" if @s < 0; hours grow past 99). */
void ccm_fmt_duration(int64_t s, char *buf, size_t len);
/* "Moved: 42.0% 1.2 GiB/2.9 GiB 110.3 MiB/s ETA 00:00:15" */
void ccm_fmt_line(const struct ccm_prog *p, char *buf, size_t len);
/* "[#####.....]  42.0% 1.2 GiB/2.9 GiB 110.3 MiB/s ETA 00:00:15" */
void ccm_fmt_bar(const struct ccm_prog *p, unsigned int width, char *buf,
		 size_t len);
/* One JSON object, no newline; @device may be NULL. */
void ccm_fmt_json(const struct ccm_prog *p, const char *device, char *buf,
		  size_t len);
/* @s with JSON string escapes, quoted, into @buf. */
void ccm_json_str(const char *s, char *buf, size_t len);

#endif /* CCM_MSTATUS_H */
