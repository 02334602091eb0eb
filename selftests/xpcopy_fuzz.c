// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy fuzzer: random commands, flags, struct sizes (smaller than the
 * first version, oversize with a zero or non-zero tail, past a page), struct
 * and iovec pointers (valid, NULL, kernel, inaccessible), iovec counts (0 to
 * past XPCOPY_IOV_MAX), fds (grants of our own, derived, of another
 * process, closed, pipes, eventfds, the device) and sizes, from several
 * threads, while a chaos thread munmaps, mremaps (moving, DONTUNMAP,
 * shrinking), mprotects, MADV_DONTNEEDs the memory being copied, forks
 * (children that touch memory pinned by copies, and children killed in the
 * middle of a copy of their own), signals the fuzzing threads and kills
 * the target; the target itself, a
 * fresh image of this binary, reshuffles its memory the same way, executes
 * itself again and exits.
 *
 * Checks: every return is a documented errno of that command (exactly the
 * one documented when the input alone decides it: struct size, flags,
 * reserved fields, unknown command, unreadable struct), a failed copy
 * leaves xpcopy_copy.copied untouched and a successful one reports at most
 * what was asked (and something when anything was asked), copies checked
 * byte for byte (write then read back, through pid mode and through
 * grants, to ourselves and to the target) return exactly the bytes
 * written, and at the end nothing stays pinned and pins taken equal pins
 * released. The runner checks the kernel log after the case.
 *
 * Deterministic from the seed it prints (each thread's choices are drawn
 * from its own generator; the interleaving is not). Environment:
 *
 *	XPCOPY_FUZZ_SEED	the seed (default: from the clock)
 *	XPCOPY_FUZZ_SECONDS	how long to run (default 20; 0: no limit)
 *	XPCOPY_FUZZ_COPIES	stop after this many successful copies
 *				(default 0: no limit); "soak" mode: copies
 *				of valid shapes and mixed sizes dominate
 *	XPCOPY_FUZZ_THREADS	fuzzing threads (default 3, at most 4)
 *
 * make check runs it for 20 s; make fuzz FUZZ_SECONDS=n and make soak
 * (a million copies) boot a guest that runs only this.
 */
#include <pthread.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "xpcopy_test.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define TARGET_ENV	"XPCOPY_FUZZ_TARGET"

#define NREG		6
#define REG_LEN		(4 * MiB)
#define MAX_THREADS	4
#define SLICE		(1 * MiB)
/* one slice per thread, and one for sequence words */
#define STABLE_LEN	((uint64_t)(MAX_THREADS + 1) * SLICE)
/* Area layout: regions, their alternate slots, three stable areas. */
#define ALT_OFF		((uint64_t)NREG * REG_LEN)
#define SRC_OFF		(2 * ALT_OFF)			/* caller: sources */
#define DST_OFF		(SRC_OFF + STABLE_LEN)		/* caller: read back */
#define TGT_OFF		(DST_OFF + STABLE_LEN)		/* checked copies */
#define AREA_LEN	(TGT_OFF + STABLE_LEN)
/* Target: its grants are at these fd numbers. */
#define T_GRANT_FD	100
#define T_NGRANTS	4
#define T_STABLE_FD	99	/* read-write grant over its TGT area */
#define NFD		48
#define MAX_IOV		(XPCOPY_IOV_MAX + 8)
#define MAX_VIOL	16

/* ---- random numbers: splitmix over a counter ---- */

struct rng {
	uint64_t seed, ctr;
};

static uint64_t rnd(struct rng *r)
{
	return xp_mix(r->seed, r->ctr++);
}

static uint64_t rnd_below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return rnd_below(r, 100) < pct;
}

/* Lengths: mostly small, sometimes large. */
static uint64_t rnd_len(struct rng *r, bool soak)
{
	unsigned int c = rnd_below(r, 100);

	if (c < (soak ? 2 : 5))
		return 0;
	if (c < 60)
		return 1 + rnd_below(r, 4096);
	if (c < 90)
		return 1 + rnd_below(r, 256 * KiB);
	return 1 + rnd_below(r, REG_LEN);
}

