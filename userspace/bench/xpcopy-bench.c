// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy-bench: move the same bytes from this process into another one (and
 * back) by several methods, time them, verify the data after each, and report
 * GB/s, round-trip latency and the module's own counters.
 *
 * The target is a forked child that holds its buffer (pre-faulted) and obeys
 * commands over a pipe: fill its buffer with a pattern, verify it, or take
 * part in a shared-memory transfer. The parent is the copier.
 *
 * A method is one entry in methods[] below: a name, the directions it
 * supports, and functions to set it up, copy once, and tear it down.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <linux/xpcopy.h>
#include <liburing.h>

#define BENCH_VERSION	1
#define XPCOPY_DEV	"/dev/xpcopy"
#define XPCOPY_STATS	"/sys/class/misc/xpcopy/stats/"
#define XPCOPY_PARAM	"/sys/module/xpcopy/parameters/batch_pages"
#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"

#define KiB		1024UL
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)

/* A timed sample lasts at least this long: shorter calls are batched. */
#define SAMPLE_NS	2000
#define MAX_BATCH	4096

enum dir { DIR_WRITE, DIR_READ, DIR_RTT, NR_DIRS };
#define D_WRITE		(1u << DIR_WRITE)
#define D_READ		(1u << DIR_READ)
static const char *const dir_names[NR_DIRS] = { "write", "read", "roundtrip" };

/* ------------------------------------------------------------------------ */
/* Methods */

struct method {
	const char *name;
	const char *help;
	unsigned int dirs;	/* D_WRITE | D_READ: what copy() can do */
	bool module;		/* goes through /dev/xpcopy: read its counters */
	bool local;		/* the target buffer is in this process */
	bool shm;		/* needs the shared memfd mapping */
	bool pin;		/* through the pinned grant (XPCOPY_GRANT_PIN) */
	bool sqe;		/* XPCOPY_SQE_COPY on a ring of 128-byte SQEs */
	unsigned long arg;	/* for the method's own functions */
	/* 0 ready, 1 skip (reason written to why), -1 error (errmsg) */
	int (*setup)(const struct method *m, char *why, size_t whylen);
	/*
	 * Copy len bytes once: DIR_WRITE from g.src to the target's buffer,
	 * DIR_READ from the target's buffer to g.dst. 0, or -1 with errmsg.
	 */
	int (*copy)(const struct method *m, enum dir dir, size_t len);
	/* One round trip; NULL: copy(DIR_WRITE) then copy(DIR_READ). */
	int (*roundtrip)(const struct method *m, size_t len);
	void (*teardown)(const struct method *m);
};

static int xp_setup(const struct method *, char *, size_t);
static int xp_copy(const struct method *, enum dir, size_t);
static int grant_setup(const struct method *, char *, size_t);
static void grant_teardown(const struct method *);
static int pvw_setup(const struct method *, char *, size_t);
static int pvw_copy(const struct method *, enum dir, size_t);
static int mt_setup(const struct method *, char *, size_t);
static int mt_copy(const struct method *, enum dir, size_t);
static void mt_teardown(const struct method *);
static int procmem_setup(const struct method *, char *, size_t);
static int procmem_copy(const struct method *, enum dir, size_t);
static void procmem_teardown(const struct method *);
static int shm_setup(const struct method *, char *, size_t);
static int shm_copy(const struct method *, enum dir, size_t);
static int shm_roundtrip(const struct method *, size_t);
static int memcpy_setup(const struct method *, char *, size_t);
static int memcpy_copy(const struct method *, enum dir, size_t);
static int uring_setup(const struct method *, char *, size_t);
static int uring_copy(const struct method *, enum dir, size_t);
static void uring_teardown(const struct method *);
static int msgs_copy(const struct method *, enum dir, size_t);
static int msgs_grant_setup(const struct method *, char *, size_t);
static void msgs_grant_teardown(const struct method *);
static int pvw_msgs_copy(const struct method *, enum dir, size_t);

static const struct method methods[] = {
	{
		.name = "xpcopy",
		.help = "XPCOPY_COPY in pid mode: one copy",
		.dirs = D_WRITE | D_READ, .module = true, .arg = 0,
		.setup = xp_setup, .copy = xp_copy,
	}, {
		.name = "xpcopy-uring",
		.help = "XPCOPY_COPY through io_uring: the size cut into --uring-qd copies in flight at once",
		.dirs = D_WRITE | D_READ, .module = true,
		.setup = uring_setup, .copy = uring_copy,
		.teardown = uring_teardown,
	}, {
		.name = "xpcopy-msgs",
		.help = "--uring-qd independent copies of the size, all in flight through one io_uring_enter (one call = that many messages)",
		.dirs = D_WRITE | D_READ, .module = true,
		.setup = uring_setup, .copy = msgs_copy,
		.teardown = uring_teardown,
	}, {
		.name = "xpcopy-msgs-grant",
		.help = "xpcopy-msgs through a grant fd of the target's buffer: no pid lookup, no capability check per copy",
		.dirs = D_WRITE | D_READ, .module = true,
		.arg = XPCOPY_COPY_GRANT,
		.setup = msgs_grant_setup, .copy = msgs_copy,
		.teardown = msgs_grant_teardown,
	}, {
		.name = "xpcopy-msgs-pin",
		.help = "xpcopy-msgs through a pinned grant (XPCOPY_GRANT_PIN) of the target's buffer: no page-table walk or pin per copy",
		.dirs = D_WRITE | D_READ, .module = true, .pin = true,
		.arg = XPCOPY_COPY_GRANT,
		.setup = msgs_grant_setup, .copy = msgs_copy,
		.teardown = msgs_grant_teardown,
	}, {
		.name = "xpcopy-msgs-sqe",
		.help = "xpcopy-msgs as XPCOPY_SQE_COPY: each command whole in a 128-byte SQE, nothing of it read from memory",
		.dirs = D_WRITE | D_READ, .module = true, .sqe = true,
		.setup = uring_setup, .copy = msgs_copy,
		.teardown = uring_teardown,
	}, {
		.name = "xpcopy-msgs-pin-sqe",
		.help = "xpcopy-msgs-pin as XPCOPY_SQE_COPY: a pinned grant, each command whole in a 128-byte SQE",
		.dirs = D_WRITE | D_READ, .module = true, .pin = true,
		.sqe = true, .arg = XPCOPY_COPY_GRANT,
		.setup = msgs_grant_setup, .copy = msgs_copy,
		.teardown = msgs_grant_teardown,
	}, {
		.name = "pvw-msgs",
		.help = "--uring-qd process_vm_writev / readv calls of the size, one after the other (one call = that many messages)",
		.dirs = D_WRITE | D_READ,
		.setup = pvw_setup, .copy = pvw_msgs_copy,
	}, {
		.name = "xpcopy-workers",
		.help = "XPCOPY_COPY with XPCOPY_COPY_WORKER: the workers copy, the caller waits",
		.dirs = D_WRITE | D_READ, .module = true,
		.arg = XPCOPY_COPY_WORKER,
		.setup = xp_setup, .copy = xp_copy,
	}, {
		.name = "xpcopy-inline",
		.help = "XPCOPY_COPY with XPCOPY_COPY_INLINE: the caller copies alone",
		.dirs = D_WRITE | D_READ, .module = true,
		.arg = XPCOPY_COPY_INLINE,
		.setup = xp_setup, .copy = xp_copy,
	}, {
		.name = "xpcopy-bounce",
		.help = "XPCOPY_COPY with XPCOPY_COPY_BOUNCE: two copies through a kernel buffer",
		.dirs = D_WRITE | D_READ, .module = true,
		.arg = XPCOPY_COPY_BOUNCE,
		.setup = xp_setup, .copy = xp_copy,
	}, {
		.name = "xpcopy-grant",
		.help = "XPCOPY_COPY through a grant fd of the target's buffer (no ptrace right needed)",
		.dirs = D_WRITE | D_READ, .module = true,
		.arg = XPCOPY_COPY_GRANT,
		.setup = grant_setup, .copy = xp_copy,
		.teardown = grant_teardown,
	}, {
		.name = "xpcopy-grant-pin",
		.help = "XPCOPY_COPY through a pinned grant (XPCOPY_GRANT_PIN): the target's pages pinned once, when it made the grant",
		.dirs = D_WRITE | D_READ, .module = true, .pin = true,
		.arg = XPCOPY_COPY_GRANT,
		.setup = grant_setup, .copy = xp_copy,
		.teardown = grant_teardown,
	}, {
		.name = "pvw",
		.help = "process_vm_writev / process_vm_readv",
		.dirs = D_WRITE | D_READ,
		.setup = pvw_setup, .copy = pvw_copy,
	}, {
		.name = "pvw-mt",
		.help = "process_vm_writev / readv split across one thread per CPU",
		.dirs = D_WRITE | D_READ,
		.setup = mt_setup, .copy = mt_copy, .teardown = mt_teardown,
	}, {
		.name = "procmem",
		.help = "pwrite / pread on /proc/<pid>/mem",
		.dirs = D_WRITE | D_READ,
		.setup = procmem_setup, .copy = procmem_copy,
		.teardown = procmem_teardown,
	}, {
		.name = "shm",
		.help = "memcpy into a shared memfd mapping, pipe signal, peer memcpy out",
		.dirs = D_WRITE | D_READ, .shm = true,
		.setup = shm_setup, .copy = shm_copy, .roundtrip = shm_roundtrip,
	}, {
		.name = "memcpy",
		.help = "one memcpy inside this process (the limit)",
		.dirs = D_WRITE | D_READ, .local = true,
		.setup = memcpy_setup, .copy = memcpy_copy,
	},
};
#define NR_METHODS	(sizeof(methods) / sizeof(methods[0]))

/* ------------------------------------------------------------------------ */
/* State */

struct result {
	const struct method *m;
	enum dir dir;
	size_t size;
	uint64_t reps;		/* timed calls */
	uint64_t batch;		/* calls per timed sample */
	uint64_t samples;
	double min_ns, med_ns, max_ns;	/* per call */
	double gbps;
	/* module counters over the timed calls, when m->module */
	bool have_stats;
	int64_t pinned_peak;
	int64_t kcopies, kbytes, kcopy_bytes, pins_taken, pins_released;
	/* where the module's time went, ns summed over the timed calls */
	int64_t ns_take, ns_wait, ns_release, ns_worker, ns_inline;
	/*
	 * io_uring commands completed at submission, sent to io-wq, and
	 * handed to the module's workers
	 */
	int64_t uring_issued, uring_punts, uring_workers;
	/* workers woken, and address spaces they entered */
	int64_t wakeups, mm_switches;
	/* bytes the caller copied in its own context; shares it took back */
	int64_t caller_bytes, taken_back, help_declined;
};

