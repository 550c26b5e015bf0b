// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: ccm-mirror status/table parsing and move progress.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "ccm-mstatus.h"
#include "ccm-util.h"

static const char *const state_names[] = {
	[CCM_MS_COPYING] = "copying",
	[CCM_MS_PAUSED] = "paused",
	[CCM_MS_READY] = "ready",
	[CCM_MS_FAILED] = "failed",
};

int ccm_mstatus_parse(const char *params, struct ccm_mstatus *s)
{
	unsigned int k;
	int n = 0;

	memset(s, 0, sizeof(*s));
	if (sscanf(params, "%15s %" SCNu64 " %" SCNu64 "/%" SCNu64
		   " %15s %2s %u %" SCNu64 " %u %u %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 "%n",
		   s->mode, &s->region_sectors, &s->copied, &s->total,
		   s->state, s->health, &s->inflight, &s->kib_s, &s->rate_mib,
		   &s->parallel, &s->errors[0], &s->errors[1], &s->errors[2],
		   &s->errors[3], &n) != 14 || !n)
		return -1;
	if (params[n] && params[n] != ' ')
		return -1;
	if (params[n]) {
		int m = 0;

		if (sscanf(params + n, " %" SCNu64 " %15s%n", &s->carried,
			   s->persistence, &m) == 2 && m &&
		    (!params[n + m] || params[n + m] == ' '))
			s->has_carried = true;
		else
			s->carried = 0;
	}
	if (strlen(s->health) != 2 || !s->region_sectors ||
	    s->copied > s->total)
		return -1;
	s->st = CCM_MS_UNKNOWN;
	for (k = 0; k < sizeof(state_names) / sizeof(state_names[0]); k++)
		if (!strcmp(s->state, state_names[k]))
			s->st = (enum ccm_mstate)k;
	return 0;
}

int ccm_devno_parse(const char *s, dev_t *dev)
{
	unsigned int ma, mi;
	int n = 0;

	if (sscanf(s, "%u:%u%n", &ma, &mi, &n) != 2 || s[n])
		return -1;
	*dev = makedev(ma, mi);
	return 0;
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

int ccm_mtable_parse(const char *params, struct ccm_mtable *t)
{
	char *copy, *tok, *save = NULL;
	unsigned int k = 0, nopts = 0, used = 0, v;
	int ret = -1;

	memset(t, 0, sizeof(*t));
	copy = strdup(params);
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), k++) {
		if (k == 0 && ccm_devno_parse(tok, &t->primary))
			goto out;
		if (k == 1 && ccm_devno_parse(tok, &t->secondary))
			goto out;
		if (k == 2) {
			if (parse_uint(tok, UINT32_MAX, &v) || !v)
				goto out;
			t->region_sectors = v;
		}
		if (k == 3 && parse_uint(tok, 64, &nopts))
			goto out;
		if (k < 4)
			continue;
		if (used >= nopts)
			break;		/* arguments of later versions */
		used++;
		if (!strcmp(tok, "start_paused")) {
			t->start_paused = true;
		} else if (!strcmp(tok, "overwrite")) {
			t->overwrite = true;
		} else if (!strcmp(tok, "metadata") || !strcmp(tok, "key") ||
			   !strcmp(tok, "id")) {
			const char *opt = tok;
			char *end;

			tok = strtok_r(NULL, " ", &save);
			if (!tok || used >= nopts)
				goto out;
			used++;
			if (!strcmp(opt, "metadata")) {
				if (ccm_devno_parse(tok, &t->metadata))
					goto out;
				t->has_metadata = true;
			} else if (!strcmp(opt, "key")) {
				if (tok[0] != ':' ||
				    strlen(tok) >= sizeof(t->key_ref))
					goto out;
				snprintf(t->key_ref, sizeof(t->key_ref), "%s",
					 tok);
				t->has_key = true;
			} else {
				errno = 0;
				t->id = strtoull(tok, &end, 16);
				if (!isxdigit((unsigned char)tok[0]) || *end ||
				    errno || strlen(tok) > 16)
					goto out;
			}
		} else if (!strcmp(tok, "rate") || !strcmp(tok, "parallel")) {
			bool rate = !strcmp(tok, "rate");

			tok = strtok_r(NULL, " ", &save);
			if (!tok || used >= nopts ||
			    parse_uint(tok, UINT32_MAX,
				       rate ? &t->rate_mib : &t->parallel))
				goto out;
			used++;
		}
		/* other words: options of later versions, ignored */
	}
	ret = k >= 3 ? 0 : -1;
