// SPDX-License-Identifier: GPL-2.0
/*
 * ccm-mirror: command line of the dm-ccm-mirror tools.
 *
 *   ccm-mirror [--help|--version] <command> [options] [arguments]
 *
 * Each command lists the options it accepts; parsing is shared, so a new
 * command (move, status, pause, resume, rate...) is one table entry and
 * one cmd_*() function.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm-cmd.h"
#include "ccm-mstatus.h"

#ifndef CCM_MIRROR_VERSION
#define CCM_MIRROR_VERSION "0.1"
#endif

enum {
	OPT_REGION_SIZE = 256,
	OPT_DATA_SIZE,
	OPT_NO_WIPE,
	OPT_JSON,
	OPT_READ_ONLY,
	OPT_SIZE,
	OPT_MAX_REPORT,
	OPT_ENCRYPT,
	OPT_RATE,
	OPT_PARALLEL,
	OPT_NO_PIVOT,
	OPT_PIVOT,
	OPT_ABORT,
	OPT_DRY_RUN,
	OPT_INTERVAL,
	OPT_WATCH,
	OPT_RESTART,
};

/* Every option, in the order --help lists them; bit i = options[i]. */
static const struct option options[] = {
	{ "key-file", required_argument, NULL, 'k' },
	{ "block-size", required_argument, NULL, 'b' },
	{ "region-size", required_argument, NULL, OPT_REGION_SIZE },
	{ "data-size", required_argument, NULL, OPT_DATA_SIZE },
	{ "no-wipe", no_argument, NULL, OPT_NO_WIPE },
	{ "yes", no_argument, NULL, 'y' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "max-report", required_argument, NULL, OPT_MAX_REPORT },
	{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "parallel", required_argument, NULL, OPT_PARALLEL },
	{ "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
	{ "pivot", no_argument, NULL, OPT_PIVOT },
	{ "abort", no_argument, NULL, OPT_ABORT },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "watch", no_argument, NULL, OPT_WATCH },
	{ "restart", no_argument, NULL, OPT_RESTART },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *const option_help[] = {
	"-k, --key-file FILE|-   the key: exactly 16, 24 or 32 raw bytes\n"
	"                          (AES-128/192/256) from FILE, or from\n"
	"                          standard input for \"-\"",
	"-b, --block-size 512|4096\n"
	"                          data block size (default 4096); not below\n"
	"                          the device's logical block size",
	"    --region-size BYTES copy region size of a live move: a power\n"
	"                          of two from 4K to 1G, at least one block\n"
	"                          (default 1M)",
	"    --data-size BYTES   cap the plaintext capacity, e.g. to exactly\n"
	"                          a primary's size (a multiple of the block\n"
	"                          size; default: as much as fits)",
	"    --no-wipe           do not write every block: never-written\n"
	"                          blocks then read as I/O errors",
	"-y, --yes               do not ask for confirmation",
	"    --json              JSON output (dump: one object; move,\n"
	"                          status: one object per line)",
	"    --read-only         create a read-only mapping",
	"    --size BYTES        decrypt only the first BYTES (default: the\n"
	"                          whole capacity)",
	"    --max-report N      list at most N bad blocks (default 32)",
	"    --encrypt           encrypt the new device with AES-CCM: it is\n"
	"                          formatted as a ccm device and ends up as\n"
	"                          \"ccm <new-device> <key reference>\" (needs\n"
	"                          --key-file and ccm-mirror 1.1.0)",
	"    --rate MIB/S        limit the copy to MIB/S MiB/s (0: no limit)",
	"    --parallel N        copy N regions at a time (1-64, default 4)",
	"    --no-pivot          stop when ready and leave the mirror running",
	"    --pivot             complete a move started with --no-pivot\n"
	"                          (waits until ready, then switches; an\n"
	"                          encrypted move takes its key from the\n"
	"                          user keyring, or from --key-file)",
	"    --abort             cancel a move: back to the old disk",
	"    --dry-run           check everything, print the tables, change\n"
	"                          nothing",
	"    --interval SECS     progress every SECS seconds (default 1;\n"
	"                          0: only when the state changes)",
	"    --watch             follow the progress until ready",
	"    --restart           start over: ignore (and erase) the progress\n"
	"                          of an interrupted move found on the new\n"
	"                          device",
	"-h, --help              show this help",
};

#define OPT(i)	(1U << (i))
enum { B_KEY, B_BSIZE, B_REGION, B_DSIZE, B_NOWIPE, B_YES, B_JSON, B_RO,
       B_SIZE, B_MAXREP, B_ENCRYPT, B_RATE, B_PARALLEL, B_NOPIVOT, B_PIVOT,
       B_ABORT, B_DRYRUN, B_INTERVAL, B_WATCH, B_RESTART, B_HELP };

struct cmd {
	const char *name;
	int (*run)(const struct ccm_opts *o);
	int min_args, max_args;
	const char *args;
	const char *summary;
	const char *details;
	unsigned int opts;		/* OPT(B_*) accepted */
	bool needs_key;
};

static const struct cmd cmds[] = {
	{ "format", cmd_format, 1, 1, "<device>", "create a ccm device",
	  "Destroys everything on <device> (a block device not in use, or a\n"
	  "regular file): writes a superblock with a new UUID and key check\n"
	  "value, empty copy state and, unless --no-wipe, every data block\n"
	  "as authenticated zeros. Asks to type YES unless --yes.\n",
	  OPT(B_KEY) | OPT(B_BSIZE) | OPT(B_REGION) | OPT(B_DSIZE) |
	  OPT(B_NOWIPE) | OPT(B_YES), true },
	{ "dump", cmd_dump, 1, 1, "<device>", "show the superblock and layout",
	  "Prints the superblock, every area's offset and size, the copy\n"
	  "state slots and the checksum status. No key needed.\n",
	  OPT(B_JSON), false },
	{ "verify", cmd_verify, 1, 1, "<device>",
	  "authenticate every data block",
	  "Checks the key, then decrypts and authenticates every data block\n"
	  "offline; lists the bad block numbers and counts them.\n",
	  OPT(B_KEY) | OPT(B_MAXREP), true },
	{ "encrypt", cmd_encrypt, 2, 2, "<plain-image> <device>",
	  "write a plaintext image into a ccm device",
	  "Encrypts <plain-image> (\"-\": standard input) block by block,\n"
	  "each with a fresh random nonce, from block 0; a partial last\n"
	  "block is padded with zeros. The image must fit the capacity.\n",
	  OPT(B_KEY), true },
	{ "decrypt", cmd_decrypt, 2, 2, "<device> <plain-image>",
	  "read a ccm device back to plaintext",
	  "Authenticates and decrypts every block into <plain-image>\n"
	  "(\"-\": standard output); stops at the first bad block.\n",
	  OPT(B_KEY) | OPT(B_SIZE), true },
	{ "open", cmd_open, 2, 2, "<device> <name>",
	  "map a ccm device as /dev/mapper/<name>",
	  "Checks the key, loads it into the user keyring as a logon key\n"
	  "\"ccm-mirror:<uuid>\" and creates the mapping\n"
	  "  0 <sectors> ccm <major:minor> :<key bytes>:logon:ccm-mirror:<uuid>\n"
	  "Needs the dm-ccm-mirror module.\n",
	  OPT(B_KEY) | OPT(B_RO), true },
	{ "close", cmd_close, 1, 1, "<name>",
	  "remove a ccm mapping and its key",
	  "Removes the mapping (refused if it is open or not a ccm mapping)\n"
	  "and unlinks its key from the user keyring.\n",
	  0, false },
	{ "move", cmd_move, 1, 2, "<dm-device> <new-device>",
	  "move a device-mapper device, in use, onto another disk",
	  "Copies <dm-device> (any device-mapper device: LVM volume, dm-linear\n"
	  "or striped mapping...) onto <new-device> while it stays in use:\n"
	  "its table goes to a hidden device <name>-ccm-old, <dm-device> is\n"
	  "reloaded to a ccm-mirror of it onto <new-device>, and when every\n"
	  "region is copied and flushed (ready) <dm-device> is switched to\n"
	  "\"linear <new-device> 0\" and the hidden devices are removed.\n"
	  "The new device must be as large or larger, not in use, writable,\n"
	  "with logical blocks no larger than <dm-device>'s; a larger one is\n"
	  "used through a linear slice <name>-ccm-new.\n"
	  "With --encrypt --key-file, <new-device> is first formatted as a\n"
	  "ccm device holding exactly <dm-device>'s size (so it must be larger\n"
	  "by the format's overhead, about 1% with 4 KiB blocks), the key is\n"
	  "loaded into the user keyring (logon key \"ccm-mirror:<uuid>\"), the\n"
	  "copy is encrypted, and the end is \"ccm <new-device> <key ref>\".\n"
	  "Progress survives a reboot or crash when it can be kept on disk:\n"
	  "encrypted, in the new device's header; plain, on a metadata device\n"
	  "<name>-ccm-meta after <dm-device>'s size on <new-device>, when it\n"
	  "is larger by enough (1 MiB after <dm-device>'s size rounded up to\n"
	  "1 MiB, for up to 2 million regions; --dry-run tells). Run the\n"
	  "same command again to resume, before anything writes to\n"
	  "<dm-device> without the mirror; --restart starts over.\n"
	  "Otherwise the progress is in memory only.\n"
	  "Progress is shown every --interval seconds and on every dm event:\n"
	  "a bar on a terminal, \"Moved: ...\" lines otherwise, JSON lines with\n"
	  "--json. Destroys the content of <new-device>: asks to type YES\n"
	  "unless --yes (not asked when resuming). Ctrl-C stops watching and\n"
	  "leaves the mirror running; running the same command again\n"
	  "resumes watching it.\n"
	  "  ccm-mirror move --pivot <dm-device>   finish (when ready)\n"
	  "  ccm-mirror move --abort <dm-device>   go back to the old disk\n",
	  OPT(B_KEY) | OPT(B_REGION) | OPT(B_YES) | OPT(B_JSON) |
	  OPT(B_ENCRYPT) | OPT(B_RATE) | OPT(B_PARALLEL) | OPT(B_NOPIVOT) |
	  OPT(B_PIVOT) | OPT(B_ABORT) | OPT(B_DRYRUN) | OPT(B_INTERVAL) |
	  OPT(B_RESTART), false },
	{ "status", cmd_status, 1, 1, "<dm-device>",
	  "show the progress of a move",
	  "Shows the state of the move of <dm-device>: old and new device,\n"
	  "state (copying, paused, ready, failed), health of each disk,\n"
	  "progress, speed, settings and error counters; \"no move in\n"
	  "progress\" otherwise. --watch follows it until ready (exit 0) or\n"
	  "failed (exit 7), without switching.\n",
	  OPT(B_JSON) | OPT(B_WATCH) | OPT(B_INTERVAL), false },
	{ "pause", cmd_pause, 1, 1, "<dm-device>",
	  "pause the copy of a move",
	  "Pauses the background copy; writes still reach both disks where\n"
	  "already copied.\n", 0, false },
	{ "resume", cmd_resume, 1, 1, "<dm-device>",
	  "resume a paused copy", "Resumes the background copy.\n", 0, false },
	{ "rate", cmd_rate, 2, 2, "<dm-device> <MiB/s>",
	  "change the copy rate limit of a move",
	  "Sets the copy rate limit in MiB/s (0: no limit).\n", 0, false },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void print_exit_codes(FILE *f)
{
	fputs("Exit status:\n"
	      "  0  success (verify: every block authentic; move: moved, or\n"
	      "     ready with --no-pivot, or aborted on request)\n"
	      "  1  usage error, unreadable or malformed key file\n"
	      "  2  I/O or system error (device, device-mapper, keyring)\n"
	      "  3  blocks failed authentication (verify, decrypt)\n"
	      "  4  refused: device in use, already open, not confirmed;\n"
	      "     move: new device in use, read-only or the same device,\n"
	      "     another move running, unsupported table\n"
	      "  5  wrong key (key check value mismatch or wrong key size)\n"
	      "  6  not a usable ccm device: no superblock, bad checksum,\n"
	      "     unsupported version, inconsistent layout, too small,\n"
	      "     image larger than the capacity; move: not a dm device,\n"
	      "     new device too small or with larger logical blocks, no\n"
	      "     move in progress\n"
	      "  7  move: the new device failed (or the move was cancelled\n"
	      "     elsewhere): back on the old disk, no data lost\n"
	      "  8  move: interrupted (SIGINT/SIGTERM); the copy goes on in\n"
	      "     the kernel: run the command again, or move --abort\n"
	      "  9  not supported: no ccm-mirror target in the kernel, or\n"
	      "     --encrypt with a ccm-mirror target older than 1.1.0\n", f);
}

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: ccm-mirror [--help] [--version] <command> [options] [arguments]\n\n"
	      "Live moves of device-mapper devices onto another disk, and AES-CCM\n"
	      "authenticated block devices, for dm-ccm-mirror.\n\n"
	      "Commands:\n", f);
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-8s %-27s %s\n", cmds[i].name, cmds[i].args,
			cmds[i].summary);
	fputs("\nRun \"ccm-mirror <command> --help\" for its options.\n"
	      "Keys are never taken from the command line.\n\n", f);
	print_exit_codes(f);
}

