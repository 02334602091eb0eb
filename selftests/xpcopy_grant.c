// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy grant tests: XPCOPY_GRANT, _DERIVE, _REVOKE, _INFO, XPCOPY_COPY with
 * XPCOPY_COPY_GRANT and XPCOPY_COPY_PUBLISH, and the grant fd's poll/read.
 *
 * The owner is the process that makes a grant over a window of its memory;
 * a holder is any process with the grant fd. In most tests the test process
 * is the owner, and holders are forked helpers (often with a non-root uid,
 * hence no capability) or fresh images started with execve() that get the fd
 * over SCM_RIGHTS. Helpers never use the harness macros: they check what
 * they can with HCHECK(), which records a message in a MAP_SHARED struct
 * res and makes the helper exit 1, and the test process asserts.
 *
 * Memory of the owner in the small tests: NPAGES pages with the pattern
 * S_OWN and a guard page on each side; the window of a grant is usually
 * the middle pages, so that the pages around it show any stray byte.
 *
 * Each test reaches exactly one error path; the expected errno comes from
 * the tables of include/uapi/linux/xpcopy.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
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
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "../include/uapi/linux/xpcopy.h"

/* The shared helpers, and the harness with its warnings settled. */
#include "xpcopy_test.h"

#define DEV		"/dev/xpcopy"
#define STATS		"/sys/class/misc/xpcopy/stats/"

#define NPAGES		4		/* owner pages of the small tests */
#define BIG		(64 * MiB)	/* the copies that are cut short */

#define S_OWN		0x0a11ceULL	/* the owner's memory */
#define S_DATA		0x0da7a0ULL	/* what holders write */
#define S_VICTIM	0x0f1c7aULL	/* the image after the owner's exec */

#define UID_A		1000
#define UID_B		2000

#define POISON		0xdeadbeefcafef00dULL

/* The address both images of the exec test map their window at. */
#define EXEC_ADDR	0x5a5a00000000ULL

#define HELPER_ENV	"XPCOPY_GRANT_HELPER"

#define GR		XPCOPY_GRANT_READ
#define GW		XPCOPY_GRANT_WRITE
#define GRW		(XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE)
#define CW		XPCOPY_COPY_WRITE
#define CR		XPCOPY_COPY_READ
#define CP		XPCOPY_COPY_PUBLISH


/* ---------------------------------------------------------------------------
 * Patterns
 */

/* splitmix64 of (seed, k): no period a misplaced byte could hide behind. */
static uint64_t mix(uint64_t seed, uint64_t k)
{
	uint64_t z = seed + (k + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Byte i of pattern @seed is byte i % 8 of mix(seed, i / 8). */
static uint8_t pat_byte(uint64_t seed, uint64_t i)
{
	return (uint8_t)(mix(seed, i >> 3) >> ((i & 7) * 8));
}

/* Write bytes start .. start+len-1 of pattern @seed at buf. */
static void pat_fill(void *buf, size_t len, uint64_t seed, uint64_t start)
{
	uint8_t *p = buf;

	for (uint64_t i = start; i < start + len; i++)
		*p++ = pat_byte(seed, i);
}

/* Offset of the first byte of buf that is not the pattern, or -1. */
static long long pat_check(const void *buf, size_t len, uint64_t seed,
			   uint64_t start)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != pat_byte(seed, start + i))
			return (long long)i;
	return -1;
}

/*
 * The cheap pattern of the big buffers: 64-bit word k is seed ^ (k * odd).
 * Offsets and lengths are multiples of 8.
 */
static void big_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t *w = buf;

	for (size_t k = 0; k < len / 8; k++)
		w[k] = seed ^ (k * 0x9e3779b97f4a7c15ULL);
}

static long long big_check(const void *buf, size_t len, uint64_t seed)
{
	const uint64_t *w = buf;

	for (size_t k = 0; k < len / 8; k++)
		if (w[k] != (seed ^ (k * 0x9e3779b97f4a7c15ULL)))
			return (long long)(k * 8);
	return -1;
}

/* Offset of the first non-zero byte, or -1. */
static long long zero_check(const void *buf, size_t len)
{
	const uint64_t *w = buf;

	for (size_t k = 0; k < len / 8; k++)
		if (w[k])
			return (long long)(k * 8);
	return -1;
}

/*
 * The owner's memory after some copies: pattern S_OWN everywhere except the
 * regions (ascending, disjoint), each holding bytes start.. of its pattern.
 */
struct region {
	size_t at, len;
	uint64_t seed, start;
};

static long long image_check(const void *buf, size_t total,
			     const struct region *rg, int n)
{
	const uint8_t *p = buf;
	size_t pos = 0;
	long long d;

	for (int i = 0; i <= n; i++) {
		size_t end = i < n ? rg[i].at : total;

		d = pat_check(p + pos, end - pos, S_OWN, pos);
		if (d >= 0)
			return (long long)pos + d;
		if (i == n)
			break;
		d = pat_check(p + rg[i].at, rg[i].len, rg[i].seed,
			      rg[i].start);
		if (d >= 0)
			return (long long)rg[i].at + d;
		pos = rg[i].at + rg[i].len;
	}
	return -1;
}

/* ---------------------------------------------------------------------------
 * Commands
 */

static __u64 ptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* XPCOPY_GRANT with raw values: the fd, or -errno. */
static int grant_raw(int dev, __u32 flags, __u64 addr, __u64 len,
		     __u64 seq_addr, int efd)
{
	struct xpcopy_grant g = {
		.size = sizeof(g), .flags = flags, .addr = addr, .len = len,
		.seq_addr = seq_addr, .eventfd = efd, .fd = -1,
	};

	return xioctl(dev, XPCOPY_GRANT, &g);
}

static int grant(int dev, __u32 flags, const void *addr, __u64 len)
{
	return grant_raw(dev, flags, ptr(addr), len, 0, 0);
}

/* A grant with a sequence word (and an eventfd when efd > 0). */
static int grant_seq(int dev, __u32 flags, const void *addr, __u64 len,
		     const __u64 *seq, int efd)
{
	flags |= XPCOPY_GRANT_SEQ;
	if (efd > 0)
		flags |= XPCOPY_GRANT_EVENTFD;
	return grant_raw(dev, flags, ptr(addr), len, ptr(seq),
			 efd > 0 ? efd : 0);
}

static int derive(int dev, int gfd, __u32 flags, __u64 off, __u64 len)
{
	struct xpcopy_grant_derive d = {
		.size = sizeof(d), .flags = flags, .grant_fd = gfd, .fd = -1,
		.offset = off, .len = len,
	};

	return xioctl(dev, XPCOPY_GRANT_DERIVE, &d);
}

static int grant_revoke(int dev, int gfd)
{
	struct xpcopy_grant_revoke rv = {
		.size = sizeof(rv), .grant_fd = gfd,
	};

	return xioctl(dev, XPCOPY_GRANT_REVOKE, &rv);
}

static int info(int dev, int gfd, struct xpcopy_grant_info *in)
{
	memset(in, 0, sizeof(*in));
	in->size = sizeof(*in);
	in->grant_fd = gfd;
	return xioctl(dev, XPCOPY_GRANT_INFO, in);
}

/* XPCOPY_COPY through a grant; *copied gets the field as the kernel left it. */
static int gcopyv(int dev, __u32 flags, int gfd,
		  const struct xpcopy_iovec *l, __u32 lcnt,
		  const struct xpcopy_iovec *rv, __u32 rcnt, __u64 seq,
		  __u64 *copied)
{
	struct xpcopy_copy c = {
		.size = sizeof(c), .flags = flags | XPCOPY_COPY_GRANT,
		.local_cnt = lcnt, .local_iov = ptr(l),
		.remote_cnt = rcnt, .remote_iov = ptr(rv),
		.copied = POISON, .seq = seq,
	};
	int ret;

	c.grant_fd = gfd;
	ret = xioctl(dev, XPCOPY_COPY, &c);
	if (copied)
		*copied = c.copied;
	return ret;
}

/* One range each side, len bytes at window offset off. */
static int gcopy(int dev, __u32 flags, int gfd, const void *local, __u64 len,
		 __u64 off, __u64 seq, __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = ptr(local), .len = len };
	struct xpcopy_iovec rv = { .addr = off, .len = len };

	return gcopyv(dev, flags, gfd, &l, 1, &rv, 1, seq, copied);
}

/* XPCOPY_COPY in pid mode. */
static int pcopy(int dev, __u32 flags, pid_t pid, const void *local,
		 __u64 len, __u64 raddr, __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = ptr(local), .len = len };
	struct xpcopy_iovec rv = { .addr = raddr, .len = len };
	struct xpcopy_copy c = {
		.size = sizeof(c), .flags = flags,
		.local_cnt = 1, .local_iov = ptr(&l),
		.remote_cnt = 1, .remote_iov = ptr(&rv),
		.copied = POISON,
	};
	int ret;

	c.pid = pid;
	ret = xioctl(dev, XPCOPY_COPY, &c);
	if (copied)
		*copied = c.copied;
	return ret;
}

static unsigned int batch_pages(int dev)
{
	struct xpcopy_features f = { .size = sizeof(f) };

	if (xioctl(dev, XPCOPY_FEATURES, &f))
		return 0;
	return f.batch_pages;
}

static int read_stat(const char *name, uint64_t *val)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), STATS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*val = strtoull(buf, NULL, 10);
	return 0;
}

/* Wait up to @ms for the module's pinned_now to read 0; the last value. */
static uint64_t wait_unpinned(int ms)
{
	uint64_t v = UINT64_MAX;

	for (int i = 0; i <= ms; i++) {
		if (read_stat("pinned_now", &v) == 0 && v == 0)
			return 0;
		usleep(1000);
	}
	return v;
}

/* ---------------------------------------------------------------------------
 * Processes, fds and credentials
 */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* 1 when fd is readable within ms, 0 on timeout, -errno. */
static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/*
 * Become @uid (and gid) with no supplementary group and, as a non-root uid,
 * no capability. Returns 0 or -errno.
 */
static int drop_to(uid_t uid)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	/* A change of credentials clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (d[0].effective || d[1].effective || d[0].permitted ||
	    d[1].permitted)
		return -EPERM;
	return 0;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* len bytes with an inaccessible page on each side. */
static void *map_guarded(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, len + 2 * page, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + page, len, PROT_READ | PROT_WRITE))
		return NULL;
	return p + page;
}

/*
 * What helpers report: a message saying what was wrong, and values for the
 * test process to assert on. Lives in MAP_SHARED memory.
 */
struct res {
	char msg[1024];
	int ret[8];
	__u64 copied[8];
	long long diff[8];
	__u64 val[8];
};

