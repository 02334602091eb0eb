// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's shared state, where a command's struct goes, the judge of
 * every return, and the commands themselves (see fuzz.h).
 */
#include "fuzz.h"

/* ---- the fuzzer's shared state ---- */

const char *const cname[C_NR] = {
	"FEATURES", "COPY", "GRANT", "GRANT_DERIVE", "GRANT_REVOKE",
	"GRANT_INFO", "unknown-cmd", "read(grant)", "checked-copy",
};

struct fuzz F;

void add(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

void violation(const char *fmt, ...)
{
	uint64_t n = __atomic_fetch_add(&F.nviol, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n >= MAX_VIOL)
		return;
	va_start(ap, fmt);
	vsnprintf(F.viol[n], sizeof(F.viol[n]), fmt, ap);
	va_end(ap);
}

void fd_add(int fd, enum fdtype type)
{
	int slot, old = -1;

	pthread_mutex_lock(&F.lock);
	slot = (int)(xp_mix(fd, F.tgen + F.copies) % NFD);
	for (int i = 0; i < NFD; i++)
		if (F.fds[i].type == FD_NONE) {
			slot = i;
			break;
		}
	if (F.fds[slot].type != FD_NONE) {
		old = F.fds[slot].fd;
		F.closed_fd = old;
	}
	F.fds[slot].fd = fd;
	F.fds[slot].type = type;
	if (old >= 0)
		close(old);
	pthread_mutex_unlock(&F.lock);
}

/* A random fd number of the table, of any type (0: any), or -1. */
int fd_pick(struct rng *r, enum fdtype want, enum fdtype *type)
{
	int fd = -1, start = rnd_below(r, NFD);

	pthread_mutex_lock(&F.lock);
	for (int k = 0; k < NFD; k++) {
		int i = (start + k) % NFD;

		if (F.fds[i].type != FD_NONE &&
		    (!want || F.fds[i].type == want ||
		     (want == FD_GRANT_OWN &&
		      F.fds[i].type == FD_GRANT_DERIVED))) {
			fd = F.fds[i].fd;
			if (type)
				*type = F.fds[i].type;
			break;
		}
	}
	pthread_mutex_unlock(&F.lock);
	return fd;
}

void fd_close_random(struct rng *r)
{
	int i = rnd_below(r, NFD);

	pthread_mutex_lock(&F.lock);
	if (F.fds[i].type != FD_NONE) {
		close(F.fds[i].fd);
		F.closed_fd = F.fds[i].fd;
		F.fds[i].type = FD_NONE;
	}
	pthread_mutex_unlock(&F.lock);
}

/* A grant-ish fd argument: mostly grants, sometimes anything else. */
int pick_grant_fd(struct rng *r, bool *is_grant)
{
	unsigned int c = rnd_below(r, 100);
	enum fdtype t = FD_NONE;
	int fd;

	*is_grant = false;
	if (c < 80) {
		fd = fd_pick(r, c < 50 ? FD_GRANT_OWN :
				c < 65 ? FD_GRANT_TARGET : FD_NONE, &t);
		if (fd >= 0) {
			*is_grant = t == FD_GRANT_OWN || t == FD_GRANT_DERIVED ||
				    t == FD_GRANT_TARGET;
			return fd;
		}
	}
	switch (rnd_below(r, 5)) {
	case 0:
		return F.dev;
	case 1:
		return -1 - (int)rnd_below(r, 3);
	case 2:
		return 1 << 20;
	case 3:
		return F.closed_fd;
	default:
		return 0;	/* stdin */
	}
}

/* ---- addresses ---- */

uint64_t bad_addr(struct rng *r)
{
	switch (rnd_below(r, 6)) {
	case 0:
		return 0;
	case 1:
		return XP_KERNEL_ADDR + rnd_below(r, 1 << 20);
	case 2:
		return 0x00007ffffffff000ULL + rnd_below(r, 4096);
	case 3:
		return UINT64_MAX - rnd_below(r, 4096);
	case 4:
		return 1ULL << 47;
	default:
		return rnd(r);
	}
}

/* An address in our area's regions (either slot) or, now and then, bad. */
uint64_t region_addr(struct rng *r, uint64_t len)
{
	uint64_t slot, off;

	if (chance(r, 3))
		return bad_addr(r);
	slot = rnd_below(r, 2 * NREG);
	off = len < REG_LEN ? rnd_below(r, REG_LEN - len + 1) : 0;
	return xp_ptr(at(F.area, slot * REG_LEN + off));
}

/* ---- struct buffer: a page-aligned window before a PROT_NONE page ---- */

volatile sig_atomic_t sigs;

void on_usr1(int sig)
{
	(void)sig;
	sigs++;
}

void *place(struct tctx *c, size_t ksize, uint32_t first, struct sz *s)
{
	size_t page = 4096;
	unsigned int k = rnd_below(&c->r, 100);
	uint8_t *buf = c->sbuf;
	uint32_t size = ksize;
	void *w;

	s->expect = 0;
	if (k < 4) {
		size = first ? rnd_below(&c->r, first) : 0;
		s->expect = EINVAL;
	} else if (k < 10) {
		size = ksize + 1 + rnd_below(&c->r, page - ksize);
	} else if (k < 12) {
		size = page + 1 + rnd_below(&c->r, 1 << 20);
		s->expect = E2BIG;
	} else if (k < 16) {
		size = first + rnd_below(&c->r, ksize - first + 1);
	}
	/* The struct at the end of the buffer when it fits, else at start. */
	memset(buf, 0, 2 * page);
	s->p = size <= page && chance(&c->r, 50) ?
		buf + 2 * page - (size < ksize ? ksize : size) : buf;
	w = s->p;
	s->size = size;
	if (size > ksize && size <= page && chance(&c->r, 50)) {
		/* a non-zero byte in the tail */
		((uint8_t *)s->p)[ksize + rnd_below(&c->r, size - ksize)] =
			1 + rnd_below(&c->r, 255);
		s->expect = E2BIG;
	}
	k = rnd_below(&c->r, 100);
	if (k < 2) {
		s->p = NULL;
		s->expect = EFAULT;
	} else if (k < 3) {
		s->p = (void *)(uintptr_t)XP_KERNEL_ADDR;
		s->expect = EFAULT;
	} else if (k < 4) {
		s->p = buf + 2 * page;		/* the PROT_NONE page */
		s->expect = EFAULT;
	}
	return w;
}

/* Write the struct's own size field. */
void set_size(struct sz *s, void *cmd)
{
	memcpy(cmd, &s->size, sizeof(s->size));
}

int in_set(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return 1;
	return 0;
}

/* Account one result and judge it. */
void judge(struct tctx *c, int cmd, int ret, const struct sz *s,
	   int expect, const int *allowed, const char *what)
{
	int e = ret < 0 ? -ret : 0;

	add(&F.ops[cmd], 1);
	add(&F.err[cmd][e < NERR ? e : NERR - 1], 1);
	if (s && s->expect)
		expect = s->expect;
	if (expect) {
		if (e != expect)
			violation("thread %d op %llu: %s: %s returned %d (%s), expected %s",
				  c->idx, (unsigned long long)c->r.ctr,
				  cname[cmd], what, ret,
				  e ? strerror(e) : "success", strerror(expect));
		return;
	}
	if (e && !in_set(e, allowed))
		violation("thread %d op %llu: %s: %s returned undocumented %s",
			  c->idx, (unsigned long long)c->r.ctr, cname[cmd],
			  what, strerror(e));
}

/* ---- the commands ---- */

static const int err_features[] = { EINVAL, E2BIG, EFAULT, 0 };
static const int err_copy_pid[] = { EINVAL, E2BIG, EFAULT, ESRCH, EINTR,
				    ENOMEM, 0 };
static const int err_copy_grant[] = { EINVAL, E2BIG, EFAULT, ESRCH, EINTR,
				      ENOMEM, EBADF, ERANGE, EACCES, ESTALE,
				      0 };
/* EINTR: a signal while the grant registers its owner's mm's teardown. */
static const int err_grant[] = { EINVAL, E2BIG, EFAULT, ENOMEM, EBADF, EINTR,
				 0 };
static const int err_derive[] = { EINVAL, E2BIG, EFAULT, ENOMEM, EBADF,
				  ESTALE, EACCES, ERANGE, EMLINK, ESRCH, 0 };
static const int err_revoke[] = { EINVAL, E2BIG, EFAULT, EBADF, EPERM,
				  EINTR, 0 };
static const int err_info[] = { EINVAL, E2BIG, EFAULT, EBADF, 0 };
/* ESRCH: the owner exec'd or exited and no published value is left. */
static const int err_read[] = { EAGAIN, ESTALE, ESRCH, EINVAL, EINTR, EFAULT,
				0 };

void op_features(struct tctx *c)
{
	struct sz s;
	struct xpcopy_features *f = place(c, sizeof(*f),
					  offsetofend(struct xpcopy_features,
						      nr_workers), &s);
	int expect = 0, ret;

	set_size(&s, f);
	if (chance(&c->r, 5)) {
		f->flags = 1 + rnd_below(&c->r, 1000);
		expect = EINVAL;
	}
	ret = xp_ioctl(F.dev, XPCOPY_FEATURES, s.p);
	judge(c, C_FEATURES, ret, &s, expect, err_features, "features");
	if (ret == 0 && (f->abi_version != XPCOPY_ABI_VERSION ||
				f->max_iov != XPCOPY_IOV_MAX))
		violation("FEATURES: abi %u max_iov %u", f->abi_version,
			  f->max_iov);
}

void op_badcmd(struct tctx *c)
{
	struct xpcopy_features f = { .size = sizeof(f) };
	unsigned long cmd;

	switch (rnd_below(&c->r, 3)) {
	case 0:	/* a number past the last command */
		cmd = _IOWR(XPCOPY_TYPE, 6 + rnd_below(&c->r, 250),
			    struct xpcopy_features);
		break;
	case 1:	/* another type byte */
		cmd = _IOWR('y', rnd_below(&c->r, 6), struct xpcopy_features);
		break;
	default: /* a known number, another direction */
		cmd = _IO(XPCOPY_TYPE, rnd_below(&c->r, 6));
		judge(c, C_BADCMD, xp_ioctl(F.dev, cmd, &f), NULL, ENOTTY,
		      NULL, "direction");
		return;
	}
	judge(c, C_BADCMD, xp_ioctl(F.dev, cmd, &f), NULL, ENOTTY, NULL,
	      "unknown command");
}

/* Fill @cnt ranges for one side; returns the total. */
uint64_t fill_iov(struct tctx *c, struct xpcopy_iovec *iov,
		  uint32_t cnt, bool grant, uint64_t wlen, bool *wraps)
{
	uint64_t total = 0, per;

	per = cnt > 8 ? 512 : 0;
	for (uint32_t i = 0; i < cnt; i++) {
		uint64_t len = per ? rnd_below(&c->r, per) :
			       rnd_len(&c->r, F.soak);

		if (grant) {
			uint64_t off = rnd_below(&c->r, wlen + 2);

			if (chance(&c->r, 90)) {
				if (off > wlen)
					off = wlen;
				if (len > wlen - off)
					len = wlen - off;
			}
			iov[i].addr = off;
		} else {
			iov[i].addr = region_addr(&c->r, len);
		}
		if (chance(&c->r, 1))
			len = UINT64_MAX - rnd_below(&c->r, 4096);
		iov[i].len = len;
		if (iov[i].addr + len < iov[i].addr || total + len < total)
			*wraps = true;
		total += len;
	}
	return total;
}

uint32_t rnd_cnt(struct tctx *c)
{
	unsigned int k = rnd_below(&c->r, 100);

	if (k < 3)
		return 0;
	if (k < (F.soak ? 75 : 55))
		return 1;
	if (k < 85)
		return 2 + rnd_below(&c->r, 7);
	if (k < 95)
		return 9 + rnd_below(&c->r, 56);
	if (k < 98)
		return XPCOPY_IOV_MAX;
	return XPCOPY_IOV_MAX + 1 + rnd_below(&c->r, 7);
}

void op_copy(struct tctx *c)
{
	static const __u32 paths[] = { 0, XPCOPY_COPY_WORKER,
				       XPCOPY_COPY_INLINE, XPCOPY_COPY_BOUNCE,
				       XPCOPY_COPY_BOUNCE | XPCOPY_COPY_WORKER };
	bool soak = F.soak, grant = chance(&c->r, 20), isg = false;
	bool einval = false, wraps = false;
	struct xpcopy_copy *cmd;
	uint64_t lt, rt, wlen = REG_LEN;
	uint32_t lcnt, rcnt;
	__u32 flags;
	struct sz s;
	int ret, pid = 0, gfd = -1;
	char what[96];

	cmd = place(c, sizeof(*cmd), offsetofend(struct xpcopy_copy, copied),
		    &s);
	if (soak && !chance(&c->r, 5)) {
		s.p = cmd = (void *)c->sbuf;
		memset(cmd, 0, sizeof(*cmd));
		s.size = sizeof(*cmd);
		s.expect = 0;
	}
	flags = chance(&c->r, 50) ? XPCOPY_COPY_WRITE : XPCOPY_COPY_READ;
	flags |= paths[rnd_below(&c->r, 5)];
	if (grant)
		flags |= XPCOPY_COPY_GRANT;
	if (!soak && chance(&c->r, 8)) {
		/* something the flags rule out */
		switch (rnd_below(&c->r, 6)) {
		case 0:
			flags |= 1u << (7 + rnd_below(&c->r, 25));
			break;
		case 1:
			flags |= XPCOPY_COPY_WRITE | XPCOPY_COPY_READ;
			break;
		case 2:
			flags &= ~(XPCOPY_COPY_WRITE | XPCOPY_COPY_READ);
			break;
		case 3:
			flags |= XPCOPY_COPY_INLINE | XPCOPY_COPY_WORKER;
			break;
		case 4:
			flags |= XPCOPY_COPY_INLINE | XPCOPY_COPY_BOUNCE;
			break;
		default:
			flags |= XPCOPY_COPY_PUBLISH;
			break;
		}
	}
	if (grant) {
		gfd = pick_grant_fd(&c->r, &isg);
		if (chance(&c->r, 30))
			flags |= XPCOPY_COPY_PUBLISH;
		wlen = 1 + rnd_below(&c->r, REG_LEN);
	} else {
		unsigned int k = rnd_below(&c->r, 100);

		pthread_mutex_lock(&F.lock);
		pid = k < 55 && F.target > 0 ? F.target : getpid();
		pthread_mutex_unlock(&F.lock);
		if (k >= 97)
			pid = k == 99 ? -1 - (int)rnd_below(&c->r, 5) :
			      0x3ffffff0 + (int)rnd_below(&c->r, 15);
	}
	lcnt = rnd_cnt(c);
	rcnt = chance(&c->r, 70) ? lcnt : rnd_cnt(c);
	lt = fill_iov(c, c->liov, lcnt > MAX_IOV ? MAX_IOV : lcnt, false, 0,
		      &wraps);
	rt = fill_iov(c, c->riov, rcnt > MAX_IOV ? MAX_IOV : rcnt, grant,
		      wlen, &wraps);

	{
		set_size(&s, cmd);
		cmd->flags = flags;
		if (grant)
			cmd->grant_fd = gfd;
		else
			cmd->pid = pid;
		cmd->local_cnt = lcnt;
		cmd->local_iov = xp_ptr(c->liov);
		cmd->remote_cnt = rcnt;
		cmd->remote_iov = xp_ptr(c->riov);
		cmd->copied = XP_COPIED_POISON;
		if (flags & XPCOPY_COPY_PUBLISH)
			cmd->seq = rnd(&c->r);
		if (!soak && chance(&c->r, 2)) {
			cmd->__reserved = 1;
			einval = true;
		}
		if (!soak && chance(&c->r, 2) && !(flags & XPCOPY_COPY_PUBLISH)) {
			cmd->seq = 1;
			/* a struct that ends before seq has it 0 */
			if (s.size >= offsetofend(struct xpcopy_copy, seq))
				einval = true;
		}
		if (!soak && chance(&c->r, 2))
			cmd->local_iov = chance(&c->r, 50) ? 0 : XP_KERNEL_ADDR;
	}
	{
		__u32 dir = flags & (XPCOPY_COPY_WRITE | XPCOPY_COPY_READ);

		if (flags & ~0x7fu || (dir != XPCOPY_COPY_WRITE &&
				       dir != XPCOPY_COPY_READ))
			einval = true;
		if (!grant && (pid < 0 || flags & XPCOPY_COPY_PUBLISH))
			einval = true;
		if (flags & XPCOPY_COPY_INLINE &&
		    flags & (XPCOPY_COPY_WORKER | XPCOPY_COPY_BOUNCE))
			einval = true;
	}
	snprintf(what, sizeof(what), "flags %#x %s %d cnt %u/%u total %llu/%llu",
		 flags, grant ? "grant" : "pid", grant ? gfd : pid, lcnt, rcnt,
		 (unsigned long long)lt, (unsigned long long)rt);
	ret = xp_ioctl(F.dev, XPCOPY_COPY, s.p);
	judge(c, C_COPY, ret, &s, einval && !s.expect ? EINVAL : 0,
	      grant ? err_copy_grant : err_copy_pid, what);
	if (s.expect || einval)
		return;
	if (ret == 0) {
		uint64_t total = lt < rt ? lt : rt;

		add(&F.copies, 1);
		add(&F.bytes, cmd->copied);
		if (wraps || lcnt > XPCOPY_IOV_MAX || rcnt > XPCOPY_IOV_MAX)
			violation("COPY: %s succeeded (copied %llu) though a range wraps or a count is too big",
				  what, (unsigned long long)cmd->copied);
		else if (cmd->copied > total || (total && !cmd->copied))
			violation("COPY: %s copied %llu", what,
				  (unsigned long long)cmd->copied);
	} else if (cmd->copied != XP_COPIED_POISON) {
		violation("COPY: %s failed with %d but wrote copied=%llu", what,
			  ret, (unsigned long long)cmd->copied);
	}
	(void)isg;
}

void op_grant(struct tctx *c)
{
	struct xpcopy_grant *g;
	int expect = 0, ret;
	unsigned int bit;
	uint64_t len = rnd_len(&c->r, false);
	struct sz s;

	g = place(c, sizeof(*g), offsetofend(struct xpcopy_grant, fd), &s);
	{
		set_size(&s, g);
		g->flags = 1 + rnd_below(&c->r, 3);
		g->addr = region_addr(&c->r, len);
		g->len = len;
		if (!len)
			expect = EINVAL;
		if (g->addr + len < g->addr)
			expect = EINVAL;
		if (chance(&c->r, 30)) {
			g->flags |= XPCOPY_GRANT_SEQ;
			g->seq_addr = chance(&c->r, 80) ?
				xp_ptr(at(F.area, DST_OFF + STABLE_LEN - 8)) :
				region_addr(&c->r, 8);
		}
		if (chance(&c->r, 15)) {
			g->flags |= XPCOPY_GRANT_EVENTFD;
			g->eventfd = pick_grant_fd(&c->r, &(bool){0});
			if (chance(&c->r, 50))
				g->eventfd = fd_pick(&c->r, FD_EVENTFD, NULL);
		}
		switch (rnd_below(&c->r, 40)) {
		case 0:
			bit = 4 + rnd_below(&c->r, 27);
			if (bit >= 8)	/* past XPCOPY_GRANT_PIN, known */
				bit++;
			g->flags = rnd_below(&c->r, 2) ?
				g->flags | (1u << bit) : g->flags & ~3u;
			expect = EINVAL;
			break;
		case 1:
			if (!(g->flags & XPCOPY_GRANT_SEQ)) {
				g->seq_addr = 8;
				expect = EINVAL;
			}
			break;
		case 2:
			if (!(g->flags & XPCOPY_GRANT_EVENTFD)) {
				g->eventfd = 3;
				expect = EINVAL;
			}
			break;
		}
	}
	ret = xp_ioctl(F.dev, XPCOPY_GRANT, s.p);
	judge(c, C_GRANT, ret, &s, expect, err_grant, "grant");
	if (ret >= 0) {
		if (s.expect || expect || g->fd != ret ||
		    !(fcntl(ret, F_GETFD) & FD_CLOEXEC))
			violation("GRANT: returned fd %d (field %d)", ret,
				  g->fd);
		fcntl(ret, F_SETFL, O_NONBLOCK);
		fd_add(ret, FD_GRANT_OWN);
	}
}

void op_derive(struct tctx *c)
{
	struct xpcopy_grant_derive *d;
	int expect = 0, ret;
	bool isg;
	struct sz s;

	d = place(c, sizeof(*d), offsetofend(struct xpcopy_grant_derive, len),
		  &s);
	{
		set_size(&s, d);
		d->flags = 1 + rnd_below(&c->r, 3);
		d->grant_fd = pick_grant_fd(&c->r, &isg);
		d->offset = rnd_below(&c->r, 1 << 20);
		d->len = rnd_len(&c->r, false);
		if (chance(&c->r, 3))
			d->flags |= 1u << (2 + rnd_below(&c->r, 30));
		if (chance(&c->r, 2))
			d->flags = 0;
		if (d->flags & ~3u || !d->flags || !d->len)
			expect = EINVAL;
	}
	ret = xp_ioctl(F.dev, XPCOPY_GRANT_DERIVE, s.p);
	judge(c, C_DERIVE, ret, &s, expect, err_derive, "derive");
	if (ret >= 0) {
		if (s.expect || expect || d->fd != ret)
			violation("DERIVE: returned fd %d (field %d)", ret,
				  d->fd);
		fcntl(ret, F_SETFL, O_NONBLOCK);
		fd_add(ret, FD_GRANT_DERIVED);
	}
}

void op_revoke_info(struct tctx *c, bool revoke)
{
	int expect = 0, ret;
	bool isg;
	struct sz s;

	if (revoke) {
		struct xpcopy_grant_revoke *v;

		v = place(c, sizeof(*v),
			  offsetofend(struct xpcopy_grant_revoke, __reserved),
			  &s);
		{
			set_size(&s, v);
			v->grant_fd = pick_grant_fd(&c->r, &isg);
			if (chance(&c->r, 3)) {
				v->flags = 1;
				expect = EINVAL;
			} else if (chance(&c->r, 3)) {
				v->__reserved = 1;
				expect = EINVAL;
			}
		}
		ret = xp_ioctl(F.dev, XPCOPY_GRANT_REVOKE, s.p);
		judge(c, C_REVOKE, ret, &s, expect, err_revoke, "revoke");
	} else {
		struct xpcopy_grant_info *in;

		in = place(c, sizeof(*in),
			   offsetofend(struct xpcopy_grant_info, __reserved),
			   &s);
		{
			set_size(&s, in);
			in->grant_fd = pick_grant_fd(&c->r, &isg);
			if (chance(&c->r, 3)) {
				in->flags = 1;
				expect = EINVAL;
			} else if (chance(&c->r, 3)) {
				in->__reserved = 1;
				expect = EINVAL;
			}
		}
		ret = xp_ioctl(F.dev, XPCOPY_GRANT_INFO, s.p);
		judge(c, C_INFO, ret, &s, expect, err_info, "info");
		if (ret == 0 && (in->revoked > 2 || !in->len ||
				 !(in->rights & 3)))
			violation("INFO: revoked %u len %llu rights %#x",
				  in->revoked, (unsigned long long)in->len,
				  in->rights);
	}
}

void op_read(struct tctx *c)
{
	enum fdtype t = FD_NONE;
	int fd = fd_pick(&c->r, chance(&c->r, 50) ? FD_GRANT_TARGET :
			 FD_GRANT_OWN, &t);
	uint64_t v;
	ssize_t n;

	if (fd < 0 || (t != FD_GRANT_OWN && t != FD_GRANT_DERIVED &&
		       t != FD_GRANT_TARGET))
		return;
	n = read(fd, &v, chance(&c->r, 10) ? 4 : 8);
	if (n > 0 && n != 8)
		violation("read(grant) returned %zd", n);
	/* the fd may have been closed and reused meanwhile: EBADF or any */
	if (n < 0 && errno != EBADF)
		judge(c, C_READ, -errno, NULL, 0, err_read, "read");
	else
		add(&F.ops[C_READ], 1);
}

/*
 * Move @fd to a number of at least @min: no other thread guesses those
 * (they pick table fds and numbers they saw closed), so a checked copy's
 * grant cannot be revoked or written through by another thread.
 */
int high_fd(int fd, int min)
{
	int h;

	if (fd < 0)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, min);
	close(fd);
	return h < 0 ? -errno : h;
}