static void cmd_usage(const struct cmd *c, FILE *f)
{
	size_t i;

	fprintf(f, "Usage: ccm-mirror %s [options] %s\n\n%s: %s.\n%s\n",
		c->name, c->args, c->name, c->summary, c->details);
	fputs("Options:\n", f);
	for (i = 0; options[i].name; i++)
		if ((c->opts | OPT(B_HELP)) & OPT(i))
			fprintf(f, "  %s\n", option_help[i]);
	fputc('\n', f);
	print_exit_codes(f);
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < N_CMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static int option_index(int val)
{
	int i;

	for (i = 0; options[i].name; i++)
		if (options[i].val == val)
			return i;
	return -1;
}

static int parse_size_opt(const char *name, const char *arg, uint64_t *out)
{
	if (ccm_parse_size(arg, out)) {
		ccm_err("--%s: \"%s\" is not a size (bytes, or with K, M, G, T)",
			name, arg);
		return CCM_EXIT_USAGE;
	}
	return CCM_EXIT_OK;
}

static int parse_uint_opt(const char *name, const char *arg, unsigned int max,
			  unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v > max) {
		ccm_err("--%s: \"%s\" is not a whole number from 0 to %u", name,
			arg, max);
		return CCM_EXIT_USAGE;
	}
	*out = (unsigned int)v;
	return CCM_EXIT_OK;
}