static void __attribute__((format(printf, 4, 5)))
hfail(struct res *r, int line, const char *cond, const char *fmt, ...)
{
	int n = snprintf(r->msg, sizeof(r->msg), "line %d: %s: ", line,
			 cond);
	va_list ap;

	if (n < 0 || (size_t)n >= sizeof(r->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* In a helper returning int, with a struct res *r in scope. */
#define HCHECK(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		hfail(r, __LINE__, #cond, fmt, ##__VA_ARGS__);		\
		return 1;						\
	}								\
} while (0)

/* ---------------------------------------------------------------------------
 * Helpers started with execve(): they run from a constructor, before the
 * harness, when HELPER_ENV names them. They talk over a SOCK_SEQPACKET
 * socket whose number is in XPG_SOCK.
 */

static unsigned long long env_u64(const char *name)
{
	const char *s = getenv(name);

	return s ? strtoull(s, NULL, 0) : 0;
}

/*
 * The image the owner executes in owner_exec_esrch: maps its own window at
 * the address the old image's window had, fills it with S_VICTIM, says
 * ready (-1), waits for a word, and answers with the offset of the first
 * byte that is no longer S_VICTIM (-1: untouched).
 */
static int victim_main(void)
{
	int sock = (int)env_u64("XPG_SOCK");
	size_t len = env_u64("XPG_LEN");
	long long rep = -1;
	void *p;

	p = mmap((void *)(uintptr_t)EXEC_ADDR, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)(uintptr_t)EXEC_ADDR) {
		rep = -100 - errno;
		xp_msg_send(sock, &rep, sizeof(rep), -1);
		return 2;
	}
	pat_fill(p, len, S_VICTIM, 0);
	if (xp_msg_send(sock, &rep, sizeof(rep), -1))
		return 3;
	if (xp_msg_recv(sock, &rep, sizeof(rep), NULL, 60000))
		return 4;
	rep = pat_check(p, len, S_VICTIM, 0);
	return xp_msg_send(sock, &rep, sizeof(rep), -1) ? 5 : 0;
}

/* What scm_rights_exec asks and hears back. */
struct scm_req {
	__u64 off, len, seed;
	__s32 owner;
	__u32 pad;
};

struct scm_rep {
	__s32 setup;		/* 0, or -errno of a step before the copies */
	__s32 had_fd;		/* 1 if an fd came with the request */
	__s32 wret, rret, pidret, revret;
	__u64 wcopied, rcopied;
	__s64 rdiff;		/* first wrong byte read back, -1 if none */
	__u32 rights;		/* XPCOPY_GRANT_INFO of the fd received */
	__u32 pad;
};

/*
 * A process that never had the grant: drops to uid XPG_UID, receives the
 * grant with a request, writes the request's bytes through it, reads them
 * back, tries pid mode on the owner and revoking the grant, and reports.
 */
static int scm_holder_main(void)
{
	int sock = (int)env_u64("XPG_SOCK");
	struct scm_rep rep = { .wret = 1, .rret = 1, .pidret = 1,
			       .revret = 1, .rdiff = -2 };
	struct xpcopy_grant_info in;
	struct scm_req req;
	uint8_t *out, *back;
	int dev, gfd;

	dev = open(DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		rep.setup = -errno;
		goto reply;
	}
	rep.setup = drop_to((uid_t)env_u64("XPG_UID"));
	if (rep.setup)
		goto reply;
	rep.setup = xp_msg_recv(sock, &req, sizeof(req), &gfd, 60000);
	if (rep.setup)
		goto reply;
	rep.had_fd = gfd >= 0;
	out = map_anon(req.len);
	back = map_anon(req.len);
	if (!out || !back) {
		rep.setup = -ENOMEM;
		goto reply;
	}
	if (info(dev, gfd, &in) == 0)
		rep.rights = in.rights;
	pat_fill(out, req.len, req.seed, 0);
	rep.wret = gcopy(dev, CW, gfd, out, req.len, req.off, 0, &rep.wcopied);
	rep.rret = gcopy(dev, CR, gfd, back, req.len, req.off, 0,
			 &rep.rcopied);
	rep.rdiff = pat_check(back, req.len, req.seed, 0);
	rep.pidret = pcopy(dev, CW, req.owner, out, 8, 0x10000, NULL);
	rep.revret = grant_revoke(dev, gfd);
reply:
	return xp_msg_send(sock, &rep, sizeof(rep), -1) ? 2 : 0;
}

static void __attribute__((constructor)) helper_main(void)
{
	const char *mode = getenv(HELPER_ENV);

	if (!mode)
		return;
	if (!strcmp(mode, "victim"))
		_exit(victim_main());
	if (!strcmp(mode, "scm-holder"))
		_exit(scm_holder_main());
	_exit(127);
}

/* Replace this process with a helper image of this binary. */
static int exec_helper(const char *mode, int sock, const char *k2,
		       unsigned long long v2)
{
	char sockv[32], v2s[32];
	int fl = fcntl(sock, F_GETFD);

	if (fl < 0 || fcntl(sock, F_SETFD, fl & ~FD_CLOEXEC))
		return -errno;
	snprintf(sockv, sizeof(sockv), "%d", sock);
	snprintf(v2s, sizeof(v2s), "%llu", v2);
	if (setenv(HELPER_ENV, mode, 1) || setenv("XPG_SOCK", sockv, 1) ||
	    setenv(k2, v2s, 1))
		return -errno;
	execl("/proc/self/exe", "xpcopy_grant-helper", (char *)NULL);
	return -errno;
}

/* ---------------------------------------------------------------------------
 * The fixture
 */

FIXTURE(grant)
{
	int dev;
	size_t page;
	size_t total;		/* NPAGES pages */
	uint8_t *buf;		/* the owner's pages: pattern S_OWN */
	uint8_t *data;		/* what holders write: pattern S_DATA */
	struct res *r;		/* MAP_SHARED with the helpers */
	pid_t kids[8];
	int nkids;
};

typedef int (*helper_fn)(FIXTURE_DATA(grant) *self, void *arg);

FIXTURE_SETUP(grant)
{
	self->nkids = 0;
	self->dev = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->dev < 0) {
		int e = errno;

		if (e == ENOENT || e == ENODEV || e == ENXIO)
			SKIP(return, "%s absent: %s (xpcopy module not loaded)",
			     DEV, strerror(e));
		ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", DEV, strerror(e));
	}
	self->page = (size_t)sysconf(_SC_PAGESIZE);
	self->total = NPAGES * self->page;
	self->buf = map_guarded(self->total);
	self->data = map_guarded(self->total);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->data);
	pat_fill(self->buf, self->total, S_OWN, 0);
	pat_fill(self->data, self->total, S_DATA, 0);
	self->r = mmap(NULL, sizeof(struct res), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->r);
	memset(self->r, 0, sizeof(*self->r));
}

FIXTURE_TEARDOWN(grant)
{
	for (int i = 0; i < self->nkids; i++) {
		int status;

		kill(self->kids[i], SIGKILL);
		waitpid(self->kids[i], &status, 0);
	}
	if (self->dev >= 0)
		close(self->dev);
}

/* Fork a helper running fn(self, arg); its exit status is fn's return. */
static pid_t spawn(FIXTURE_DATA(grant) *self, helper_fn fn, void *arg)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(99);
		_exit(fn(self, arg));
	}
	if (pid > 0 && self->nkids < (int)ARRAY_SIZE(self->kids))
		self->kids[self->nkids++] = pid;
	return pid;
}

/*
 * Wait at most ms for a helper. Returns its exit code; -1 when it timed
 * out (it is killed) or died of a signal, with a note in r->msg.
 */
static int reap(FIXTURE_DATA(grant) *self, pid_t pid, int ms)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000LL;
	int status = 0;
	pid_t w;

	if (pid <= 0)
		return -1;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(self->r->msg, sizeof(self->r->msg),
				 "helper %d timed out after %d ms", pid, ms);
			w = -1;
			break;
		}
		usleep(1000);
	}
	for (int i = 0; i < self->nkids; i++)
		if (self->kids[i] == pid)
			self->kids[i--] = self->kids[--self->nkids];
	if (w != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		snprintf(self->r->msg, sizeof(self->r->msg),
			 "helper %d killed by signal %d", pid,
			 WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* The helper pid ran to the end and found nothing wrong. */
#define ASSERT_HELPER_OK(pid, ms)					\
	ASSERT_EQ(0, reap(self, (pid), (ms)))				\
		TH_LOG("helper: %s", self->r->msg)

#define ASSERT_IMAGE(rg, n)						\
	ASSERT_EQ(-1, image_check(self->buf, self->total, (rg), (n)))	\
		TH_LOG("owner memory wrong at the offset shown")

#define ASSERT_OWNER_UNCHANGED() ASSERT_IMAGE(NULL, 0)

#define REQUIRE_ROOT() do {						\
	if (geteuid() != 0)						\
		SKIP(return, "needs root, to drop to other uids");	\
} while (0)

/* Long tests: the harness's own limit, below the runner's 120 s. */
#define GRANT_TIMEOUT	110

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT
 */

/* The fd is returned and stored, close-on-exec, an anon inode grant. */
TEST_F(grant, create_basic)
{
	struct xpcopy_grant g = {
		.size = sizeof(g), .flags = GRW, .addr = ptr(self->buf),
		.len = self->total, .fd = -1,
	};
	struct xpcopy_grant_info in;
	char path[64], link[128];
	ssize_t n;
	int fd;

	fd = xioctl(self->dev, XPCOPY_GRANT, &g);
	ASSERT_LE(0, fd);
	ASSERT_EQ(fd, g.fd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	ASSERT_NE(NULL, strstr(link, "xpcopy-grant")) TH_LOG("fd is %s", link);
	ASSERT_EQ(0, info(self->dev, fd, &in));
	ASSERT_EQ((__u32)GRW, in.rights);
	ASSERT_EQ(self->total, in.len);
	ASSERT_EQ(0, close(fd));
}

TEST_F(grant, create_no_rights)
{
	ASSERT_EQ(-EINVAL, grant(self->dev, 0, self->buf, self->total));
	ASSERT_EQ(-EINVAL, grant_seq(self->dev, 0, self->buf, self->total,
				     (__u64 *)self->data, 0));
}

TEST_F(grant, create_unknown_flag)
{
	ASSERT_EQ(-EINVAL, grant(self->dev, GRW | (1u << 4), self->buf,
				 self->total));
	ASSERT_EQ(-EINVAL, grant(self->dev, GRW | (1u << 31), self->buf,
				 self->total));
}

TEST_F(grant, create_len_zero)
{
	ASSERT_EQ(-EINVAL, grant(self->dev, GRW, self->buf, 0));
}

TEST_F(grant, create_wraps)
{
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GRW, ptr(self->buf),
				     UINT64_MAX, 0, 0));
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GRW, UINT64_MAX - 7, 16,
				     0, 0));
}

TEST_F(grant, create_seq_misaligned)
{
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW | XPCOPY_GRANT_SEQ,
				     ptr(self->buf), self->total,
				     ptr(self->data + 4), 0));
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW | XPCOPY_GRANT_SEQ,
				     ptr(self->buf), self->total,
				     ptr(self->data + 1), 0));
}

/* The sequence word must be writable memory of the caller. */
TEST_F(grant, create_seq_readonly)
{
	void *ro = mmap(NULL, self->page, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(-EFAULT, grant_seq(self->dev, GW, self->buf, self->total,
				     ro, 0));
}

TEST_F(grant, create_seq_unmapped)
{
	void *p = map_anon(self->page);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, munmap(p, self->page));
	ASSERT_EQ(-EFAULT, grant_seq(self->dev, GW, self->buf, self->total,
				     p, 0));
	/* The guard page below the owner's memory: PROT_NONE. */
	ASSERT_EQ(-EFAULT, grant_seq(self->dev, GW, self->buf, self->total,
				     (__u64 *)(self->buf - self->page), 0));
}