out:
	free(copy);
	return ret;
}

uint64_t ccm_move_id(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a 64 offset basis */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;		/* FNV 64 prime */
	}
	return h;
}

uint64_t ccm_meta_dev_bytes(uint64_t regions)
{
	uint64_t b = ((regions + 7) / 8 + 4095) / 4096 * 4096;
	uint64_t bytes = 2 * (4096 + 2 * b);

	return (bytes + (1 << 20) - 1) / (1 << 20) * (1 << 20);
}

int ccm_region_check(uint64_t bytes, char *why, size_t len)
{
	if (bytes < CCM_MIN_REGION_BYTES || bytes > CCM_MAX_REGION_BYTES ||
	    (bytes & (bytes - 1))) {
		snprintf(why, len, "--region-size %" PRIu64
			 " is not a power of two from 4 KiB to 1 GiB", bytes);
		return -1;
	}
	return 0;
}

void ccm_speed_init(struct ccm_speed *sp, double window)
{
	memset(sp, 0, sizeof(*sp));
	sp->window = window;
}

void ccm_speed_add(struct ccm_speed *sp, double t, uint64_t bytes)
{
	sp->t[sp->head] = t;
	sp->b[sp->head] = bytes;
	sp->head = (sp->head + 1) % CCM_SPEED_SAMPLES;
	if (sp->n < CCM_SPEED_SAMPLES)
		sp->n++;
}

double ccm_speed_get(const struct ccm_speed *sp)
{
	unsigned int last, k, i;
	double dt;

	if (sp->n < 2)
		return -1;
	last = (sp->head + CCM_SPEED_SAMPLES - 1) % CCM_SPEED_SAMPLES;
	/* The oldest sample within the window (at least the one before). */
	i = (last + CCM_SPEED_SAMPLES - 1) % CCM_SPEED_SAMPLES;
	for (k = 2; k < sp->n; k++) {
		unsigned int j = (last + CCM_SPEED_SAMPLES - k) %
				 CCM_SPEED_SAMPLES;

		if (sp->t[last] - sp->t[j] > sp->window)
			break;
		i = j;
	}
	dt = sp->t[last] - sp->t[i];
	if (dt < 0.2 || sp->b[last] < sp->b[i])
		return -1;
	return (double)(sp->b[last] - sp->b[i]) / dt;
}

void ccm_prog_compute(struct ccm_prog *p, const struct ccm_mstatus *s,
		      uint64_t bytes_total, double speed_bps)
{
	uint64_t region = s->region_sectors * 512, remaining;

	memset(p, 0, sizeof(*p));
	p->state = s->state;
	p->copied_regions = s->copied;
	p->total_regions = s->total;
	p->bytes_total = bytes_total;
	p->bytes_copied = s->copied * region;
	if (p->bytes_copied > bytes_total || s->copied == s->total)
		p->bytes_copied = bytes_total;
	if (!s->total || s->copied >= s->total)
		p->percent = 100.0;
	else	/* rounded down: 100.0 only when everything is copied */
		p->percent = (double)(s->copied * 1000 / s->total) / 10.0;
	memcpy(p->health, s->health, sizeof(p->health));
	p->speed_bps = speed_bps;
	remaining = bytes_total - p->bytes_copied;
	if (s->st == CCM_MS_READY || !remaining)
		p->eta_s = 0;
	else if (s->st == CCM_MS_COPYING && speed_bps > 0)
		p->eta_s = (int64_t)((double)remaining / speed_bps + 0.5);
	else
		p->eta_s = -1;
}

