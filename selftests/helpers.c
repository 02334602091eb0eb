// SPDX-License-Identifier: GPL-2.0
/*
 * The helpers of the xpcopy selftests; helpers.h says what each one does.
 * Compiled once and linked into every test program.
 */
#include "helpers.h"

__u64 xp_ptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

size_t xp_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int xp_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

void xp_copy_init(struct xpcopy_copy *c, __u32 flags, pid_t pid,
		  const struct xpcopy_iovec *l, __u32 lcnt,
		  const struct xpcopy_iovec *r, __u32 rcnt)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->flags = flags;
	c->pid = pid;
	c->local_cnt = lcnt;
	c->local_iov = xp_ptr(l);
	c->remote_cnt = rcnt;
	c->remote_iov = xp_ptr(r);
	c->copied = XP_COPIED_POISON;
}

int xp_copy(int fd, __u32 flags, pid_t pid,
	    const struct xpcopy_iovec *l, __u32 lcnt,
	    const struct xpcopy_iovec *r, __u32 rcnt,
	    __u64 *copied)
{
	struct xpcopy_copy c;
	int ret;

	xp_copy_init(&c, flags, pid, l, lcnt, r, rcnt);
	ret = xp_ioctl(fd, XPCOPY_COPY, &c);
	if (copied)
		*copied = c.copied;
	return ret;
}

int xp_copy1(int fd, __u32 flags, pid_t pid, const void *laddr,
	     __u64 llen, __u64 raddr, __u64 rlen, __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = xp_ptr(laddr), .len = llen };
	struct xpcopy_iovec r = { .addr = raddr, .len = rlen };

	return xp_copy(fd, flags, pid, &l, 1, &r, 1, copied);
}

void *xp_stall_thread(void *arg)
{
	struct xp_staller *s = arg;
	__u64 copied;

	s->ret = xp_copy1(s->fd, XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER,
			  s->pid, s->from, s->len, s->at, s->len, &copied);
	return NULL;
}

int xp_stallers_start(struct xp_staller *st, unsigned int n, int fd,
		      pid_t pid, const uint8_t *from, __u64 at, size_t len,
		      uint64_t pinned0)
{
	uint64_t pinned = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		st[i] = (struct xp_staller){
			.fd = fd, .pid = pid, .from = from + i * len,
			.at = at + i * len, .len = len, .ret = 1,
		};
		if (pthread_create(&st[i].th, NULL, xp_stall_thread, &st[i]))
			return -1;
	}
	for (i = 0; i < 5000 && pinned < pinned0 + n; i++) {
		xp_stat("pinned_now", &pinned);
		usleep(1000);
	}
	if (pinned != pinned0 + n)
		return -1;
	usleep(300 * 1000);
	return 0;
}

unsigned int xp_stallers_stop(struct xp_staller *st, unsigned int n)
{
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++) {
		bad += st[i].ret != 1;
		pthread_kill(st[i].th, SIGUSR1);
		pthread_join(st[i].th, NULL);
		bad += st[i].ret != -EINTR;
	}
	return bad;
}

void xp_no_op_signal(int sig)
{
	(void)sig;
}

int xp_features(int fd, struct xpcopy_features *f)
{
	memset(f, 0, sizeof(*f));
	f->size = sizeof(*f);
	return xp_ioctl(fd, XPCOPY_FEATURES, f);
}

uint64_t xp_mix(uint64_t seed, uint64_t k)
{
	uint64_t z = seed + (k + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint8_t xp_pattern_byte(uint64_t seed, uint64_t i)
{
	return (uint8_t)(xp_mix(seed, i >> 3) >> ((i & 7) * 8));
}

void xp_fill(void *buf, size_t len, uint64_t seed, uint64_t start)
{
	uint8_t *p = buf;
	uint64_t i = start, end = start + len;

	while (i < end && (i & 7))
		*p++ = xp_pattern_byte(seed, i++);
	while (end - i >= 8) {
		uint64_t w = xp_mix(seed, i >> 3);

		memcpy(p, &w, 8);	/* little endian: byte j is w >> 8j */
		p += 8;
		i += 8;
	}
	while (i < end)
		*p++ = xp_pattern_byte(seed, i++);
}

long long xp_check(const void *buf, size_t len, uint64_t seed,
		   uint64_t start)
{
	const uint8_t *p = buf;
	uint64_t i = start, end = start + len;

	while (i < end && (i & 7)) {
		if (*p != xp_pattern_byte(seed, i))
			return (long long)(i - start);
		p++;
		i++;
	}
	while (end - i >= 8) {
		uint64_t w = xp_mix(seed, i >> 3), v;

		memcpy(&v, p, 8);
		if (v != w)
			break;		/* the byte loop below finds it */
		p += 8;
		i += 8;
	}
	while (i < end) {
		if (*p != xp_pattern_byte(seed, i))
			return (long long)(i - start);
		p++;
		i++;
	}
	return -1;
}

long long xp_cmp(const void *a, const void *b, size_t len)
{
	const uint8_t *x = a, *y = b;
	size_t chunk = 4096, off = 0;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (memcmp(x + off, y + off, n)) {
			for (size_t i = 0; i < n; i++)
				if (x[off + i] != y[off + i])
					return (long long)(off + i);
		}
		off += n;
	}
	return -1;
}

int xp_read_u64(const char *path, uint64_t *val)
{
	char buf[64];
	char *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = 0;
	errno = 0;
	*val = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

int xp_write_str(const char *path, const char *s)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

int xp_write_u64(const char *path, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)v);
	return xp_write_str(path, buf);
}