static int set_option(struct ccm_opts *o, int val, const char *arg)
{
	uint64_t v;
	int ret = CCM_EXIT_OK;

	switch (val) {
	case 'k':
		o->key_file = arg;
		break;
	case 'b':
		ret = parse_size_opt("block-size", arg, &v);
		if (!ret && v != 512 && v != 4096) {
			ccm_err("--block-size must be 512 or 4096");
			ret = CCM_EXIT_USAGE;
		}
		o->block_size = (uint32_t)v;
		break;
	case OPT_REGION_SIZE:
		ret = parse_size_opt("region-size", arg, &o->region_size);
		o->region_set = true;
		break;
	case OPT_RATE:
		ret = parse_uint_opt("rate", arg, CCM_MAX_RATE_MIB, &o->rate_mib);
		o->rate_set = true;
		break;
	case OPT_PARALLEL:
		ret = parse_uint_opt("parallel", arg, CCM_MAX_PARALLEL,
				     &o->parallel);
		if (!ret && !o->parallel) {
			ccm_err("--parallel: from 1 to %d", CCM_MAX_PARALLEL);
			ret = CCM_EXIT_USAGE;
		}
		break;
	case OPT_INTERVAL: {
		char *end;

		errno = 0;
		o->interval = strtod(arg, &end);
		if (errno || end == arg || *end || !isfinite(o->interval) ||
		    o->interval < 0 || o->interval > 86400) {
			ccm_err("--interval: \"%s\" is not a number of seconds from 0 to 86400",
				arg);
			ret = CCM_EXIT_USAGE;
		}
		break;
	}
	case OPT_ENCRYPT:
		o->encrypt = true;
		break;
	case OPT_NO_PIVOT:
		o->no_pivot = true;
		break;
	case OPT_PIVOT:
		o->pivot = true;
		break;
	case OPT_ABORT:
		o->abort = true;
		break;
	case OPT_DRY_RUN:
		o->dry_run = true;
		break;
	case OPT_WATCH:
		o->watch = true;
		break;
	case OPT_RESTART:
		o->restart = true;
		break;
	case OPT_DATA_SIZE:
		ret = parse_size_opt("data-size", arg, &o->data_size);
		break;
	case OPT_SIZE:
		ret = parse_size_opt("size", arg, &o->size);
		break;
	case OPT_MAX_REPORT:
		ret = parse_size_opt("max-report", arg, &v);
		if (!ret && v > 1000000) {
			ccm_err("--max-report: at most 1000000");
			ret = CCM_EXIT_USAGE;
		}
		o->max_report = (unsigned int)v;
		break;
	case OPT_NO_WIPE:
		o->no_wipe = true;
		break;
	case 'y':
		o->yes = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_READ_ONLY:
		o->read_only = true;
		break;
	}
	return ret;
}