void ccm_fmt_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "--:--:--");
	else
		snprintf(buf, len, "%02" PRId64 ":%02d:%02d", s / 3600,
			 (int)(s / 60 % 60), (int)(s % 60));
}

/* "1.2 GiB/2.9 GiB 110.3 MiB/s ETA 00:00:15" */
static void fmt_tail(const struct ccm_prog *p, char *buf, size_t len)
{
	char done[32], total[32], speed[32], eta[32];

	ccm_human_size(p->bytes_copied, done, sizeof(done));
	ccm_human_size(p->bytes_total, total, sizeof(total));
	if (p->speed_bps >= 0) {
		ccm_human_size((uint64_t)p->speed_bps, speed, sizeof(speed));
		strncat(speed, "/s", sizeof(speed) - strlen(speed) - 1);
	} else {
		snprintf(speed, sizeof(speed), "-- B/s");
	}
	if (!strcmp(p->state, "copying") || !strcmp(p->state, "ready"))
		ccm_fmt_duration(p->eta_s, eta, sizeof(eta));
	else
		snprintf(eta, sizeof(eta), "-- (%s)", p->state);
	snprintf(buf, len, "%s/%s %s ETA %s", done, total, speed, eta);
}

void ccm_fmt_line(const struct ccm_prog *p, char *buf, size_t len)
{
	char tail[160];

	fmt_tail(p, tail, sizeof(tail));
	snprintf(buf, len, "Moved: %.1f%% %s", p->percent, tail);
}

void ccm_fmt_bar(const struct ccm_prog *p, unsigned int width, char *buf,
		 size_t len)
{
	char bar[128], tail[160];
	unsigned int k, fill;

	if (width > sizeof(bar) - 3)
		width = sizeof(bar) - 3;
	fill = (unsigned int)(p->percent * width / 100.0);
	bar[0] = '[';
	for (k = 0; k < width; k++)
		bar[k + 1] = k < fill ? '#' : '.';
	bar[width + 1] = ']';
	bar[width + 2] = 0;
	fmt_tail(p, tail, sizeof(tail));
	snprintf(buf, len, "%s %5.1f%% %s", bar, p->percent, tail);
}

void ccm_json_str(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		if (len)
			buf[0] = 0;
		return;
	}
	buf[o++] = '"';
	for (; *s && o + 8 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(buf + o, len - o, "\\u%04x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = 0;
}

void ccm_fmt_json(const struct ccm_prog *p, const char *device, char *buf,
		  size_t len)
{
	char dev[2 * CCM_JSON_NAME_MAX], st[64], speed[32], eta[32];

	dev[0] = 0;
	if (device) {
		char q[2 * CCM_JSON_NAME_MAX - 16];

		ccm_json_str(device, q, sizeof(q));
		snprintf(dev, sizeof(dev), "\"device\":%s,", q);
	}
	ccm_json_str(p->state, st, sizeof(st));
	if (p->speed_bps >= 0)
		snprintf(speed, sizeof(speed), "%.0f", p->speed_bps);
	else
		snprintf(speed, sizeof(speed), "null");
	if (p->eta_s >= 0)
		snprintf(eta, sizeof(eta), "%" PRId64, p->eta_s);
	else
		snprintf(eta, sizeof(eta), "null");
	snprintf(buf, len, "{%s\"state\":%s,\"copied_regions\":%" PRIu64
		 ",\"total_regions\":%" PRIu64 ",\"percent\":%.1f"
		 ",\"bytes_copied\":%" PRIu64 ",\"bytes_total\":%" PRIu64
		 ",\"speed_bps\":%s,\"eta_s\":%s,\"health\":\"%s\"}",
		 dev, st, p->copied_regions, p->total_regions, p->percent,
		 p->bytes_copied, p->bytes_total, speed, eta, p->health);
}