/* Options without their flag. */
TEST_F(grant, create_seq_addr_without_flag)
{
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW, ptr(self->buf),
				     self->total, ptr(self->data), 0));
}

TEST_F(grant, create_eventfd_without_flag)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW, ptr(self->buf),
				     self->total, 0, efd));
}

/* The window need not be mapped: ranges are resolved at each copy. */
TEST_F(grant, create_window_unmapped)
{
	size_t len = 2 * self->page;
	uint8_t *w = map_anon(len), *again;
	__u64 copied;
	int gfd;

	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, munmap(w, len));
	gfd = grant(self->dev, GRW, w, len);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EFAULT, gcopy(self->dev, CW, gfd, self->data, 100, 10, 0,
				 &copied));
	again = mmap(w, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(w, again);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 100, 10, 0,
			   &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(-1, pat_check(w + 10, 100, S_DATA, 0));
	ASSERT_EQ(-1, zero_check(w, 8));
}

/* ---------------------------------------------------------------------------
 * Copies through a grant
 */

/* The owner through its own grant: bytes land at window start + offset. */
TEST_F(grant, write_read_offsets)
{
	uint8_t back[300];
	struct region rg[] = {
		{ self->page + 5, 300, S_DATA, 0 },
	};
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, 2 * self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 300, 5, 0,
			   &copied));
	ASSERT_EQ(300ULL, copied);
	ASSERT_IMAGE(rg, 1);
	memset(back, 0, sizeof(back));
	ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 300, 5, 0, &copied));
	ASSERT_EQ(300ULL, copied);
	ASSERT_EQ(-1, pat_check(back, 300, S_DATA, 0));
}

/* Several remote ranges: each is an offset into the window. */
TEST_F(grant, iov_offsets)
{
	size_t p = self->page;
	struct xpcopy_iovec l = { ptr(self->data), 3000 };
	struct xpcopy_iovec rv[3] = {
		{ 2 * p - 1000, 1000 },	/* ends at the window's end */
		{ 0, 1000 },		/* starts at its start */
		{ 1500, 1000 },
	};
	struct region rg[] = {
		{ p + 0, 1000, S_DATA, 1000 },
		{ p + 1500, 1000, S_DATA, 2000 },
		{ 3 * p - 1000, 1000, S_DATA, 0 },
	};
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GW, self->buf + p, 2 * p);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopyv(self->dev, CW, gfd, &l, 1, rv, 3, 0, &copied));
	ASSERT_EQ(3000ULL, copied);
	ASSERT_IMAGE(rg, 3);
}

/* A zero-length copy succeeds with 0, after every other check. */
TEST_F(grant, zero_length)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 0, 0, 0, &copied));
	ASSERT_EQ(0ULL, copied);
	/* At the window's end exactly: an empty range inside it. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 0, self->page, 0,
			   &copied));
	ASSERT_EQ(0ULL, copied);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR, gfd, self->data, 0, 0, 0,
				 &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 0,
				 self->page + 1, 0, &copied));
	ASSERT_OWNER_UNCHANGED();
}

/* ---------------------------------------------------------------------------
 * Bounds: ERANGE, the window untouched
 */

TEST_F(grant, bounds_start_past)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 16,
				 self->page + 1, 0, &copied));
	ASSERT_EQ(POISON, copied);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 1,
				 self->page, 0, &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CR, gfd, self->data, 16,
				 2 * self->page, 0, &copied));
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, bounds_end_past)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 16,
				 self->page - 8, 0, &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data,
				 self->page + 1, 0, 0, &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CR, gfd, self->data, 16,
				 self->page - 15, 0, &copied));
	ASSERT_OWNER_UNCHANGED();
}

/* The first range is fine, the second is not: nothing is copied. */
TEST_F(grant, bounds_second_range)
{
	struct xpcopy_iovec l = { ptr(self->data), 200 };
	struct xpcopy_iovec rv[2] = {
		{ 0, 100 },
		{ self->page - 50, 100 },
	};
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopyv(self->dev, CW, gfd, &l, 1, rv, 2, 0,
				  &copied));
	ASSERT_OWNER_UNCHANGED();
}

/*
 * A length that reaches past the window without wrapping 64 bits (a check
 * written as off + len > window would be fooled by a length near 2^64).
 */
TEST_F(grant, bounds_huge_len)
{
	struct xpcopy_iovec l = { ptr(self->data), 100 };
	struct xpcopy_iovec rv = { 16, UINT64_MAX - 16 };
	struct xpcopy_iovec rv2 = { 16, 1ULL << 63 };
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopyv(self->dev, CW, gfd, &l, 1, &rv, 1, 0,
				  &copied));
	ASSERT_EQ(-ERANGE, gcopyv(self->dev, CW, gfd, &l, 1, &rv2, 1, 0,
				  &copied));
	ASSERT_OWNER_UNCHANGED();
}

/*
 * A remote range whose offset + len wraps 64 bits: the general rule of
 * every command ("addr + len overflows": EINVAL) is checked before the
 * window; either way nothing is copied.
 */
TEST_F(grant, bounds_wrap)
{
	struct xpcopy_iovec l = { ptr(self->data), 100 };
	struct xpcopy_iovec rv = { 16, UINT64_MAX - 8 };
	struct xpcopy_iovec rv2 = { UINT64_MAX - 8, 100 };
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, gcopyv(self->dev, CW, gfd, &l, 1, &rv, 1, 0,
				  &copied));
	ASSERT_EQ(-EINVAL, gcopyv(self->dev, CW, gfd, &l, 1, &rv2, 1, 0,
				  &copied));
	ASSERT_OWNER_UNCHANGED();
}

/* ---------------------------------------------------------------------------
 * Rights: EACCES
 */

TEST_F(grant, rights_write_readonly)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GR, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(POISON, copied);
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, rights_read_writeonly)
{
	uint8_t back[100];
	__u64 copied;
	int gfd;

	memset(back, 0x5a, sizeof(back));
	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR, gfd, back, 100, 0, 0,
				 &copied));
	for (size_t i = 0; i < sizeof(back); i++) {
		ASSERT_EQ(0x5a, back[i]);
	}
}

/* Reading through a read-only grant works, and leaves the window alone. */
TEST_F(grant, rights_readonly_reads)
{
	uint8_t back[100];
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GR, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 100, 7, 0, &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(-1, pat_check(back, 100, S_OWN, self->page + 7));
	ASSERT_OWNER_UNCHANGED();
}

/* ---------------------------------------------------------------------------
 * Fds that are not grants
 */

TEST_F(grant, fd_is_device)
{
	__u64 copied;

	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, self->dev, self->data, 100,
				 0, 0, &copied));
}

TEST_F(grant, fd_is_pipe)
{
	__u64 copied;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, p[0], self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CR, p[1], self->data, 100, 0, 0,
				 &copied));
}

TEST_F(grant, fd_is_eventfd)
{
	__u64 copied;
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, efd, self->data, 100, 0, 0,
				 &copied));
}

/* A grant's fd number after close. */
TEST_F(grant, fd_closed)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, close(gfd));
	ASSERT_EQ(-EBADF, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				&copied));
	ASSERT_EQ(POISON, copied);
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, fd_negative)
{
	__u64 copied;

	ASSERT_EQ(-EBADF, gcopy(self->dev, CW, -1, self->data, 100, 0, 0,
				&copied));
	ASSERT_EQ(-EBADF, gcopy(self->dev, CW, INT_MIN, self->data, 100, 0,
				0, &copied));
}

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT_DERIVE
 */

/* Offsets are relative to the sub-window: bytes land at parent + sub + off. */
TEST_F(grant, derive_subwindow)
{
	size_t p = self->page;
	struct region rg[] = { { p + 100 + 10, 200, S_DATA, 0 } };
	struct xpcopy_grant_info in;
	__u64 copied;
	int gfd, dfd;

	gfd = grant(self->dev, GRW, self->buf + p, 2 * p);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, GW, 100, 1000);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(dfd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, info(self->dev, dfd, &in));
	ASSERT_EQ((__u32)GW, in.rights);
	ASSERT_EQ(1000ULL, in.len);
	ASSERT_EQ(0, gcopy(self->dev, CW, dfd, self->data, 200, 10, 0,
			   &copied));
	ASSERT_EQ(200ULL, copied);
	ASSERT_IMAGE(rg, 1);
	/* Inside the parent's window but past the sub-window's end. */
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, dfd, self->data, 20, 990, 0,
				 &copied));
	/* The right the derived grant lacks. */
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR, dfd, self->data, 20, 0, 0,
				 &copied));
	ASSERT_IMAGE(rg, 1);
}

TEST_F(grant, derive_widen_rights)
{
	int gfd;

	gfd = grant(self->dev, GR, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, derive(self->dev, gfd, GRW, 0, 100));
	ASSERT_EQ(-EACCES, derive(self->dev, gfd, GW, 0, 100));
	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, derive(self->dev, gfd, GR, 0, 100));
}

TEST_F(grant, derive_widen_window)
{
	size_t p = self->page;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + p, p);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, derive(self->dev, gfd, GW, 0, p + 1));
	ASSERT_EQ(-ERANGE, derive(self->dev, gfd, GW, p - 10, 11));
	ASSERT_EQ(-ERANGE, derive(self->dev, gfd, GW, p + 1, 1));
	/* offset + len wraps 64 bits: EINVAL, as every wrapping range */
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW, 8, UINT64_MAX));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW, UINT64_MAX, 2));
	/* The whole window is fine. */
	ASSERT_LE(0, derive(self->dev, gfd, GW, 0, p));
}

TEST_F(grant, derive_bad_args)
{
	int gfd, p[2];

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW, 0, 0));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, 0, 0, 100));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW | XPCOPY_GRANT_SEQ, 0,
				  100));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW | (1u << 20), 0, 100));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, derive(self->dev, p[0], GW, 0, 100));
	ASSERT_EQ(-EINVAL, derive(self->dev, self->dev, GW, 0, 100));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(-EBADF, derive(self->dev, p[0], GW, 0, 100));
}

/* Derived from derived: offsets add up; rights and windows only shrink. */
TEST_F(grant, derive_of_derived)
{
	size_t p = self->page;
	struct region rg[] = { { p + 1000 + 300 + 7, 50, S_DATA, 0 } };
	struct xpcopy_grant_info in;
	uint8_t back[50];
	__u64 copied;
	int gfd, d1, d2, d3;

	gfd = grant(self->dev, GRW, self->buf + p, 2 * p);
	ASSERT_LE(0, gfd);
	d1 = derive(self->dev, gfd, GRW, 1000, 2000);
	ASSERT_LE(0, d1);
	d2 = derive(self->dev, d1, GW, 300, 500);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, gcopy(self->dev, CW, d2, self->data, 50, 7, 0,
			   &copied));
	ASSERT_EQ(50ULL, copied);
	ASSERT_IMAGE(rg, 1);
	/* The same bytes seen through the middle grant. */
	ASSERT_EQ(0, gcopy(self->dev, CR, d1, back, 50, 307, 0, &copied));
	ASSERT_EQ(-1, pat_check(back, 50, S_DATA, 0));
	ASSERT_EQ(-ERANGE, derive(self->dev, d2, GW, 0, 501));
	ASSERT_EQ(-EACCES, derive(self->dev, d2, GR, 0, 10));
	d3 = derive(self->dev, d2, GW, 499, 1);
	ASSERT_LE(0, d3);
	ASSERT_EQ(0, info(self->dev, d3, &in));
	ASSERT_EQ(1ULL, in.len);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, d3, self->data, 2, 0, 0,
				 &copied));
	ASSERT_IMAGE(rg, 1);
}