static struct {
	/* options */
	size_t *sizes;
	int nsizes;
	size_t max_size;
	double min_time, max_point_time;
	unsigned long min_reps, max_samples;
	size_t latency_max;
	long threads;
	long uring_qd;		/* xpcopy-uring: copies in flight */
	long busy;		/* spinning threads beside the copies */
	pid_t spinner;		/* the process that runs them */
	const char *json, *csv, *note;
	bool quiet;
	bool quick;
	unsigned int timeout;
	bool selected[NR_METHODS];
	bool skipped[NR_METHODS];
	bool failed[NR_METHODS];
	bool ready[NR_METHODS];		/* set up: tear down at the end */
	char skip_why[NR_METHODS][160];

	/* buffers: src and dst here, tbuf in the child, shm shared */
	size_t bufsize;
	unsigned char *src, *dst, *mbuf, *shm;
	uint64_t remote;	/* the child's buffer */
	pid_t child;
	int cmd_fd, rep_fd;	/* to and from the child */
	int xfd;		/* /dev/xpcopy */
	int memfd;		/* /proc/<child>/mem */
	int grant_fd;		/* a grant of the child's buffer */
	int pin_fd;		/* a pinned grant of it */
	bool have_feat;
	struct xpcopy_features feat;

	double *samples;
	struct result *res;
	size_t nres, capres;
	char **errors;
	size_t nerrors;
	uint64_t seed;
	int64_t pinned_now_end;
	bool have_pinned_now_end;
} g = { .cmd_fd = -1, .rep_fd = -1, .xfd = -1, .memfd = -1, .grant_fd = -1,
      .pin_fd = -1 };

static volatile sig_atomic_t timed_out;
static volatile pid_t child_pid;	/* for the signal handlers */

