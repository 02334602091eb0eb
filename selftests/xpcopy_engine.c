// SPDX-License-Identifier: GPL-2.0
/*
 * The copy engine's sharing: the caller copies a share of a large copy
 * itself beside the idle workers, takes back what no worker started, and
 * never waits for a worker to become free.
 *
 * Each case forks a target that keeps the parent's layout: a buffer the
 * copies land in (with holes where a case asks for them) and a region on a
 * userfaultfd of the target's own that nobody serves, on which a copy
 * forced onto the workers holds a worker for as long as it is not cut
 * short. Counts are checked against process_vm_writev(2) and
 * process_vm_readv(2) on the same ranges; bytes against the pattern.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "xpcopy_test.h"

#define EN_BUF		(16UL << 20)
#define EN_STALL_PAGES	256U
#define EN_HELP_PCT	"/sys/module/xpcopy/parameters/help_idle_pct"
#define EN_BUSY_KB	"/sys/module/xpcopy/parameters/busy_help_kb"
#define EN_LINGER_US	"/sys/module/xpcopy/parameters/linger_us"

FIXTURE(engine) {
	int fd;
	struct xpcopy_features feat;
	uint8_t *buf;		/* the target's, at the same address here */
	uint8_t *mine;		/* the caller's side */
	uint8_t *stall;		/* the target's unserved userfaultfd region */
	size_t page;
	pid_t kid;
	int64_t help_pct, busy_kb, linger;	/* to restore, or -1 */
};

FIXTURE_VARIANT(engine) {
	__u32 dir;
};

FIXTURE_VARIANT_ADD(engine, write) {
	.dir = XPCOPY_COPY_WRITE,
};

FIXTURE_VARIANT_ADD(engine, read) {
	.dir = XPCOPY_COPY_READ,
};

/* Offsets of the target's buffer the target unmaps: copies stop there. */
static const size_t en_holes[] = { (3UL << 19) + 4096 * 3, 9UL << 20 };

