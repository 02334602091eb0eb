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
#include "kselftest_harness.h"

#define DEV		"/dev/xpcopy"
#define STATS		"/sys/class/misc/xpcopy/stats/"

#define KiB		1024ULL
#define MiB		(1024ULL * KiB)

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

#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd	438
#endif

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

static int revoke(int dev, int gfd)
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

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
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
 * One message on a SOCK_SEQPACKET socket, with an fd when fd >= 0.
 * Returns 0 or -errno.
 */
static int send_msg(int sock, const void *data, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec io = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	if (fd >= 0) {
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(sock, &m, MSG_NOSIGNAL) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

/*
 * Receive one message of exactly len bytes, waiting at most ms; *fd gets
 * the fd that came with it (close-on-exec), or -1. Returns 0 or -errno.
 */
static int recv_msg(int sock, void *data, size_t len, int *fd, int ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec io = { .iov_base = data, .iov_len = len };
	struct msghdr m = {
		.msg_iov = &io, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int r;

	if (fd)
		*fd = -1;
	r = wait_in(sock, ms);
	if (r <= 0)
		return r ? r : -ETIMEDOUT;
	n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(cm), sizeof(int));
			if (fd)
				*fd = got;
			else
				close(got);
		}
	}
	return n == (ssize_t)len ? 0 : -EPROTO;
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
		send_msg(sock, &rep, sizeof(rep), -1);
		return 2;
	}
	pat_fill(p, len, S_VICTIM, 0);
	if (send_msg(sock, &rep, sizeof(rep), -1))
		return 3;
	if (recv_msg(sock, &rep, sizeof(rep), NULL, 60000))
		return 4;
	rep = pat_check(p, len, S_VICTIM, 0);
	return send_msg(sock, &rep, sizeof(rep), -1) ? 5 : 0;
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
	rep.setup = recv_msg(sock, &req, sizeof(req), &gfd, 60000);
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
	rep.revret = revoke(dev, gfd);
reply:
	return send_msg(sock, &rep, sizeof(rep), -1) ? 2 : 0;
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
	for (size_t i = 0; i < sizeof(back); i++)
		ASSERT_EQ(0x5a, back[i]);
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