static char errmsg[512];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_errno(const char *what)
{
	return fail("%s: %s", what, strerror(errno));
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("xpcopy-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void add_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_error(const char *fmt, ...)
{
	va_list ap;
	char buf[768];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "xpcopy-bench: ERROR: %s\n", buf);
	g.errors = realloc(g.errors, (g.nerrors + 1) * sizeof(*g.errors));
	if (!g.errors || !(g.errors[g.nerrors] = strdup(buf)))
		die("out of memory");
	g.nerrors++;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *fmt_size(size_t n, char *buf, size_t len)
{
	if (n >= GiB && n % GiB == 0)
		snprintf(buf, len, "%zu GiB", n / GiB);
	else if (n >= MiB && n % MiB == 0)
		snprintf(buf, len, "%zu MiB", n / MiB);
	else if (n >= KiB && n % KiB == 0)
		snprintf(buf, len, "%zu KiB", n / KiB);
	else
		snprintf(buf, len, "%zu B", n);
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Data pattern: word i of the pattern of seed s is s ^ (i * odd constant). */

static inline uint64_t pat_word(uint64_t seed, uint64_t i)
{
	return seed ^ (i * 0x9E3779B97F4A7C15ULL);
}

static void pat_fill(unsigned char *buf, size_t len, uint64_t seed)
{
	size_t nw = len / 8, i;

	for (i = 0; i < nw; i++) {
		uint64_t w = pat_word(seed, i);

		memcpy(buf + i * 8, &w, 8);
	}
	if (len % 8) {
		uint64_t w = pat_word(seed, nw);

		memcpy(buf + nw * 8, &w, len % 8);
	}
}

/* The offset of the first byte that differs from the pattern, or -1. */
static int64_t pat_check(const unsigned char *buf, size_t len, uint64_t seed)
{
	size_t nw = len / 8, i, blk;

	for (blk = 0; blk < nw; blk += 512) {
		size_t end = blk + 512 < nw ? blk + 512 : nw;
		uint64_t acc = 0;

		for (i = blk; i < end; i++) {
			uint64_t w;

			memcpy(&w, buf + i * 8, 8);
			acc |= w ^ pat_word(seed, i);
		}
		if (!acc)
			continue;
		for (i = blk * 8; i < end * 8; i++) {
			uint64_t w = pat_word(seed, i / 8);

			if (buf[i] != ((const unsigned char *)&w)[i % 8])
				return i;
		}
	}
	if (len % 8) {
		uint64_t w = pat_word(seed, nw);

		for (i = 0; i < len % 8; i++)
			if (buf[nw * 8 + i] != ((const unsigned char *)&w)[i])
				return nw * 8 + i;
	}
	return -1;
}

/* ------------------------------------------------------------------------ */
/* The child: the target of every copy. */

enum child_op {
	OP_FILL = 1,	/* fill buf[0..len) with the pattern of seed */
	OP_VERIFY,	/* reply the first mismatch with the pattern, or -1 */
	OP_SHM_IN,	/* memcpy shm -> buf (the receiving side of a write) */
	OP_SHM_OUT,	/* memcpy buf -> shm (the sending side of a read) */
	OP_SHM_RTT,	/* receive a request, send the same bytes back */
	OP_GRANT,	/* make a read-write grant of buf (len 1: pinned); reply its fd */
	OP_EXIT,
};

struct child_msg {
	uint32_t op;
	uint32_t pad;
	uint64_t len;
	uint64_t seed;
};

struct child_reply {
	int64_t status;		/* 0 ok, else an errno */
	int64_t val;
};

static int read_full(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void touch_pages(unsigned char *buf, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t i;

	for (i = 0; i < len; i += pg)
		((volatile unsigned char *)buf)[i] = 0x5a;
}

/* A grant of the whole buffer, kept open in the child for the parent. */
static int child_grant(unsigned char *buf, bool pin)
{
	struct xpcopy_grant gr = {
		.size = sizeof(gr),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE |
			 (pin ? XPCOPY_GRANT_PIN : 0),
		.addr = (uintptr_t)buf,
		.len = g.bufsize,
	};
	int fd = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return -1;
	if (ioctl(fd, XPCOPY_GRANT, &gr) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	return gr.fd;
}

static void __attribute__((noreturn))
child_main(pid_t parent, int cmd_fd, int rep_fd)
{
	struct child_reply rep = { 0, 0 };
	struct child_msg msg;
	unsigned char *buf;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	buf = mmap(NULL, g.bufsize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		rep.status = errno;
		write_full(rep_fd, &rep, sizeof(rep));
		_exit(1);
	}
	touch_pages(buf, g.bufsize);
	if (g.shm)
		touch_pages(g.shm, g.bufsize);
	rep.val = (int64_t)(uintptr_t)buf;
	if (write_full(rep_fd, &rep, sizeof(rep)))
		_exit(1);

	for (;;) {
		if (read_full(cmd_fd, &msg, sizeof(msg)))
			_exit(1);
		rep.status = 0;
		rep.val = 0;
		if (msg.len > g.bufsize) {
			rep.status = EINVAL;
		} else {
			switch (msg.op) {
			case OP_FILL:
				pat_fill(buf, msg.len, msg.seed);
				break;
			case OP_VERIFY:
				rep.val = pat_check(buf, msg.len, msg.seed);
				break;
			case OP_SHM_IN:
				memcpy(buf, g.shm, msg.len);
				break;
			case OP_SHM_OUT:
				memcpy(g.shm, buf, msg.len);
				break;
			case OP_SHM_RTT:
				memcpy(buf, g.shm, msg.len);
				memcpy(g.shm, buf, msg.len);
				break;
			case OP_GRANT:
				rep.val = child_grant(buf, msg.len == 1);
				if (rep.val < 0)
					rep.status = errno;
				break;
			case OP_EXIT:
				_exit(0);
			default:
				rep.status = EINVAL;
			}
		}
		if (write_full(rep_fd, &rep, sizeof(rep)))
			_exit(1);
	}
}

/* Send a command to the child and wait for its reply; -1 with errmsg. */
static int child_cmd(enum child_op op, size_t len, uint64_t seed, int64_t *val)
{
	struct child_msg msg = { .op = op, .len = len, .seed = seed };
	struct child_reply rep;

	if (write_full(g.cmd_fd, &msg, sizeof(msg)))
		return fail_errno("command to the child");
	if (read_full(g.rep_fd, &rep, sizeof(rep)))
		return fail_errno("reply from the child");
	if (rep.status) {
		errno = (int)rep.status;
		return fail_errno("child");
	}
	if (val)
		*val = rep.val;
	return 0;
}

static void reap_child(void)
{
	if (g.child > 0) {
		kill(g.child, SIGKILL);
		while (waitpid(g.child, NULL, 0) < 0 && errno == EINTR)
			;
		g.child = 0;
		child_pid = 0;
	}
}

/*
 * --busy N: N threads that only spin, in a process of their own, for the
 * whole run: the copies are measured on CPUs that are not idle, as under
 * MPI with one rank per core.
 */
static void *spin_thread(void *arg)
{
	volatile unsigned long *n = arg;

	for (;;)
		(*n)++;
	return NULL;
}

static void start_spinners(void)
{
	static unsigned long counters[1024];
	pid_t parent = getpid();
	long i;

	g.spinner = fork();
	if (g.spinner < 0)
		die("fork: %s", strerror(errno));
	if (g.spinner)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (i = 1; i < g.busy; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, spin_thread, &counters[i]))
			_exit(1);
	}
	spin_thread(&counters[0]);
	_exit(0);
}

static void stop_spinners(void)
{
	if (g.spinner > 0) {
		kill(g.spinner, SIGKILL);
		while (waitpid(g.spinner, NULL, 0) < 0 && errno == EINTR)
			;
		g.spinner = 0;
	}
}

static void start_child(void)
{
	int cmd[2], rep[2];
	struct child_reply r;
	pid_t parent = getpid();

	if (pipe2(cmd, O_CLOEXEC) || pipe2(rep, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	g.child = fork();
	if (g.child < 0)
		die("fork: %s", strerror(errno));
	if (g.child == 0) {
		close(cmd[1]);
		close(rep[0]);
		child_main(parent, cmd[0], rep[1]);
	}
	child_pid = g.child;
	close(cmd[0]);
	close(rep[1]);
	g.cmd_fd = cmd[1];
	g.rep_fd = rep[0];
	if (read_full(g.rep_fd, &r, sizeof(r)))
		die("the child did not start: %s", strerror(errno));
	if (r.status)
		die("the child could not map %zu bytes: %s", g.bufsize,
		    strerror((int)r.status));
	g.remote = (uint64_t)r.val;
}

static int stop_child(void)
{
	struct child_msg msg = { .op = OP_EXIT };
	int status, ret = 0;

	if (g.child <= 0)
		return 0;
	if (write_full(g.cmd_fd, &msg, sizeof(msg))) {
		reap_child();
		return -1;
	}
	while (waitpid(g.child, &status, 0) < 0) {
		if (errno != EINTR) {
			reap_child();
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ret = -1;
	g.child = 0;
	child_pid = 0;
	return ret;
}

static void on_signal(int sig)
{
	pid_t c = child_pid;

	if (sig == SIGALRM && !timed_out) {
		/* Soft deadline: finish the current call and stop. */
		timed_out = 1;
		alarm(30);
		return;
	}
	if (c > 0) {
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
	if (sig == SIGALRM) {
		static const char msg[] = "xpcopy-bench: hard timeout\n";

		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(3);
	}
	_exit(128 + sig);
}

/* ------------------------------------------------------------------------ */
/* Module counters */

enum {
	ST_COPIES, ST_BYTES, ST_COPY_BYTES, ST_PINNED_NOW, ST_PINNED_PEAK,
	ST_PINS_TAKEN, ST_PINS_RELEASED, ST_NS_TAKE, ST_NS_WAIT,
	ST_NS_RELEASE, ST_NS_WORKER, ST_NS_INLINE, ST_URING_ISSUED,
	ST_URING_PUNTS, ST_WAKEUPS, ST_MM_SWITCHES, ST_CALLER_BYTES,
	ST_TAKEN_BACK, ST_URING_WORKERS, ST_HELP_DECLINED, NR_STATS
};
static const char *const stat_names[NR_STATS] = {
	"copies", "bytes", "copy_bytes", "pinned_now", "pinned_peak",
	"pins_taken", "pins_released", "time_take_ns", "time_wait_ns",
	"time_release_ns", "time_worker_ns", "time_inline_ns", "uring_issued",
	"uring_punts", "worker_wakeups", "mm_switches", "caller_bytes",
	"taken_back", "uring_workers", "help_declined",
};

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return 0;
}

static int read_i64(const char *path, int64_t *v)
{
	char buf[64], *end;

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end)
		return -1;
	return 0;
}

static int stats_read(int64_t v[NR_STATS])
{
	char path[128];
	int i;

	for (i = 0; i < NR_STATS; i++) {
		snprintf(path, sizeof(path), XPCOPY_STATS "%s", stat_names[i]);
		if (!read_i64(path, &v[i]))
			continue;
		/* Counters newer than the module loaded read 0. */
		if (i < ST_CALLER_BYTES)
			return -1;
		v[i] = 0;
	}
	return 0;
}

static int stats_reset_peak(void)
{
	int fd = open(XPCOPY_STATS "pinned_peak", O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, "0", 1);
	close(fd);
	return n == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* xpcopy, xpcopy-bounce */

static int xp_open(char *why, size_t whylen)
{
	if (g.xfd >= 0)
		return 0;
	g.xfd = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	if (g.xfd < 0) {
		snprintf(why, whylen, "cannot open " XPCOPY_DEV ": %s",
			 strerror(errno));
		return 1;
	}
	memset(&g.feat, 0, sizeof(g.feat));
	g.feat.size = sizeof(g.feat);
	if (ioctl(g.xfd, XPCOPY_FEATURES, &g.feat)) {
		snprintf(why, whylen, "XPCOPY_FEATURES: %s", strerror(errno));
		close(g.xfd);
		g.xfd = -1;
		return 1;
	}
	g.have_feat = true;
	return 0;
}

static int xp_setup(const struct method *m, char *why, size_t whylen)
{
	int ret = xp_open(why, whylen);

	if (ret)
		return ret;
	if (!(g.feat.commands & (1ULL << XPCOPY_CMD_COPY))) {
		snprintf(why, whylen, "the module has no XPCOPY_COPY");
		return 1;
	}
	if (m->arg & ~g.feat.copy_flags) {
		snprintf(why, whylen, "the module lacks copy flag 0x%lx",
			 m->arg & ~(unsigned long)g.feat.copy_flags);
		return 1;
	}
	return 0;
}

static int xp_copy(const struct method *m, enum dir dir, size_t len)
{
	unsigned char *local = dir == DIR_WRITE ? g.src : g.dst;
	size_t done = 0;

	while (done < len) {
		struct xpcopy_iovec l = {
			.addr = (uintptr_t)(local + done), .len = len - done,
		};
		/* In grant mode remote addresses are offsets into the window. */
		struct xpcopy_iovec r = {
			.addr = (m->arg & XPCOPY_COPY_GRANT ? 0 : g.remote) + done,
			.len = len - done,
		};
		struct xpcopy_copy c = {
			.size = sizeof(c),
			.flags = (dir == DIR_WRITE ? XPCOPY_COPY_WRITE :
				  XPCOPY_COPY_READ) | m->arg,
			.local_cnt = 1, .local_iov = (uintptr_t)&l,
			.remote_cnt = 1, .remote_iov = (uintptr_t)&r,
		};

		if (m->arg & XPCOPY_COPY_GRANT)
			c.grant_fd = m->pin ? g.pin_fd : g.grant_fd;
		else
			c.pid = g.child;

		if (ioctl(g.xfd, XPCOPY_COPY, &c)) {
			if (errno == EINTR)
				continue;
			return fail_errno("XPCOPY_COPY");
		}
		if (c.copied == 0 || c.copied > len - done)
			return fail("XPCOPY_COPY copied %llu of %zu bytes",
				    (unsigned long long)c.copied, len - done);
		done += c.copied;
	}
	return 0;
}

/*
 * xpcopy-uring: one copy of len bytes as up to --uring-qd XPCOPY_COPY
 * commands on an io_uring, all submitted at once (each a slice of at least
 * 4 KiB), then every completion reaped. A short slice is copied again.
 */
static struct {
	/* [1]: 128-byte SQEs, for the XPCOPY_SQE_COPY methods (m->sqe) */
	struct io_uring ring[2];
	bool ready[2];
	struct xpcopy_copy *c;
	struct xpcopy_iovec (*iov)[2];
} ur;

static int uring_setup(const struct method *m, char *why, size_t whylen)
{
	int ret = xp_setup(m, why, whylen);

	if (ret)
		return ret;
	if (ur.ready[m->sqe])	/* set up for another such method already */
		return 0;
	/* A module of ABI 1 has no caps: try, the first command tells. */
	if (g.feat.abi_version >= 2 &&
	    !(g.feat.caps & XPCOPY_CAP_URING_CMD)) {
		snprintf(why, whylen, "no io_uring commands on this kernel (IORING_OP_URING_CMD is Linux 5.19+)");
		return 1;
	}
	if (m->sqe && !(g.feat.caps & XPCOPY_CAP_SQE_COPY)) {
		snprintf(why, whylen, "the module has no XPCOPY_SQE_COPY (XPCOPY_CAP_SQE_COPY, ABI 4)");
		return 1;
	}
	if (!ur.c)
		ur.c = calloc(g.uring_qd, sizeof(*ur.c));
	if (!ur.iov)
		ur.iov = calloc(g.uring_qd, sizeof(*ur.iov));
	if (!ur.c || !ur.iov)
		return fail("out of memory");
	ret = io_uring_queue_init(g.uring_qd, &ur.ring[m->sqe],
				  m->sqe ? IORING_SETUP_SQE128 : 0);
	if (ret) {
		snprintf(why, whylen, "io_uring_queue_init: %s",
			 strerror(-ret));
		return 1;
	}
	ur.ready[m->sqe] = true;
	return 0;
}

/* Both rings go with the first io_uring method's teardown. */
static void uring_teardown(const struct method *m)
{
	(void)m;
	for (int k = 0; k < 2; k++) {
		if (ur.ready[k])
			io_uring_queue_exit(&ur.ring[k]);
		ur.ready[k] = false;
	}
	free(ur.c);
	free(ur.iov);
	ur.c = NULL;
	ur.iov = NULL;
}

/*
 * Slot @i's SQE: one XPCOPY_COPY of @len bytes between @local and @remote
 * (with XPCOPY_COPY_GRANT in @flags an offset into the grant's window).
 */
static int uring_prep(const struct method *m, long i, __u32 flags, int gfd,
		      unsigned char *local, uint64_t remote, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ur.ring[m->sqe]);
	struct xpcopy_copy *c = &ur.c[i];

	if (!sqe)
		return fail("io_uring_get_sqe: ring full");
	if (m->sqe) {	/* XPCOPY_SQE_COPY: the command in the SQE */
		struct xpcopy_sqe_copy sc = {
			.flags = flags,
			.local = (uintptr_t)local,
			.remote = remote,
			.len = len,
		};

		sc.pid = flags & XPCOPY_COPY_GRANT ? gfd : g.child;
		memset(sqe, 0, 2 * sizeof(*sqe));
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = g.xfd;
		sqe->cmd_op = XPCOPY_SQE_COPY;
		sqe->user_data = i;
		memcpy(sqe->cmd, &sc, sizeof(sc));
		return 0;
	}
	ur.iov[i][0].addr = (uintptr_t)local;
	ur.iov[i][0].len = len;
	ur.iov[i][1].addr = remote;
	ur.iov[i][1].len = len;
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->flags = flags;
	if (flags & XPCOPY_COPY_GRANT)
		c->grant_fd = gfd;
	else
		c->pid = g.child;
	c->local_cnt = 1;
	c->local_iov = (uintptr_t)&ur.iov[i][0];
	c->remote_cnt = 1;
	c->remote_iov = (uintptr_t)&ur.iov[i][1];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = g.xfd;
	sqe->cmd_op = XPCOPY_COPY;
	sqe->user_data = i;
	((struct xpcopy_uring_cmd *)sqe->cmd)->cmd = (uintptr_t)c;
	return 0;
}

/* The next CQE's result in *@res; 0, or -1 with errmsg. */
static int uring_reap(const struct method *m, int *res)
{
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(&ur.ring[m->sqe], &cqe);
	while (ret == -EINTR);
	if (ret)
		return fail("io_uring_wait_cqe: %s", strerror(-ret));
	*res = cqe->res;
	io_uring_cqe_seen(&ur.ring[m->sqe], cqe);
	return 0;
}

static int uring_copy(const struct method *m, enum dir dir, size_t len)
{
	unsigned char *local = dir == DIR_WRITE ? g.src : g.dst;
	__u32 flags = dir == DIR_WRITE ? XPCOPY_COPY_WRITE : XPCOPY_COPY_READ;
	size_t done = 0;

	(void)m;
	while (done < len) {
		size_t left = len - done, slice;
		long n = g.uring_qd, i;

		slice = (left + n - 1) / n;
		if (slice < 4 * KiB)
			slice = 4 * KiB;
		n = (left + slice - 1) / slice;
		for (i = 0; i < n; i++) {
			size_t off = done + i * slice;
			size_t l = left - i * slice < slice ?
				   left - i * slice : slice;

			if (uring_prep(m, i, flags, g.grant_fd, local + off,
				       g.remote + off, l))
				return -1;
		}
		if (io_uring_submit(&ur.ring[m->sqe]) != n)
			return fail("io_uring_submit: short");
		/* every slice must complete before the next round */
		for (i = 0; i < n; i++) {
			int ret;

			if (uring_reap(m, &ret))
				return -1;
			if (ret < 0)
				return fail("XPCOPY_COPY via io_uring: %s",
					    strerror(-ret));
		}
		/* the slices done in full, from the first */
		for (i = 0; i < n; i++) {
			size_t want = ur.iov[i][0].len;

			if (ur.c[i].copied != want) {
				if (ur.c[i].copied == 0 && i == 0)
					return fail("XPCOPY_COPY via io_uring copied nothing");
				done += i * slice + ur.c[i].copied;
				break;
			}
		}
		if (i == n)
			done = len;
	}
	return 0;
}

/*
 * xpcopy-grant: the child exports its buffer as a grant and the parent takes
 * the fd with pidfd_getfd() (a real peer would pass it with SCM_RIGHTS).
 */
static int grant_setup(const struct method *m, char *why, size_t whylen)
{
	int64_t cfd;
	int *fdp, pidfd, ret = xp_setup(m, why, whylen);

	if (ret)
		return ret;
	if (!(g.feat.commands & (1ULL << XPCOPY_CMD_GRANT))) {
		snprintf(why, whylen, "the module has no XPCOPY_GRANT");
		return 1;
	}
	if (m->pin && !(g.feat.caps & XPCOPY_CAP_GRANT_PIN)) {
		snprintf(why, whylen, "the module has no pinned grants");
		return 1;
	}
	fdp = m->pin ? &g.pin_fd : &g.grant_fd;
	if (*fdp >= 0)
		return 0;
	if (child_cmd(OP_GRANT, m->pin, 0, &cfd)) {
		snprintf(why, whylen, "XPCOPY_GRANT in the target: %s", errmsg);
		return 1;
	}
	pidfd = syscall(SYS_pidfd_open, g.child, 0);
	if (pidfd < 0) {
		snprintf(why, whylen, "pidfd_open: %s", strerror(errno));
		return 1;
	}
	*fdp = syscall(SYS_pidfd_getfd, pidfd, (int)cfd, 0);
	if (*fdp < 0)
		snprintf(why, whylen, "pidfd_getfd: %s", strerror(errno));
	close(pidfd);
	return *fdp < 0 ? 1 : 0;
}

static void grant_teardown(const struct method *m)
{
	int *fdp = m->pin ? &g.pin_fd : &g.grant_fd;

	if (*fdp >= 0)
		close(*fdp);
	*fdp = -1;
}

/* ------------------------------------------------------------------------ */
/* pvw, pvw-mt */

/* Copy [off, off + len) of the buffers, looping on short counts. */
static int pvw_span(enum dir dir, size_t off, size_t len, char *err,
		    size_t errlen)
{
	unsigned char *local = dir == DIR_WRITE ? g.src : g.dst;

	while (len) {
		struct iovec l = { local + off, len };
		struct iovec r = { (void *)(uintptr_t)(g.remote + off), len };
		ssize_t n;

		if (dir == DIR_WRITE)
			n = process_vm_writev(g.child, &l, 1, &r, 1, 0);
		else
			n = process_vm_readv(g.child, &l, 1, &r, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "process_vm_%s at offset %zu: %s",
				 dir == DIR_WRITE ? "writev" : "readv", off,
				 n ? strerror(errno) : "no progress");
			return -1;
		}
		off += n;
		len -= n;
	}
	return 0;
}

static int pvw_setup(const struct method *m, char *why, size_t whylen)
{
	unsigned char c;
	struct iovec l = { &c, 1 };
	struct iovec r = { (void *)(uintptr_t)g.remote, 1 };

	(void)m;
	if (process_vm_readv(g.child, &l, 1, &r, 1, 0) != 1) {
		snprintf(why, whylen, "process_vm_readv: %s", strerror(errno));
		return 1;
	}
	return 0;
}

static int pvw_copy(const struct method *m, enum dir dir, size_t len)
{
	(void)m;
	return pvw_span(dir, 0, len, errmsg, sizeof(errmsg));
}

/*
 * xpcopy-msgs: --uring-qd independent copies of [0, len), all submitted
 * with one io_uring_enter() and all waited for: the cost of many small
 * messages in flight from one thread. xpcopy-msgs-grant: the same through
 * a grant of the child's buffer (as xpcopy-grant). pvw-msgs: the same
 * messages as as many process_vm_writev / readv calls.
 */
static int msgs_copy(const struct method *m, enum dir dir, size_t len)
{
	unsigned char *local = dir == DIR_WRITE ? g.src : g.dst;
	__u32 flags = (dir == DIR_WRITE ? XPCOPY_COPY_WRITE :
		       XPCOPY_COPY_READ) | m->arg;
	/* In grant mode remote addresses are offsets into the window. */
	uint64_t remote = m->arg & XPCOPY_COPY_GRANT ? 0 : g.remote;
	long n = g.uring_qd, i;

	for (i = 0; i < n; i++)
		if (uring_prep(m, i, flags, m->pin ? g.pin_fd : g.grant_fd,
			       local, remote, len))
			return -1;
	if (io_uring_submit_and_wait(&ur.ring[m->sqe], n) != n)
		return fail("io_uring_submit_and_wait: short");
	for (i = 0; i < n; i++) {
		int ret;

		if (uring_reap(m, &ret))
			return -1;
		if (ret != (int)len)
			return fail("XPCOPY_COPY via io_uring: %s",
				    ret < 0 ? strerror(-ret) : "short");
	}
	return 0;
}

static int msgs_grant_setup(const struct method *m, char *why, size_t whylen)
{
	int ret = grant_setup(m, why, whylen);

	return ret ? ret : uring_setup(m, why, whylen);
}

static void msgs_grant_teardown(const struct method *m)
{
	uring_teardown(m);
	grant_teardown(m);
}

static int pvw_msgs_copy(const struct method *m, enum dir dir, size_t len)
{
	long i;

	(void)m;
	for (i = 0; i < g.uring_qd; i++)
		if (pvw_span(dir, 0, len, errmsg, sizeof(errmsg)))
			return -1;
	return 0;
}


/*
 * pvw-mt: the calling thread and mt.n - 1 workers each copy one page-aligned
 * part; two barriers per call start them and wait for them.
 */
static struct {
	long n;			/* threads, the caller included */
	pthread_t *tids;
	pthread_barrier_t start, done;
	enum dir dir;
	size_t len;
	bool quit;
	int *failed;
	char (*err)[256];
} mt;

static void mt_part(long idx)
{
	size_t per = (mt.len + mt.n - 1) / mt.n;
	size_t off;

	per = (per + 4095) & ~(size_t)4095;
	off = per * idx;
	mt.failed[idx] = 0;
	if (off >= mt.len)
		return;
	if (per > mt.len - off)
		per = mt.len - off;
	mt.failed[idx] = pvw_span(mt.dir, off, per, mt.err[idx],
				  sizeof(mt.err[idx]));
}

static void *mt_worker(void *arg)
{
	long idx = (long)(intptr_t)arg;

	for (;;) {
		pthread_barrier_wait(&mt.start);
		if (mt.quit)
			return NULL;
		mt_part(idx);
		pthread_barrier_wait(&mt.done);
	}
}

static int mt_setup(const struct method *m, char *why, size_t whylen)
{
	sigset_t all, old;
	long i;
	int err;

	err = pvw_setup(m, why, whylen);
	if (err)
		return err;
	mt.n = g.threads;
	mt.tids = xmalloc(mt.n * sizeof(*mt.tids));
	mt.failed = xmalloc(mt.n * sizeof(*mt.failed));
	mt.err = xmalloc(mt.n * sizeof(*mt.err));
	if (pthread_barrier_init(&mt.start, NULL, mt.n))
		die("pthread_barrier_init failed");
	if (pthread_barrier_init(&mt.done, NULL, mt.n))
		die("pthread_barrier_init failed");
	/* Signals go to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 1; i < mt.n; i++) {
		err = pthread_create(&mt.tids[i], NULL, mt_worker,
				     (void *)(intptr_t)i);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

static int mt_copy(const struct method *m, enum dir dir, size_t len)
{
	long i;

	(void)m;
	mt.dir = dir;
	mt.len = len;
	pthread_barrier_wait(&mt.start);
	mt_part(0);
	pthread_barrier_wait(&mt.done);
	for (i = 0; i < mt.n; i++)
		if (mt.failed[i])
			return fail("thread %ld: %s", i, mt.err[i]);
	return 0;
}

static void mt_teardown(const struct method *m)
{
	long i;

	(void)m;
	if (!mt.tids)
		return;
	mt.quit = true;
	pthread_barrier_wait(&mt.start);
	for (i = 1; i < mt.n; i++)
		pthread_join(mt.tids[i], NULL);
	pthread_barrier_destroy(&mt.start);
	pthread_barrier_destroy(&mt.done);
	free(mt.tids);
	free(mt.failed);
	free(mt.err);
	mt.tids = NULL;
}

/* ------------------------------------------------------------------------ */
/* procmem */

static int procmem_setup(const struct method *m, char *why, size_t whylen)
{
	char path[64];
	unsigned char c;

	(void)m;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)g.child);
	g.memfd = open(path, O_RDWR | O_CLOEXEC);
	if (g.memfd < 0) {
		snprintf(why, whylen, "open %s: %s", path, strerror(errno));
		return 1;
	}
	if (pread(g.memfd, &c, 1, (off_t)g.remote) != 1) {
		snprintf(why, whylen, "pread %s: %s", path, strerror(errno));
		close(g.memfd);
		g.memfd = -1;
		return 1;
	}
	return 0;
}

static int procmem_copy(const struct method *m, enum dir dir, size_t len)
{
	unsigned char *local = dir == DIR_WRITE ? g.src : g.dst;
	size_t off = 0;

	(void)m;
	while (off < len) {
		ssize_t n;

		if (dir == DIR_WRITE)
			n = pwrite(g.memfd, local + off, len - off,
				   (off_t)(g.remote + off));
		else
			n = pread(g.memfd, local + off, len - off,
				  (off_t)(g.remote + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("%s /proc/pid/mem at offset %zu: %s",
				    dir == DIR_WRITE ? "pwrite" : "pread", off,
				    n ? strerror(errno) : "no progress");
		off += n;
	}
	return 0;
}

static void procmem_teardown(const struct method *m)
{
	(void)m;
	if (g.memfd >= 0)
		close(g.memfd);
	g.memfd = -1;
}

/* ------------------------------------------------------------------------ */
/* shm: both copies of shared-memory IPC, the peer signalled by a pipe */

static int shm_setup(const struct method *m, char *why, size_t whylen)
{
	(void)m;
	if (!g.shm) {
		snprintf(why, whylen, "no shared mapping");
		return 1;
	}
	return 0;
}

static int shm_copy(const struct method *m, enum dir dir, size_t len)
{
	(void)m;
	if (dir == DIR_WRITE) {
		memcpy(g.shm, g.src, len);
		return child_cmd(OP_SHM_IN, len, 0, NULL);
	}
	if (child_cmd(OP_SHM_OUT, len, 0, NULL))
		return -1;
	memcpy(g.dst, g.shm, len);
	return 0;
}

/* A request and its reply: one pipe round trip, four copies. */
static int shm_roundtrip(const struct method *m, size_t len)
{
	(void)m;
	memcpy(g.shm, g.src, len);
	if (child_cmd(OP_SHM_RTT, len, 0, NULL))
		return -1;
	memcpy(g.dst, g.shm, len);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* memcpy: the target buffer is g.mbuf, in this process */

static int memcpy_setup(const struct method *m, char *why, size_t whylen)
{
	(void)m;
	if (!g.mbuf) {
		g.mbuf = mmap(NULL, g.bufsize, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (g.mbuf == MAP_FAILED) {
			g.mbuf = NULL;
			snprintf(why, whylen, "mmap %zu bytes: %s", g.bufsize,
				 strerror(errno));
			return 1;
		}
		touch_pages(g.mbuf, g.bufsize);
	}
	return 0;
}

static int memcpy_copy(const struct method *m, enum dir dir, size_t len)
{
	(void)m;
	if (dir == DIR_WRITE)
		memcpy(g.mbuf, g.src, len);
	else
		memcpy(g.dst, g.mbuf, len);
	/* Keep the compiler from dropping or merging the copies. */
	__asm__ __volatile__("" : : "r"(g.mbuf), "r"(g.dst) : "memory");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The target buffer, wherever the method keeps it */

static int target_fill(const struct method *m, size_t len, uint64_t seed)
{
	if (m->local) {
		pat_fill(g.mbuf, len, seed);
		return 0;
	}
	return child_cmd(OP_FILL, len, seed, NULL);
}

static int target_check(const struct method *m, size_t len, uint64_t seed,
			int64_t *bad)
{
	if (m->local) {
		*bad = pat_check(g.mbuf, len, seed);
		return 0;
	}
	return child_cmd(OP_VERIFY, len, seed, bad);
}

/* ------------------------------------------------------------------------ */
/* Measurement */

static int one_call(const struct method *m, enum dir dir, size_t len)
{
	if (dir != DIR_RTT)
		return m->copy(m, dir, len);
	if (m->roundtrip)
		return m->roundtrip(m, len);
	if (m->copy(m, DIR_WRITE, len))
		return -1;
	return m->copy(m, DIR_READ, len);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Time one method, direction and size: prepare the data, one warm-up call,
 * samples until the minimum time, then verify. 0, or -1 with errmsg.
 */
static int run_point(const struct method *m, enum dir dir, size_t len,
		     struct result *r)
{
	uint64_t seed = ++g.seed * 0xD1B54A32D192ED03ULL;
	uint64_t t0, t1, start, warm, k = 1, ns;
	uint64_t min_ns = (uint64_t)(g.min_time * 1e9);
	uint64_t max_ns = (uint64_t)(g.max_point_time * 1e9);
	int64_t s0[NR_STATS], s1[NR_STATS], bad;
	bool stats = false;
	size_t n = 0, i;

	memset(r, 0, sizeof(*r));
	r->m = m;
	r->dir = dir;
	r->size = len;

	/* The source gets this point's pattern, the destination anything else. */
	if (dir == DIR_READ) {
		if (target_fill(m, len, seed))
			return -1;
	} else {
		pat_fill(g.src, len, seed);
		if (dir == DIR_RTT) {
			if (target_fill(m, len, ~seed))
				return -1;
			pat_fill(g.dst, len, seed ^ 0xA5A5A5A5A5A5A5A5ULL);
		}
	}

	t0 = now_ns();
	if (one_call(m, dir, len))
		return -1;
	warm = now_ns() - t0;
	if (warm < SAMPLE_NS)
		k = SAMPLE_NS / (warm ? warm : 1) + 1;
	if (k > MAX_BATCH)
		k = MAX_BATCH;

	if (m->module)
		stats = !stats_reset_peak() && !stats_read(s0);

	start = now_ns();
	for (;;) {
		t0 = now_ns();
		for (i = 0; i < k; i++)
			if (one_call(m, dir, len))
				return -1;
		t1 = now_ns();
		g.samples[n++] = (double)(t1 - t0) / k;
		ns = t1 - start;
		if (timed_out || n >= g.max_samples)
			break;
		if (ns >= min_ns && n >= g.min_reps)
			break;
		if (ns >= max_ns)
			break;
	}

	if (stats && !stats_read(s1)) {
		r->have_stats = true;
		r->pinned_peak = s1[ST_PINNED_PEAK];
		r->kcopies = s1[ST_COPIES] - s0[ST_COPIES];
		r->kbytes = s1[ST_BYTES] - s0[ST_BYTES];
		r->kcopy_bytes = s1[ST_COPY_BYTES] - s0[ST_COPY_BYTES];
		r->pins_taken = s1[ST_PINS_TAKEN] - s0[ST_PINS_TAKEN];
		r->pins_released = s1[ST_PINS_RELEASED] - s0[ST_PINS_RELEASED];
		r->ns_take = s1[ST_NS_TAKE] - s0[ST_NS_TAKE];
		r->ns_wait = s1[ST_NS_WAIT] - s0[ST_NS_WAIT];
		r->ns_release = s1[ST_NS_RELEASE] - s0[ST_NS_RELEASE];
		r->ns_worker = s1[ST_NS_WORKER] - s0[ST_NS_WORKER];
		r->ns_inline = s1[ST_NS_INLINE] - s0[ST_NS_INLINE];
		r->uring_issued = s1[ST_URING_ISSUED] - s0[ST_URING_ISSUED];
		r->uring_punts = s1[ST_URING_PUNTS] - s0[ST_URING_PUNTS];
		r->wakeups = s1[ST_WAKEUPS] - s0[ST_WAKEUPS];
		r->mm_switches = s1[ST_MM_SWITCHES] - s0[ST_MM_SWITCHES];
		r->caller_bytes = s1[ST_CALLER_BYTES] - s0[ST_CALLER_BYTES];
		r->taken_back = s1[ST_TAKEN_BACK] - s0[ST_TAKEN_BACK];
		r->uring_workers = s1[ST_URING_WORKERS] -
				   s0[ST_URING_WORKERS];
		r->help_declined = s1[ST_HELP_DECLINED] - s0[ST_HELP_DECLINED];
	}

	/* Verify where the bytes went. */
	if (dir != DIR_READ) {
		if (target_check(m, len, seed, &bad))
			return -1;
		if (bad >= 0)
			return fail("data mismatch in the target at offset %" PRId64
				    " of %zu", bad, len);
	}
	if (dir != DIR_WRITE) {
		bad = pat_check(g.dst, len, seed);
		if (bad >= 0)
			return fail("data mismatch in the copy read back at offset %"
				    PRId64 " of %zu", bad, len);
	}

	qsort(g.samples, n, sizeof(*g.samples), cmp_double);
	r->samples = n;
	r->batch = k;
	r->reps = n * k;
	r->min_ns = g.samples[0];
	r->max_ns = g.samples[n - 1];
	r->med_ns = n % 2 ? g.samples[n / 2] :
		(g.samples[n / 2 - 1] + g.samples[n / 2]) / 2;
	r->gbps = (dir == DIR_RTT ? 2.0 : 1.0) * len / r->med_ns;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* System description */

struct sysinfo_b {
	struct utsname uts;
	char cpu_model[256];
	bool have_model;
	char flags[4096];
	bool have_flags;
	char thp_raw[128];
	char thp[32];
	bool have_thp;
	int64_t batch_pages;
	bool have_batch_pages;
	long ncpus;
	long page_size;
	char timestamp[64];
};

static const char *const copy_flags[] = {
	"erms", "fsrm", "fzrm", "fsrs", "rep_good", "avx2", "avx512f",
};
#define NR_COPY_FLAGS	(sizeof(copy_flags) / sizeof(copy_flags[0]))

static bool has_flag(const struct sysinfo_b *s, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = s->flags;

	while ((p = strstr(p, flag))) {
		if ((p == s->flags || p[-1] == ' ') && (!p[n] || p[n] == ' '))
			return true;
		p += n;
	}
	return false;
}

static void get_sysinfo(struct sysinfo_b *s)
{
	char line[4096];
	FILE *f;
	time_t t = time(NULL);
	struct tm tm;

	memset(s, 0, sizeof(*s));
	if (uname(&s->uts))
		die("uname: %s", strerror(errno));
	f = fopen("/proc/cpuinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *v;
		size_t n;

		if (!colon)
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		n = strlen(v);
		while (n && isspace((unsigned char)v[n - 1]))
			v[--n] = 0;
		if (!s->have_model && !strncmp(line, "model name", 10)) {
			snprintf(s->cpu_model, sizeof(s->cpu_model), "%s", v);
			s->have_model = true;
		} else if (!s->have_flags && !strncmp(line, "flags", 5)) {
			snprintf(s->flags, sizeof(s->flags), "%s", v);
			s->have_flags = true;
		}
	}
	if (f)
		fclose(f);
	if (!read_file(THP_ENABLED, s->thp_raw, sizeof(s->thp_raw))) {
		char *a = strchr(s->thp_raw, '['), *b = a ? strchr(a, ']') : NULL;

		s->have_thp = true;
		if (a && b)
			snprintf(s->thp, sizeof(s->thp), "%.*s",
				 (int)(b - a - 1), a + 1);
		else
			snprintf(s->thp, sizeof(s->thp), "%.31s", s->thp_raw);
	}
	s->have_batch_pages = !read_i64(XPCOPY_PARAM, &s->batch_pages);
	if (!s->have_batch_pages && g.have_feat) {
		s->batch_pages = g.feat.batch_pages;
		s->have_batch_pages = true;
	}
	s->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->page_size = sysconf(_SC_PAGESIZE);
	gmtime_r(&t, &tm);
	strftime(s->timestamp, sizeof(s->timestamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------------ */
/* Output */

static const struct result *find_result(const struct method *m, enum dir dir,
					size_t size)
{
	size_t i;

	for (i = 0; i < g.nres; i++)
		if (g.res[i].m == m && g.res[i].dir == dir &&
		    g.res[i].size == size)
			return &g.res[i];
	return NULL;
}

static const struct method *pvw_method(void)
{
	size_t i;

	for (i = 0; i < NR_METHODS; i++)
		if (!strcmp(methods[i].name, "pvw"))
			return &methods[i];
	return NULL;
}

/* Speed relative to pvw at the same direction and size; NAN if none. */
static double ratio_pvw(const struct result *r)
{
	const struct result *p = find_result(pvw_method(), r->dir, r->size);

	if (!p || !(r->med_ns > 0))
		return NAN;
	return p->med_ns / r->med_ns;
}

static double copies_per_byte(const struct result *r)
{
	if (!r->have_stats || r->kbytes <= 0)
		return NAN;
	return (double)r->kcopy_bytes / r->kbytes;
}

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v, const char *fmt)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, fmt, v);
}

static int write_json(const char *path, const struct sysinfo_b *s,
		      const char *status)
{
	FILE *f = fopen(path, "w");
	size_t i;
	int j;

	if (!f)
		return fail_errno(path);
	fprintf(f, "{\n  \"header\": {\n");
	fprintf(f, "    \"tool\": \"xpcopy-bench\",\n    \"version\": %d,\n",
		BENCH_VERSION);
	fprintf(f, "    \"timestamp\": \"%s\",\n", s->timestamp);
	fprintf(f, "    \"kernel\": {\"sysname\": ");
	json_str(f, s->uts.sysname);
	fprintf(f, ", \"release\": ");
	json_str(f, s->uts.release);
	fprintf(f, ", \"version\": ");
	json_str(f, s->uts.version);
	fprintf(f, ", \"machine\": ");
	json_str(f, s->uts.machine);
	fprintf(f, "},\n    \"cpu_model\": ");
	json_str(f, s->have_model ? s->cpu_model : NULL);
	fprintf(f, ",\n    \"cpu_flags\": {");
	for (i = 0; i < NR_COPY_FLAGS; i++)
		fprintf(f, "%s\"%s\": %s", i ? ", " : "", copy_flags[i],
			!s->have_flags ? "null" :
			has_flag(s, copy_flags[i]) ? "true" : "false");
	fprintf(f, "},\n    \"thp\": ");
	json_str(f, s->have_thp ? s->thp : NULL);
	fprintf(f, ",\n    \"thp_raw\": ");
	json_str(f, s->have_thp ? s->thp_raw : NULL);
	fprintf(f, ",\n    \"batch_pages\": ");
	if (s->have_batch_pages)
		fprintf(f, "%" PRId64, s->batch_pages);
	else
		fputs("null", f);
	fprintf(f, ",\n    \"nr_cpus\": %ld,\n    \"page_size\": %ld,\n",
		s->ncpus, s->page_size);
	fprintf(f, "    \"note\": ");
	json_str(f, g.note);
	fprintf(f, ",\n    \"module\": {\"present\": %s", g.have_feat ? "true" : "false");
	if (g.have_feat)
		fprintf(f, ", \"abi_version\": %u, \"batch_pages\": %u, "
			"\"commands\": %llu, \"copy_flags\": %llu, "
			"\"max_iov\": %u, \"nr_workers\": %u",
			g.feat.abi_version, g.feat.batch_pages,
			(unsigned long long)g.feat.commands,
			(unsigned long long)g.feat.copy_flags,
			g.feat.max_iov, g.feat.nr_workers);
	fprintf(f, ", \"pinned_now_at_end\": ");
	if (g.have_pinned_now_end)
		fprintf(f, "%" PRId64, g.pinned_now_end);
	else
		fputs("null", f);
	fprintf(f, "},\n    \"options\": {\"quick\": %s, \"min_time_s\": %g, "
		"\"max_point_time_s\": %g, \"min_reps\": %lu, "
		"\"latency_max\": %zu, \"threads\": %ld, \"uring_qd\": %ld, "
		"\"busy\": %ld, \"sizes\": [",
		g.quick ? "true" : "false", g.min_time, g.max_point_time,
		g.min_reps, g.latency_max, g.threads, g.uring_qd, g.busy);
	for (j = 0; j < g.nsizes; j++)
		fprintf(f, "%s%zu", j ? ", " : "", g.sizes[j]);
	fprintf(f, "]},\n    \"methods\": [");
	for (j = 0, i = 0; i < NR_METHODS; i++) {
		if (!g.selected[i])
			continue;
		fprintf(f, "%s\n      {\"name\": \"%s\", \"description\": ",
			j++ ? "," : "", methods[i].name);
		json_str(f, methods[i].help);
		fprintf(f, ", \"status\": \"%s\", \"skip_reason\": ",
			g.skipped[i] ? "skipped" : g.failed[i] ? "failed" : "ok");
		json_str(f, g.skipped[i] ? g.skip_why[i] : NULL);
		fputc('}', f);
	}
	fprintf(f, "\n    ],\n    \"status\": \"%s\",\n    \"errors\": [", status);
	for (i = 0; i < g.nerrors; i++) {
		fputs(i ? ", " : "", f);
		json_str(f, g.errors[i]);
	}
	fprintf(f, "]\n  },\n  \"results\": [");
	for (i = 0; i < g.nres; i++) {
		const struct result *r = &g.res[i];

		fprintf(f, "%s\n    {\"method\": \"%s\", \"direction\": \"%s\", "
			"\"size\": %zu, \"reps\": %" PRIu64 ", \"batch\": %" PRIu64
			", \"min_ns\": %.1f, \"median_ns\": %.1f, \"max_ns\": %.1f"
			", \"gbps\": ",
			i ? "," : "", r->m->name, dir_names[r->dir], r->size,
			r->reps, r->batch, r->min_ns, r->med_ns, r->max_ns);
		json_num(f, r->gbps, "%.6f");
		fprintf(f, ", \"ratio_pvw\": ");
		json_num(f, ratio_pvw(r), "%.4f");
		fprintf(f, ", \"latency_us\": ");
		json_num(f, r->dir == DIR_RTT ? r->med_ns / 1000 : NAN, "%.3f");
		fprintf(f, ", \"pinned_peak_pages\": ");
		if (r->have_stats)
			fprintf(f, "%" PRId64, r->pinned_peak);
		else
			fputs("null", f);
		fprintf(f, ", \"copies_per_byte\": ");
		json_num(f, copies_per_byte(r), "%.4f");
		fprintf(f, ", \"module_copies\": ");
		if (r->have_stats)
			fprintf(f, "%" PRId64 ", \"module_bytes\": %" PRId64
				", \"pins_taken\": %" PRId64
				", \"pins_released\": %" PRId64,
				r->kcopies, r->kbytes, r->pins_taken,
				r->pins_released);
		else
			fputs("null, \"module_bytes\": null, \"pins_taken\": null"
			      ", \"pins_released\": null", f);
		if (r->have_stats)
			fprintf(f, ", \"module_ns\": {\"take\": %" PRId64
				", \"wait\": %" PRId64 ", \"release\": %" PRId64
				", \"workers\": %" PRId64 ", \"inline\": %" PRId64
				"}, \"uring_issued\": %" PRId64
				", \"uring_punts\": %" PRId64
				", \"uring_workers\": %" PRId64
				", \"worker_wakeups\": %" PRId64
				", \"mm_switches\": %" PRId64
				", \"caller_bytes\": %" PRId64
				", \"taken_back\": %" PRId64
				", \"help_declined\": %" PRId64, r->ns_take,
				r->ns_wait, r->ns_release, r->ns_worker,
				r->ns_inline, r->uring_issued, r->uring_punts,
				r->uring_workers, r->wakeups, r->mm_switches,
				r->caller_bytes, r->taken_back,
				r->help_declined);
		fprintf(f, ", \"verified\": true}");
	}
	fprintf(f, "\n  ]\n}\n");
	if (ferror(f) | fclose(f))
		return fail_errno(path);
	return 0;
}

static void csv_num(FILE *f, double v, const char *fmt)
{
	if (!isnan(v) && !isinf(v))
		fprintf(f, fmt, v);
}

static int write_csv(const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		return fail_errno(path);
	fprintf(f, "method,direction,size,reps,batch,min_ns,median_ns,max_ns,"
		"gbps,ratio_pvw,latency_us,pinned_peak_pages,copies_per_byte,"
		"module_copies,pins_taken\n");
	for (i = 0; i < g.nres; i++) {
		const struct result *r = &g.res[i];

		fprintf(f, "%s,%s,%zu,%" PRIu64 ",%" PRIu64 ",%.1f,%.1f,%.1f,",
			r->m->name, dir_names[r->dir], r->size, r->reps,
			r->batch, r->min_ns, r->med_ns, r->max_ns);
		csv_num(f, r->gbps, "%.6f");
		fputc(',', f);
		csv_num(f, ratio_pvw(r), "%.4f");
		fputc(',', f);
		csv_num(f, r->dir == DIR_RTT ? r->med_ns / 1000 : NAN, "%.3f");
		fputc(',', f);
		if (r->have_stats)
			fprintf(f, "%" PRId64, r->pinned_peak);
		fputc(',', f);
		csv_num(f, copies_per_byte(r), "%.4f");
		fputc(',', f);
		if (r->have_stats)
			fprintf(f, "%" PRId64 ",%" PRId64, r->kcopies,
				r->pins_taken);
		else
			fputc(',', f);
		fputc('\n', f);
	}
	if (ferror(f) | fclose(f))
		return fail_errno(path);
	return 0;
}

static void print_table(const struct sysinfo_b *s)
{
	char sz[32];
	int d, j;
	size_t i;
	bool any;

	printf("xpcopy-bench: %s %s %s, %ld CPUs, %s\n", s->uts.sysname,
	       s->uts.release, s->uts.machine, s->ncpus,
	       s->have_model ? s->cpu_model : "unknown CPU");
	printf("copy flags:");
	for (i = 0; i < NR_COPY_FLAGS; i++)
		printf(" %s=%s", copy_flags[i], !s->have_flags ? "?" :
		       has_flag(s, copy_flags[i]) ? "yes" : "no");
	printf("; THP %s", s->have_thp ? s->thp : "unknown");
	if (s->have_batch_pages)
		printf("; batch_pages %" PRId64, s->batch_pages);
	printf("\n");
	if (g.note)
		printf("note: %s\n", g.note);
	for (i = 0; i < NR_METHODS; i++)
		if (g.selected[i] && g.skipped[i])
			printf("skipped %s: %s\n", methods[i].name, g.skip_why[i]);

	for (d = 0; d < NR_DIRS; d++) {
		any = false;
		for (i = 0; i < g.nres; i++)
			any |= g.res[i].dir == (enum dir)d;
		if (!any)
			continue;
		if (d == DIR_RTT)
			printf("\n== round trip (write then read back): us per round trip,"
			       " from the median; xN = speed relative to pvw ==\n");
		else
			printf("\n== %s: GB/s from the median; xN = speed relative"
			       " to pvw ==\n", dir_names[d]);
		printf("%9s", "size");
		for (i = 0; i < NR_METHODS; i++)
			if (g.selected[i] && !g.skipped[i])
				printf(" %17s", methods[i].name);
		printf("\n");
		for (j = 0; j < g.nsizes; j++) {
			if (d == DIR_RTT && g.sizes[j] > g.latency_max)
				continue;
			printf("%9s", fmt_size(g.sizes[j], sz, sizeof(sz)));
			for (i = 0; i < NR_METHODS; i++) {
				const struct result *r;
				double ratio;

				if (!g.selected[i] || g.skipped[i])
					continue;
				r = find_result(&methods[i], d, g.sizes[j]);
				if (!r) {
					printf(" %17s", "-");
					continue;
				}
				ratio = ratio_pvw(r);
				printf(d == DIR_RTT ? " %9.2f" : " %9.3f",
				       d == DIR_RTT ? r->med_ns / 1000 : r->gbps);
				if (isnan(ratio))
					printf("        ");
				else
					printf(" x%-6.2f", ratio);
			}
			printf("\n");
		}
	}

	any = false;
	for (i = 0; i < g.nres; i++)
		any |= g.res[i].have_stats;
	if (any) {
		printf("\n== module counters over the timed calls ==\n");
		printf("%-17s %-9s %9s %10s %12s %12s %14s %10s %10s %10s"
		       " %9s\n", "method", "direction", "size", "calls",
		       "peak pinned", "copies/byte", "pins per call",
		       "wakes/call", "mm sw/call", "io-wq/cmd", "caller %");
		for (i = 0; i < g.nres; i++) {
			const struct result *r = &g.res[i];

			if (!r->have_stats)
				continue;
			int64_t cmds = r->uring_issued + r->uring_punts +
				       r->uring_workers;

			printf("%-17s %-9s %9s %10" PRId64 " %12" PRId64
			       " %12.3f %14.1f", r->m->name,
			       dir_names[r->dir], fmt_size(r->size, sz, sizeof(sz)),
			       r->kcopies, r->pinned_peak, copies_per_byte(r),
			       r->kcopies ? (double)r->pins_taken / r->kcopies : 0.0);
			printf(" %10.2f %10.2f",
			       r->kcopies ? (double)r->wakeups / r->kcopies : 0.0,
			       r->kcopies ? (double)r->mm_switches / r->kcopies :
			       0.0);
			if (cmds)
				printf(" %10.2f", (double)r->uring_punts / cmds);
			else
				printf(" %10s", "-");
			printf(" %9.1f\n", r->kbytes ?
			       100.0 * r->caller_bytes / r->kbytes : 0.0);
		}
		if (g.have_pinned_now_end)
			printf("pinned_now at the end: %" PRId64 "\n",
			       g.pinned_now_end);

		printf("\n== where the module's time goes: us per call ==\n"
		       "(take: the caller takes its pages or fills the bounce buffer;"
		       " wait: it waits for the workers;\n release: it releases its"
		       " pages; workers: their copying, summed over workers;\n"
		       " inline: copies in the caller's context; call: the whole"
		       " call, from the median)\n");
		printf("%-17s %-9s %9s %10s %10s %10s %10s %10s %10s\n",
		       "method", "direction", "size", "call", "take", "wait",
		       "release", "workers", "inline");
		for (i = 0; i < g.nres; i++) {
			const struct result *r = &g.res[i];
			double n = r->kcopies;

			if (!r->have_stats || !r->kcopies || r->dir == DIR_RTT)
				continue;
			printf("%-17s %-9s %9s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n",
			       r->m->name, dir_names[r->dir],
			       fmt_size(r->size, sz, sizeof(sz)), r->med_ns / 1e3,
			       r->ns_take / n / 1e3, r->ns_wait / n / 1e3,
			       r->ns_release / n / 1e3, r->ns_worker / n / 1e3,
			       r->ns_inline / n / 1e3);
		}
	}
	fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Command line */

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"usage: xpcopy-bench [options]\n"
"\n"
"Copy the same bytes into a forked child (write) and back (read) by each\n"
"method, verify them, and report GB/s (and round-trip latency for small\n"
"sizes) with the xpcopy module's counters.\n"
"\n"
"  --methods LIST       comma-separated methods (default: all)\n"
"  --sizes LIST         comma-separated sizes, suffixes K M G (powers of 1024)\n"
"                       (default: 64 to 256M in powers of 4)\n"
"  --max-size SIZE      drop sizes above SIZE\n"
"  --min-time SEC       time each point at least SEC seconds (default 0.2)\n"
"  --min-reps N         and at least N samples (default 3)\n"
"  --max-point-time SEC stop a point after SEC seconds whatever the above\n"
"                       (default 10)\n"
"  --latency-max SIZE   round trips for sizes up to SIZE (default 64K; 0: none)\n"
"  --threads N          threads of pvw-mt (default: CPUs online)\n"
"  --uring-qd N         copies in flight of xpcopy-uring, each a slice of\n"
"                       the size of at least 4K (default 8); messages per\n"
"                       call of xpcopy-msgs, xpcopy-msgs-grant and pvw-msgs\n"
"  --busy N             run N spinning threads beside the copies (one per\n"
"                       CPU: the CPUs are busy, as under MPI); default 0\n"
"  --json FILE          write the results as JSON\n"
"  --csv FILE           write the results as CSV\n"
"  --note TEXT          a note for the JSON header, e.g. that the machine\n"
"                       is a TCG-emulated guest\n"
"  --quick              sizes 64,4K,64K and --min-time 0.01 (a selftest)\n"
"  --timeout SEC        stop after SEC seconds with what was measured, and\n"
"                       kill everything 30 s later (default 1800; 0: none)\n"
"  -q, --quiet          no progress lines on stderr\n"
"  --list-methods       list the methods and exit\n"
"  -h, --help           this text\n"
"\n"
"Exit status: 0 all good; 1 a copy failed, data did not verify or the\n"
"timeout hit (outputs are still written); 2 usage error; 3 hard timeout.\n"
"\n"
"methods:\n");
	for (i = 0; i < NR_METHODS; i++)
		fprintf(f, "  %-17s %s\n", methods[i].name, methods[i].help);
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned long long mult = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = KiB; end++; break;
	case 'm': case 'M': mult = MiB; end++; break;
	case 'g': case 'G': mult = GiB; end++; break;
	}
	if (mult > 1 && (!strcmp(end, "iB") || !strcmp(end, "ib")))
		end += 2;
	else if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > SIZE_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static double parse_double(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 1e6) {
		fprintf(stderr, "xpcopy-bench: bad %s: %s\n", opt, s);
		exit(2);
	}
	return v;
}

static unsigned long parse_ulong(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "xpcopy-bench: bad %s: %s\n", opt, s);
		exit(2);
	}
	return v;
}

enum {
	OPT_METHODS = 256, OPT_SIZES, OPT_MAX_SIZE, OPT_MIN_TIME, OPT_MIN_REPS,
	OPT_MAX_POINT_TIME, OPT_LATENCY_MAX, OPT_THREADS, OPT_JSON, OPT_CSV,
	OPT_NOTE, OPT_QUICK, OPT_TIMEOUT, OPT_LIST, OPT_URING_QD, OPT_BUSY,
};

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "methods", required_argument, NULL, OPT_METHODS },
		{ "sizes", required_argument, NULL, OPT_SIZES },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "min-time", required_argument, NULL, OPT_MIN_TIME },
		{ "min-reps", required_argument, NULL, OPT_MIN_REPS },
		{ "max-point-time", required_argument, NULL, OPT_MAX_POINT_TIME },
		{ "latency-max", required_argument, NULL, OPT_LATENCY_MAX },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "uring-qd", required_argument, NULL, OPT_URING_QD },
		{ "busy", required_argument, NULL, OPT_BUSY },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "csv", required_argument, NULL, OPT_CSV },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list-methods", no_argument, NULL, OPT_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *methods_arg = NULL, *sizes_arg = NULL;
	bool have_min_time = false;
	size_t i;
	int c;

	g.min_time = 0.2;
	g.max_point_time = 10;
	g.min_reps = 3;
	g.max_samples = 200000;
	g.latency_max = 64 * KiB;
	g.max_size = SIZE_MAX;
	g.timeout = 1800;
	g.threads = sysconf(_SC_NPROCESSORS_ONLN);
	g.uring_qd = 8;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_METHODS:
			methods_arg = optarg;
			break;
		case OPT_SIZES:
			sizes_arg = optarg;
			break;
		case OPT_MAX_SIZE:
			if (parse_size(optarg, &g.max_size) || !g.max_size) {
				fprintf(stderr, "xpcopy-bench: bad --max-size: %s\n",
					optarg);
				exit(2);
			}
			break;
		case OPT_MIN_TIME:
			g.min_time = parse_double(optarg, "--min-time");
			have_min_time = true;
			break;
		case OPT_MIN_REPS:
			g.min_reps = parse_ulong(optarg, "--min-reps");
			if (g.min_reps < 1)
				g.min_reps = 1;
			if (g.min_reps > g.max_samples)
				g.min_reps = g.max_samples;
			break;
		case OPT_MAX_POINT_TIME:
			g.max_point_time = parse_double(optarg, "--max-point-time");
			break;
		case OPT_LATENCY_MAX:
			if (parse_size(optarg, &g.latency_max)) {
				fprintf(stderr, "xpcopy-bench: bad --latency-max: %s\n",
					optarg);
				exit(2);
			}
			break;
		case OPT_THREADS:
			g.threads = parse_ulong(optarg, "--threads");
			if (g.threads < 1 || g.threads > 1024) {
				fprintf(stderr, "xpcopy-bench: --threads 1 to 1024\n");
				exit(2);
			}
			break;
		case OPT_URING_QD:
			g.uring_qd = parse_ulong(optarg, "--uring-qd");
			if (g.uring_qd < 1 || g.uring_qd > 4096) {
				fprintf(stderr, "xpcopy-bench: --uring-qd 1 to 4096\n");
				exit(2);
			}
			break;
		case OPT_BUSY:
			g.busy = parse_ulong(optarg, "--busy");
			if (g.busy > 1024) {
				fprintf(stderr, "xpcopy-bench: --busy 0 to 1024\n");
				exit(2);
			}
			break;
		case OPT_JSON:
			g.json = optarg;
			break;
		case OPT_CSV:
			g.csv = optarg;
			break;
		case OPT_NOTE:
			g.note = optarg;
			break;
		case OPT_QUICK:
			g.quick = true;
			break;
		case OPT_TIMEOUT:
			g.timeout = parse_ulong(optarg, "--timeout");
			break;
		case 'q':
			g.quiet = true;
			break;
		case OPT_LIST:
			for (i = 0; i < NR_METHODS; i++)
				printf("%-17s %s\n", methods[i].name,
				       methods[i].help);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xpcopy-bench: unexpected argument %s\n",
			argv[optind]);
		exit(2);
	}
	if (g.threads < 1)
		g.threads = 1;

	if (g.quick) {
		if (!sizes_arg)
			sizes_arg = "64,4K,64K";
		if (!have_min_time)
			g.min_time = 0.01;
	}

	/* methods */
	if (!methods_arg) {
		for (i = 0; i < NR_METHODS; i++)
			g.selected[i] = true;
	} else {
		char *list = strdup(methods_arg), *save = NULL, *tok;

		if (!list)
			die("out of memory");
		for (tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			for (i = 0; i < NR_METHODS; i++)
				if (!strcmp(tok, methods[i].name))
					break;
			if (i == NR_METHODS) {
				fprintf(stderr, "xpcopy-bench: unknown method %s;"
					" known:", tok);
				for (i = 0; i < NR_METHODS; i++)
					fprintf(stderr, " %s", methods[i].name);
				fprintf(stderr, "\n");
				exit(2);
			}
			g.selected[i] = true;
		}
		free(list);
	}

	/* sizes */
	if (!sizes_arg) {
		size_t s;

		for (s = 64; s <= 256 * MiB; s *= 4) {
			if (s > g.max_size)
				break;
			g.sizes = realloc(g.sizes, (g.nsizes + 1) * sizeof(*g.sizes));
			if (!g.sizes)
				die("out of memory");
			g.sizes[g.nsizes++] = s;
		}
	} else {
		char *list = strdup(sizes_arg), *save = NULL, *tok;

		if (!list)
			die("out of memory");
		for (tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			size_t s;

			if (parse_size(tok, &s) || !s) {
				fprintf(stderr, "xpcopy-bench: bad size %s\n", tok);
				exit(2);
			}
			if (s > g.max_size)
				continue;
			g.sizes = realloc(g.sizes, (g.nsizes + 1) * sizeof(*g.sizes));
			if (!g.sizes)
				die("out of memory");
			g.sizes[g.nsizes++] = s;
		}
		free(list);
	}
	if (!g.nsizes) {
		fprintf(stderr, "xpcopy-bench: no sizes to run\n");
		exit(2);
	}
}