static void en_kid(FIXTURE_DATA(engine) *self, int ready)
{
	const char *stage;
	char ok = 1;
	size_t i;
	int uffd;

	xp_die_with_parent(getppid());
	for (i = 0; i < ARRAY_SIZE(en_holes); i++)
		if (munmap(self->buf + en_holes[i], self->page))
			ok = 0;
	uffd = xp_uffd_register(self->stall, EN_STALL_PAGES * self->page,
				&stage);
	if (uffd < 0)
		ok = 2;
	if (write(ready, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

FIXTURE_SETUP(engine)
{
	int pfd[2];
	char ok = 0;

	self->kid = -1;
	self->help_pct = -1;
	self->busy_kb = -1;
	self->linger = -1;
	self->page = xp_page_size();
	XPCOPY_OPEN_OR_SKIP(self->fd);
	ASSERT_EQ(0, xp_features(self->fd, &self->feat));
	self->buf = xp_map(EN_BUF, PROT_READ | PROT_WRITE);
	self->mine = xp_map(EN_BUF, PROT_READ | PROT_WRITE);
	self->stall = xp_map(EN_STALL_PAGES * self->page,
			     PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->mine);
	ASSERT_NE(NULL, self->stall);
	memset(self->buf, 0, EN_BUF);
	ASSERT_EQ(0, pipe(pfd));
	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (!self->kid) {
		close(pfd[0]);
		en_kid(self, pfd[1]);
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &ok, 1));
	close(pfd[0]);
	if (ok == 2)
		SKIP(return, "userfaultfd unavailable in the target");
	ASSERT_EQ(1, ok) TH_LOG("the target could not unmap its holes");
}

FIXTURE_TEARDOWN(engine)
{
	if (self->help_pct >= 0)
		xp_write_u64(EN_HELP_PCT, self->help_pct);
	if (self->busy_kb >= 0)
		xp_write_u64(EN_BUSY_KB, self->busy_kb);
	if (self->linger >= 0)
		xp_write_u64(EN_LINGER_US, self->linger);
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
}

/* The same ranges through process_vm_writev(2) or process_vm_readv(2). */
static ssize_t en_cma(pid_t pid, __u32 dir, const struct xpcopy_iovec *l,
		      int lcnt, const struct xpcopy_iovec *r, int rcnt)
{
	struct iovec li[8], ri[8];
	int i;

	for (i = 0; i < lcnt; i++) {
		li[i].iov_base = (void *)(uintptr_t)l[i].addr;
		li[i].iov_len = l[i].len;
	}
	for (i = 0; i < rcnt; i++) {
		ri[i].iov_base = (void *)(uintptr_t)r[i].addr;
		ri[i].iov_len = r[i].len;
	}
	if (dir == XPCOPY_COPY_WRITE)
		return process_vm_writev(pid, li, lcnt, ri, rcnt, 0);
	return process_vm_readv(pid, li, lcnt, ri, rcnt, 0);
}

/*
 * Copy @len bytes from offset @off of the target's buffer (the caller's side
 * at @loff of its own, both cut into uneven ranges) on the default path and
 * check the count against CMA's and every byte copied against the pattern.
 * Returns the count.
 */
static __u64 en_copy_check(struct __test_metadata *_metadata,
			   FIXTURE_DATA(engine) *self, __u32 dir, size_t off,
			   size_t loff, size_t len, uint64_t seed)
{
	size_t l1 = len / 3 + 123, r1 = len / 2 + 4096 * 7 + 5;
	struct xpcopy_iovec l[3] = {
		{ xp_ptr(self->mine + loff), l1 },
		{ xp_ptr(self->mine + loff + l1), 4096 + 17 },
		{ xp_ptr(self->mine + loff + l1 + 4096 + 17),
		  len - l1 - 4096 - 17 },
	};
	struct xpcopy_iovec r[2] = {
		{ xp_ptr(self->buf + off), r1 },
		{ xp_ptr(self->buf + off + r1), len - r1 },
	};
	uint8_t *src = dir == XPCOPY_COPY_WRITE ? self->mine + loff :
		       self->buf + off;
	uint8_t *dst = dir == XPCOPY_COPY_WRITE ? self->buf + off :
		       self->mine + loff;
	__u64 copied = 0;
	ssize_t cma;

	/* What CMA copies: the oracle for the count. */
	memset(self->mine + loff, 0, len);
	cma = en_cma(self->kid, dir, l, 3, r, 2);
	ASSERT_LT(0, cma) TH_LOG("CMA: %s", strerror(errno));

	/* The pattern, where the bytes come from (the target's by CMA). */
	if (dir == XPCOPY_COPY_WRITE) {
		xp_fill(src, len, seed, 0);
	} else {
		xp_fill(self->mine + loff, len, seed, 0);
		ASSERT_EQ(cma, en_cma(self->kid, XPCOPY_COPY_WRITE, l, 3, r, 2));
		memset(self->mine + loff, 0, len);
	}
	EXPECT_EQ(0, xp_copy(self->fd, dir, self->kid, l, 3, r, 2, &copied));
	EXPECT_EQ((__u64)cma, copied) TH_LOG("%zu bytes at %zu", len, off);
	if (dir == XPCOPY_COPY_WRITE) {
		/* Read back what landed, with CMA. */
		memset(self->mine + loff, 0, len);
		ASSERT_EQ(cma, en_cma(self->kid, XPCOPY_COPY_READ, l, 3, r, 2));
		EXPECT_EQ(-1, xp_check(self->mine + loff, cma, seed, 0));
	} else {
		EXPECT_EQ(-1, xp_check(dst, copied, seed, 0));
	}
	return copied;
}

/*
 * A large copy on the default path, over uneven ranges: exact bytes, the
 * count CMA gives, the caller copying part of it, and no more pages pinned
 * at once than the cap.
 */
TEST_F_TIMEOUT(engine, shared_copy_exact, 120)
{
	struct xp_stats s0 = { 0 };
	uint64_t cb0 = 0, cb1 = 0, peak = 0, cap = self->feat.batch_pages;
	size_t len = 12UL << 20;

	ASSERT_EQ(0, xp_stats_read(&s0));
	ASSERT_EQ(0, xp_stat("caller_bytes", &cb0));
	ASSERT_EQ(0, xp_reset_peak());
	/* From offset 1 MiB + 77: stops at the first hole. */
	en_copy_check(_metadata, self, variant->dir, (1UL << 20) + 77, 5, len,
		      11);
	/* Between the holes: whole. */
	en_copy_check(_metadata, self, variant->dir, en_holes[0] + 4096 + 9,
		      4096 * 3, en_holes[1] - en_holes[0] - 4096 - 9, 12);
	/* Past the second hole to the end. */
	en_copy_check(_metadata, self, variant->dir, en_holes[1] + 4096,
		      0, EN_BUF - en_holes[1] - 4096, 13);
	ASSERT_EQ(0, xp_stat("caller_bytes", &cb1));
	ASSERT_EQ(0, xp_stat("pinned_peak", &peak));
	EXPECT_LE(peak, cap) TH_LOG("%llu pages pinned at once, cap %llu",
				    (unsigned long long)peak,
				    (unsigned long long)cap);
	EXPECT_LT(cb0, cb1) TH_LOG("the caller copied nothing itself");
	XP_EXPECT_PINS_BACK(s0, 2000);
}

/*
 * Every worker held by a copy stalled on a page no one serves (as a FUSE
 * server that never answers would hold it): a large copy of present pages
 * by another caller still completes, all of it copied by the caller itself,
 * and the stalled ones end with EINTR on a signal.
 */
TEST_F_TIMEOUT(engine, stalled_workers_hold_no_other_caller, 120)
{
	unsigned int n = self->feat.nr_workers;
	static struct xp_staller st[EN_STALL_PAGES];
	struct sigaction sa = { .sa_handler = xp_no_op_signal };
	uint64_t cb0 = 0, cb1 = 0, p0;
	struct xp_stats s0 = { 0 };
	__u64 got;

	ASSERT_GE(ARRAY_SIZE(st), n);
	ASSERT_GE(EN_STALL_PAGES, n);
	/* No SA_RESTART: the copies interrupted end with EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, xp_stats_read(&s0));
	p0 = s0.pinned_now;
	ASSERT_EQ(0, xp_stallers_start(st, n, self->fd, self->kid, self->mine,
				       xp_ptr(self->stall), self->page, p0))
		TH_LOG("the stalling copies did not start");

	ASSERT_EQ(0, xp_stat("caller_bytes", &cb0));
	alarm(30);	/* held up behind the workers: EINTR, and a failure */
	got = en_copy_check(_metadata, self, variant->dir, 4096, 4096 * 20,
			    en_holes[0] - 4096, 21);
	alarm(0);
	ASSERT_EQ(0, xp_stat("caller_bytes", &cb1));
	EXPECT_EQ(got, cb1 - cb0) TH_LOG("the caller did not copy it alone");

	EXPECT_EQ(0U, xp_stallers_stop(st, n))
		TH_LOG("stalled copies ended early or not with EINTR");
	XP_EXPECT_PINS_BACK(s0, 5000);
}

/* A 1 MiB copy checked as above; *@declined and *@alone: what it was. */
static void en_copy_helped(struct __test_metadata *_metadata,
			   FIXTURE_DATA(engine) *self, __u32 dir,
			   uint64_t seed, bool *declined, bool *alone)
{
	uint64_t d0 = 0, d1 = 0, c0 = 0, c1 = 0;
	__u64 got;

	ASSERT_EQ(0, xp_stat("help_declined", &d0));
	ASSERT_EQ(0, xp_stat("caller_bytes", &c0));
	got = en_copy_check(_metadata, self, dir, 4096, 4096 * 20, 1UL << 20,
			    seed);
	ASSERT_EQ(1UL << 20, got);
	ASSERT_EQ(0, xp_stat("help_declined", &d1));
	ASSERT_EQ(0, xp_stat("caller_bytes", &c1));
	ASSERT_GE(d0 + 1, d1) TH_LOG("one copy declined help %llu times",
				     (unsigned long long)(d1 - d0));
	*declined = d1 > d0;
	*alone = c1 - c0 == got;
}

/*
 * With no CPU free for the workers (help_idle_pct asks for 100 CPUs' worth
 * idle), a copy under busy_help_kb is the caller's alone: help_declined
 * counts it and the caller copies every byte. At busy_help_kb, or with
 * help_idle_pct 0, none is declined. Bytes exact every time.
 */
TEST_F_TIMEOUT(engine, busy_cpus_copy_alone, 120)
{
	bool declined = false, alone = false, d2 = true, d3 = true, a;
	uint64_t pct0 = 75, kb0 = 8192;
	struct xp_stats s0 = { 0 };
	int i;

	if (access(EN_HELP_PCT, F_OK) || access(EN_BUSY_KB, F_OK))
		SKIP(return, "the module has no help_idle_pct or busy_help_kb");
	ASSERT_EQ(0, xp_read_u64(EN_HELP_PCT, &pct0));
	ASSERT_EQ(0, xp_read_u64(EN_BUSY_KB, &kb0));
	self->help_pct = pct0;
	self->busy_kb = kb0;
	ASSERT_EQ(0, xp_stats_read(&s0));
	ASSERT_EQ(0, xp_write_u64(EN_BUSY_KB, 8192));
	ASSERT_EQ(0, xp_write_u64(EN_HELP_PCT, 10000));
	/* The load is measured every 20 ms: wait for a measure. */
	for (i = 0; i < 40 && !declined; i++) {
		en_copy_helped(_metadata, self, variant->dir, 40 + i,
			       &declined, &alone);
		usleep(25 * 1000);
	}
	EXPECT_TRUE(declined) TH_LOG("no copy declined help in %d", i);
	EXPECT_TRUE(alone) TH_LOG("help declined, yet a worker copied");

	/* A copy of busy_help_kb is helped however busy the CPUs. */
	EXPECT_EQ(0, xp_write_u64(EN_BUSY_KB, 1024));
	en_copy_helped(_metadata, self, variant->dir, 90, &d2, &a);
	EXPECT_FALSE(d2) TH_LOG("a copy of busy_help_kb declined help");

	/* help_idle_pct 0: help is never declined. */
	EXPECT_EQ(0, xp_write_u64(EN_BUSY_KB, 8192));
	EXPECT_EQ(0, xp_write_u64(EN_HELP_PCT, 0));
	usleep(25 * 1000);
	en_copy_helped(_metadata, self, variant->dir, 91, &d3, &a);
	EXPECT_FALSE(d3) TH_LOG("help declined with help_idle_pct 0");
	XP_EXPECT_PINS_BACK(s0, 2000);
}

/*
 * Copies into one process back to back: after the first, the helper stays
 * in the target's mm and lingers (linger_us, here 100 ms) for the next, so
 * the next costs no wake-up and no mm switch, and a worker still copies
 * part of it (in one of three tries). Bytes exact; every pin back.
 */
TEST_F_TIMEOUT(engine, next_copy_no_handoff, 120)
{
	uint64_t pct0 = 75, linger0 = 200, w0 = 0, w1 = 0, m0 = 0, m1 = 0;
	struct xp_stats s0 = { 0 };
	size_t len = 1UL << 20;
	uint64_t c0 = 0, c1 = len;
	__u64 copied = 0;
	int ret, i, try;

	ASSERT_EQ(0, xp_read_u64(EN_LINGER_US, &linger0));
	self->linger = linger0;
	if (!access(EN_HELP_PCT, F_OK)) {
		ASSERT_EQ(0, xp_read_u64(EN_HELP_PCT, &pct0));
		self->help_pct = pct0;
		/* Help whatever the load: this is about the hand-off. */
		ASSERT_EQ(0, xp_write_u64(EN_HELP_PCT, 0));
	}
	ASSERT_EQ(0, xp_stats_read(&s0));
	ASSERT_EQ(0, xp_write_u64(EN_LINGER_US, 100000));
	/*
	 * A lingering helper whose vCPU the host has descheduled (a loaded
	 * host) misses a copy of 1 MiB: three tries, each a copy a worker
	 * helped and the next one at once.
	 */
	for (try = 0; try < 3; try++) {
		/* Until a worker helped: one woken late finds nothing to do. */
		c0 = 0;
		c1 = len;
		for (i = 0; i < 10 && c1 - c0 == len; i++) {
			ASSERT_EQ(0, xp_stat("caller_bytes", &c0));
			en_copy_check(_metadata, self, variant->dir, 4096,
				      4096 * 20, len, 60 + i);
			ASSERT_EQ(0, xp_stat("caller_bytes", &c1));
		}
		ASSERT_GT(len, c1 - c0)
			TH_LOG("no worker helped in %d copies", i);
		/* The next copy at once, the same in every way. */
		ASSERT_EQ(0, xp_stat("worker_wakeups", &w0));
		ASSERT_EQ(0, xp_stat("mm_switches", &m0));
		ASSERT_EQ(0, xp_stat("caller_bytes", &c0));
		ret = xp_copy1(self->fd, variant->dir, self->kid,
			       self->mine + 4096, len,
			       xp_ptr(self->buf + 4096), len, &copied);
		ASSERT_EQ(0, xp_stat("worker_wakeups", &w1));
		ASSERT_EQ(0, xp_stat("mm_switches", &m1));
		ASSERT_EQ(0, xp_stat("caller_bytes", &c1));
		ASSERT_EQ(0, ret);
		ASSERT_EQ(len, copied);
		if (m0 == m1 && w0 == w1 && c1 - c0 < len)
			break;
		TH_LOG("try %d: %llu mm switches, %llu wake-ups, the caller "
		       "copied %llu of %zu bytes", try,
		       (unsigned long long)(m1 - m0),
		       (unsigned long long)(w1 - w0),
		       (unsigned long long)(c1 - c0), len);
	}
	EXPECT_EQ(m0, m1) TH_LOG("%llu mm switches for the next copy",
				 (unsigned long long)(m1 - m0));
	EXPECT_EQ(w0, w1) TH_LOG("%llu wake-ups for the next copy",
				 (unsigned long long)(w1 - w0));
	EXPECT_GT(len, c1 - c0) TH_LOG("no worker helped the next copy");
	EXPECT_EQ(0, xp_write_u64(EN_LINGER_US, linger0));
	usleep(200 * 1000);	/* the lingering helper leaves the mm */
	en_copy_check(_metadata, self, variant->dir, 4096, 4096 * 20, len, 71);
	XP_EXPECT_PINS_BACK(s0, 2000);
}

/*
 * A copy of 256 KiB, under two shares of the largest size, is still split
 * between the caller and an idle worker (as evenly as that goes, each
 * share at least 128 KiB); bytes exact, every pin back. With help forced
 * (help_idle_pct 0) a worker must copy part of one of ten, and the caller
 * part of one.
 */
TEST_F_TIMEOUT(engine, mid_copy_shared, 120)
{
	size_t len = 256 * 1024;
	uint64_t pct0 = 75, c0 = 0, c1 = len;
	struct xp_stats s0 = { 0 };
	bool helped = false, own = false;
	int i;

	if (!access(EN_HELP_PCT, F_OK)) {
		ASSERT_EQ(0, xp_read_u64(EN_HELP_PCT, &pct0));
		self->help_pct = pct0;
		ASSERT_EQ(0, xp_write_u64(EN_HELP_PCT, 0));
	}
	ASSERT_EQ(0, xp_stats_read(&s0));
	/*
	 * On a loaded host a woken helper can take both shares before its
	 * caller runs again: look for both, each in some copy of the ten.
	 */
	for (i = 0; i < 10 && !(helped && own); i++) {
		ASSERT_EQ(0, xp_stat("caller_bytes", &c0));
		en_copy_check(_metadata, self, variant->dir, 4096, 4096 * 20,
			      len, 100 + i);
		ASSERT_EQ(0, xp_stat("caller_bytes", &c1));
		helped |= c1 - c0 < len;
		own |= c1 != c0;
	}
	EXPECT_TRUE(helped)
		TH_LOG("no worker helped in %d copies of 256 KiB", i);
	EXPECT_TRUE(own) TH_LOG("the caller copied none of %d copies", i);
	XP_EXPECT_PINS_BACK(s0, 2000);
}

TEST_HARNESS_MAIN