int xp_stat(const char *name, uint64_t *v)
{
	char path[256];

	snprintf(path, sizeof(path), XPCOPY_STATS_DIR "%s", name);
	return xp_read_u64(path, v);
}

int xp_stats_read(struct xp_stats *s)
{
	int ret;

	if ((ret = xp_stat("copies", &s->copies)) ||
	    (ret = xp_stat("bytes", &s->bytes)) ||
	    (ret = xp_stat("pinned_now", &s->pinned_now)) ||
	    (ret = xp_stat("pinned_peak", &s->pinned_peak)) ||
	    (ret = xp_stat("pins_taken", &s->pins_taken)) ||
	    (ret = xp_stat("pins_released", &s->pins_released)))
		return ret;
	return 0;
}

int xp_reset_peak(void)
{
	return xp_write_str(XPCOPY_STATS_DIR "pinned_peak", "0");
}

int xp_batch_pages(uint64_t *v)
{
	return xp_read_u64(XPCOPY_BATCH_PARAM, v);
}

uint64_t xp_wait_unpinned(int ms)
{
	uint64_t v = UINT64_MAX;

	for (int i = 0; i <= ms; i++) {
		if (xp_stat("pinned_now", &v) == 0 && v == 0)
			return 0;
		usleep(1000);
	}
	return v;
}

int64_t xp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void xp_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

pid_t xp_waitpid_ms(pid_t pid, int *status, int ms)
{
	int64_t end = xp_now_ns() + (int64_t)ms * 1000000LL;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r != 0)
			return r < 0 ? -errno : r;
		if (xp_now_ns() >= end)
			return 0;
		usleep(500);
	}
}

int xp_read_full(int fd, void *buf, size_t len)
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
		len -= n;
	}
	return 0;
}

int xp_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int xp_poll_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t end = xp_now_ns() + (int64_t)ms * 1000000LL;

	for (;;) {
		int left = (int)((end - xp_now_ns()) / 1000000LL);
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		return r > 0;
	}
}

int xp_msg_send(int sock, const void *data, size_t len, int fd)
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

int xp_msg_recv(int sock, void *data, size_t len, int *fd, int ms)
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
	r = xp_poll_in(sock, ms);
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

void xp_die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(99);
}

pid_t xp_fork(void)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		xp_die_with_parent(parent);
	return pid;
}

int xp_capget(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (eff)
		*eff = d[0].effective | ((uint64_t)d[1].effective << 32);
	if (prm)
		*prm = d[0].permitted | ((uint64_t)d[1].permitted << 32);
	return 0;
}