TEST_F(grant, derive_from_revoked)
{
	int gfd;

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, derive(self->dev, gfd, GW, 0, 100));
}

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT_REVOKE
 */

TEST_F(grant, revoke_by_owner)
{
	struct xpcopy_grant_info in;
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(POISON, copied);
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CR, gfd, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(1U, in.revoked);
	/* Revoking twice succeeds. */
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, revoke_parent_ends_derived)
{
	struct xpcopy_grant_info in;
	__u64 copied;
	int gfd, d1, d2;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	d1 = derive(self->dev, gfd, GRW, 0, 1000);
	ASSERT_LE(0, d1);
	d2 = derive(self->dev, d1, GW, 0, 100);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, d1, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, d2, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(0, info(self->dev, d2, &in));
	ASSERT_EQ(1U, in.revoked);
	ASSERT_OWNER_UNCHANGED();
}

/* Revoking a derived grant leaves its parent and siblings working. */
TEST_F(grant, revoke_derived_only)
{
	struct region rg[] = { { self->page + 100, 100, S_DATA, 0 } };
	__u64 copied;
	int gfd, d1, d2;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	d1 = derive(self->dev, gfd, GW, 0, 100);
	ASSERT_LE(0, d1);
	d2 = derive(self->dev, gfd, GW, 100, 100);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, grant_revoke(self->dev, d1));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, d1, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW, d2, self->data, 50, 0, 0, &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data + 50, 50, 150, 0,
			   &copied));
	ASSERT_IMAGE(rg, 1);
}

struct holder_arg {
	int gfd;
	int fd2;
};

static int h_revoke_not_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	__u64 copied;
	int ret;

	/* A forked copy of the owner is not the owner, even as root. */
	ret = grant_revoke(self->dev, a->gfd);
	HCHECK(ret == -EPERM, "root holder revoke: %d", ret);
	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	ret = grant_revoke(self->dev, a->gfd);
	HCHECK(ret == -EPERM, "uid %d holder revoke: %d", UID_A, ret);
	ret = gcopy(self->dev, CW, a->gfd, self->data, 100, 0, 0, &copied);
	HCHECK(ret == 0 && copied == 100, "copy after the failed revoke: %d",
	       ret);
	return 0;
}

TEST_F(grant, revoke_by_holder_eperm)
{
	struct region rg[] = { { self->page, 100, S_DATA, 0 } };
	struct holder_arg a;
	struct xpcopy_grant_info in;
	pid_t pid;

	REQUIRE_ROOT();
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_revoke_not_owner, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_EQ(0, info(self->dev, a.gfd, &in));
	ASSERT_EQ(0U, in.revoked);
	ASSERT_IMAGE(rg, 1);
}

/*
 * A holder derives two grants: it may revoke what it derived, not the
 * grant it was given; a fork of it (another address space) may not revoke
 * what its parent derived either.
 */
static int h_revoke_by_deriver(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	int d1, d2, ret, status;
	__u64 copied;
	pid_t kid;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	d1 = derive(self->dev, a->gfd, GW, 0, 100);
	d2 = derive(self->dev, a->gfd, GW, 100, 100);
	HCHECK(d1 >= 0 && d2 >= 0, "derive: %d %d", d1, d2);
	kid = fork();
	if (kid == 0)
		_exit(grant_revoke(self->dev, d2) == -EPERM ? 0 : 1);
	HCHECK(kid > 0, "fork: %s", strerror(errno));
	HCHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0, "a fork of the deriver revoked");
	ret = grant_revoke(self->dev, d1);
	HCHECK(ret == 0, "revoke what it derived: %d", ret);
	ret = gcopy(self->dev, CW, d1, self->data, 100, 0, 0, &copied);
	HCHECK(ret == -ESTALE, "copy through the revoked grant: %d", ret);
	ret = gcopy(self->dev, CW, d2, self->data, 100, 0, 0, &copied);
	HCHECK(ret == 0 && copied == 100, "sibling: %d", ret);
	ret = grant_revoke(self->dev, a->gfd);
	HCHECK(ret == -EPERM, "revoke the grant it was given: %d", ret);
	ret = gcopy(self->dev, CW, a->gfd, self->data + 100, 100, 200, 0,
		    &copied);
	HCHECK(ret == 0 && copied == 100, "the grant it was given: %d", ret);
	return 0;
}

TEST_F(grant, revoke_by_deriver)
{
	struct region rg[] = {
		{ self->page + 100, 100, S_DATA, 0 },
		{ self->page + 200, 100, S_DATA, 100 },
	};
	struct holder_arg a;
	pid_t pid;

	REQUIRE_ROOT();
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_revoke_by_deriver, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 2);
}

TEST_F(grant, revoke_bad_args)
{
	struct xpcopy_grant_revoke rv = { .size = sizeof(rv) };
	int gfd, p[2];

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	rv.grant_fd = gfd;
	rv.flags = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->dev, XPCOPY_GRANT_REVOKE, &rv));
	rv.flags = 0;
	rv.__reserved = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->dev, XPCOPY_GRANT_REVOKE, &rv));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, grant_revoke(self->dev, p[0]));
	ASSERT_EQ(-EINVAL, grant_revoke(self->dev, self->dev));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(-EBADF, grant_revoke(self->dev, p[0]));
	/* None of that revoked the grant. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 8, 0, 0, NULL));
}

/* A revoked grant polls POLLERR, and read() fails with ESTALE. */
TEST_F(grant, revoked_poll_read)
{
	__u64 seqw = 0, v;
	struct pollfd pf;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->total, &seqw, 0);
	ASSERT_LE(0, gfd);
	pf = (struct pollfd){ .fd = gfd, .events = POLLIN };
	ASSERT_EQ(0, poll(&pf, 1, 0));
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	pf.revents = 0;
	ASSERT_EQ(1, poll(&pf, 1, 0));
	ASSERT_EQ(POLLERR, pf.revents & (POLLERR | POLLIN));
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(ESTALE, errno);
}

/* The derived grant of a revoked one polls POLLERR too. */
TEST_F(grant, revoked_parent_poll_derived)
{
	__u64 seqw = 0, v;
	struct pollfd pf;
	int gfd, dfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->total, &seqw, 0);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, GW, 0, 64);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	pf = (struct pollfd){ .fd = dfd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pf, 1, 0));
	ASSERT_EQ(POLLERR, pf.revents & (POLLERR | POLLIN));
	ASSERT_EQ(-1, read(dfd, &v, sizeof(v)));
	ASSERT_EQ(ESTALE, errno);
}

struct reader {
	int fd;
	ssize_t n;
	int err;
	__u64 val;
};

static void *reader_thread(void *arg)
{
	struct reader *rd = arg;

	rd->n = read(rd->fd, &rd->val, sizeof(rd->val));
	rd->err = rd->n < 0 ? errno : 0;
	return NULL;
}

/* Join within ms; false if the thread is still blocked. */
static bool join_ms(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* Revocation wakes a reader blocked in read(). */
TEST_F(grant, revoke_wakes_reader)
{
	struct reader rd = { .n = 1234 };
	__u64 seqw = 0;
	pthread_t t;

	rd.fd = grant_seq(self->dev, GW, self->buf, self->total, &seqw, 0);
	ASSERT_LE(0, rd.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, reader_thread, &rd));
	sleep_ms(100);
	ASSERT_EQ(0, grant_revoke(self->dev, rd.fd));
	ASSERT_TRUE(join_ms(t, 20000)) TH_LOG("read() still blocked");
	ASSERT_EQ(-1, rd.n);
	ASSERT_EQ(ESTALE, rd.err);
}

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT_INFO
 */

TEST_F(grant, info_fields)
{
	__u64 seqw = 0, copied;
	struct xpcopy_grant_info in;
	int gfd, dfd, efd;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	gfd = grant_seq(self->dev, GRW, self->buf, 3 * self->page, &seqw,
			efd);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ((__u32)(GRW | XPCOPY_GRANT_SEQ | XPCOPY_GRANT_EVENTFD),
		  in.rights);
	ASSERT_EQ(3 * self->page, in.len);
	ASSERT_EQ(0ULL, in.seq);
	ASSERT_EQ(0U, in.revoked);
	ASSERT_EQ(0U, in.__reserved);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 42,
			   &copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(42ULL, in.seq);
	/* A derived grant: its own rights and window, the shared word. */
	dfd = derive(self->dev, gfd, GR, 8, 100);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, info(self->dev, dfd, &in));
	ASSERT_EQ((__u32)GR, in.rights & GRW);
	ASSERT_EQ(100ULL, in.len);
	ASSERT_EQ(42ULL, in.seq);
	ASSERT_EQ(0U, in.revoked);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(1U, in.revoked);
	ASSERT_EQ(0, info(self->dev, dfd, &in));
	ASSERT_EQ(1U, in.revoked);
}

/* Without options the rights are just the rights. */
TEST_F(grant, info_plain)
{
	struct xpcopy_grant_info in;
	int gfd;

	gfd = grant(self->dev, GR, self->buf, 5);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ((__u32)GR, in.rights);
	ASSERT_EQ(5ULL, in.len);
	ASSERT_EQ(0ULL, in.seq);
	ASSERT_EQ(0U, in.revoked);
}

TEST_F(grant, info_bad_args)
{
	struct xpcopy_grant_info in;
	int gfd, p[2];

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	in.grant_fd = gfd;
	in.flags = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->dev, XPCOPY_GRANT_INFO, &in));
	in.flags = 0;
	in.__reserved = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->dev, XPCOPY_GRANT_INFO, &in));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, info(self->dev, p[0], &in));
	ASSERT_EQ(-EINVAL, info(self->dev, self->dev, &in));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(-EBADF, info(self->dev, p[0], &in));
}

/*
 * rights, len, seq and revoked are out fields: the header asks only flags
 * and __reserved to be 0, so the struct an INFO filled can be passed again.
 */
TEST_F(grant, info_out_fields_not_inputs)
{
	struct xpcopy_grant_info in;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(0, xioctl(self->dev, XPCOPY_GRANT_INFO, &in))
		TH_LOG("INFO rejects a struct an INFO filled in");
	ASSERT_EQ(self->total, in.len);
}

/* ---------------------------------------------------------------------------
 * Ordered completion: XPCOPY_COPY_PUBLISH, poll, read, eventfd
 */

static short poll_now(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, 0) < 0)
		return -1;
	return pf.revents;
}

/* The data, then the word; the fd polls readable until read. */
TEST_F(grant, publish_basic)
{
	struct region rg[] = { { self->page + 16, 200, S_DATA, 0 } };
	__u64 seqw = 0, copied, v;	/* outside the window */
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 200, 16, 7,
			   &copied));
	ASSERT_EQ(200ULL, copied);
	ASSERT_EQ(7ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_IMAGE(rg, 1);
	ASSERT_EQ(POLLIN, poll_now(gfd) & (POLLIN | POLLERR));
	ASSERT_EQ((ssize_t)sizeof(v), read(gfd, &v, sizeof(v)));
	ASSERT_EQ(7ULL, v);
	ASSERT_EQ(0, poll_now(gfd));
	/* Without PUBLISH the word is left alone. */
	__atomic_store_n(&seqw, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 8, 0, 0, &copied));
	ASSERT_EQ(0ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, poll_now(gfd));
}