/* Parse argv[0] = command name, then its options and arguments. */
static int parse_cmd(const struct cmd *c, int argc, char **argv,
		     struct ccm_opts *o)
{
	int val, idx, ret;

	memset(o, 0, sizeof(*o));
	o->block_size = 4096;
	o->region_size = (uint64_t)CCM_DEFAULT_REGION_SECTORS * 512;
	o->max_report = CCM_DEFAULT_MAX_REPORT;
	o->interval = 1;
	opterr = 0;
	optind = 1;
	while ((val = getopt_long(argc, argv, ":k:b:yh", options, NULL)) != -1) {
		if (val == '?' || val == ':') {
			ccm_err("%s option %s (see ccm-mirror %s --help)",
				val == '?' ? "unknown" : "missing argument for",
				argv[optind - 1], c->name);
			return CCM_EXIT_USAGE;
		}
		if (val == 'h') {
			cmd_usage(c, stdout);
			return -1;
		}
		idx = option_index(val);
		if (!(c->opts & OPT(idx))) {
			ccm_err("option --%s does not apply to %s",
				options[idx].name, c->name);
			return CCM_EXIT_USAGE;
		}
		ret = set_option(o, val, optarg);
		if (ret)
			return ret;
	}
	o->nargs = argc - optind;
	if (o->nargs < c->min_args || o->nargs > c->max_args) {
		ccm_err("expected %s (see ccm-mirror %s --help)", c->args,
			c->name);
		return CCM_EXIT_USAGE;
	}
	for (idx = 0; idx < o->nargs; idx++)
		o->args[idx] = argv[optind + idx];
	if (c->needs_key && !o->key_file) {
		ccm_err("--key-file FILE (or - for standard input) is required");
		return CCM_EXIT_USAGE;
	}
	return CCM_EXIT_OK;
}

int main(int argc, char **argv)
{
	static char prog[64];
	const struct cmd *c;
	struct ccm_opts o;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return CCM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CCM_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ccm-mirror %s (on-disk format version %d)\n",
		       CCM_MIRROR_VERSION, CCM_SB_VERSION);
		return CCM_EXIT_OK;
	}
	if (!strcmp(argv[1], "help") && argc <= 3) {
		c = argc == 3 ? find_cmd(argv[2]) : NULL;
		if (c)
			cmd_usage(c, stdout);
		else
			usage(argc == 3 ? stderr : stdout);
		return argc == 3 && !c ? CCM_EXIT_USAGE : CCM_EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		ccm_err("unknown command \"%s\" (see ccm-mirror --help)",
			argv[1]);
		return CCM_EXIT_USAGE;
	}
	snprintf(prog, sizeof(prog), "ccm-mirror %s", c->name);
	ccm_prog = prog;
	ret = parse_cmd(c, argc - 1, argv + 1, &o);
	if (ret)
		return ret < 0 ? CCM_EXIT_OK : ret;
	ret = c->run(&o);
	if (fflush(stdout) && !ret) {
		ccm_err("cannot write the output");
		ret = CCM_EXIT_IO;
	}
	return ret;
}