int xp_capset(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)prm;
	d[1].permitted = (uint32_t)(prm >> 32);
	d[0].inheritable = (uint32_t)inh;
	d[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

int xp_become(uid_t uid, gid_t gid, uint64_t keep)
{
	uint64_t eff = 0, prm = 0;
	int ret;

	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -errno;
	if (setgroups(0, NULL))
		return -errno;
	if (setresgid(gid, gid, gid))
		return -errno;
	if (setresuid(uid, uid, uid))
		return -errno;
	ret = xp_capset(keep, keep, 0);
	if (ret)
		return ret;
	ret = xp_capget(&eff, &prm);
	if (ret)
		return ret;
	if (eff != keep || prm != keep)
		return -EPERM;
	if (getuid() != uid || geteuid() != uid)
		return -EPERM;
	return 0;
}

void xp_target_init(struct xp_target *t)
{
	memset(t, 0, sizeof(*t));
	t->pid = -1;
	t->cmd_wr = t->rep_rd = t->evt_rd = -1;
}

void xp_target_loop(int cmd_rd, int rep_wr, int evt_wr,
		    void *scratch, int uffd, uint64_t uffd_base)
{
	size_t page = xp_page_size();
	bool resolve = false;
	uint64_t resolve_seed = 0;
	void *page_buf = NULL;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = cmd_rd, .events = POLLIN },
			{ .fd = uffd, .events = POLLIN },
		};
		struct xp_tcmd c;
		int64_t rep = 0;
		int r;

		r = poll(p, uffd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			_exit(10);
		if (uffd >= 0 && (p[1].revents & POLLIN)) {
			struct uffd_msg msg;
			ssize_t n = read(uffd, &msg, sizeof(msg));

			if (n == (ssize_t)sizeof(msg) &&
			    msg.event == UFFD_EVENT_PAGEFAULT) {
				struct xp_tevent ev = {
					.address = msg.arg.pagefault.address,
					.flags = msg.arg.pagefault.flags,
				};

				if (resolve) {
					if (!page_buf)
						page_buf = malloc(page);
					if (!page_buf ||
					    xp_uffd_resolve(uffd, ev.address,
							    uffd_base,
							    resolve_seed,
							    page_buf, page))
						_exit(11);
				}
				if (evt_wr >= 0 &&
				    xp_write_full(evt_wr, &ev, sizeof(ev)))
					_exit(12);
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (xp_read_full(cmd_rd, &c, sizeof(c)))
			_exit(0);	/* test process gone or done */
		switch (c.op) {
		case XP_T_PING:
			rep = getpid();
			break;
		case XP_T_CMP:
			if (!scratch)
				_exit(15);
			rep = xp_cmp((void *)(uintptr_t)c.addr,
				     (uint8_t *)scratch + c.arg, c.len);
			break;
		case XP_T_LOAD:
			if (!scratch)
				_exit(15);
			memcpy((void *)(uintptr_t)c.addr,
			       (uint8_t *)scratch + c.arg, c.len);
			break;
		case XP_T_PATCHECK:
			rep = xp_check((void *)(uintptr_t)c.addr, c.len, c.arg,
				       c.arg2);
			break;
		case XP_T_PATFILL:
			xp_fill((void *)(uintptr_t)c.addr, c.len, c.arg, c.arg2);
			break;
		case XP_T_UFFD_RESOLVE:
			resolve = true;
			resolve_seed = c.arg;
			break;
		case XP_T_EXIT:
			_exit(0);
		default:
			_exit(13);
		}
		if (xp_write_full(rep_wr, &rep, sizeof(rep)))
			_exit(14);
	}
}

int xp_target_start(struct xp_target *t, void *scratch,
		    size_t scratch_len, xp_target_setup_fn setup,
		    void *arg)
{
	int cmd[2], rep[2], evt[2];
	int64_t ready;
	int ret;

	xp_target_init(t);
	if (pipe2(cmd, O_CLOEXEC) || pipe2(rep, O_CLOEXEC) ||
	    pipe2(evt, O_CLOEXEC))
		return -errno;
	t->pid = xp_fork();
	if (t->pid < 0) {
		ret = -errno;
		close(cmd[0]); close(cmd[1]); close(rep[0]); close(rep[1]);
		close(evt[0]); close(evt[1]);
		return ret;
	}
	if (t->pid == 0) {
		int uffd = -1;
		uint64_t ubase = 0;

		close(cmd[1]);
		close(rep[0]);
		close(evt[0]);
		ready = setup ? setup(arg, &uffd, &ubase) : 0;
		if (xp_write_full(rep[1], &ready, sizeof(ready)) || ready)
			_exit(0);
		xp_target_loop(cmd[0], rep[1], evt[1], scratch, uffd, ubase);
		_exit(0);
	}
	close(cmd[0]);
	close(rep[1]);
	close(evt[1]);
	t->cmd_wr = cmd[1];
	t->rep_rd = rep[0];
	t->evt_rd = evt[0];
	t->scratch = scratch;
	t->scratch_len = scratch_len;
	ret = xp_read_full(t->rep_rd, &ready, sizeof(ready));
	if (!ret && ready)
		ret = (int)ready;
	if (ret) {
		int status;

		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		close(t->cmd_wr);
		close(t->rep_rd);
		close(t->evt_rd);
		t->pid = -1;
		t->cmd_wr = t->rep_rd = t->evt_rd = -1;
	}
	return ret;
}

int64_t xp_target_cmd(struct xp_target *t, uint32_t op,
		      uint64_t addr, uint64_t len, uint64_t arg,
		      uint64_t arg2)
{
	struct xp_tcmd c = { .op = op, .addr = addr, .len = len, .arg = arg,
			     .arg2 = arg2 };
	int64_t rep;

	if (t->pid <= 0 || xp_write_full(t->cmd_wr, &c, sizeof(c)) ||
	    xp_read_full(t->rep_rd, &rep, sizeof(rep)))
		return INT64_MIN;
	return rep;
}

int64_t xp_target_cmp(struct xp_target *t, uint64_t addr,
		      uint64_t len, uint64_t soff)
{
	if (soff > t->scratch_len || len > t->scratch_len - soff)
		return INT64_MIN;
	return xp_target_cmd(t, XP_T_CMP, addr, len, soff, 0);
}

int64_t xp_target_patcheck(struct xp_target *t, uint64_t addr,
			   uint64_t len, uint64_t seed,
			   uint64_t start)
{
	return xp_target_cmd(t, XP_T_PATCHECK, addr, len, seed, start);
}

int xp_target_stop(struct xp_target *t)
{
	int status = -1;

	if (t->pid > 0) {
		struct xp_tcmd c = { .op = XP_T_EXIT };

		if (xp_write_full(t->cmd_wr, &c, sizeof(c)) ||
		    xp_waitpid_ms(t->pid, &status, 5000) != t->pid) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &status, 0);
		}
		t->pid = -1;
	}
	if (t->cmd_wr >= 0)
		close(t->cmd_wr);
	if (t->rep_rd >= 0)
		close(t->rep_rd);
	if (t->evt_rd >= 0)
		close(t->evt_rd);
	t->cmd_wr = t->rep_rd = t->evt_rd = -1;
	return status;
}