/* A sequence word inside the window works as well. */
TEST_F(grant, publish_word_in_window)
{
	__u64 *seqw = (__u64 *)(self->buf + self->page);
	__u64 copied;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 100, 8, 99,
			   &copied));
	ASSERT_EQ(99ULL, __atomic_load_n(seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(-1, pat_check(self->buf + self->page + 8, 100, S_DATA, 0));
}

TEST_F(grant, publish_without_seq)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW | CP, gfd, self->data, 100, 0,
				 1, &copied));
	ASSERT_EQ(POISON, copied);
	ASSERT_OWNER_UNCHANGED();
}

/* A value to publish without PUBLISH; PUBLISH in pid mode. */
TEST_F(grant, publish_flag_misuse)
{
	__u64 seqw = 0, copied;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, gfd, self->data, 100, 0, 5,
				 &copied));
	ASSERT_EQ(-EINVAL, pcopy(self->dev, CW | CP, getpid(), self->data,
				 100, ptr(self->buf), &copied));
	ASSERT_EQ(0ULL, seqw);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_OWNER_UNCHANGED();
}

/* A copy that fails (local range unmapped) does not publish. */
TEST_F(grant, publish_failed_copy)
{
	__u64 seqw = 0x5555, copied, v;
	struct xpcopy_grant_info in;
	int gfd, efd;
	void *gone = map_anon(self->page);

	ASSERT_NE(NULL, gone);
	ASSERT_EQ(0, munmap(gone, self->page));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, efd);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, fcntl(gfd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-EFAULT, gcopy(self->dev, CW | CP, gfd, gone, 100, 0, 9,
				 &copied));
	ASSERT_EQ(0x5555ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(-1, read(efd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(0ULL, in.seq);
	ASSERT_OWNER_UNCHANGED();
}

/* A copy cut short (the local range ends in a PROT_NONE page) neither. */
TEST_F(grant, publish_short_copy)
{
	__u64 seqw = 0x5555, copied;
	struct region rg[] = { { self->page, self->page, S_DATA,
				 3 * self->page } };
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page,
			2 * self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	/* The last page of data, then its guard page. */
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd,
			   self->data + 3 * self->page, 2 * self->page, 0, 9,
			   &copied));
	ASSERT_EQ((__u64)self->page, copied);
	ASSERT_EQ(0x5555ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_IMAGE(rg, 1);
}

/* Nor does a copy through a revoked grant. */
TEST_F(grant, publish_revoked)
{
	__u64 seqw = 0x5555, copied;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW | CP, gfd, self->data, 100, 0,
				 9, &copied));
	ASSERT_EQ(0x5555ULL, seqw);
	ASSERT_OWNER_UNCHANGED();
}

/*
 * The word stops being writable after the grant was made: the data still
 * lands, nothing is published. The header says a copy fails only when
 * nothing was copied, but also that a publication stores the word; which
 * of 0 (full count, no publication) or EFAULT the module answers is logged.
 */
TEST_F(grant, publish_word_unwritable)
{
	struct region rg[] = { { self->page, 100, S_DATA, 0 } };
	struct xpcopy_grant_info in;
	__u64 *seqw, copied;
	int gfd, ret;

	seqw = map_anon(self->page);
	ASSERT_NE(NULL, seqw);
	*seqw = 0x5555;
	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, mprotect(seqw, self->page, PROT_READ));
	ret = gcopy(self->dev, CW | CP, gfd, self->data, 100, 0, 9, &copied);
	if (ret == 0) {
		ASSERT_EQ(100ULL, copied);
	} else {
		ASSERT_EQ(-EFAULT, ret);
	}
	TH_LOG("PUBLISH with an unwritable word: %s",
	       ret ? "EFAULT, after the data was copied" : "0, full count");
	ASSERT_IMAGE(rg, 1);
	ASSERT_EQ(0x5555ULL, *seqw);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(0ULL, in.seq);
}

/* A derived grant publishes into the original's word and wakes its fd. */
TEST_F(grant, publish_through_derived)
{
	__u64 seqw = 0, copied, v;
	int gfd, dfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, GW, 64, 64);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, dfd, self->data, 64, 0, 3,
			   &copied));
	ASSERT_EQ(3ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(POLLIN, poll_now(gfd) & (POLLIN | POLLERR));
	ASSERT_EQ(POLLIN, poll_now(dfd) & (POLLIN | POLLERR));
	/* Each fd has its own "read since" state. */
	ASSERT_EQ((ssize_t)sizeof(v), read(gfd, &v, sizeof(v)));
	ASSERT_EQ(3ULL, v);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(POLLIN, poll_now(dfd) & (POLLIN | POLLERR));
	ASSERT_EQ(-1, pat_check(self->buf + self->page + 64, 64, S_DATA, 0));
}

/* An eventfd attached at creation counts publications. */
TEST_F(grant, publish_eventfd)
{
	__u64 seqw = 0, copied, v;
	int gfd, efd;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, efd);
	ASSERT_LE(0, gfd);
	/* The grant holds the eventfd: closing ours changes nothing. */
	ASSERT_EQ(0, close(dup(efd)));
	for (__u64 i = 1; i <= 3; i++) {
		ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 16,
				   0, i, &copied));
	}
	/* Not without PUBLISH. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 16, 0, 0,
			   &copied));
	ASSERT_EQ((ssize_t)sizeof(v), read(efd, &v, sizeof(v)));
	ASSERT_EQ(3ULL, v);
	ASSERT_EQ(-1, read(efd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(3ULL, seqw);
}

TEST_F(grant, read_short_count)
{
	__u64 seqw = 0, copied;
	uint8_t b[8];
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 1,
			   &copied));
	ASSERT_EQ(-1, read(gfd, b, 7));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, read(gfd, b, 0));
	ASSERT_EQ(EINVAL, errno);
	/* The value is still there for a proper read. */
	ASSERT_EQ(POLLIN, poll_now(gfd) & POLLIN);
	ASSERT_EQ(8, read(gfd, b, 8));
}

TEST_F(grant, read_nonblock)
{
	__u64 seqw = 0, copied, v, vv[2];
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, fcntl(gfd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	/* Two publications: read gives the last, once. */
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 5,
			   &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 6,
			   &copied));
	memset(vv, 0, sizeof(vv));
	ASSERT_EQ(8, read(gfd, vv, sizeof(vv))) TH_LOG("a read gives 8 bytes");
	ASSERT_EQ(6ULL, vv[0]);
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
}

/* A blocking read waits for the next publication. */
TEST_F(grant, read_blocks_until_publish)
{
	struct reader rd = { .n = 1234 };
	__u64 seqw = 0, copied;
	pthread_t t;

	rd.fd = grant_seq(self->dev, GW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, rd.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, reader_thread, &rd));
	sleep_ms(100);
	ASSERT_FALSE(join_ms(t, 1)) TH_LOG("read() returned %zd with "
					   "nothing published", rd.n);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, rd.fd, self->data, 8, 0, 77,
			   &copied));
	ASSERT_TRUE(join_ms(t, 20000)) TH_LOG("read() still blocked");
	ASSERT_EQ(8, rd.n);
	ASSERT_EQ(77ULL, rd.val);
}

/* ---------------------------------------------------------------------------
 * Holders in other processes
 */

static void track(FIXTURE_DATA(grant) *self, pid_t pid)
{
	if (pid > 0 && self->nkids < (int)ARRAY_SIZE(self->kids))
		self->kids[self->nkids++] = pid;
}

struct unpriv_arg {
	int rw;			/* read-write grant on page 1 */
	int ro;			/* read-only grant on page 2 */
	pid_t owner;
};

static int h_unpriv(FIXTURE_DATA(grant) *self, void *arg)
{
	struct unpriv_arg *a = arg;
	struct res *r = self->r;
	size_t p = self->page;
	uint8_t back[300];
	__u64 copied;
	int ret;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	HCHECK(getuid() == UID_A && geteuid() == UID_A, "uid %d", getuid());

	/* Within its rights. */
	ret = gcopy(self->dev, CW, a->rw, self->data, 300, 5, 0, &copied);
	HCHECK(ret == 0 && copied == 300, "write: %d, %llu copied", ret,
	       (unsigned long long)copied);
	memset(back, 0, sizeof(back));
	ret = gcopy(self->dev, CR, a->rw, back, 300, 5, 0, &copied);
	HCHECK(ret == 0 && copied == 300, "read back: %d", ret);
	HCHECK(pat_check(back, 300, S_DATA, 0) == -1, "read back wrong");
	ret = gcopy(self->dev, CR, a->ro, back, 100, 20, 0, &copied);
	HCHECK(ret == 0 && copied == 100, "read-only read: %d", ret);
	HCHECK(pat_check(back, 100, S_OWN, 2 * p + 20) == -1,
	       "read through the read-only grant wrong");

	/* And nothing else. */
	ret = gcopy(self->dev, CW, a->ro, self->data, 100, 0, 0, &copied);
	HCHECK(ret == -EACCES, "write through read-only: %d", ret);
	ret = gcopy(self->dev, CW, a->rw, self->data, 16, p - 8, 0, &copied);
	HCHECK(ret == -ERANGE, "write across the window's end: %d", ret);
	ret = gcopy(self->dev, CR, a->rw, back, 16, p, 0, &copied);
	HCHECK(ret == -ERANGE, "read past the window: %d", ret);
	ret = derive(self->dev, a->rw, GRW, 0, p + 1);
	HCHECK(ret == -ERANGE, "derive a wider window: %d", ret);
	ret = derive(self->dev, a->ro, GRW, 0, p);
	HCHECK(ret == -EACCES, "derive wider rights: %d", ret);
	ret = grant_revoke(self->dev, a->rw);
	HCHECK(ret == -EPERM, "revoke: %d", ret);
	ret = pcopy(self->dev, CW, a->owner, self->data, 16, ptr(self->buf),
		    &copied);
	HCHECK(ret == -EPERM, "pid-mode write: %d", ret);
	return 0;
}

/*
 * Root makes the grants, forks; the holder drops to another uid (and all
 * capabilities) and can do exactly what the grants allow.
 */
TEST_F(grant, unpriv_holder)
{
	struct region rg[] = { { self->page + 5, 300, S_DATA, 0 } };
	struct unpriv_arg a = { .owner = getpid() };
	pid_t pid;

	REQUIRE_ROOT();
	a.rw = grant(self->dev, GRW, self->buf + self->page, self->page);
	a.ro = grant(self->dev, GR, self->buf + 2 * self->page, self->page);
	ASSERT_LE(0, a.rw);
	ASSERT_LE(0, a.ro);
	pid = spawn(self, h_unpriv, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 1);
}

struct pid_arg {
	pid_t owner;
};