/* ---- memory shuffling, in the caller and in the target ---- */

static void *at(uint8_t *area, uint64_t off)
{
	return area + off;
}

static void map_fixed(void *addr, size_t len, int prot)
{
	mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/* Move [from, from+len) to @to, leaving @from mapped (empty) if possible. */
static void move_region(void *from, void *to, size_t len)
{
	void *p = mremap(from, len, len,
			 MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);

	if (p == MAP_FAILED) {
		/* a plain move; refill the hole at once */
		p = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (p != MAP_FAILED)
			map_fixed(from, len, PROT_NONE);
	}
}

/*
 * One random change to region @i of @area. Never leaves a hole for long:
 * nothing else may land in the area, or a copy to ourselves could hit it.
 */
static void shuffle(uint8_t *area, struct rng *r)
{
	unsigned int i = rnd_below(r, NREG);
	uint8_t *pri = at(area, (uint64_t)i * REG_LEN);
	uint8_t *alt = at(area, ALT_OFF + (uint64_t)i * REG_LEN);
	uint64_t off = rnd_below(r, REG_LEN / 4096) * 4096;
	uint64_t len = (1 + rnd_below(r, (REG_LEN - off) / 4096)) * 4096;

	switch (rnd_below(r, 11)) {
	case 0:
		map_fixed(pri, REG_LEN, PROT_READ | PROT_WRITE);
		break;
	case 1:
		map_fixed(pri + off, len, PROT_NONE);
		break;
	case 2:
		munmap(pri + off, len);
		map_fixed(pri + off, len, PROT_READ | PROT_WRITE);
		break;
	case 3:
		move_region(pri, alt, REG_LEN);
		break;
	case 4:
		move_region(alt, pri, REG_LEN);
		break;
	case 5:
		if (mremap(pri, REG_LEN, REG_LEN / 2, 0) != MAP_FAILED)
			map_fixed(pri + REG_LEN / 2, REG_LEN / 2,
				  PROT_READ | PROT_WRITE);
		break;
	case 6:
		madvise(pri + off, len, MADV_DONTNEED);
		break;
	case 7:
		mprotect(pri + off, len, PROT_READ);
		break;
	case 8:
		mprotect(pri + off, len, PROT_READ | PROT_WRITE);
		break;
	case 9:
		madvise(pri, REG_LEN, MADV_HUGEPAGE);
		/* fallthrough */
	default:
		/* populate a little (a page that is not writable is skipped) */
		for (uint64_t o = off; o < off + len && o < off + 64 * KiB;
		     o += 4096) {
			volatile uint8_t *p = pri + o;

			if (mprotect(pri + o, 4096, PROT_READ | PROT_WRITE) == 0)
				*p = (uint8_t)o;
		}
		break;
	}
}

/* ---- the target: a fresh image of this binary ---- */

static void target_exec(uint64_t area, uint64_t seed)
{
	char env[96];
	char *argv[] = { "xpcopy_fuzz-target", NULL };
	char *envp[] = { env, NULL };

	snprintf(env, sizeof(env), TARGET_ENV "=%llx:%llx",
		 (unsigned long long)area, (unsigned long long)seed);
	execve("/proc/self/exe", argv, envp);
	_exit(126);
}

struct tstate {
	uint8_t *area;
	struct rng r;
};

static void *target_chaos(void *arg)
{
	struct tstate *t = arg;

	for (;;) {
		unsigned int c = rnd_below(&t->r, 1000);

		usleep(rnd_below(&t->r, 3000));
		if (c < 2)
			target_exec(xp_ptr(t->area), rnd(&t->r));
		if (c < 3)
			_exit(0);
		shuffle(t->area, &t->r);
	}
	return NULL;
}

static int target_grant(int dev, uint8_t *area, struct rng *r, int fdnum,
			bool stable)
{
	struct xpcopy_grant g = { .size = sizeof(g) };
	int fd;

	if (stable) {
		g.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE;
		g.addr = xp_ptr(at(area, TGT_OFF));
		g.len = STABLE_LEN;
	} else {
		uint64_t i = rnd_below(r, NREG), off = rnd_below(r, REG_LEN);

		g.flags = 1 + rnd_below(r, 3);
		g.addr = xp_ptr(at(area, i * REG_LEN + off));
		g.len = 1 + rnd_below(r, REG_LEN - off);
		if (chance(r, 50)) {
			g.flags |= XPCOPY_GRANT_SEQ;
			g.seq_addr = xp_ptr(at(area, TGT_OFF + STABLE_LEN - 8));
		}
	}
	fd = xp_ioctl(dev, XPCOPY_GRANT, &g);
	if (fd < 0)
		return fd;
	if (dup2(fd, fdnum) < 0)
		return -errno;
	close(fd);
	return 0;
}

static void target_main(const char *spec)
{
	static struct tstate t;
	unsigned long long area, seed;
	pthread_t th;
	uint8_t *p;
	int dev;

	if (sscanf(spec, "%llx:%llx", &area, &seed) != 2)
		_exit(2);
	if (getppid() == 1)
		_exit(0);
	p = mmap((void *)(uintptr_t)area, AREA_LEN, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)(uintptr_t)area)
		_exit(3);
	t.area = p;
	t.r.seed = seed;
	for (unsigned int i = 0; i < NREG; i++)
		map_fixed(at(p, (uint64_t)i * REG_LEN), REG_LEN,
			  PROT_READ | PROT_WRITE);
	map_fixed(at(p, TGT_OFF), STABLE_LEN, PROT_READ | PROT_WRITE);
	dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		_exit(4);
	if (target_grant(dev, p, &t.r, T_STABLE_FD, true))
		_exit(5);
	for (int k = 0; k < T_NGRANTS; k++)
		target_grant(dev, p, &t.r, T_GRANT_FD + k, false);
	if (pthread_create(&th, NULL, target_chaos, &t))
		_exit(6);
	for (;;)
		pause();
}

