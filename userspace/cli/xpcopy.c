// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the command-line tool of /dev/xpcopy, on libxpcopy.
 *
 *   xpcopy features		what the loaded module supports
 *   xpcopy stats		its counters and parameters (sysfs)
 *   xpcopy copy		copy between a file and a process or a grant
 *   xpcopy grant		export a window as a grant to a command
 *
 * Every command takes --json and --help. Errors are one line on stderr,
 * in xpcopy's terms (xpcopy_strerror()), and, with --json, an object on
 * stdout. Exit status: 0 success, 1 failure, 2 usage error, 3 short copy;
 * "grant" exits with its command's status.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "xpcopy.h"

#define STATS_DIR	"/sys/class/misc/xpcopy/stats"
#define PARAMS_DIR	"/sys/module/xpcopy/parameters"

#define EXIT_USAGE	2
#define EXIT_SHORT	3

#define MiB		(1024ULL * 1024)

static const char *cmd_name = "xpcopy";	/* "xpcopy copy", for messages */
static bool json;
static FILE *json_out;		/* stdout, or stderr when data goes to stdout */

/* ---------------------------------------------------------------------------
 * Output
 */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *errno_name(int err)
{
	/* xpcopy_strerror() starts with the name: "EPERM: ...". */
	static char name[32];
	const char *s = xpcopy_strerror(err, XPCOPY_OP_ANY);
	size_t n = strcspn(s, ":");

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, s, n);
	name[n] = 0;
	return name;
}

/*
 * Where to go from a failed open of /dev/xpcopy: the module is not loaded,
 * or the node is not open to this user. NULL for other errors.
 */
static const char *open_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return "load the module: sudo modprobe xpcopy (after make "
		       "install), or sudo make load in the source tree; "
		       "see the README, \"Install\"";
	case EACCES:
	case EPERM:
		return "/dev/xpcopy should be mode 0666: the module makes it "
		       "so, and the udev rule 70-xpcopy.rules (make install) "
		       "keeps it; check ls -l /dev/xpcopy and local udev rules";
	}
	return NULL;
}

/*
 * Report a failure: "xpcopy CMD: WHAT: EXXX: meaning" on stderr and, with
 * --json, {"ok":false,...} on stdout. @err is a positive or negative errno.
 * A failed open says what to do next on a second line ("hint" in JSON).
 */
static void report_err(const char *what, int err, enum xpcopy_op op)
{
	const char *msg = xpcopy_strerror(err, op);
	const char *hint;

	if (err < 0)
		err = -err;
	hint = op == XPCOPY_OP_OPEN ? open_hint(err) : NULL;
	fprintf(stderr, "%s: %s%s%s\n", cmd_name, what ? what : "",
		what ? ": " : "", msg);
	if (hint)
		fprintf(stderr, "%s: %s\n", cmd_name, hint);
	if (json) {
		fprintf(json_out, "{\"command\":");
		json_str(json_out, cmd_name[6] ? cmd_name + 7 : "xpcopy");
		fprintf(json_out, ",\"ok\":false,\"errno\":");
		json_str(json_out, errno_name(err));
		fprintf(json_out, ",\"errno_value\":%d,\"error\":", err);
		json_str(json_out, msg);
		if (what) {
			fprintf(json_out, ",\"during\":");
			json_str(json_out, what);
		}
		if (hint) {
			fprintf(json_out, ",\"hint\":");
			json_str(json_out, hint);
		}
		fprintf(json_out, "}\n");
	}
}

/* A failure that is not an errno: a message of our own. */
static void report_msg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", cmd_name, buf);
	if (json) {
		fprintf(json_out, "{\"command\":");
		json_str(json_out, cmd_name[6] ? cmd_name + 7 : "xpcopy");
		fprintf(json_out, ",\"ok\":false,\"error\":");
		json_str(json_out, buf);
		fprintf(json_out, "}\n");
	}
}

static int usage_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n(see '%s --help')\n", cmd_name, buf,
		cmd_name);
	if (json) {
		fprintf(json_out, "{\"command\":");
		json_str(json_out, cmd_name[6] ? cmd_name + 7 : "xpcopy");
		fprintf(json_out, ",\"ok\":false,\"usage_error\":true,\"error\":");
		json_str(json_out, buf);
		fprintf(json_out, "}\n");
	}
	return EXIT_USAGE;
}

static const char *human(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------------
 * Parsing
 */

/* A number: decimal, 0x hex or 0 octal, with an optional K, M, G, T suffix
 * (powers of 1024; KiB, MiB... and k, m, g are the same). */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case 0:
		break;
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	case 't': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "ib") ||
		      !strcmp(end, "B") || !strcmp(end, "b")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

/* An unsigned number with no suffix: decimal, 0x hex. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "A:B" into two numbers: A decimal, B decimal or 0x hex. */
static int parse_pair(const char *s, uint64_t *a, uint64_t *b)
{
	const char *colon = strchr(s, ':');
	char first[32];
	size_t n;

	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - s);
	if (!n || n >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, n);
	first[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)first[i]))
			return -EINVAL;
	errno = 0;
	*a = strtoull(first, NULL, 10);
	if (errno || parse_u64(colon + 1, b))
		return -EINVAL;
	return 0;
}

/* ---------------------------------------------------------------------------
 * xpcopy features
 */

static const char *const cmd_names[] = {
	"FEATURES", "COPY", "GRANT", "GRANT_DERIVE", "GRANT_REVOKE",
	"GRANT_INFO",
};

static const char *const copy_flag_names[] = {
	"WRITE", "READ", "BOUNCE", "GRANT", "PUBLISH", "INLINE", "WORKER",
};

static const char *const cap_names[] = {
	"URING_CMD", "URING_WORKERS", "GRANT_PIN", "SQE_COPY",
};

static void print_bits(uint64_t mask, const char *const *names,
		       unsigned int n)
{
	bool first = true;

	for (unsigned int i = 0; i < 64; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		if (json) {
			printf("%s", first ? "" : ",");
			if (i < n)
				json_str(stdout, names[i]);
			else
				printf("\"bit%u\"", i);
		} else {
			if (i < n)
				printf(" %s", names[i]);
			else
				printf(" bit%u", i);
		}
		first = false;
	}
}