/*
 * A copy checked byte for byte: write a pattern from our sources to a
 * slice of a stable area (ours by pid or by our grant, or the target's by
 * its grant), read it back, compare what both copies say they moved.
 */
void op_check(struct tctx *c)
{
	static const __u32 paths[] = { 0, XPCOPY_COPY_WORKER,
				       XPCOPY_COPY_INLINE, XPCOPY_COPY_BOUNCE };
	uint64_t len = rnd_len(&c->r, F.soak), off, seed = rnd(&c->r);
	unsigned int how = rnd_below(&c->r, 3);
	uint8_t *src = at(F.area, SRC_OFF + (uint64_t)c->idx * SLICE);
	uint8_t *dst = at(F.area, DST_OFF + (uint64_t)c->idx * SLICE);
	uint64_t slice = TGT_OFF + (uint64_t)c->idx * SLICE;
	__u32 pw = paths[rnd_below(&c->r, 4)], pr = paths[rnd_below(&c->r, 4)];
	__u64 wc = 0, rc = 0;
	uint64_t raddr;
	int fd = -1, wret, rret, own = -1;
	long long d;

	if (len > SLICE)
		len = SLICE;
	if (!len)
		len = 1;
	off = rnd_below(&c->r, SLICE - len + 1);
	xp_fill(src, len, seed, 0);
	memset(dst, 0, len);
	if (how == 2) {
		pthread_mutex_lock(&F.lock);
		fd = F.tfd >= 0 ? fcntl(F.tfd, F_DUPFD_CLOEXEC, 900 + 8 * c->idx) : -1;
		pthread_mutex_unlock(&F.lock);
		if (fd < 0)
			how = 0;
	}
	if (how == 1) {
		struct xpcopy_grant g = {
			.size = sizeof(g),
			.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE,
			.addr = xp_ptr(at(F.area, slice)),
			.len = SLICE,
		};

		own = fd = high_fd(xp_ioctl(F.dev, XPCOPY_GRANT, &g),
				   900 + 8 * c->idx);
		if (fd < 0) {
			judge(c, C_GRANT, fd, NULL, 0, err_grant, "check grant");
			return;
		}
	}
	if (how) {
		raddr = how == 2 ? (uint64_t)c->idx * SLICE + off : off;
		wret = xp_copy1(F.dev, XPCOPY_COPY_WRITE | XPCOPY_COPY_GRANT | pw,
				fd, src, len, raddr, len, &wc);
		rret = xp_copy1(F.dev, XPCOPY_COPY_READ | XPCOPY_COPY_GRANT | pr,
				fd, dst, len, raddr, len, &rc);
	} else {
		raddr = xp_ptr(at(F.area, slice + off));
		wret = xp_copy1(F.dev, XPCOPY_COPY_WRITE | pw, getpid(), src,
				len, raddr, len, &wc);
		rret = xp_copy1(F.dev, XPCOPY_COPY_READ | pr, getpid(), dst,
				len, raddr, len, &rc);
	}
	if (fd >= 0)
		close(fd);
	judge(c, C_CHECK, wret, NULL, 0, how ? err_copy_grant : err_copy_pid,
	      "checked write");
	judge(c, C_CHECK, rret, NULL, 0, how ? err_copy_grant : err_copy_pid,
	      "checked read");
	if (wret == 0) {
		add(&F.copies, 1);
		add(&F.bytes, wc);
	}
	if (rret == 0) {
		add(&F.copies, 1);
		add(&F.bytes, rc);
	}
	/*
	 * Only EINTR (signals), ESRCH (target gone) or, for our own grant,
	 * ESTALE may fail these: another thread may revoke the grant by its
	 * number (a number it saw closed, now reused).
	 */
	if ((wret && wret != -EINTR && !(how == 2 && wret == -ESRCH) &&
	     !(how == 1 && wret == -ESTALE)) ||
	    (rret && rret != -EINTR && !(how == 2 && rret == -ESRCH) &&
	     !(how == 1 && rret == -ESTALE)))
		violation("checked copy (%s, paths %#x/%#x, %llu bytes): write %d, read %d",
			  how == 2 ? "target grant" : how ? "own grant" : "pid",
			  pw, pr, (unsigned long long)len, wret, rret);
	if (wret || rret)
		return;
	if (wc > len || rc > len || !wc || !rc) {
		violation("checked copy: counts %llu/%llu of %llu",
			  (unsigned long long)wc, (unsigned long long)rc,
			  (unsigned long long)len);
		return;
	}
	d = xp_check(dst, wc < rc ? wc : rc, seed, 0);
	if (d >= 0)
		violation("checked copy (%s, paths %#x/%#x): %llu bytes written, %llu read, byte %lld differs",
			  how == 2 ? "target grant" : how ? "own grant" : "pid",
			  pw, pr, (unsigned long long)wc,
			  (unsigned long long)rc, d);
	add(&F.checked, 1);
	add(&F.checked_bytes, wc < rc ? wc : rc);
	(void)own;
}

void other_fd(struct tctx *c)
{
	int p[2];

	if (chance(&c->r, 50)) {
		int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (e >= 0)
			fd_add(e, FD_EVENTFD);
	} else if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
		close(p[1]);
		fd_add(p[0], FD_PIPE);
	}
}