static void __attribute__((constructor)) fuzz_target_ctor(void)
{
	const char *spec = getenv(TARGET_ENV);

	if (spec)
		target_main(spec);
}

/* ---- the fuzzer's shared state ---- */

enum fdtype { FD_NONE, FD_GRANT_OWN, FD_GRANT_DERIVED, FD_GRANT_TARGET,
	      FD_PIPE, FD_EVENTFD };

enum { C_FEATURES, C_COPY, C_GRANT, C_DERIVE, C_REVOKE, C_INFO, C_BADCMD,
       C_READ, C_CHECK, C_NR };

static const char *const cname[C_NR] = {
	"FEATURES", "COPY", "GRANT", "GRANT_DERIVE", "GRANT_REVOKE",
	"GRANT_INFO", "unknown-cmd", "read(grant)", "checked-copy",
};

#define NERR	134

struct fuzz {
	int dev;
	uint8_t *area;
	uint64_t seed;
	bool soak;
	uint64_t want_copies;
	int64_t deadline;	/* 0: none */
	int nthreads;
	volatile int stop;

	pthread_mutex_t lock;	/* the fd table, the target, violations */
	struct { int fd; enum fdtype type; } fds[NFD];
	int closed_fd;		/* an fd number closed lately */
	int tfd;		/* the target's stable grant, or -1 */
	pid_t target;
	uint64_t tgen;		/* target images started */

	pthread_t th[MAX_THREADS];
	pid_t tid[MAX_THREADS];

	/* counters */
	uint64_t ops[C_NR], err[C_NR][NERR];
	uint64_t copies, bytes, checked, checked_bytes;
	uint64_t ev_shuffle, ev_fork, ev_signal, ev_kill, ev_getfd, ev_copier_kill;
	uint64_t nviol;
	char viol[MAX_VIOL][256];
};

static struct fuzz F;

