// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's random numbers and memory shuffling, and the target: a
 * fresh image of xpcopy_fuzz, started by a constructor (see fuzz.h).
 */
#include "fuzz.h"

/* ---- random numbers: splitmix over a counter ---- */

uint64_t rnd(struct rng *r)
{
	return xp_mix(r->seed, r->ctr++);
}

uint64_t rnd_below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

bool chance(struct rng *r, unsigned int pct)
{
	return rnd_below(r, 100) < pct;
}

/* Lengths: mostly small, sometimes large. */
uint64_t rnd_len(struct rng *r, bool soak)
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

void *at(uint8_t *area, uint64_t off)
{
	return area + off;
}

void map_fixed(void *addr, size_t len, int prot)
{
	mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/* Move [from, from+len) to @to, leaving @from mapped (empty) if possible. */
void move_region(void *from, void *to, size_t len)
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
void shuffle(uint8_t *area, struct rng *r)
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

void target_exec(uint64_t area, uint64_t seed)
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

void *target_chaos(void *arg)
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

int target_grant(int dev, uint8_t *area, struct rng *r, int fdnum,
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

void target_main(const char *spec)
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