void xp_target_kill(struct xp_target *t)
{
	if (t->pid > 0) {
		int status;

		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		t->pid = -1;
	}
	xp_target_stop(t);
}

int xp_uffd_resolve(int uffd, uint64_t fault, uint64_t base,
		    uint64_t seed, void *page_buf, size_t page)
{
	uint64_t pg = fault & ~((uint64_t)page - 1);
	struct uffdio_copy cp = {
		.dst = pg,
		.src = xp_ptr(page_buf),
		.len = page,
		.mode = 0,
	};

	xp_fill(page_buf, page, seed, pg - base);
	if (ioctl(uffd, UFFDIO_COPY, &cp) && errno != EEXIST)
		return -errno;
	return 0;
}

int xp_uffd_register(void *addr, size_t len, const char **stage)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	struct uffdio_register reg = {
		.range = { .start = xp_ptr(addr), .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int uffd, e;

	*stage = "userfaultfd(O_CLOEXEC | O_NONBLOCK)";
	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return -errno;
	*stage = "UFFDIO_API";
	if (ioctl(uffd, UFFDIO_API, &api))
		goto fail;
	*stage = "UFFDIO_REGISTER(MISSING)";
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		goto fail;
	*stage = NULL;
	return uffd;
fail:
	e = errno;
	close(uffd);
	return -e;
}

int xp_uffd_target_setup(void *arg, int *uffd, uint64_t *ubase)
{
	const char *stage;
	int fd;

	fd = xp_uffd_register(arg, XP_UFFD_LEN, &stage);
	if (fd < 0)
		return fd;
	*uffd = fd;
	*ubase = xp_ptr(arg);
	return 0;
}

int xp_target_drain_events(struct xp_target *t)
{
	struct xp_tevent ev;
	int n = 0;

	while (xp_poll_in(t->evt_rd, 0) == 1 &&
	       xp_read_full(t->evt_rd, &ev, sizeof(ev)) == 0)
		n++;
	return n;
}

void *xp_map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void *xp_map_guarded(size_t len)
{
	size_t page = xp_page_size();
	size_t span = ((len + page - 1) & ~(page - 1)) + 2 * page;
	uint8_t *p = mmap(NULL, span, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + page, span - 2 * page, PROT_READ | PROT_WRITE))
		return NULL;
	return p + page;
}

void *xp_map_filled(size_t len, uint64_t seed)
{
	void *p = xp_map_guarded(len);

	if (p)
		xp_fill(p, len, seed, 0);
	return p;
}

int xp_read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

int xp_scan_tasks(const char *dir, const char *prefix,
		  int (*fn)(const char *id, void *arg), void *arg)
{
	DIR *d = opendir(dir);
	char path[PATH_MAX], comm[32];
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%.20s/comm", dir, e->d_name);
		if (xp_read_str(path, comm, sizeof(comm)) ||
		    strncmp(comm, prefix, strlen(prefix)))
			continue;
		n++;
		if (fn && fn(e->d_name, arg))
			break;
	}
	closedir(d);
	return n;
}

char xp_task_state(const char *dir, const char *id)
{
	char path[PATH_MAX], buf[256], *p;

	snprintf(path, sizeof(path), "%s/%.20s/stat", dir, id);
	if (xp_read_str(path, buf, sizeof(buf)))
		return 0;
	/* pid (comm) state ... */
	p = strrchr(buf, ')');
	if (!p || !p[1])
		return 0;
	return p[2];
}