/* ------------------------------------------------------------------------ */

static void cleanup(void)
{
	stop_spinners();
	reap_child();
}

static void add_result(const struct result *r)
{
	if (g.nres == g.capres) {
		g.capres = g.capres ? 2 * g.capres : 64;
		g.res = realloc(g.res, g.capres * sizeof(*g.res));
		if (!g.res)
			die("out of memory");
	}
	g.res[g.nres++] = *r;
}

static void progress(const struct result *r)
{
	char sz[32];

	if (g.quiet)
		return;
	fprintf(stderr, "%-17s %-9s %9s ", r->m->name, dir_names[r->dir],
		fmt_size(r->size, sz, sizeof(sz)));
	if (r->dir == DIR_RTT)
		fprintf(stderr, "%10.2f us  ", r->med_ns / 1000);
	else
		fprintf(stderr, "%10.3f GB/s", r->gbps);
	fprintf(stderr, "  median %.0f ns (min %.0f max %.0f), %" PRIu64 " calls",
		r->med_ns, r->min_ns, r->max_ns, r->reps);
	if (r->have_stats)
		fprintf(stderr, ", peak pinned %" PRId64 ", copies/byte %.2f",
			r->pinned_peak, copies_per_byte(r));
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct sysinfo_b si;
	bool need_shm = false;
	const char *status;
	size_t i;
	int j, d, ret = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);

	g.bufsize = 0;
	for (j = 0; j < g.nsizes; j++)
		if (g.sizes[j] > g.bufsize)
			g.bufsize = g.sizes[j];
	for (i = 0; i < NR_METHODS; i++)
		need_shm |= g.selected[i] && methods[i].shm;

	/* The shared mapping exists before the fork so that both have it. */
	if (need_shm) {
		int fd = memfd_create("xpcopy-bench-shm", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, g.bufsize))
			die("memfd of %zu bytes: %s", g.bufsize, strerror(errno));
		g.shm = mmap(NULL, g.bufsize, PROT_READ | PROT_WRITE, MAP_SHARED,
			     fd, 0);
		if (g.shm == MAP_FAILED)
			die("mmap memfd: %s", strerror(errno));
		close(fd);
		touch_pages(g.shm, g.bufsize);
	}

	/* Fork before the parent's buffers exist: no copy-on-write on them. */
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	start_child();
	if (g.busy)
		start_spinners();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL) || sigaction(SIGALRM, &sa, NULL))
		die("sigaction: %s", strerror(errno));
	if (g.timeout)
		alarm(g.timeout);

	g.src = mmap(NULL, g.bufsize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g.dst = mmap(NULL, g.bufsize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.src == MAP_FAILED || g.dst == MAP_FAILED)
		die("mmap %zu bytes: %s", g.bufsize, strerror(errno));
	touch_pages(g.src, g.bufsize);
	touch_pages(g.dst, g.bufsize);
	g.samples = xmalloc(g.max_samples * sizeof(*g.samples));

	for (i = 0; i < NR_METHODS; i++) {
		const struct method *m = &methods[i];
		int r;

		if (!g.selected[i])
			continue;
		r = m->setup(m, g.skip_why[i], sizeof(g.skip_why[i]));
		if (r < 0) {
			add_error("%s: setup: %s", m->name, errmsg);
			g.failed[i] = true;
			ret = 1;
		} else if (r > 0) {
			g.skipped[i] = true;
			fprintf(stderr, "xpcopy-bench: skipping %s: %s\n",
				m->name, g.skip_why[i]);
		} else {
			g.ready[i] = true;
		}
	}

	/* Sizes outside, methods inside: a drift touches every method alike. */
	for (j = 0; j < g.nsizes && !timed_out; j++) {
		size_t len = g.sizes[j];

		for (i = 0; i < NR_METHODS && !timed_out; i++) {
			const struct method *m = &methods[i];

			if (!g.selected[i] || g.skipped[i] || g.failed[i])
				continue;
			for (d = 0; d < NR_DIRS && !timed_out; d++) {
				struct result r;

				if (d == DIR_RTT) {
					if (len > g.latency_max ||
					    (!m->roundtrip &&
					     (m->dirs & (D_WRITE | D_READ)) !=
					     (D_WRITE | D_READ)))
						continue;
				} else if (!(m->dirs & (1u << d))) {
					continue;
				}
				if (run_point(m, d, len, &r)) {
					char sz[32];

					add_error("%s %s %s: %s", m->name,
						  dir_names[d],
						  fmt_size(len, sz, sizeof(sz)),
						  errmsg);
					g.failed[i] = true;
					ret = 1;
					break;
				}
				add_result(&r);
				progress(&r);
			}
		}
	}
	if (timed_out) {
		add_error("timeout after %u s: the remaining points were not run",
			  g.timeout);
		ret = 1;
	}

	for (i = 0; i < NR_METHODS; i++)
		if (g.ready[i] && methods[i].teardown)
			methods[i].teardown(&methods[i]);
	if (stop_child()) {
		add_error("the target child did not exit cleanly");
		ret = 1;
	}
	alarm(0);

	if (g.have_feat) {
		g.have_pinned_now_end =
			!read_i64(XPCOPY_STATS "pinned_now", &g.pinned_now_end);
		if (g.have_pinned_now_end && g.pinned_now_end)
			fprintf(stderr, "xpcopy-bench: warning: pinned_now is %"
				PRId64 " after the run\n", g.pinned_now_end);
	}

	get_sysinfo(&si);
	print_table(&si);
	status = timed_out ? "timeout" : ret ? "failed" : "ok";
	if (g.json && write_json(g.json, &si, status)) {
		fprintf(stderr, "xpcopy-bench: %s\n", errmsg);
		ret = 1;
	}
	if (g.csv && write_csv(g.csv)) {
		fprintf(stderr, "xpcopy-bench: %s\n", errmsg);
		ret = 1;
	}
	if (g.xfd >= 0)
		close(g.xfd);
	return ret;
}