static int h_pid_mode(FIXTURE_DATA(grant) *self, void *arg)
{
	struct pid_arg *a = arg;
	struct res *r = self->r;
	uint8_t back[100];
	__u64 copied;
	pid_t kid;
	int ret;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	ret = pcopy(self->dev, CW, a->owner, self->data, 100,
		    ptr(self->buf + self->page), &copied);
	HCHECK(ret == -EPERM, "pid-mode write into root's process: %d", ret);
	memset(back, 0x5a, sizeof(back));
	ret = pcopy(self->dev, CR, a->owner, back, 100,
		    ptr(self->buf + self->page), &copied);
	HCHECK(ret == -EPERM, "pid-mode read from root's process: %d", ret);
	for (size_t i = 0; i < sizeof(back); i++)
		HCHECK(back[i] == 0x5a, "a failed read wrote byte %zu", i);
	/* A process of its own uid needs the capability just the same. */
	kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	HCHECK(kid > 0, "fork: %s", strerror(errno));
	ret = pcopy(self->dev, CW, kid, self->data, 100, ptr(self->buf),
		    &copied);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	HCHECK(ret == -EPERM, "pid-mode write into uid %d's process: %d",
	       UID_A, ret);
	return 0;
}

/* Without a grant, the same uid gets EPERM in pid mode. */
TEST_F(grant, unpriv_pid_mode_eperm)
{
	struct pid_arg a = { .owner = getpid() };
	pid_t pid;

	REQUIRE_ROOT();
	pid = spawn(self, h_pid_mode, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_OWNER_UNCHANGED();
}

/*
 * The grant goes over SCM_RIGHTS to a fresh image of this binary (fork,
 * execve) running as another uid: a process that never had it, nor any
 * capability. It writes and reads through it; pid mode and revoking fail.
 */
TEST_F(grant, scm_rights_exec)
{
	struct region rg[] = { { self->page + 100, 1000, S_DATA, 0 } };
	struct scm_req req = { .off = 100, .len = 1000, .seed = S_DATA };
	struct scm_rep rep;
	int sv[2], gfd;
	pid_t pid;

	REQUIRE_ROOT();
	gfd = grant(self->dev, GRW, self->buf + self->page, 2 * self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		close(gfd);	/* it would not survive execve anyway */
		exec_helper("scm-holder", sv[1], "XPG_UID", UID_B);
		_exit(100);
	}
	ASSERT_LT(0, pid);
	track(self, pid);
	close(sv[1]);
	req.owner = getpid();
	ASSERT_EQ(0, xp_msg_send(sv[0], &req, sizeof(req), gfd));
	memset(&rep, 0, sizeof(rep));
	ASSERT_EQ(0, xp_msg_recv(sv[0], &rep, sizeof(rep), NULL, 60000))
		TH_LOG("no answer from the exec'd holder");
	ASSERT_EQ(0, rep.setup);
	ASSERT_EQ(1, rep.had_fd);
	ASSERT_EQ((__u32)GRW, rep.rights & GRW);
	ASSERT_EQ(0, rep.wret);
	ASSERT_EQ(1000ULL, rep.wcopied);
	ASSERT_EQ(0, rep.rret);
	ASSERT_EQ(1000ULL, rep.rcopied);
	ASSERT_EQ(-1, rep.rdiff);
	ASSERT_EQ(-EPERM, rep.pidret);
	ASSERT_EQ(-EPERM, rep.revret);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 1);
}

struct pidfd_arg {
	int num_wr;		/* the owner tells its grant's fd number */
	int go_rd;		/* then waits for this */
};

static int h_pidfd_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct region rg[] = { { self->page + 7, 100, S_DATA, 0 } };
	struct pidfd_arg *a = arg;
	struct res *r = self->r;
	char c;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	HCHECK(gfd >= 0, "grant: %d", gfd);
	HCHECK(xp_write_full(a->num_wr, &gfd, sizeof(gfd)) == 0, "pipe");
	HCHECK(wait_in(a->go_rd, 60000) == 1 && read(a->go_rd, &c, 1) == 1,
	       "no word from the test");
	r->diff[0] = image_check(self->buf, self->total, rg, 1);
	return 0;
}

/* pidfd_getfd() takes the grant out of the owner's fd table. */
TEST_F(grant, pidfd_getfd)
{
	struct xpcopy_grant_info in;
	struct pidfd_arg a;
	int num[2], go[2], pidfd, fd, num_fd = -1;
	__u64 copied;
	pid_t pid;

	ASSERT_EQ(0, pipe2(num, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	a.num_wr = num[1];
	a.go_rd = go[0];
	self->r->diff[0] = -2;
	pid = spawn(self, h_pidfd_owner, &a);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, wait_in(num[0], 60000));
	ASSERT_EQ(0, xp_read_full(num[0], &num_fd, sizeof(num_fd)));
	pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0 && errno == ENOSYS)
		SKIP(return, "pidfd_open: ENOSYS");
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	fd = (int)syscall(__NR_pidfd_getfd, pidfd, num_fd, 0);
	if (fd < 0 && errno == ENOSYS)
		SKIP(return, "pidfd_getfd (syscall 438): ENOSYS");
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	ASSERT_EQ(0, info(self->dev, fd, &in));
	ASSERT_EQ((__u32)GRW, in.rights);
	ASSERT_EQ((__u64)self->page, in.len);
	ASSERT_EQ(0, gcopy(self->dev, CW, fd, self->data, 100, 7, 0, &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(1, write(go[1], "c", 1));
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_EQ(-1, self->r->diff[0]) TH_LOG("owner's memory wrong");
	/* Our own copy of the pages is not the owner's. */
	ASSERT_OWNER_UNCHANGED();
}

static int h_fork_holder(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	uint8_t back[200];
	int ret, status;
	__u64 copied;
	pid_t kid;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	kid = fork();
	if (kid == 0) {
		ret = gcopy(self->dev, CW, a->gfd, self->data, 200, 0, 0,
			    &copied);
		if (ret || copied != 200)
			_exit(1);
		ret = gcopy(self->dev, CR, a->gfd, back, 200, 0, 0, &copied);
		if (ret || copied != 200 || pat_check(back, 200, S_DATA, 0) >= 0)
			_exit(2);
		_exit(0);
	}
	HCHECK(kid > 0, "fork: %s", strerror(errno));
	ret = gcopy(self->dev, CW, a->gfd, self->data + 200, 200, 1000, 0,
		    &copied);
	HCHECK(ret == 0 && copied == 200, "parent holder: %d", ret);
	ret = gcopy(self->dev, CR, a->gfd, back, 200, 1000, 0, &copied);
	HCHECK(ret == 0 && pat_check(back, 200, S_DATA, 200) == -1,
	       "parent holder read back: %d", ret);
	HCHECK(waitpid(kid, &status, 0) == kid, "waitpid");
	HCHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "child holder: status %#x", status);
	return 0;
}

/* A holder forks: parent and child both copy through the grant. */
TEST_F(grant, fork_holder)
{
	struct region rg[] = {
		{ self->page + 0, 200, S_DATA, 0 },
		{ self->page + 1000, 200, S_DATA, 200 },
	};
	struct holder_arg a;
	pid_t pid;

	REQUIRE_ROOT();
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_fork_holder, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 2);
}

static int h_wait_then_write(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	__u64 copied;
	char c;
	int ret;

	HCHECK(wait_in(a->fd2, 60000) == 1 && read(a->fd2, &c, 1) == 1,
	       "no word from the test");
	ret = gcopy(self->dev, CW, a->gfd, self->data, 200, 0, 0, &copied);
	HCHECK(ret == 0 && copied == 200,
	       "write after the owner closed its fd: %d", ret);
	return 0;
}

/* The owner closes its fd once the holder has one: the grant lives on. */
TEST_F(grant, owner_closes_fd)
{
	struct region rg[] = { { self->page, 200, S_DATA, 0 } };
	struct holder_arg a;
	int go[2];
	pid_t pid;

	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	a.fd2 = go[0];
	pid = spawn(self, h_wait_then_write, &a);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, close(a.gfd));
	ASSERT_EQ(0, close(go[0]));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 1);
}

#define NTHREADS	8
#define TPART		(512 * KiB)
#define TROUNDS		4

struct th_arg {
	int dev, gfd, idx;
	uint8_t *buf;
	int err;
	int round;
};

static uint64_t th_seed(int idx, int round)
{
	return S_DATA + 16ULL * (uint64_t)idx + (uint64_t)round;
}

static void *th_copy(void *p)
{
	struct th_arg *t = p;
	__u64 off = (__u64)t->idx * TPART, copied;
	int ret;

	for (t->round = 0; t->round < TROUNDS; t->round++) {
		big_fill(t->buf, TPART, th_seed(t->idx, t->round));
		ret = gcopy(t->dev, CW, t->gfd, t->buf, TPART, off, 0,
			    &copied);
		if (ret || copied != TPART) {
			t->err = ret ? ret : -EIO;
			return NULL;
		}
		memset(t->buf, 0, TPART);
		ret = gcopy(t->dev, CR, t->gfd, t->buf, TPART, off, 0,
			    &copied);
		if (ret || copied != TPART) {
			t->err = ret ? ret : -EIO;
			return NULL;
		}
		if (big_check(t->buf, TPART, th_seed(t->idx, t->round)) >= 0) {
			t->err = -EBADMSG;
			return NULL;
		}
	}
	return NULL;
}

static int h_threads(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	struct th_arg t[NTHREADS];
	pthread_t tid[NTHREADS];

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	for (int i = 0; i < NTHREADS; i++) {
		t[i] = (struct th_arg){ .dev = self->dev, .gfd = a->gfd,
					.idx = i, .buf = map_anon(TPART) };
		HCHECK(t[i].buf, "mmap");
	}
	for (int i = 0; i < NTHREADS; i++)
		HCHECK(pthread_create(&tid[i], NULL, th_copy, &t[i]) == 0,
		       "pthread_create %d", i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		HCHECK(t[i].err == 0, "thread %d, round %d: %d (%s)", i,
		       t[i].round, t[i].err, strerror(-t[i].err));
	return 0;
}

/* Eight threads of one holder copy disjoint parts of one grant at once. */
TEST_F_TIMEOUT(grant, threads_disjoint, GRANT_TIMEOUT)
{
	size_t len = NTHREADS * TPART;
	struct holder_arg a;
	uint8_t *w;
	pid_t pid;

	REQUIRE_ROOT();
	w = map_anon(len);
	ASSERT_NE(NULL, w);
	a.gfd = grant(self->dev, GRW, w, len);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_threads, &a);
	ASSERT_HELPER_OK(pid, 100000);
	for (int i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(-1, big_check(w + (size_t)i * TPART, TPART,
					th_seed(i, TROUNDS - 1)))
			TH_LOG("part %d", i);
	}
}

/* ---------------------------------------------------------------------------
 * Lifetime: the owner exits, executes, unmaps; revocation mid-copy
 */

struct owner_arg {
	int sock;
	size_t len;
	int delay_ms;
	bool fill;
};

/*
 * An owner in a helper: maps a window, grants it, sends the window's
 * address with the grant, then exits on a word from the test ('d': after
 * delay_ms).
 */
static int h_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct owner_arg *a = arg;
	struct res *r = self->r;
	uint8_t *w = map_anon(a->len);
	__u64 addr = ptr(w);
	char c;
	int gfd;

	HCHECK(w, "mmap %zu", a->len);
	if (a->fill)
		pat_fill(w, a->len, S_OWN, 0);
	gfd = grant(self->dev, GRW, w, a->len);
	HCHECK(gfd >= 0, "grant: %d", gfd);
	HCHECK(xp_msg_send(a->sock, &addr, sizeof(addr), gfd) == 0, "send");
	HCHECK(xp_msg_recv(a->sock, &c, 1, NULL, 60000) == 0, "no word");
	if (c == 'd')
		sleep_ms(a->delay_ms);
	return 0;
}