static void add(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static void violation(const char *fmt, ...)
{
	uint64_t n = __atomic_fetch_add(&F.nviol, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n >= MAX_VIOL)
		return;
	va_start(ap, fmt);
	vsnprintf(F.viol[n], sizeof(F.viol[n]), fmt, ap);
	va_end(ap);
}

static void fd_add(int fd, enum fdtype type)
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
static int fd_pick(struct rng *r, enum fdtype want, enum fdtype *type)
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

static void fd_close_random(struct rng *r)
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
static int pick_grant_fd(struct rng *r, bool *is_grant)
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

static uint64_t bad_addr(struct rng *r)
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
static uint64_t region_addr(struct rng *r, uint64_t len)
{
	uint64_t slot, off;

	if (chance(r, 3))
		return bad_addr(r);
	slot = rnd_below(r, 2 * NREG);
	off = len < REG_LEN ? rnd_below(r, REG_LEN - len + 1) : 0;
	return xp_ptr(at(F.area, slot * REG_LEN + off));
}

/* ---- struct buffer: a page-aligned window before a PROT_NONE page ---- */

struct tctx {
	int idx;
	struct rng r;
	uint8_t *sbuf;			/* 2 pages RW, then a PROT_NONE page */
	struct xpcopy_iovec *liov, *riov;
	int64_t last_report;
};

static volatile sig_atomic_t sigs;

static void on_usr1(int sig)
{
	(void)sig;
	sigs++;
}

/* Where the struct goes and how big it says it is. */
struct sz {
	void *p;	/* pointer passed to the ioctl */
	uint32_t size;	/* what the struct says */
	int expect;	/* the errno the size or pointer alone decides, or 0 */
};

static void *place(struct tctx *c, size_t ksize, uint32_t first, struct sz *s)
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
static void set_size(struct sz *s, void *cmd)
{
	memcpy(cmd, &s->size, sizeof(s->size));
}

static int in_set(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return 1;
	return 0;
}

/* Account one result and judge it. */
static void judge(struct tctx *c, int cmd, int ret, const struct sz *s,
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

static void op_features(struct tctx *c)
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

static void op_badcmd(struct tctx *c)
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
static uint64_t fill_iov(struct tctx *c, struct xpcopy_iovec *iov,
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

static uint32_t rnd_cnt(struct tctx *c)
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

static void op_copy(struct tctx *c)
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

static void op_grant(struct tctx *c)
{
	struct xpcopy_grant *g;
	int expect = 0, ret;
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
			g->flags = rnd_below(&c->r, 2) ?
				g->flags | (1u << (4 + rnd_below(&c->r, 28))) :
				g->flags & ~3u;
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

static void op_derive(struct tctx *c)
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

static void op_revoke_info(struct tctx *c, bool revoke)
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

static void op_read(struct tctx *c)
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
static int high_fd(int fd, int min)
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
static void op_check(struct tctx *c)
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

static void other_fd(struct tctx *c)
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

static int64_t now_s(void)
{
	return xp_now_ns() / 1000000000LL;
}

static bool done(void)
{
	if (F.stop)
		return true;
	if (F.want_copies &&
	    __atomic_load_n(&F.copies, __ATOMIC_RELAXED) >= F.want_copies)
		return true;
	return F.deadline && xp_now_ns() >= F.deadline;
}

static void *fuzz_thread(void *arg)
{
	struct tctx *c = arg;

	F.tid[c->idx] = (pid_t)syscall(SYS_gettid);
	while (!done()) {
		unsigned int k = rnd_below(&c->r, 100);

		if (F.soak) {
			if (k < 60)
				op_copy(c);
			else if (k < 90)
				op_check(c);
			else if (k < 94)
				op_grant(c);
			else if (k < 96)
				op_derive(c);
			else if (k < 98)
				op_revoke_info(c, k & 1);
			else
				fd_close_random(&c->r);
			continue;
		}
		if (k < 40)
			op_copy(c);
		else if (k < 52)
			op_check(c);
		else if (k < 62)
			op_grant(c);
		else if (k < 70)
			op_derive(c);
		else if (k < 75)
			op_revoke_info(c, true);
		else if (k < 80)
			op_revoke_info(c, false);
		else if (k < 84)
			op_features(c);
		else if (k < 87)
			op_badcmd(c);
		else if (k < 91)
			op_read(c);
		else if (k < 95)
			fd_close_random(&c->r);
		else
			other_fd(c);
	}
	return NULL;
}

/* ---- the target, from the caller's side ---- */

static pid_t target_spawn(uint64_t seed)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		target_exec(xp_ptr(F.area), seed);
	}
	return pid;
}

/* Reap the target if it is gone (or kill it first); start another. */
static void target_cycle(struct rng *r, bool kill_it)
{
	pid_t old;
	int status;

	pthread_mutex_lock(&F.lock);
	old = F.target;
	pthread_mutex_unlock(&F.lock);
	if (old > 0) {
		if (kill_it)
			kill(old, SIGKILL);
		if (waitpid(old, &status, kill_it ? 0 : WNOHANG) == 0)
			return;
	}
	pthread_mutex_lock(&F.lock);
	F.target = -1;
	if (F.tfd >= 0)
		close(F.tfd);
	F.tfd = -1;
	F.tgen++;
	pthread_mutex_unlock(&F.lock);
	old = target_spawn(rnd(r));
	pthread_mutex_lock(&F.lock);
	F.target = old;
	pthread_mutex_unlock(&F.lock);
}

/* Take one of the target's grants with pidfd_getfd(). */
static void target_getfd(struct rng *r)
{
	int pidfd, fd, num;
	pid_t t;

	pthread_mutex_lock(&F.lock);
	t = F.target;
	pthread_mutex_unlock(&F.lock);
	if (t <= 0)
		return;
	pidfd = (int)syscall(__NR_pidfd_open, t, 0);
	if (pidfd < 0)
		return;
	num = chance(r, 30) ? T_STABLE_FD : T_GRANT_FD + rnd_below(r, T_NGRANTS);
	fd = (int)syscall(__NR_pidfd_getfd, pidfd, num, 0);
	close(pidfd);
	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	add(&F.ev_getfd, 1);
	if (num == T_STABLE_FD) {
		fd = high_fd(fd, 990);
		if (fd < 0)
			return;
		pthread_mutex_lock(&F.lock);
		if (F.tfd >= 0)
			close(F.tfd);
		F.tfd = fd;
		pthread_mutex_unlock(&F.lock);
	} else {
		fd_add(fd, FD_GRANT_TARGET);
	}
}

static void chaos_step(struct rng *r)
{
	unsigned int k = rnd_below(r, 100);
	int status;

	if (k < 35) {
		shuffle(F.area, r);
		add(&F.ev_shuffle, 1);
	} else if (k < 55) {
		int i = rnd_below(r, F.nthreads);

		if (F.tid[i] > 0 &&
		    syscall(SYS_tgkill, getpid(), F.tid[i], SIGUSR1) == 0)
			add(&F.ev_signal, 1);
	} else if (k < 65) {
		bool copier = k & 1;
		pid_t pid = fork();

		if (pid == 0 && copier) {
			/* a copier killed in the middle of a large copy */
			struct xpcopy_iovec v = { xp_ptr(F.area), REG_LEN };

			xp_copy(F.dev, (k & 2 ? XPCOPY_COPY_READ :
					XPCOPY_COPY_WRITE) | XPCOPY_COPY_WORKER,
				F.target > 0 ? F.target : getppid(), &v, 1,
				&v, 1, NULL);
			_exit(0);
		}
		if (pid == 0) {
			/* touch our memory (copy-on-write under pins) */
			volatile uint8_t *p = at(F.area, SRC_OFF);

			*p = *p;
			_exit(0);
		}
		if (pid > 0) {
			if (copier) {
				usleep(rnd_below(r, 3000));
				kill(pid, SIGKILL);
				add(&F.ev_copier_kill, 1);
			}
			waitpid(pid, &status, 0);
			add(&F.ev_fork, 1);
		}
	} else if (k < (F.soak ? 66 : 68)) {
		target_cycle(r, true);
		add(&F.ev_kill, 1);
	} else if (k < 85) {
		target_getfd(r);
	} else {
		target_cycle(r, false);	/* restart it if it exited */
	}
}

/* ---- the test ---- */

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/*
 * The runner keeps a case's output until the case ends; a soak runs for an
 * hour. When XPCOPY_LIVE names a file (the guest's console), each report
 * also writes one line there as it happens.
 */
static void live(int64_t t0)
{
	const char *path = getenv("XPCOPY_LIVE");
	int64_t secs = now_s() - t0;
	int fd;

	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	dprintf(fd, "# live: xpcopy_fuzz: %llds, %llu copies ok (%llu/s), %llu bytes, violations %llu\n",
		(long long)secs, (unsigned long long)F.copies,
		(unsigned long long)(secs > 0 ? F.copies / (uint64_t)secs : 0),
		(unsigned long long)F.bytes, (unsigned long long)F.nviol);
	close(fd);
}

static void report(struct __test_metadata *_metadata, int64_t t0)
{
	char line[1024];

	printf("# fuzz: seed=%#llx %llds: %llu copies ok, %llu bytes; %llu checked copies (%llu bytes); events: %llu memory changes, %llu forks, %llu copiers killed, %llu signals, %llu target kills, %llu grants taken from the target; violations %llu\n",
	       (unsigned long long)F.seed, (long long)(now_s() - t0),
	       (unsigned long long)F.copies, (unsigned long long)F.bytes,
	       (unsigned long long)F.checked,
	       (unsigned long long)F.checked_bytes,
	       (unsigned long long)F.ev_shuffle,
	       (unsigned long long)F.ev_fork,
	       (unsigned long long)F.ev_copier_kill,
	       (unsigned long long)F.ev_signal,
	       (unsigned long long)F.ev_kill,
	       (unsigned long long)F.ev_getfd,
	       (unsigned long long)F.nviol);
	for (int c = 0; c < C_NR; c++) {
		int n = snprintf(line, sizeof(line), "#   %-13s %9llu:", cname[c],
				 (unsigned long long)F.ops[c]);

		for (int e = 0; e < NERR; e++)
			if (F.err[c][e] && n < (int)sizeof(line) - 40)
				n += snprintf(line + n, sizeof(line) - n,
					      " %s %llu", e ? strerrorname_np(e) : "ok",
					      (unsigned long long)F.err[c][e]);
		printf("%s\n", line);
	}
	fflush(stdout);
	live(t0);
	(void)_metadata;
}

/*
 * kmemleak, when the kernel has it (the debug kernel): scan once the run is
 * over (objects younger than 5 s are not reported) and count the leaks
 * whose backtrace names the module, or an eventfd context or address space
 * a lost reference would strand.
 */
static void leak_check(struct __test_metadata *_metadata)
{
	static char buf[1 << 16];
	const char *path = "/sys/kernel/debug/kmemleak";
	ssize_t n;
	int fd;

	if (access(path, W_OK))
		return;
	xp_sleep_ms(5500);
	xp_write_str(path, "scan");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	printf("# fuzz: kmemleak: %s\n", buf[0] ? "reports below" : "no leak");
	if (strstr(buf, "xpc_") || strstr(buf, "[xpcopy]") ||
	    strstr(buf, "do_eventfd") || strstr(buf, "dup_mm") ||
	    strstr(buf, "mm_alloc"))
		violation("kmemleak reports a leak: %.200s", buf);
	if (buf[0])
		TH_LOG("kmemleak:\n%s", buf);
}

FIXTURE(fuzz)
{
	int dummy;
};

FIXTURE_SETUP(fuzz)
{
	self->dummy = 0;
}

FIXTURE_TEARDOWN(fuzz)
{
}

/* The runner's XPCOPY_TIMEOUT bounds it; the harness's own limit is far. */
TEST_F_TIMEOUT(fuzz, run, 7 * 24 * 3600)
{
	static struct tctx ctx[MAX_THREADS];
	struct xp_stats s0 = { 0 };
	struct sigaction sa;
	struct rng cr;
	uint64_t secs;
	int64_t t0, last;
	int status;

	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
	F.dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	if (F.dev < 0)
		SKIP(return, "%s: %s (xpcopy module not loaded?)", XPCOPY_DEV,
		     strerror(errno));
	F.seed = env_num("XPCOPY_FUZZ_SEED", 0);
	if (!F.seed)
		F.seed = xp_mix((uint64_t)xp_now_ns(), getpid()) & 0xffffffffffffULL;
	secs = env_num("XPCOPY_FUZZ_SECONDS", 20);
	F.want_copies = env_num("XPCOPY_FUZZ_COPIES", 0);
	F.soak = F.want_copies != 0;
	F.nthreads = (int)env_num("XPCOPY_FUZZ_THREADS", 3);
	if (F.nthreads < 1 || F.nthreads > MAX_THREADS)
		F.nthreads = 3;
	printf("# fuzz: seed=%#llx (replay: XPCOPY_FUZZ_SEED=%#llx), %llu s, %llu copies, %d threads%s\n",
	       (unsigned long long)F.seed, (unsigned long long)F.seed,
	       (unsigned long long)secs, (unsigned long long)F.want_copies,
	       F.nthreads, F.soak ? ", soak" : "");
	fflush(stdout);

	F.area = mmap(NULL, AREA_LEN, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, F.area);
	for (unsigned int i = 0; i < NREG; i++)
		map_fixed(at(F.area, (uint64_t)i * REG_LEN), REG_LEN,
			  PROT_READ | PROT_WRITE);
	map_fixed(at(F.area, SRC_OFF), AREA_LEN - SRC_OFF,
		  PROT_READ | PROT_WRITE);
	F.tfd = -1;
	F.closed_fd = 1 << 19;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	if (!access("/sys/kernel/debug/kmemleak", W_OK))
		xp_write_str("/sys/kernel/debug/kmemleak", "clear");

	cr.seed = xp_mix(F.seed, 1000);
	cr.ctr = 0;
	target_cycle(&cr, false);
	ASSERT_LT(0, F.target);
	ASSERT_EQ(0, xp_stats_read(&s0));

	t0 = now_s();
	last = t0;
	F.deadline = secs ? xp_now_ns() + (int64_t)secs * 1000000000LL : 0;
	for (int i = 0; i < F.nthreads; i++) {
		struct tctx *c = &ctx[i];

		c->idx = i;
		c->r.seed = xp_mix(F.seed, i);
		c->r.ctr = 0;
		c->sbuf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, c->sbuf);
		ASSERT_EQ(0, mprotect(c->sbuf + 2 * 4096, 4096, PROT_NONE));
		c->liov = calloc(MAX_IOV, sizeof(*c->liov));
		c->riov = calloc(MAX_IOV, sizeof(*c->riov));
		ASSERT_NE(NULL, c->liov);
		ASSERT_NE(NULL, c->riov);
		ASSERT_EQ(0, pthread_create(&F.th[i], NULL, fuzz_thread, c));
	}
	/* This thread is the chaos. */
	while (!done()) {
		usleep(rnd_below(&cr, 2000));
		chaos_step(&cr);
		if (now_s() - last >= 30) {
			last = now_s();
			report(_metadata, t0);
		}
	}
	F.stop = 1;
	for (int i = 0; i < F.nthreads; i++) {
		/* a thread may sit in a blocking call: signal until it ends */
		while (pthread_tryjoin_np(F.th[i], NULL)) {
			syscall(SYS_tgkill, getpid(), F.tid[i], SIGUSR1);
			usleep(10000);
		}
	}
	if (F.target > 0) {
		kill(F.target, SIGKILL);
		waitpid(F.target, &status, 0);
	}
	for (int i = 0; i < NFD; i++)
		if (F.fds[i].type != FD_NONE)
			close(F.fds[i].fd);
	if (F.tfd >= 0)
		close(F.tfd);
	leak_check(_metadata);
	report(_metadata, t0);

	XP_EXPECT_PINS_BACK(s0, 5000);
	for (uint64_t i = 0; i < F.nviol && i < MAX_VIOL; i++)
		TH_LOG("violation: %s", F.viol[i]);
	EXPECT_EQ(0ULL, F.nviol) TH_LOG("replay with XPCOPY_FUZZ_SEED=%#llx",
					(unsigned long long)F.seed);
	EXPECT_LT(0ULL, F.copies);
	if (F.want_copies)
		EXPECT_LE(F.want_copies, F.copies)
			TH_LOG("the time limit came first");
	close(F.dev);
}

TEST_HARNESS_MAIN