static void features_usage(FILE *f)
{
	fprintf(f,
"usage: xpcopy features [--json]\n"
"\n"
"Ask the loaded module what it supports (XPCOPY_FEATURES): its ABI\n"
"version, the commands and copy flags it knows, the most pages it pins\n"
"at once for one copy, the most segments in one copy, its kernel workers.\n"
"\n"
"  --json    one JSON object on stdout\n"
"  --help    this text\n");
}

static int cmd_features(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct xpcopy_features f;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': features_usage(stdout); return 0;
		default: return usage_err("bad option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);

	fd = xpcopy_open(O_CLOEXEC);
	if (fd < 0) {
		report_err(NULL, fd, XPCOPY_OP_OPEN);
		return 1;
	}
	ret = xpcopy_features(fd, &f);
	xpcopy_close(fd);
	if (ret < 0) {
		report_err("XPCOPY_FEATURES", ret, XPCOPY_OP_FEATURES);
		return 1;
	}
	if (json) {
		printf("{\"command\":\"features\",\"ok\":true,"
		       "\"abi_version\":%u,\"batch_pages\":%u,"
		       "\"max_iov\":%u,\"nr_workers\":%u,"
		       "\"io_uring_commands\":%s,"
		       "\"commands_mask\":%llu,\"commands\":[",
		       f.abi_version, f.batch_pages, f.max_iov, f.nr_workers,
		       f.abi_version < 2 ? "null" :
		       f.caps & XPCOPY_CAP_URING_CMD ? "true" : "false",
		       (unsigned long long)f.commands);
		print_bits(f.commands, cmd_names, 6);
		printf("],\"copy_flags_mask\":%llu,\"copy_flags\":[",
		       (unsigned long long)f.copy_flags);
		print_bits(f.copy_flags, copy_flag_names, 7);
		printf("],\"caps_mask\":%llu,\"caps\":[",
		       (unsigned long long)f.caps);
		print_bits(f.caps, cap_names, 4);
		printf("],\"library\":{\"version\":\"%d.%d\","
		       "\"abi_version\":%d}}\n", XPCOPY_LIB_MAJOR,
		       XPCOPY_LIB_MINOR, XPCOPY_ABI_VERSION);
		return 0;
	}
	printf("abi_version   %u%s\n", f.abi_version,
	       f.abi_version == XPCOPY_ABI_VERSION ? "" :
	       " (this tool was built for another)");
	printf("batch_pages   %u\n", f.batch_pages);
	printf("max_iov       %u\n", f.max_iov);
	printf("nr_workers    %u\n", f.nr_workers);
	/* A module of ABI 1 has no caps: it does not say. */
	printf("io_uring      %s\n", f.abi_version < 2 ?
	       "unknown (the module's ABI predates caps)" :
	       f.caps & XPCOPY_CAP_URING_CMD ? "commands accepted" :
	       "no commands (IORING_OP_URING_CMD is Linux 5.19+)");
	printf("commands     ");
	print_bits(f.commands, cmd_names, 6);
	printf("\ncopy_flags   ");
	print_bits(f.copy_flags, copy_flag_names, 7);
	if (f.abi_version >= 2) {
		printf("\ncaps         ");
		print_bits(f.caps, cap_names, 4);
	}
	printf("\nlibrary       libxpcopy %d.%d, ABI %d\n", XPCOPY_LIB_MAJOR,
	       XPCOPY_LIB_MINOR, XPCOPY_ABI_VERSION);
	return 0;
}

/* ---------------------------------------------------------------------------
 * xpcopy stats
 */

static void stats_usage(FILE *f)
{
	fprintf(f,
"usage: xpcopy stats [--json] [--reset-peak]\n"
"\n"
"Print the module's counters (" STATS_DIR "/*) and\n"
"parameters (" PARAMS_DIR "/*).\n"
"\n"
"  --reset-peak  write 0 to pinned_peak first (needs root)\n"
"  --json        one JSON object on stdout\n"
"  --help        this text\n");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print every file of @dir as name/value: text lines or a JSON object. */
static int print_dir(const char *dir, const char *key)
{
	char *names[256];
	unsigned int n = 0;
	struct dirent *d;
	DIR *dp;

	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((d = readdir(dp)) && n < 256) {
		if (d->d_name[0] == '.')
			continue;
		names[n] = strdup(d->d_name);
		if (names[n])
			n++;
	}
	closedir(dp);
	qsort(names, n, sizeof(names[0]), name_cmp);

	if (json) {
		printf(",");
		json_str(stdout, key);
		printf(":{");
	} else {
		printf("%s (%s):\n", key, dir);
	}
	for (unsigned int i = 0, shown = 0; i < n; i++) {
		char path[512], val[256];
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, val, sizeof(val) - 1);
		if (fd >= 0)
			close(fd);
		if (len < 0) {
			free(names[i]);
			continue;	/* write-only or gone */
		}
		val[len] = 0;
		while (len && isspace((unsigned char)val[len - 1]))
			val[--len] = 0;
		if (json) {
			bool num = len > 0;

			for (ssize_t k = 0; k < len; k++)
				if (!isdigit((unsigned char)val[k]))
					num = false;
			printf("%s", shown ? "," : "");
			json_str(stdout, names[i]);
			printf(":");
			if (num && (len == 1 || val[0] != '0'))
				printf("%s", val);
			else
				json_str(stdout, val);
		} else {
			printf("  %-16s %s\n", names[i], val);
		}
		shown++;
		free(names[i]);
	}
	if (json)
		printf("}");
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "reset-peak", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool reset = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'r': reset = true; break;
		case 'h': stats_usage(stdout); return 0;
		default: return usage_err("bad option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);

	if (access(STATS_DIR, F_OK)) {
		report_msg("%s: no such directory: the xpcopy module is not loaded",
			   STATS_DIR);
		return 1;
	}
	if (reset) {
		int fd = open(STATS_DIR "/pinned_peak", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0\n", 2) != 2) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			report_msg("reset %s/pinned_peak: %s", STATS_DIR,
				   strerror(e));
			return 1;
		}
		close(fd);
	}
	if (json)
		printf("{\"command\":\"stats\",\"ok\":true");
	ret = print_dir(STATS_DIR, "stats");
	if (ret < 0) {
		if (json)
			printf("}\n");
		report_msg("%s: %s", STATS_DIR, strerror(-ret));
		return 1;
	}
	/* The parameters are there only when the module is loaded. */
	if (access(PARAMS_DIR, F_OK) == 0)
		print_dir(PARAMS_DIR, "parameters");
	if (json)
		printf("}\n");
	return 0;
}

/* ---------------------------------------------------------------------------
 * xpcopy copy
 */

enum end_kind { END_NONE, END_FILE, END_PROC, END_GRANT };

struct end {
	enum end_kind kind;
	const char *spec;	/* as given */
	const char *path;	/* END_FILE; "-" is stdin or stdout */
	int fd;			/* END_FILE: the open file; END_GRANT: grant */
	pid_t pid;		/* END_PROC */
	uint64_t addr;		/* END_PROC: address; END_GRANT: offset */
};

static void copy_usage(FILE *f)
{
	fprintf(f,
"usage: xpcopy copy --from FILE --to PID:ADDR [--len N] [options]\n"
"       xpcopy copy --from PID:ADDR --len N --to FILE [options]\n"
"       xpcopy copy --from PID:ADDR --to PID:ADDR --len N [options]\n"
"       xpcopy copy --grant-fd FD:OFFSET --from FILE | --to FILE [options]\n"
"\n"
"Copy bytes between a file (or - for stdin or stdout) and the memory of\n"
"a process (pid mode: needs CAP_SYS_PTRACE over it) or the window of a\n"
"grant this process holds (fd FD, e.g. XPCOPY_GRANT_FD under\n"
"'xpcopy grant'). A --from or --to of the form PID:ADDR is a process\n"
"(ADDR is decimal, or hex with 0x); anything else is a file (write\n"
"./12:34 for a file of that name). --grant-fd stands for the missing one.\n"
"\n"
"The copy goes in chunks through a buffer of this process. Without --len\n"
"a file source is copied whole, and a grant from OFFSET to the end of its\n"
"window; a process source needs --len.\n"
"\n"
"  --from SPEC          source: FILE, -, or PID:ADDR\n"
"  --to SPEC            destination: FILE, -, or PID:ADDR\n"
"  --grant-fd FD:OFFSET the grant side, at OFFSET into its window\n"
"  --len N              bytes to copy (suffixes K, M, G: powers of 1024)\n"
"  --chunk N            bytes per XPCOPY_COPY (default 4M)\n"
"  --publish SEQ        into a grant with a sequence word: publish SEQ\n"
"                       once every byte is there\n"
"  --bounce, --inline, --worker\n"
"                       XPCOPY_COPY_BOUNCE, _INLINE, _WORKER\n"
"  --progress, --no-progress\n"
"                       a progress bar on stderr (default: when stderr is\n"
"                       a terminal and the copy takes a while)\n"
"  --json               one JSON object on stdout (stderr when the data\n"
"                       goes to stdout)\n"
"  --help               this text\n"
"\n"
"Exit status: 0 all copied, 1 error, 2 usage error, 3 short copy (the\n"
"process's range ended in an unmapped or read-only page, the file ended).\n");
}

static bool looks_like_proc(const char *s)
{
	const char *colon = strchr(s, ':');
	uint64_t a, b;

	if (!colon || colon == s)
		return false;
	for (const char *p = s; p < colon; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return parse_pair(s, &a, &b) == 0;
}

static int parse_end(const char *s, struct end *e)
{
	uint64_t pid, addr;

	memset(e, 0, sizeof(*e));
	e->spec = s;
	e->fd = -1;
	if (looks_like_proc(s)) {
		parse_pair(s, &pid, &addr);
		if (pid == 0 || pid > INT32_MAX)
			return usage_err("bad pid in '%s'", s);
		e->kind = END_PROC;
		e->pid = (pid_t)pid;
		e->addr = addr;
		return 0;
	}
	if (!*s)
		return usage_err("empty file name");
	if (isdigit((unsigned char)*s) && s[strspn(s, "0123456789")] == ':')
		return usage_err("bad PID:ADDR '%s' (ADDR is decimal, or hex with 0x; ./%s for a file)",
				 s, s);
	e->kind = END_FILE;
	e->path = s;
	return 0;
}

static void end_json(FILE *f, const char *key, const struct end *e)
{
	fprintf(f, ",\"%s\":{", key);
	switch (e->kind) {
	case END_FILE:
		fprintf(f, "\"file\":");
		json_str(f, e->path);
		break;
	case END_PROC:
		fprintf(f, "\"pid\":%d,\"addr\":\"0x%" PRIx64 "\"", (int)e->pid,
			e->addr);
		break;
	case END_GRANT:
		fprintf(f, "\"grant_fd\":%d,\"offset\":%" PRIu64, e->fd,
			e->addr);
		break;
	default:
		break;
	}
	fprintf(f, "}");
}

static const char *end_text(const struct end *e, char *buf, size_t len)
{
	switch (e->kind) {
	case END_FILE:
		snprintf(buf, len, "%s", strcmp(e->path, "-") ? e->path :
			 "(stdio)");
		break;
	case END_PROC:
		snprintf(buf, len, "pid %d at 0x%" PRIx64, (int)e->pid,
			 e->addr);
		break;
	case END_GRANT:
		snprintf(buf, len, "grant fd %d at offset %" PRIu64, e->fd,
			 e->addr);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}

/* The byte @at bytes into the range of @e: "pid 12 at 0x7f...". */
static const char *where(const struct end *e, uint64_t at, char *buf,
			 size_t len)
{
	struct end x = *e;

	x.addr += at;
	return end_text(&x, buf, len);
}

/* What was being done when an error came: "writing pid 12 at 0x...". */
static void doing(char *buf, size_t len, const char *verb,
		  const struct end *e, uint64_t done)
{
	char w[128];
	int n = snprintf(buf, len, "%s %s", verb, where(e, done, w, sizeof(w)));

	if (done && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n,
			 " (after %" PRIu64 " bytes)", done);
}

/* The progress bar: drawn on stderr, at most every 100 ms. */
struct progress {
	int mode;		/* 1 on, 0 off, -1 auto */
	bool shown;
	double start, last;
	uint64_t total;		/* 0: unknown */
};

static void progress_draw(struct progress *p, uint64_t done, bool final)
{
	double t = now_s(), el = t - p->start;
	char a[32], b[32], r[32];

	if (p->mode == 0 || (!final && t - p->last < 0.1))
		return;
	if (p->mode < 0 && !p->shown && el < 0.5)
		return;		/* auto: only copies that take a while */
	if (final && !p->shown)
		return;
	p->last = t;
	p->shown = true;
	human(el > 0 ? (uint64_t)(done / el) : 0, r, sizeof(r));
	if (p->total) {
		int width = 30, fill = (int)(width * (double)done / p->total);

		fprintf(stderr, "\r[%.*s%*s] %3d%%  %s / %s  %s/s\033[K",
			fill, "==============================",
			width - fill, "", (int)(100.0 * done / p->total),
			human(done, a, sizeof(a)),
			human(p->total, b, sizeof(b)), r);
	} else {
		fprintf(stderr, "\r%s  %s/s\033[K", human(done, a, sizeof(a)),
			r);
	}
	if (final)
		fprintf(stderr, "\r\033[K");
}

static int read_full(int fd, void *buf, size_t len, size_t *got)
{
	uint8_t *p = buf;

	*got = 0;
	while (*got < len) {
		ssize_t n = read(fd, p + *got, len - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One copy: what the command line asked for, and how it is going. */
struct copy_job {
	/* parse */
	struct end src, dst;
	uint64_t len, chunk, seq;
	bool have_len, publish;
	unsigned int flags;
	struct progress prog;
	bool data_to_stdout;
	FILE *jout;
	/* resolve */
	int dev;
	uint8_t *buf;
	/* run */
	uint64_t done;
	unsigned long chunks;
	bool published, short_copy;
	char why[256];
	double t0;
};

/*
 * Parse: the options and the two ends, checked against each other, with
 * nothing opened yet. Returns -1 to go on, else the exit status (0 for
 * --help, 2 for a usage error).
 */
static int copy_parse(struct copy_job *j, int argc, char **argv)
{
	enum { O_FROM = 256, O_TO, O_GRANT, O_LEN, O_CHUNK, O_PUBLISH,
	       O_BOUNCE, O_INLINE, O_WORKER, O_PROGRESS, O_NOPROGRESS,
	       O_JSON };
	static const struct option opts[] = {
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "grant-fd", required_argument, NULL, O_GRANT },
		{ "len", required_argument, NULL, O_LEN },
		{ "chunk", required_argument, NULL, O_CHUNK },
		{ "publish", required_argument, NULL, O_PUBLISH },
		{ "bounce", no_argument, NULL, O_BOUNCE },
		{ "inline", no_argument, NULL, O_INLINE },
		{ "worker", no_argument, NULL, O_WORKER },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "no-progress", no_argument, NULL, O_NOPROGRESS },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *from = NULL, *to = NULL, *grant = NULL;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case O_FROM: from = optarg; break;
		case O_TO: to = optarg; break;
		case O_GRANT: grant = optarg; break;
		case O_LEN:
			if (parse_size(optarg, &j->len))
				return usage_err("bad --len '%s'", optarg);
			j->have_len = true;
			break;
		case O_CHUNK:
			if (parse_size(optarg, &j->chunk) || !j->chunk ||
			    j->chunk > (1ULL << 30))
				return usage_err("bad --chunk '%s' (1 byte to 1G)",
						 optarg);
			break;
		case O_PUBLISH:
			if (parse_u64(optarg, &j->seq))
				return usage_err("bad --publish '%s'", optarg);
			j->publish = true;
			break;
		case O_BOUNCE: j->flags |= XPCOPY_COPY_BOUNCE; break;
		case O_INLINE: j->flags |= XPCOPY_COPY_INLINE; break;
		case O_WORKER: j->flags |= XPCOPY_COPY_WORKER; break;
		case O_PROGRESS: j->prog.mode = 1; break;
		case O_NOPROGRESS: j->prog.mode = 0; break;
		case O_JSON: json = true; break;
		case 'h': copy_usage(stdout); return 0;
		default: return usage_err("bad option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	if ((j->flags & XPCOPY_COPY_INLINE) &&
	    (j->flags & (XPCOPY_COPY_WORKER | XPCOPY_COPY_BOUNCE)))
		return usage_err("--inline goes with neither --worker nor --bounce");

	/* The two ends. */
	if (grant && from && to)
		return usage_err("--grant-fd takes the place of one of --from and --to");
	if (!grant && (!from || !to))
		return usage_err("give --from and --to (or --grant-fd and one of them)");
	if (grant && !from && !to)
		return usage_err("with --grant-fd, give --from FILE or --to FILE");
	if (from && (ret = parse_end(from, &j->src)))
		return ret;
	if (to && (ret = parse_end(to, &j->dst)))
		return ret;
	if (grant) {
		struct end *g = from ? &j->dst : &j->src;
		uint64_t gfd, off;

		if (parse_pair(grant, &gfd, &off) || gfd > INT32_MAX)
			return usage_err("bad --grant-fd '%s' (FD:OFFSET)", grant);
		memset(g, 0, sizeof(*g));
		g->kind = END_GRANT;
		g->spec = grant;
		g->fd = (int)gfd;
		g->addr = off;
	}
	if (j->src.kind == END_FILE && j->dst.kind == END_FILE)
		return usage_err("one side must be a process (PID:ADDR) or a grant: use cp(1) for files");
	if (j->src.kind == END_GRANT && j->dst.kind == END_GRANT)
		return usage_err("one grant at a time");
	if (j->publish && j->dst.kind != END_GRANT && j->src.kind != END_GRANT)
		return usage_err("--publish needs a grant (--grant-fd)");
	if (j->src.kind == END_PROC && !j->have_len)
		return usage_err("--len is needed to copy out of a process");
	j->data_to_stdout = j->dst.kind == END_FILE && !strcmp(j->dst.path, "-");
	if (j->data_to_stdout)
		json_out = stderr;
	j->jout = json_out;
	return -1;
}

/*
 * Resolve: open the device and the files, learn the length (a regular
 * file's size, or the rest of a grant's window), map the buffer. Returns
 * 0, or -1 once the error is reported.
 */
static int copy_resolve(struct copy_job *j)
{
	struct end *src = &j->src, *dst = &j->dst;
	int ret;

	j->dev = xpcopy_open(O_CLOEXEC);
	if (j->dev < 0) {
		report_err(NULL, j->dev, XPCOPY_OP_OPEN);
		return -1;
	}
	if (src->kind == END_FILE) {
		struct stat st;

		src->fd = strcmp(src->path, "-") ?
			  open(src->path, O_RDONLY | O_CLOEXEC) : dup(0);
		if (src->fd < 0) {
			report_msg("%s: %s", src->path, strerror(errno));
			return -1;
		}
		if (!j->have_len && fstat(src->fd, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			j->len = (uint64_t)st.st_size;
			j->have_len = true;
		}
	}
	if (src->kind == END_GRANT && !j->have_len) {
		struct xpcopy_grant_info gi;

		ret = xpcopy_grant_info(j->dev, src->fd, &gi);
		if (ret < 0) {
			report_err("XPCOPY_GRANT_INFO", ret, XPCOPY_OP_GRANT_INFO);
			return -1;
		}
		if (src->addr > gi.len) {
			report_err("the offset", -ERANGE, XPCOPY_OP_GRANT_COPY);
			return -1;
		}
		j->len = gi.len - src->addr;
		j->have_len = true;
	}
	if (dst->kind == END_FILE) {
		dst->fd = strcmp(dst->path, "-") ?
			  open(dst->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			       0666) : dup(1);
		if (dst->fd < 0) {
			report_msg("%s: %s", dst->path, strerror(errno));
			return -1;
		}
	}
	if (j->have_len && j->chunk > j->len && j->len)
		j->chunk = j->len;
	j->buf = mmap(NULL, j->chunk, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->buf == MAP_FAILED) {
		report_err("buffer", -errno, XPCOPY_OP_ANY);
		return -1;
	}
	j->prog.total = j->have_len ? j->len : 0;
	if (j->prog.mode < 0 && !isatty(2))
		j->prog.mode = 0;
	j->prog.start = j->prog.last = j->t0 = now_s();
	return 0;
}

/*
 * One chunk into the buffer: @want bytes from the source at j->done;
 * *got gets how many came, *last whether this is the last chunk. Returns 0,
 * or -1 once the error is reported.
 */
static int copy_in(struct copy_job *j, uint64_t want, uint64_t *got,
		   bool *last)
{
	struct end *src = &j->src;
	char sbuf[128];
	ssize_t n;
	size_t g;
	int ret;

	switch (src->kind) {
	case END_FILE:
		ret = read_full(src->fd, j->buf, want, &g);
		if (ret) {
			report_msg("read %s: %s", src->path, strerror(-ret));
			return -1;
		}
		*got = g;
		if (*got < want) {
			if (j->have_len) {
				j->short_copy = true;
				snprintf(j->why, sizeof(j->why),
					 "%s ended after %" PRIu64 " bytes",
					 src->path, j->done + *got);
			} else {
				j->have_len = true;
				j->len = j->done + *got;
			}
			*last = true;
		}
		break;
	case END_PROC:
		n = xpcopy_read(j->dev, src->pid, src->addr + j->done, j->buf,
				want, j->flags);
		if (n < 0) {
			doing(j->why, sizeof(j->why), "reading", src, j->done);
			report_err(j->why, n, XPCOPY_OP_COPY);
			return -1;
		}
		*got = (uint64_t)n;
		break;
	case END_GRANT:
		n = xpcopy_grant_read(j->dev, src->fd, src->addr + j->done,
				      j->buf, want, j->flags |
				      (j->publish && *last ?
				       XPCOPY_COPY_PUBLISH : 0),
				      j->publish && *last ? j->seq : 0);
		if (n < 0) {
			doing(j->why, sizeof(j->why), "reading", src, j->done);
			report_err(j->why, n, XPCOPY_OP_GRANT_COPY);
			return -1;
		}
		*got = (uint64_t)n;
		if (j->publish && *last && *got == want)
			j->published = true;
		break;
	default:
		return -1;
	}
	if (*got < want && src->kind != END_FILE) {
		j->short_copy = true;
		snprintf(j->why, sizeof(j->why), "%s is not mapped",
			 where(src, j->done + *got, sbuf, sizeof(sbuf)));
	}
	return 0;
}

/*
 * The buffer's @got bytes out to the destination at j->done; *put gets how
 * many went. Returns 0, or -1 once the error is reported.
 */
static int copy_out(struct copy_job *j, uint64_t got, bool last,
		    uint64_t *put)
{
	struct end *dst = &j->dst;
	char dbuf[128];
	ssize_t n;
	bool pub;
	int ret;

	switch (dst->kind) {
	case END_FILE:
		ret = write_full(dst->fd, j->buf, got);
		if (ret) {
			report_msg("write %s: %s", dst->path, strerror(-ret));
			return -1;
		}
		n = (ssize_t)got;
		break;
	case END_PROC:
		n = got ? xpcopy_write(j->dev, dst->pid, dst->addr + j->done,
				       j->buf, got, j->flags) : 0;
		if (n < 0) {
			doing(j->why, sizeof(j->why), "writing", dst, j->done);
			report_err(j->why, n, XPCOPY_OP_COPY);
			return -1;
		}
		break;
	case END_GRANT:
		pub = j->publish && last && !j->short_copy;
		n = (got || pub) ?
		    xpcopy_grant_write(j->dev, dst->fd, dst->addr + j->done,
				       j->buf, got, j->flags |
				       (pub ? XPCOPY_COPY_PUBLISH : 0),
				       pub ? j->seq : 0) : 0;
		if (n < 0) {
			doing(j->why, sizeof(j->why), "writing", dst, j->done);
			report_err(j->why, n, XPCOPY_OP_GRANT_COPY);
			return -1;
		}
		if (pub && (uint64_t)n == got)
			j->published = true;
		break;
	default:
		return -1;
	}
	if ((uint64_t)n < got) {
		j->short_copy = true;
		snprintf(j->why, sizeof(j->why),
			 "%s is not mapped, or read-only",
			 where(dst, j->done + (uint64_t)n, dbuf, sizeof(dbuf)));
	}
	*put = (uint64_t)n;
	return 0;
}

/*
 * Run: the chunks, in then out, until the length is copied, the source
 * ends or a copy comes up short; then the publication a stream of unknown
 * length still owes, and the destination file's close. Returns 0, or -1
 * once the error is reported.
 */
static int copy_run(struct copy_job *j)
{
	for (;;) {
		uint64_t want = j->chunk, got, put;
		bool last;

		if (j->have_len) {
			if (j->done >= j->len)
				break;
			if (j->len - j->done < want)
				want = j->len - j->done;
		}
		last = j->have_len && j->done + want == j->len;
		if (copy_in(j, want, &got, &last) ||
		    copy_out(j, got, last, &put))
			return -1;
		j->chunks++;
		j->done += put;
		progress_draw(&j->prog, j->done, false);
		if (j->short_copy || last || (!j->have_len && got == 0))
			break;
	}
	/* A stream source of unknown length: publish once it has ended. */
	if (j->publish && !j->published && !j->short_copy) {
		ssize_t n;

		if (j->dst.kind == END_GRANT)
			n = xpcopy_grant_write(j->dev, j->dst.fd,
					       j->dst.addr + j->done, j->buf,
					       0, XPCOPY_COPY_PUBLISH, j->seq);
		else
			n = xpcopy_grant_read(j->dev, j->src.fd,
					      j->src.addr + j->done, j->buf,
					      0, XPCOPY_COPY_PUBLISH, j->seq);
		if (n < 0) {
			report_err("publishing", n, XPCOPY_OP_GRANT_COPY);
			return -1;
		}
		j->published = true;
	}
	progress_draw(&j->prog, j->done, true);

	if (j->dst.kind == END_FILE && strcmp(j->dst.path, "-") &&
	    close(j->dst.fd)) {
		j->dst.fd = -1;
		report_msg("close %s: %s", j->dst.path, strerror(errno));
		return -1;
	}
	j->dst.fd = j->dst.kind == END_FILE ? -1 : j->dst.fd;
	return 0;
}

/* What was copied, as text or JSON; the exit status: 0, or EXIT_SHORT. */
static int copy_report(const struct copy_job *j)
{
	double el = now_s() - j->t0;
	char h[32], r[32], sbuf[128], dbuf[128];
	uint64_t done = j->done;
	FILE *jout = j->jout;

	if (json) {
		fprintf(jout, "{\"command\":\"copy\",\"ok\":true,"
			"\"complete\":%s,\"bytes\":%" PRIu64,
			j->short_copy ? "false" : "true", done);
		if (j->have_len)
			fprintf(jout, ",\"requested\":%" PRIu64, j->len);
		end_json(jout, "from", &j->src);
		end_json(jout, "to", &j->dst);
		if (j->publish && j->published)
			fprintf(jout, ",\"published\":%" PRIu64, j->seq);
		fprintf(jout, ",\"chunks\":%lu,\"seconds\":%.6f",
			j->chunks, el);
		if (j->short_copy) {
			fprintf(jout, ",\"short\":");
			json_str(jout, j->why);
		}
		fprintf(jout, "}\n");
	} else if (!j->short_copy || done) {
		FILE *o = j->data_to_stdout ? stderr : stdout;

		fprintf(o, "copied %" PRIu64 " bytes", done);
		if (done >= 1024)
			fprintf(o, " (%s)", human(done, h, sizeof(h)));
		fprintf(o, " from %s to %s",
			end_text(&j->src, sbuf, sizeof(sbuf)),
			end_text(&j->dst, dbuf, sizeof(dbuf)));
		if (el > 0 && done >= MiB)
			fprintf(o, ", %s/s", human((uint64_t)(done / el),
						  r, sizeof(r)));
		if (j->publish && j->published)
			fprintf(o, "; published %" PRIu64, j->seq);
		fprintf(o, "\n");
	}
	if (j->short_copy) {
		char of[48] = "";

		fflush(stdout);
		if (j->have_len)
			snprintf(of, sizeof(of), " of %" PRIu64, j->len);
		fprintf(stderr, "%s: short copy: %" PRIu64
			"%s bytes: %s%s\n", cmd_name, done, of, j->why,
			j->publish ? "; nothing published" : "");
		return EXIT_SHORT;
	}
	return 0;
}

static void copy_cleanup(struct copy_job *j)
{
	if (j->buf != MAP_FAILED)
		munmap(j->buf, j->chunk);
	if (j->src.kind == END_FILE && j->src.fd >= 0)
		close(j->src.fd);
	if (j->dst.kind == END_FILE && j->dst.fd >= 0)
		close(j->dst.fd);
	if (j->dev >= 0)
		xpcopy_close(j->dev);
}

/* xpcopy copy: parse, resolve, run, report. */
static int cmd_copy(int argc, char **argv)
{
	struct copy_job j = {
		.chunk = 4 * MiB, .prog = { .mode = -1 }, .dev = -1,
		.buf = MAP_FAILED,
	};
	int status = copy_parse(&j, argc, argv);

	if (status >= 0)
		return status;
	status = 1;
	if (!copy_resolve(&j) && !copy_run(&j))
		status = copy_report(&j);
	copy_cleanup(&j);
	return status;
}

/* ---------------------------------------------------------------------------
 * xpcopy grant
 */

static void grant_usage(FILE *f)
{
	fprintf(f,
"usage: xpcopy grant --size N [options] -- CMD [ARGS...]\n"
"\n"
"Map an anonymous window of N bytes (zeroed, or filled from --init FILE),\n"
"export it as a grant with a sequence word, and run CMD with the grant fd\n"
"inherited: its number is in XPCOPY_GRANT_FD, the window's size in\n"
"XPCOPY_GRANT_SIZE. When CMD exits, print a summary of the window and a\n"
"hexdump of its start. A demonstration: CMD can be, for instance,\n"
"\n"
"  xpcopy grant --size 4K -- sh -c 'echo hi | xpcopy copy --from - \\\n"
"      --grant-fd $XPCOPY_GRANT_FD:0 --publish 1'\n"
"\n"
"  --size N        window size (suffixes K, M, G)\n"
"  --read-only     holders may only read the window (default: read, write)\n"
"  --write-only    holders may only write it\n"
"  --pin           pin the window's pages now (XPCOPY_GRANT_PIN): copies\n"
"                  through the grant walk no page table; needs the size\n"
"                  within RLIMIT_MEMLOCK, or CAP_IPC_LOCK\n"
"  --init FILE     fill the window from FILE first\n"
"  --dump N        hexdump the first N bytes (default 256; 0: none)\n"
"  --out FILE      save the whole window to FILE after CMD\n"
"  --json          one JSON object on stdout after CMD\n"
"  --help          this text\n"
"\n"
"Exit status: CMD's (128 + the signal if it was killed), 127 if it could\n"
"not be run, 1 or 2 on an error of xpcopy itself.\n");
}

/* hexdump -C, with '*' for runs of identical lines. */
static void hexdump(const uint8_t *p, uint64_t len, uint64_t total)
{
	const uint8_t *prev = NULL;
	bool starred = false;
	uint64_t off;

	for (off = 0; off < len; off += 16) {
		unsigned int n = len - off < 16 ? (unsigned int)(len - off) : 16;

		if (prev && n == 16 && !memcmp(prev, p + off, 16)) {
			if (!starred)
				printf("*\n");
			starred = true;
			continue;
		}
		starred = false;
		prev = p + off;
		printf("%08" PRIx64 " ", off);
		for (unsigned int i = 0; i < 16; i++) {
			if (i == 8)
				printf(" ");
			if (i < n)
				printf(" %02x", p[off + i]);
			else
				printf("   ");
		}
		printf("  |");
		for (unsigned int i = 0; i < n; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		printf("|\n");
	}
	printf("%08" PRIx64 "\n", len);
	if (len < total)
		printf("(%" PRIu64 " more bytes: --dump N or --out FILE)\n",
		       total - len);
}

static int cmd_grant(int argc, char **argv)
{
	enum { O_SIZE = 256, O_RO, O_WO, O_INIT, O_DUMP, O_OUT, O_JSON, O_PIN };
	static const struct option opts[] = {
		{ "size", required_argument, NULL, O_SIZE },
		{ "read-only", no_argument, NULL, O_RO },
		{ "write-only", no_argument, NULL, O_WO },
		{ "pin", no_argument, NULL, O_PIN },
		{ "init", required_argument, NULL, O_INIT },
		{ "dump", required_argument, NULL, O_DUMP },
		{ "out", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned int rights = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE, pin = 0;
	const char *init = NULL, *out = NULL;
	uint64_t size = 0, dump = 256, nonzero = 0;
	static uint64_t seq_word;	/* outside the window */
	struct xpcopy_grant_info gi;
	int dev, gfd, c, ret, wstatus, code;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	uint8_t *win;
	size_t maplen;
	char env[64];
	pid_t child;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (parse_size(optarg, &size) || !size ||
			    size > (1ULL << 40))
				return usage_err("bad --size '%s'", optarg);
			break;
		case O_RO: rights = XPCOPY_GRANT_READ; break;
		case O_WO: rights = XPCOPY_GRANT_WRITE; break;
		case O_PIN: pin = XPCOPY_GRANT_PIN; break;
		case O_INIT: init = optarg; break;
		case O_DUMP:
			if (parse_size(optarg, &dump))
				return usage_err("bad --dump '%s'", optarg);
			break;
		case O_OUT: out = optarg; break;
		case O_JSON: json = true; break;
		case 'h': grant_usage(stdout); return 0;
		default: return usage_err("bad option");
		}
	}
	if (!size)
		return usage_err("--size is needed");
	if (optind >= argc)
		return usage_err("no command to run (xpcopy grant --size N -- CMD ...)");

	maplen = (size_t)size;
	win = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (win == MAP_FAILED) {
		report_err("mmap of the window", -errno, XPCOPY_OP_ANY);
		return 1;
	}
	if (init) {
		int fd = open(init, O_RDONLY | O_CLOEXEC);
		size_t got;

		if (fd < 0 || (ret = read_full(fd, win, maplen, &got))) {
			report_msg("%s: %s", init, strerror(fd < 0 ? errno : -ret));
			return 1;
		}
		close(fd);
	}

	dev = xpcopy_open(O_CLOEXEC);
	if (dev < 0) {
		report_err(NULL, dev, XPCOPY_OP_OPEN);
		return 1;
	}
	gfd = xpcopy_grant_create(dev, win, maplen, rights | pin, &seq_word,
				  -1);
	if (gfd < 0) {
		report_err("XPCOPY_GRANT", gfd, XPCOPY_OP_GRANT_CREATE);
		return 1;
	}
	/* Not 0, 1 or 2, which CMD may redirect. */
	if (gfd < 3) {
		int n = fcntl(gfd, F_DUPFD_CLOEXEC, 3);

		if (n < 0) {
			report_err("dup of the grant fd", -errno, XPCOPY_OP_ANY);
			return 1;
		}
		close(gfd);
		gfd = n;
	}

	fflush(stdout);
	fflush(stderr);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	child = fork();
	if (child < 0) {
		report_err("fork", -errno, XPCOPY_OP_ANY);
		return 1;
	}
	if (child == 0) {
		/* Only the child's copy of the fd loses O_CLOEXEC. */
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		if (fcntl(gfd, F_SETFD, 0)) {
			fprintf(stderr, "%s: fcntl: %s\n", cmd_name, strerror(errno));
			_exit(127);
		}
		snprintf(env, sizeof(env), "%d", gfd);
		setenv("XPCOPY_GRANT_FD", env, 1);
		snprintf(env, sizeof(env), "%" PRIu64, size);
		setenv("XPCOPY_GRANT_SIZE", env, 1);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "%s: %s: %s\n", cmd_name, argv[optind],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (waitpid(child, &wstatus, 0) < 0) {
		if (errno != EINTR) {
			report_err("waitpid", -errno, XPCOPY_OP_ANY);
			return 1;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) :
	       128 + WTERMSIG(wstatus);

	memset(&gi, 0, sizeof(gi));
	ret = xpcopy_grant_info(dev, gfd, &gi);
	if (ret < 0) {
		report_err("XPCOPY_GRANT_INFO", ret, XPCOPY_OP_GRANT_INFO);
		return 1;
	}
	for (uint64_t i = 0; i < size; i++)
		nonzero += win[i] != 0;
	if (out) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

		if (fd < 0 || (ret = write_full(fd, win, maplen)) ||
		    close(fd)) {
			report_msg("%s: %s", out, strerror(fd < 0 ? errno : -ret));
			return 1;
		}
	}
	if (dump > size)
		dump = size;

	if (json) {
		printf("{\"command\":\"grant\",\"ok\":true,\"size\":%" PRIu64
		       ",\"addr\":\"0x%" PRIxPTR "\",\"rights\":\"%s%s\","
		       "\"grant_fd\":%d,\"cmd\":[", size, (uintptr_t)win,
		       rights & XPCOPY_GRANT_READ ? "r" : "",
		       rights & XPCOPY_GRANT_WRITE ? "w" : "", gfd);
		for (int i = optind; i < argc; i++) {
			printf("%s", i > optind ? "," : "");
			json_str(stdout, argv[i]);
		}
		printf("],\"exit_status\":%d", code);
		if (WIFSIGNALED(wstatus))
			printf(",\"signal\":%d", WTERMSIG(wstatus));
		printf(",\"seq\":%" PRIu64 ",\"seq_word\":%" PRIu64
		       ",\"revoked\":%u,\"nonzero_bytes\":%" PRIu64,
		       (uint64_t)gi.seq, xpcopy_seq_load(&seq_word),
		       gi.revoked, nonzero);
		if (out) {
			printf(",\"out\":");
			json_str(stdout, out);
		}
		printf(",\"head_hex\":\"");
		for (uint64_t i = 0; i < dump; i++)
			printf("%02x", win[i]);
		printf("\"}\n");
	} else {
		char h[32];

		if (WIFSIGNALED(wstatus))
			printf("%s: %s was killed by signal %d\n", cmd_name,
			       argv[optind], WTERMSIG(wstatus));
		else
			printf("%s: %s exited with status %d\n", cmd_name,
			       argv[optind], code);
		printf("window: %" PRIu64 " bytes (%s) at %p, rights %s%s, "
		       "%" PRIu64 " bytes not zero, last published seq %"
		       PRIu64 "%s\n", size, human(size, h, sizeof(h)),
		       (void *)win, rights & XPCOPY_GRANT_READ ? "r" : "",
		       rights & XPCOPY_GRANT_WRITE ? "w" : "",
		       nonzero, xpcopy_seq_load(&seq_word),
		       gi.revoked == 1 ? ", revoked" : "");
		if (out)
			printf("saved to %s\n", out);
		if (dump)
			hexdump(win, dump, size);
	}
	close(gfd);
	xpcopy_close(dev);
	return code;
}

/* ---------------------------------------------------------------------------
 * main
 */

static void main_usage(FILE *f)
{
	fprintf(f,
"usage: xpcopy [--json] COMMAND [OPTIONS]\n"
"\n"
"Copy memory between processes with one copy, through /dev/xpcopy.\n"
"\n"
"commands:\n"
"  features   what the loaded module supports\n"
"  stats      the module's counters and parameters\n"
"  copy       copy between a file and a process, or a grant's window\n"
"  grant      export an anonymous window as a grant to a command\n"
"  help [COMMAND]\n"
"\n"
"Every command takes --help and --json. See xpcopy(1).\n");
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	void (*usage)(FILE *);
} commands[] = {
	{ "features", cmd_features, features_usage },
	{ "stats", cmd_stats, stats_usage },
	{ "copy", cmd_copy, copy_usage },
	{ "grant", cmd_grant, grant_usage },
};

int main(int argc, char **argv)
{
	static char name[32];
	int i = 1;

	json_out = stdout;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			main_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("xpcopy (libxpcopy %d.%d, ABI %d)\n",
			       XPCOPY_LIB_MAJOR, XPCOPY_LIB_MINOR,
			       XPCOPY_ABI_VERSION);
			return 0;
		} else {
			return usage_err("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc) {
			main_usage(stdout);
			return 0;
		}
		for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
			if (!strcmp(argv[i + 1], commands[k].name)) {
				commands[k].usage(stdout);
				return 0;
			}
		return usage_err("no command '%s'", argv[i + 1]);
	}
	if (!strcmp(argv[i], "version")) {
		printf("xpcopy (libxpcopy %d.%d, ABI %d)\n", XPCOPY_LIB_MAJOR,
		       XPCOPY_LIB_MINOR, XPCOPY_ABI_VERSION);
		return 0;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name))
			continue;
		snprintf(name, sizeof(name), "xpcopy %s", commands[k].name);
		cmd_name = name;
		argv[i] = name;
		optind = 1;
		return commands[k].fn(argc - i, argv + i);
	}
	return usage_err("no command '%s'", argv[i]);
}