/* Start h_owner; the grant fd it made, in this process. */
static int start_owner(FIXTURE_DATA(grant) *self, struct owner_arg *a,
		       int *sock, pid_t *pid)
{
	int sv[2], gfd, ret;
	__u64 addr;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	a->sock = sv[1];
	*pid = spawn(self, h_owner, a);
	close(sv[1]);
	*sock = sv[0];
	if (*pid < 0)
		return -ECHILD;
	ret = xp_msg_recv(sv[0], &addr, sizeof(addr), &gfd, 60000);
	if (ret)
		return ret;
	return gfd >= 0 ? gfd : -EBADF;
}

/* Once the owner exited every use fails with ESRCH; INFO says 2. */
TEST_F(grant, owner_exit_esrch)
{
	struct owner_arg a = { .len = 2 * self->page, .fill = true };
	struct xpcopy_grant_info in;
	uint8_t back[100];
	__u64 copied;
	int sock, gfd;
	pid_t pid;

	gfd = start_owner(self, &a, &sock, &pid);
	ASSERT_LE(0, gfd) TH_LOG("owner: %s", self->r->msg);
	ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 100, 3, 0, &copied));
	ASSERT_EQ(-1, pat_check(back, 100, S_OWN, 3));
	ASSERT_EQ(0, xp_msg_send(sock, "x", 1, -1));
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				&copied));
	ASSERT_EQ(POISON, copied);
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CR, gfd, back, 100, 0, 0,
				&copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(2U, in.revoked);
	ASSERT_EQ((__u32)GRW, in.rights);
	ASSERT_EQ(2 * self->page, in.len);
}

static int h_exec_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct owner_arg *a = arg;
	struct res *r = self->r;
	__u64 addr = EXEC_ADDR;
	uint8_t *w;
	char c;
	int gfd;

	w = mmap((void *)(uintptr_t)EXEC_ADDR, a->len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	HCHECK(w == (void *)(uintptr_t)EXEC_ADDR, "mmap at %#llx: %s",
	       EXEC_ADDR, strerror(errno));
	pat_fill(w, a->len, S_OWN, 0);
	gfd = grant(self->dev, GRW, w, a->len);
	HCHECK(gfd >= 0, "grant: %d", gfd);
	HCHECK(xp_msg_send(a->sock, &addr, sizeof(addr), gfd) == 0, "send");
	HCHECK(xp_msg_recv(a->sock, &c, 1, NULL, 60000) == 0, "no word");
	exec_helper("victim", a->sock, "XPG_LEN", a->len);
	hfail(r, __LINE__, "execve", "%s", strerror(errno));
	return 1;
}

/*
 * The owner executes this binary again, whose new image maps a window at
 * the same address: the grant now fails with ESRCH, and the new image
 * sees none of the bytes.
 */
TEST_F(grant, owner_exec_esrch)
{
	struct owner_arg a = { .len = 2 * self->page };
	struct xpcopy_grant_info in;
	int sv[2], gfd;
	long long rep = 0;
	__u64 addr, copied;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	a.sock = sv[1];
	pid = spawn(self, h_exec_owner, &a);
	ASSERT_LT(0, pid);
	close(sv[1]);
	ASSERT_EQ(0, xp_msg_recv(sv[0], &addr, sizeof(addr), &gfd, 60000))
		TH_LOG("owner: %s", self->r->msg);
	ASSERT_LE(0, gfd);
	/* Through the grant while the old image lives. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 64, 0, 0,
			   &copied));
	ASSERT_EQ(0, xp_msg_send(sv[0], "e", 1, -1));
	/* The new image says it runs: the exec is complete. */
	ASSERT_EQ(0, xp_msg_recv(sv[0], &rep, sizeof(rep), NULL, 60000))
		TH_LOG("no word from the new image");
	ASSERT_EQ(-1, rep) TH_LOG("the new image could not map its window");
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CW, gfd, self->data, a.len, 0, 0,
				&copied));
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CR, gfd, self->data, 64, 0, 0,
				&copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(2U, in.revoked);
	rep = 0;
	ASSERT_EQ(0, xp_msg_send(sv[0], &rep, sizeof(rep), -1));
	ASSERT_EQ(0, xp_msg_recv(sv[0], &rep, sizeof(rep), NULL, 60000));
	ASSERT_EQ(-1, rep) TH_LOG("a byte reached the new image at %lld",
				  rep);
	ASSERT_HELPER_OK(pid, 30000);
}

/*
 * The owner exits while a holder copies 64 MiB into it: the copy ends
 * (short count, or ESRCH if the owner was gone first, or the full count:
 * a copy in flight holds the address space until it ends), nothing stays
 * pinned, and later uses fail with ESRCH.
 */
TEST_F_TIMEOUT(grant, owner_exit_during_copy, GRANT_TIMEOUT)
{
	struct owner_arg a = { .len = BIG, .delay_ms = 2 };
	struct xpcopy_grant_info in;
	uint8_t *local;
	__u64 copied;
	int sock, gfd, ret;
	int64_t t0;
	pid_t pid;

	local = map_anon(BIG);
	ASSERT_NE(NULL, local);
	big_fill(local, BIG, S_DATA);
	gfd = start_owner(self, &a, &sock, &pid);
	ASSERT_LE(0, gfd) TH_LOG("owner: %s", self->r->msg);
	ASSERT_EQ(0, xp_msg_send(sock, "d", 1, -1));
	t0 = now_ns();
	ret = gcopy(self->dev, CW, gfd, local, BIG, 0, 0, &copied);
	if (ret == 0) {
		ASSERT_GE(BIG, copied);
		TH_LOG("copy returned %llu of %llu bytes after %lld ms%s",
		       (unsigned long long)copied, BIG,
		       (long long)((now_ns() - t0) / 1000000),
		       copied == BIG ? " (note: the owner exited while it "
		       "ran, or after)" : "");
	} else {
		ASSERT_EQ(-ESRCH, ret);
	}
	ASSERT_HELPER_OK(pid, 60000);
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CW, gfd, local, self->page, 0, 0,
				&copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(2U, in.revoked);
	ASSERT_EQ(0ULL, wait_unpinned(5000)) TH_LOG("pages still pinned");
}

struct big_arg {
	int gfd;
	int start_wr;		/* a byte: the copy starts */
	int go_rd;		/* a byte: do the second copy */
};

/* A holder: a 64 MiB write, then, on a word, a one-page write. */
static int h_big_writer(FIXTURE_DATA(grant) *self, void *arg)
{
	struct big_arg *a = arg;
	struct res *r = self->r;
	uint8_t *local = map_anon(BIG);
	char c;

	HCHECK(local, "mmap");
	big_fill(local, BIG, S_DATA);
	HCHECK(write(a->start_wr, "s", 1) == 1, "pipe");
	r->ret[0] = gcopy(self->dev, CW, a->gfd, local, BIG, 0, 0,
			  &r->copied[0]);
	HCHECK(wait_in(a->go_rd, 60000) == 1 && read(a->go_rd, &c, 1) == 1,
	       "no word from the test");
	r->ret[1] = gcopy(self->dev, CW, a->gfd, local, self->page, 0, 0,
			  &r->copied[1]);
	return 0;
}

static pid_t start_big_writer(FIXTURE_DATA(grant) *self, struct big_arg *a,
			      int *start_rd, int *go_wr)
{
	int start[2], go[2];
	pid_t pid;

	if (pipe2(start, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		return -1;
	a->start_wr = start[1];
	a->go_rd = go[0];
	self->r->ret[0] = self->r->ret[1] = INT_MIN;
	pid = spawn(self, h_big_writer, a);
	close(start[1]);
	close(go[0]);
	*start_rd = start[0];
	*go_wr = go[1];
	return pid;
}

/*
 * The owner unmaps the window while a holder copies 64 MiB into it: a
 * short count (or EFAULT if nothing was copied; the full count only if the
 * copy was done first), nothing stays pinned, later copies fail EFAULT.
 */
TEST_F_TIMEOUT(grant, owner_munmap_during_copy, GRANT_TIMEOUT)
{
	struct res *r = self->r;
	struct big_arg a;
	int start_rd, go_wr;
	uint8_t *w;
	char c;
	pid_t pid;

	w = map_anon(BIG);
	ASSERT_NE(NULL, w);
	a.gfd = grant(self->dev, GW, w, BIG);
	ASSERT_LE(0, a.gfd);
	pid = start_big_writer(self, &a, &start_rd, &go_wr);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, wait_in(start_rd, 60000));
	ASSERT_EQ(1, read(start_rd, &c, 1));
	sleep_ms(1);
	ASSERT_EQ(0, munmap(w, BIG));
	ASSERT_EQ(1, write(go_wr, "g", 1));
	ASSERT_HELPER_OK(pid, 100000);
	if (r->ret[0] == 0) {
		ASSERT_GE(BIG, r->copied[0]);
		TH_LOG("copy returned %llu of %llu bytes%s",
		       (unsigned long long)r->copied[0], BIG,
		       r->copied[0] == BIG ? " (note: it was done before the "
		       "munmap)" : "");
	} else {
		ASSERT_EQ(-EFAULT, r->ret[0]);
	}
	ASSERT_EQ(-EFAULT, r->ret[1]);
	ASSERT_EQ(0ULL, wait_unpinned(5000)) TH_LOG("pages still pinned");
}

/*
 * The owner revokes while a holder copies 64 MiB: the copy stops at a
 * batch boundary with a short count (ESTALE if it had not started; the full
 * count only if it was done first); later copies fail with ESTALE; no byte
 * past the count reached the window.
 */
TEST_F_TIMEOUT(grant, revoke_during_copy, GRANT_TIMEOUT)
{
	struct res *r = self->r;
	unsigned int batch = batch_pages(self->dev);
	__u64 batch_bytes = (__u64)batch * self->page, copied;
	struct big_arg a;
	int start_rd, go_wr;
	uint8_t *w;
	char c;
	pid_t pid;

	ASSERT_LT(0U, batch);
	w = map_anon(BIG);
	ASSERT_NE(NULL, w);
	a.gfd = grant(self->dev, GW, w, BIG);
	ASSERT_LE(0, a.gfd);
	pid = start_big_writer(self, &a, &start_rd, &go_wr);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, wait_in(start_rd, 60000));
	ASSERT_EQ(1, read(start_rd, &c, 1));
	sleep_ms(1);
	ASSERT_EQ(0, grant_revoke(self->dev, a.gfd));
	ASSERT_EQ(1, write(go_wr, "g", 1));
	ASSERT_HELPER_OK(pid, 100000);
	ASSERT_EQ(-ESTALE, r->ret[1]);
	if (r->ret[0] == -ESTALE) {
		TH_LOG("revoked before the copy began");
		copied = 0;
	} else {
		ASSERT_EQ(0, r->ret[0]);
		copied = r->copied[0];
		ASSERT_GE(BIG, copied);
		if (copied == BIG) {
			TH_LOG("note: the copy was done before the revocation");
		} else {
			ASSERT_EQ(0ULL, copied % batch_bytes)
				TH_LOG("%llu bytes: not a batch boundary "
				       "(batch %llu bytes)",
				       (unsigned long long)copied,
				       (unsigned long long)batch_bytes);
		}
		TH_LOG("copy returned %llu of %llu bytes",
		       (unsigned long long)copied, BIG);
	}
	ASSERT_EQ(-1, big_check(w, copied, S_DATA));
	ASSERT_EQ(-1, zero_check(w + copied, BIG - copied))
		TH_LOG("bytes past the count reached the window");
	ASSERT_EQ(0ULL, wait_unpinned(5000)) TH_LOG("pages still pinned");
}

