// SPDX-License-Identifier: GPL-2.0
/*
 * The helpers of the grant programs; grant_helpers.h says what each does.
 * Compiled once and linked into xpcopy_grant, xpcopy_grant_copy and
 * xpcopy_grant_publish, with the constructor that runs the images they
 * execute.
 */
#include "grant_helpers.h"

void big_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t *w = buf;

	for (size_t k = 0; k < len / 8; k++)
		w[k] = seed ^ (k * 0x9e3779b97f4a7c15ULL);
}

long long big_check(const void *buf, size_t len, uint64_t seed)
{
	const uint64_t *w = buf;

	for (size_t k = 0; k < len / 8; k++)
		if (w[k] != (seed ^ (k * 0x9e3779b97f4a7c15ULL)))
			return (long long)(k * 8);
	return -1;
}

long long zero_check(const void *buf, size_t len)
{
	const uint64_t *w = buf;

	for (size_t k = 0; k < len / 8; k++)
		if (w[k])
			return (long long)(k * 8);
	return -1;
}

long long image_check(const void *buf, size_t total,
		      const struct region *rg, int n)
{
	const uint8_t *p = buf;
	size_t pos = 0;
	long long d;

	for (int i = 0; i <= n; i++) {
		size_t end = i < n ? rg[i].at : total;

		d = xp_check(p + pos, end - pos, S_OWN, pos);
		if (d >= 0)
			return (long long)pos + d;
		if (i == n)
			break;
		d = xp_check(p + rg[i].at, rg[i].len, rg[i].seed,
			      rg[i].start);
		if (d >= 0)
			return (long long)rg[i].at + d;
		pos = rg[i].at + rg[i].len;
	}
	return -1;
}

int grant_raw(int dev, __u32 flags, __u64 addr, __u64 len,
	      __u64 seq_addr, int efd)
{
	struct xpcopy_grant g = {
		.size = sizeof(g), .flags = flags, .addr = addr, .len = len,
		.seq_addr = seq_addr, .eventfd = efd, .fd = -1,
	};

	return xp_ioctl(dev, XPCOPY_GRANT, &g);
}

int grant(int dev, __u32 flags, const void *addr, __u64 len)
{
	return grant_raw(dev, flags, xp_ptr(addr), len, 0, 0);
}

int grant_seq(int dev, __u32 flags, const void *addr, __u64 len,
	      const __u64 *seq, int efd)
{
	flags |= XPCOPY_GRANT_SEQ;
	if (efd > 0)
		flags |= XPCOPY_GRANT_EVENTFD;
	return grant_raw(dev, flags, xp_ptr(addr), len, xp_ptr(seq),
			 efd > 0 ? efd : 0);
}

int derive(int dev, int gfd, __u32 flags, __u64 off, __u64 len)
{
	struct xpcopy_grant_derive d = {
		.size = sizeof(d), .flags = flags, .grant_fd = gfd, .fd = -1,
		.offset = off, .len = len,
	};

	return xp_ioctl(dev, XPCOPY_GRANT_DERIVE, &d);
}

int grant_revoke(int dev, int gfd)
{
	struct xpcopy_grant_revoke rv = {
		.size = sizeof(rv), .grant_fd = gfd,
	};

	return xp_ioctl(dev, XPCOPY_GRANT_REVOKE, &rv);
}

int info(int dev, int gfd, struct xpcopy_grant_info *in)
{
	memset(in, 0, sizeof(*in));
	in->size = sizeof(*in);
	in->grant_fd = gfd;
	return xp_ioctl(dev, XPCOPY_GRANT_INFO, in);
}

int gcopyv(int dev, __u32 flags, int gfd,
	   const struct xpcopy_iovec *l, __u32 lcnt,
	   const struct xpcopy_iovec *rv, __u32 rcnt, __u64 seq,
	   __u64 *copied)
{
	struct xpcopy_copy c = {
		.size = sizeof(c), .flags = flags | XPCOPY_COPY_GRANT,
		.local_cnt = lcnt, .local_iov = xp_ptr(l),
		.remote_cnt = rcnt, .remote_iov = xp_ptr(rv),
		.copied = XP_COPIED_POISON, .seq = seq,
	};
	int ret;

	c.grant_fd = gfd;
	ret = xp_ioctl(dev, XPCOPY_COPY, &c);
	if (copied)
		*copied = c.copied;
	return ret;
}

int gcopy(int dev, __u32 flags, int gfd, const void *local, __u64 len,
	  __u64 off, __u64 seq, __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = xp_ptr(local), .len = len };
	struct xpcopy_iovec rv = { .addr = off, .len = len };

	return gcopyv(dev, flags, gfd, &l, 1, &rv, 1, seq, copied);
}

int pcopy(int dev, __u32 flags, pid_t pid, const void *local,
	  __u64 len, __u64 raddr, __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = xp_ptr(local), .len = len };
	struct xpcopy_iovec rv = { .addr = raddr, .len = len };
	struct xpcopy_copy c = {
		.size = sizeof(c), .flags = flags,
		.local_cnt = 1, .local_iov = xp_ptr(&l),
		.remote_cnt = 1, .remote_iov = xp_ptr(&rv),
		.copied = XP_COPIED_POISON,
	};
	int ret;

	c.pid = pid;
	ret = xp_ioctl(dev, XPCOPY_COPY, &c);
	if (copied)
		*copied = c.copied;
	return ret;
}

unsigned int batch_pages(int dev)
{
	struct xpcopy_features f = { .size = sizeof(f) };

	if (xp_ioctl(dev, XPCOPY_FEATURES, &f))
		return 0;
	return f.batch_pages;
}

int drop_to(uid_t uid)
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

void __attribute__((format(printf, 4, 5)))
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

void *reader_thread(void *arg)
{
	struct reader *rd = arg;

	rd->n = read(rd->fd, &rd->val, sizeof(rd->val));
	rd->err = rd->n < 0 ? errno : 0;
	return NULL;
}

bool join_ms(pthread_t t, int ms)
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

short poll_now(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, 0) < 0)
		return -1;
	return pf.revents;
}

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
	xp_fill(p, len, S_VICTIM, 0);
	if (xp_msg_send(sock, &rep, sizeof(rep), -1))
		return 3;
	if (xp_msg_recv(sock, &rep, sizeof(rep), NULL, 60000))
		return 4;
	rep = xp_check(p, len, S_VICTIM, 0);
	return xp_msg_send(sock, &rep, sizeof(rep), -1) ? 5 : 0;
}

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

	dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
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
	out = xp_map(req.len, PROT_READ | PROT_WRITE);
	back = xp_map(req.len, PROT_READ | PROT_WRITE);
	if (!out || !back) {
		rep.setup = -ENOMEM;
		goto reply;
	}
	if (info(dev, gfd, &in) == 0)
		rep.rights = in.rights;
	xp_fill(out, req.len, req.seed, 0);
	rep.wret = gcopy(dev, CW, gfd, out, req.len, req.off, 0, &rep.wcopied);
	rep.rret = gcopy(dev, CR, gfd, back, req.len, req.off, 0,
			 &rep.rcopied);
	rep.rdiff = xp_check(back, req.len, req.seed, 0);
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

int exec_helper(const char *mode, int sock, const char *k2,
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