/* ---------------------------------------------------------------------------
 * Ordered completion under load
 *
 * A writer (another process, another uid) sends OM_MSGS messages into a
 * ring of OM_SLOTS slots in the owner's window, message i into slot
 * i % OM_SLOTS with one XPCOPY_COPY_PUBLISH of seq = i. The owner waits
 * with poll() and read() on the grant fd, loads the sequence word with
 * acquire ordering, and checks every message up to the value it saw:
 * index, length, checksum and every payload word. A message seen before
 * all its bytes landed would show the previous occupant of its slot.
 * Flow control: the owner writes the count it consumed into a pipe every
 * OM_ACK_EVERY messages; the writer never runs more than OM_SLOTS ahead.
 *
 * A small message is copied and published in the writer's own context (no
 * hand-off to a worker): 100000 take a few seconds in a QEMU TCG guest.
 * The writer still stops after OM_BUDGET_MS so a slow machine fails with a
 * count rather than a timeout; the test asks for all OM_MSGS.
 */
#ifndef OM_MSGS
#define OM_MSGS		100000ULL
#endif
#define OM_MIN		OM_MSGS
#define OM_BUDGET_MS	60000
#define OM_SLOTS	128
#define OM_SLOT		256
#define OM_ACK_EVERY	16
#define OM_WORDS	((OM_SLOT - 16) / 8)

struct om_msg {
	__u64 idx;
	__u32 len;		/* bytes, header included: 64..256 */
	__u32 sum;
	__u64 w[OM_WORDS];
};

static __u32 om_len(__u64 i)
{
	return 64 + 8 * (__u32)(i * 37 % 25);
}

static __u32 om_sum(const struct om_msg *m, __u32 nw)
{
	__u64 h = 0xcbf29ce484222325ULL ^ m->idx ^ ((__u64)m->len << 40);

	for (__u32 k = 0; k < nw; k++)
		h = (h ^ m->w[k]) * 0x100000001b3ULL;
	return (__u32)(h ^ (h >> 32));
}

static __u32 om_build(struct om_msg *m, __u64 i)
{
	__u32 nw;

	m->idx = i;
	m->len = om_len(i);
	nw = (m->len - 16) / 8;
	for (__u32 k = 0; k < nw; k++)
		m->w[k] = mix(i, k);
	m->sum = om_sum(m, nw);
	return m->len;
}

/* NULL when the slot holds message i whole; else what is wrong. */
static const char *om_check(const struct om_msg *m, __u64 i)
{
	__u32 nw;

	if (m->idx != i)
		return "index (the slot holds another message)";
	if (m->len != om_len(i))
		return "length";
	nw = (m->len - 16) / 8;
	if (m->sum != om_sum(m, nw))
		return "checksum";
	for (__u32 k = 0; k < nw; k++)
		if (m->w[k] != mix(i, k))
			return "payload";
	return NULL;
}

struct om_arg {
	int gfd;
	int ack_rd;
};

/*
 * The writer; when it stops, r->val[0] is the last message it sent and
 * r->val[1] becomes 1 (after that message was published).
 */
static int h_om_writer(FIXTURE_DATA(grant) *self, void *arg)
{
	int64_t deadline = now_ns() + OM_BUDGET_MS * 1000000LL;
	struct om_arg *a = arg;
	struct res *r = self->r;
	struct om_msg m;
	__u64 acked = 0, copied;
	int ret;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	for (__u64 i = 1; i <= OM_MSGS; i++) {
		__u32 len;

		if (!(i % 256) && now_ns() > deadline)
			break;
		while (i > acked + OM_SLOTS) {
			__u64 v;

			HCHECK(xp_read_full(a->ack_rd, &v, sizeof(v)) == 0,
			       "ack pipe closed before message %llu",
			       (unsigned long long)i);
			if (v > acked)
				acked = v;
		}
		len = om_build(&m, i);
		ret = gcopy(self->dev, CW | CP, a->gfd, &m, len,
			    (i % OM_SLOTS) * OM_SLOT, i, &copied);
		HCHECK(ret == 0 && copied == len,
		       "message %llu: %d, %llu of %u bytes",
		       (unsigned long long)i, ret,
		       (unsigned long long)copied, len);
		r->val[0] = i;
	}
	__atomic_store_n(&r->val[1], 1, __ATOMIC_RELEASE);
	return 0;
}

TEST_F_TIMEOUT(grant, publish_ordered_stress, GRANT_TIMEOUT)
{
	__u64 consumed = 0, acked = 0, last_seen = 0, last_read = 0;
	__u64 polls = 0, reads = 0, max_lag = 0, v;
	struct xpcopy_grant_info in;
	struct res *r = self->r;
	int64_t t0, progress;
	struct om_arg a;
	uint8_t *ring;
	__u64 *seqw;
	int ack[2];
	pid_t pid;

	REQUIRE_ROOT();
	ring = map_anon(OM_SLOTS * OM_SLOT);
	seqw = map_anon(self->page);	/* the word: outside the window */
	ASSERT_NE(NULL, ring);
	ASSERT_NE(NULL, seqw);
	a.gfd = grant_seq(self->dev, GW, ring, OM_SLOTS * OM_SLOT, seqw, 0);
	ASSERT_LE(0, a.gfd);
	ASSERT_EQ(0, pipe2(ack, O_CLOEXEC));
	ASSERT_NE(SIG_ERR, signal(SIGPIPE, SIG_IGN));
	a.ack_rd = ack[0];
	t0 = progress = now_ns();
	pid = spawn(self, h_om_writer, &a);
	ASSERT_LT(0, pid);
	close(ack[0]);
	ASSERT_EQ(0, fcntl(a.gfd, F_SETFL, O_NONBLOCK));

	for (;;) {
		/* Set after the writer's last publication: load it first. */
		bool done = __atomic_load_n(&r->val[1], __ATOMIC_ACQUIRE);
		__u64 s = __atomic_load_n(seqw, __ATOMIC_ACQUIRE);
		struct pollfd pf = { .fd = a.gfd, .events = POLLIN };
		ssize_t n;
		int pr;

		ASSERT_LE(last_seen, s) TH_LOG("the word went backwards");
		last_seen = s;
		if (s > consumed) {
			ASSERT_GE(consumed + OM_SLOTS, s)
				TH_LOG("the writer overran the ring");
			if (s - consumed > max_lag)
				max_lag = s - consumed;
			for (__u64 k = consumed + 1; k <= s; k++) {
				const char *bad = om_check((struct om_msg *)
					(ring + (k % OM_SLOTS) * OM_SLOT), k);

				ASSERT_EQ(NULL, bad)
					TH_LOG("message %llu (word %llu): "
					       "wrong %s",
					       (unsigned long long)k,
					       (unsigned long long)s, bad);
			}
			consumed = s;
			progress = now_ns();
			if (consumed - acked >= OM_ACK_EVERY) {
				/* EPIPE: the writer is done and gone. */
				int w = xp_write_full(ack[1], &consumed,
						   sizeof(consumed));

				ASSERT_TRUE(w == 0 || w == -EPIPE);
				acked = consumed;
			}
			continue;
		}
		if (done)
			break;
		ASSERT_GT(progress + 20000000000LL, now_ns())
			TH_LOG("nothing published for 20 s after message %llu",
			       (unsigned long long)consumed);
		polls++;
		pr = poll(&pf, 1, 1000);
		if (pr == 0)
			continue;	/* look at the done flag again */
		ASSERT_EQ(1, pr);
		ASSERT_EQ(POLLIN, pf.revents);
		n = read(a.gfd, &v, sizeof(v));
		ASSERT_EQ((ssize_t)sizeof(v), n) TH_LOG("read: %s",
							strerror(errno));
		reads++;
		/* The value read was stored in the word before. */
		ASSERT_GE(__atomic_load_n(seqw, __ATOMIC_ACQUIRE), v);
		ASSERT_LE(last_read, v);
		last_read = v;
	}
	ASSERT_HELPER_OK(pid, 60000);
	TH_LOG("%llu messages in %lld ms (%lld us each); %llu polls, %llu "
	       "reads, at most %llu ready at once",
	       (unsigned long long)consumed,
	       (long long)((now_ns() - t0) / 1000000),
	       (long long)((now_ns() - t0) / 1000 /
			   (int64_t)(consumed ? consumed : 1)),
	       (unsigned long long)polls, (unsigned long long)reads,
	       (unsigned long long)max_lag);
	if (consumed < OM_MSGS)
		TH_LOG("note: the writer stopped after its %d s budget, at "
		       "%llu of %llu messages", OM_BUDGET_MS / 1000,
		       (unsigned long long)consumed, OM_MSGS);
	ASSERT_EQ(r->val[0], consumed);
	ASSERT_LE(OM_MIN, consumed);
	ASSERT_EQ(consumed, *seqw);
	ASSERT_EQ(0, info(self->dev, a.gfd, &in));
	ASSERT_EQ(consumed, in.seq);
}

/*
 * The sequence word is the owner's memory: a read-only grant cannot write
 * it, not even through PUBLISH after a read.
 */
TEST_F(grant, publish_needs_write_right)
{
	__u64 seqw = 0, copied = 0;
	int gfd, rfd;

	gfd = grant_seq(self->dev, GRW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	rfd = derive(self->dev, gfd, GR, 0, self->page);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR | CP, rfd, self->data, 100, 0,
				 5, &copied));
	ASSERT_EQ(0ULL, seqw);
	ASSERT_EQ(0, poll_now(gfd));
	/* with the write right it publishes */
	ASSERT_EQ(0, gcopy(self->dev, CR | CP, gfd, self->data, 100, 0, 5,
			   &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(5ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
}

/*
 * Derived grants nest at most 16 deep (EMLINK beyond), and a whole chain is
 * released in any order without trouble (it was freed by recursion once).
 */
TEST_F(grant, derive_depth_limit_and_release)
{
	int fds[18], n = 0, fd;

	fds[n++] = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, fds[0]);
	for (;;) {
		fd = derive(self->dev, fds[n - 1], GW, 0, self->page);
		if (fd < 0)
			break;
		ASSERT_GT(18, n);
		fds[n++] = fd;
	}
	ASSERT_EQ(-EMLINK, fd);
	ASSERT_EQ(17, n) TH_LOG("the original and 16 derived");
	/* the deepest still works, and nests in its ancestors' window */
	ASSERT_EQ(0, gcopy(self->dev, CW, fds[n - 1], self->data, 10, 0, 0,
			   NULL));
	/* close the ancestors first: the chain lives on in the deepest */
	for (int i = 0; i < n - 1; i++)
		ASSERT_EQ(0, close(fds[i]));
	ASSERT_EQ(0, gcopy(self->dev, CW, fds[n - 1], self->data, 10, 0, 0,
			   NULL));
	ASSERT_EQ(0, close(fds[n - 1]));
}

TEST_HARNESS_MAIN
