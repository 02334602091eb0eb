// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy through io_uring (IORING_OP_URING_CMD): many copies in flight at
 * once, each right byte for byte; the same errnos as the ioctl; and copies
 * stalled in the target's page fault (a userfaultfd that nobody serves)
 * that end cleanly, with no pin left and no worker stuck, when they are
 * cancelled (IORING_OP_ASYNC_CANCEL), when the ring is closed, and when the
 * submitting process exits or is killed. Submission never waits for a
 * stalled copy. Every stall test runs on each path (workers, caller's
 * context, bounce buffer) in both directions.
 *
 * (Byte-level coverage of every copy shape through io_uring is in
 * xpcopy_copy, whose variants run each test through io_uring too.)
 *
 * Copies too large for the submission (the *_large variants, and
 * uring_large_copy_to_workers) are handed there to the module's workers,
 * which post their CQEs, where the kernel has cancelable uring_cmds
 * (XPCOPY_CAP_URING_WORKERS, Linux 6.7+); elsewhere (6.1) they go to io-wq
 * as before, and the same tests check that.
 */
#include <sys/mman.h>
#include <liburing.h>

#include "xpcopy_test.h"

#define SEED_L	0x0a1aULL	/* the submitter's local buffer */
#define SEED_N	0x70b0ULL	/* the target's normal buffer */
#define SEED_U	0x5e4dULL	/* what a resolved userfault page holds */

#define SMALL_LEN	(64 * KiB)
#define LARGE_LEN	(512 * KiB)	/* > inline_max, < XP_UFFD_LEN - 64 */
#define BIG_LEN		(4 * MiB)
#define MANY		64		/* copies in flight at once */
#define STRIDE		(64 * KiB + 3 * 4096)
#define MANY_LEN	((size_t)MANY * STRIDE)
#define HANG_S		20		/* a completion this late is a hang */

#define UD_COPY		1
#define UD_CANCEL	2

FIXTURE(ur)
{
	int fd;
	struct io_uring ring;
	bool have_ring;
	uint32_t nr_workers;
	struct xp_target t;
	uint8_t *uffd_region;	/* the target's, registered with its uffd */
	uint8_t *normal;	/* the target's, MANY_LEN, SEED_N */
	uint8_t *local;		/* ours, MANY_LEN, SEED_L */
};

FIXTURE_VARIANT(ur)
{
	__u32 flags;
	bool read;
	bool bounce;
	bool automatic;		/* no path forced */
	bool large;		/* more than inline_max: the workers' */
};

FIXTURE_VARIANT_ADD(ur, write)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER,
};

FIXTURE_VARIANT_ADD(ur, read)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER,
	.read = true,
};

FIXTURE_VARIANT_ADD(ur, write_inline)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE,
};

FIXTURE_VARIANT_ADD(ur, read_inline)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE,
	.read = true,
};

/* The automatic path: small copies of present pages end at submission. */
FIXTURE_VARIANT_ADD(ur, write_auto)
{
	.flags = XPCOPY_COPY_WRITE,
	.automatic = true,
};

FIXTURE_VARIANT_ADD(ur, read_auto)
{
	.flags = XPCOPY_COPY_READ,
	.read = true,
	.automatic = true,
};

/* Too large for the submission: handed to the workers, or to io-wq. */
FIXTURE_VARIANT_ADD(ur, write_large)
{
	.flags = XPCOPY_COPY_WRITE,
	.automatic = true,
	.large = true,
};

FIXTURE_VARIANT_ADD(ur, read_large)
{
	.flags = XPCOPY_COPY_READ,
	.read = true,
	.automatic = true,
	.large = true,
};

FIXTURE_VARIANT_ADD(ur, write_bounce)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE,
	.bounce = true,
};

FIXTURE_VARIANT_ADD(ur, read_bounce)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE,
	.read = true,
	.bounce = true,
};

static int ring_init(struct io_uring *ring, unsigned int entries)
{
	return io_uring_queue_init(entries, ring, 0);
}

/* Does the module hand large io_uring copies to its workers? */
static bool uring_workers(int fd)
{
	return xp_has_cap(fd, XPCOPY_CAP_URING_WORKERS);
}

#define NO_URING_WORKERS "no cancelable io_uring commands on this kernel " \
	"(IORING_URING_CMD_CANCELABLE is Linux 6.7+; XPCOPY_FEATURES reports " \
	"no XPCOPY_CAP_URING_WORKERS): large copies go to io-wq"

/* The length of a stalled copy of the variant. */
static size_t stall_len(const FIXTURE_VARIANT(ur) *variant)
{
	return variant->large ? LARGE_LEN : SMALL_LEN;
}

FIXTURE_SETUP(ur)
{
	struct xpcopy_features f;
	int ret;

	xp_target_init(&self->t);
	self->have_ring = false;
	self->uffd_region = NULL;
	XPCOPY_OPEN_OR_SKIP(self->fd);
	XPCOPY_URING_CMD_OR_SKIP(self->fd);
	ASSERT_EQ(0, xp_features(self->fd, &f));
	self->nr_workers = f.nr_workers;
	ret = ring_init(&self->ring, 2 * MANY);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", strerror(-ret));
	self->have_ring = true;
	self->normal = xp_map_filled(MANY_LEN, SEED_N);
	self->local = xp_map_filled(MANY_LEN, SEED_L);
	ASSERT_NE(NULL, self->normal);
	ASSERT_NE(NULL, self->local);
}

FIXTURE_TEARDOWN(ur)
{
	xp_target_kill(&self->t);
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	close(self->fd);
}

/* Submit one copy of @len bytes between self->local and @remote. */
static int submit_copy(struct io_uring *ring, int fd, struct xpcopy_copy *c,
		       struct xpcopy_iovec iov[2], __u32 flags, pid_t pid,
		       void *local, __u64 remote, size_t len, __u64 user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	iov[0].addr = xp_ptr(local);
	iov[0].len = len;
	iov[1].addr = remote;
	iov[1].len = len;
	xp_copy_init(c, flags, pid, &iov[0], 1, &iov[1], 1);
	xp_prep_uring_cmd(sqe, fd, XPCOPY_COPY, c, user_data);
	return 0;
}

/* Wait for a CQE, at most HANG_S seconds: -ETIME means a hang. */
static int wait_cqe(struct io_uring *ring, __u64 *user_data, int *res)
{
	struct __kernel_timespec ts = { .tv_sec = HANG_S };
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	while (ret == -EINTR);
	if (ret)
		return ret;
	*user_data = cqe->user_data;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* ---- where a command runs: at submission, or on an io-wq thread ---- */

static int uring_counts(uint64_t *issued, uint64_t *punts)
{
	int ret = xp_stat("uring_issued", issued);

	return ret ? ret : xp_stat("uring_punts", punts);
}

/*
 * 32 copies of 4 KiB between present pages, submitted with one
 * io_uring_enter(): on the automatic path every one completes in the
 * submission itself (no io-wq thread, no worker); a forced path, the bounce
 * path, and a copy whose remote page userfaultfd holds go to io-wq. Bytes
 * exact either way. The *_large variants: 16 copies of 128 KiB each, too
 * large for the submission, all in flight at once, are handed to the
 * module's workers (no io-wq thread) where the kernel has cancelable
 * uring_cmds, else to io-wq.
 */
TEST_F_TIMEOUT(ur, submission_or_io_wq, 120)
{
	const int n = variant->large ? 16 : 32;
	const size_t len = variant->large ? 128 * KiB : 4096;
	const size_t stride = 2 * len;
	const bool to_workers = variant->large && uring_workers(self->fd);
	struct xpcopy_copy c[32];
	struct xpcopy_iovec iov[32][2];
	uint64_t is0 = 0, pu0 = 0, is1 = 0, pu1 = 0, wk0 = 0, wk1 = 0;
	__u64 ud;
	int res, i;

	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	/* Ours again after the fork: no copy-on-write fault to take. */
	xp_fill(self->local, MANY_LEN, SEED_L, 0);
	ASSERT_EQ(0, uring_counts(&is0, &pu0));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk0));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, submit_copy(&self->ring, self->fd, &c[i], iov[i],
					 variant->flags, self->t.pid,
					 self->local + i * stride,
					 xp_ptr(self->normal + i * stride),
					 len, i));
	ASSERT_EQ(n, io_uring_submit(&self->ring));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
		EXPECT_EQ((int)len, res) TH_LOG("copy %llu: %s",
						(unsigned long long)ud,
						res < 0 ? strerror(-res) : "short");
		if (ud < (__u64)n)
			EXPECT_EQ(len, c[ud].copied);
	}
	ASSERT_EQ(0, uring_counts(&is1, &pu1));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk1));
	if (to_workers) {
		/* A free worker takes each; with none free, the submission. */
		EXPECT_EQ(0ULL, pu1 - pu0);
		EXPECT_EQ((uint64_t)n, (wk1 - wk0) + (is1 - is0));
		EXPECT_LE(1ULL, wk1 - wk0);
	} else if (variant->automatic && !variant->large) {
		EXPECT_EQ((uint64_t)n, is1 - is0);
		EXPECT_EQ(0ULL, pu1 - pu0);
		EXPECT_EQ(0ULL, wk1 - wk0);
	} else {
		EXPECT_EQ(0ULL, is1 - is0);
		EXPECT_EQ((uint64_t)n, pu1 - pu0);
		EXPECT_EQ(0ULL, wk1 - wk0);
	}
	for (i = 0; i < n; i++) {
		long long d;

		if (variant->read)
			d = xp_check(self->local + i * stride, len, SEED_N,
				     i * stride);
		else
			d = xp_target_patcheck(&self->t,
					       xp_ptr(self->normal + i * stride),
					       len, SEED_L, i * stride);
		EXPECT_EQ(-1, d) TH_LOG("copy %d, byte %lld", i, d);
	}
}

/* ---- pinned grants: no variants, each test once ---- */

FIXTURE(urpin)
{
	int fd;
	struct io_uring ring;
	bool have_ring;
	uint8_t *normal;	/* ours, MANY_LEN, SEED_N: a window */
	uint8_t *local;		/* ours, MANY_LEN, SEED_L */
};

/*
 * The setup of the fixtures with a device, a ring of 64 entries (@flags)
 * and two buffers (urpin, sqe): the module must have @cap (else skip, with
 * @nocap).
 */
#define RING_BUFS_SETUP(self, cap, nocap, flags) do {			\
	int ret_;							\
									\
	(self)->have_ring = false;					\
	XPCOPY_OPEN_OR_SKIP((self)->fd);				\
	XPCOPY_URING_CMD_OR_SKIP((self)->fd);				\
	if (!xp_has_cap((self)->fd, cap))				\
		SKIP(return, "%s", nocap);				\
	ret_ = io_uring_queue_init(64, &(self)->ring, flags);		\
	if (ret_ == -ENOSYS || ret_ == -EPERM)				\
		SKIP(return, "io_uring_setup: %s", strerror(-ret_));	\
	ASSERT_EQ(0, ret_) TH_LOG("io_uring_queue_init: %s",		\
				  strerror(-ret_));			\
	(self)->have_ring = true;					\
	(self)->normal = xp_map_filled(MANY_LEN, SEED_N);		\
	(self)->local = xp_map_filled(MANY_LEN, SEED_L);		\
	ASSERT_NE(NULL, (self)->normal);				\
	ASSERT_NE(NULL, (self)->local);					\
} while (0)

FIXTURE_SETUP(urpin)
{
	RING_BUFS_SETUP(self, XPCOPY_CAP_GRANT_PIN,
			"the module has no pinned grants (XPCOPY_CAP_GRANT_PIN)",
			0);
}

FIXTURE_TEARDOWN(urpin)
{
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	close(self->fd);
}

/*
 * @n copies of @len bytes, @stride apart, between self->local and the
 * window of grant @gfd, one way, all in one io_uring_enter(); every CQE
 * must say @len. The counters' growth into *@issued, *@punts, *@workers.
 */
static void grant_batch(struct __test_metadata *_metadata,
			FIXTURE_DATA(urpin) *self, int gfd, __u32 dir, int n,
			size_t len, size_t stride, uint64_t *issued,
			uint64_t *punts, uint64_t *workers)
{
	struct xpcopy_copy c[32];
	struct xpcopy_iovec iov[32][2];
	uint64_t is0 = 0, pu0 = 0, is1 = 0, pu1 = 0, wk0 = 0, wk1 = 0;
	int res, i;
	__u64 ud;

	ASSERT_GE(32, n);
	ASSERT_EQ(0, uring_counts(&is0, &pu0));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk0));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, submit_copy(&self->ring, self->fd, &c[i], iov[i],
					 XPCOPY_COPY_GRANT | dir, 0,
					 self->local + i * stride,
					 i * stride, len, i));
		c[i].grant_fd = gfd;
	}
	ASSERT_EQ(n, io_uring_submit(&self->ring));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
		EXPECT_EQ((int)len, res)
			TH_LOG("copy %llu: %s", (unsigned long long)ud,
			       res < 0 ? strerror(-res) : "short");
	}
	ASSERT_EQ(0, uring_counts(&is1, &pu1));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk1));
	*issued = is1 - is0;
	*punts = pu1 - pu0;
	*workers = wk1 - wk0;
}

/* Offset of the first non-zero byte of @p, or -1. */
static long long first_nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return (long long)i;
	return -1;
}

/* A pinned grant of @len bytes at @addr, or -errno. */
static int pinned_grant(int fd, void *addr, size_t len)
{
	struct xpcopy_grant gr = {
		.size = sizeof(gr),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE |
			 XPCOPY_GRANT_PIN,
		.addr = xp_ptr(addr), .len = len,
	};

	return xp_ioctl(fd, XPCOPY_GRANT, &gr);
}

/*
 * 32 copies of 4 KiB through a pinned grant (XPCOPY_GRANT_PIN) of this
 * process's own memory, in one io_uring_enter(), each way: every one
 * completes in the submission (uring_issued + 32, no io-wq thread, no
 * worker), byte-exact.
 */
TEST_F_TIMEOUT(urpin, in_submission, 120)
{
	const int n = 32;
	const size_t len = 4096, stride = 2 * len;
	uint64_t issued, punts, workers;
	int gfd, i, dir;

	gfd = pinned_grant(self->fd, self->normal, n * stride);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT pinned: %s", strerror(-gfd));
	for (dir = 0; dir < 2; dir++) {
		/* Written: the window gets SEED_L; read: back into local. */
		grant_batch(_metadata, self, gfd,
			    dir ? XPCOPY_COPY_READ : XPCOPY_COPY_WRITE, n, len,
			    stride, &issued, &punts, &workers);
		EXPECT_EQ((uint64_t)n, issued);
		EXPECT_EQ(0ULL, punts);
		EXPECT_EQ(0ULL, workers);
		for (i = 0; i < n; i++) {
			long long d = xp_check(dir ? self->local + i * stride :
					       self->normal + i * stride, len,
					       SEED_L, i * stride);

			EXPECT_EQ(-1, d) TH_LOG("dir %d copy %d, byte %lld",
						dir, i, d);
		}
		/* What comes back must be what went: scribble over ours. */
		for (i = 0; i < n && !dir; i++)
			memset(self->local + i * stride, 0, len);
	}
	close(gfd);
}

/*
 * Through io_uring too, a pinned grant reaches the pages it pinned: after
 * the owner maps new memory over the window, 32 copies written through the
 * grant leave the new mapping untouched and are read back from the old
 * pages, byte-exact. (A grant that walked the owner's page tables would
 * write into the new mapping.)
 */
TEST_F_TIMEOUT(urpin, keeps_its_pages, 120)
{
	const int n = 32;
	const size_t len = 4096, stride = 2 * len, wlen = n * stride;
	uint64_t issued, punts, workers;
	uint8_t *win, *again;
	int gfd, i;

	win = xp_map(wlen, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	memset(win, 0x33, wlen);
	gfd = pinned_grant(self->fd, win, wlen);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT pinned: %s", strerror(-gfd));
	again = mmap(win, wlen, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(win, again);
	grant_batch(_metadata, self, gfd, XPCOPY_COPY_WRITE, n, len, stride,
		    &issued, &punts, &workers);
	EXPECT_EQ(-1, first_nonzero(again, wlen))
		TH_LOG("a copy through the pinned grant reached the new mapping");
	for (i = 0; i < n; i++)
		memset(self->local + i * stride, 0, len);
	grant_batch(_metadata, self, gfd, XPCOPY_COPY_READ, n, len, stride,
		    &issued, &punts, &workers);
	for (i = 0; i < n; i++) {
		long long d = xp_check(self->local + i * stride, len, SEED_L,
				       i * stride);

		EXPECT_EQ(-1, d) TH_LOG("copy %d, byte %lld", i, d);
	}
	close(gfd);
	munmap(again, wlen);
}

/* ---- many copies in flight ---- */

/* Copy i: @STRIDE apart, each a different length, gaps in between. */
static size_t many_off(int i)
{
	return (size_t)i * STRIDE + (i % 7) * 9;
}

static size_t many_len(int i)
{
	return STRIDE - 4096 - (size_t)i * 61;
}

TEST_F_TIMEOUT(ur, many_in_flight, 120)
{
	struct xpcopy_copy *c;
	struct xpcopy_iovec (*iov)[2];
	struct xp_stats s0, s1;
	bool seen[MANY] = { false };
	int i, n = 0;

	c = calloc(MANY, sizeof(*c));
	iov = calloc(MANY, sizeof(*iov));
	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, iov);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	ASSERT_EQ(0, xp_stats_read(&s0));
	for (i = 0; i < MANY; i++)
		ASSERT_EQ(0, submit_copy(&self->ring, self->fd, &c[i], iov[i],
					 variant->flags, self->t.pid,
					 self->local + many_off(i),
					 xp_ptr(self->normal + many_off(i)),
					 many_len(i), 1000 + i));
	ASSERT_EQ(MANY, io_uring_submit(&self->ring));
	for (i = 0; i < MANY; i++) {
		__u64 ud = 0;
		int res = 0, k;

		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res))
			TH_LOG("%d of %d copies completed", i, MANY);
		k = (int)ud - 1000;
		ASSERT_TRUE(k >= 0 && k < MANY && !seen[k])
			TH_LOG("unexpected user_data %llu",
			       (unsigned long long)ud);
		seen[k] = true;
		EXPECT_EQ((int)many_len(k), res)
			TH_LOG("copy %d: %s", k,
			       res < 0 ? strerror(-res) : "short");
		EXPECT_EQ(many_len(k), c[k].copied);
		n++;
	}
	ASSERT_EQ(MANY, n);
	XP_EXPECT_PINS_BACK_TO(s0, s1, 1000);
	EXPECT_EQ((__u64)MANY, s1.copies - s0.copies);

	/* each destination range holds its source, each gap is untouched */
	for (i = 0; i < MANY; i++) {
		size_t o = many_off(i), l = many_len(i);
		size_t next = i + 1 < MANY ? many_off(i + 1) : MANY_LEN;

		if (variant->read) {
			EXPECT_EQ(-1, xp_check(self->local + o, l, SEED_N, o))
				TH_LOG("copy %d", i);
			EXPECT_EQ(-1, xp_check(self->local + o + l,
					       next - o - l, SEED_L, o + l))
				TH_LOG("gap after copy %d", i);
		} else {
			EXPECT_EQ(-1, xp_target_patcheck(&self->t,
					xp_ptr(self->normal + o), l, SEED_L, o))
				TH_LOG("copy %d", i);
			EXPECT_EQ(-1, xp_target_patcheck(&self->t,
					xp_ptr(self->normal + o + l),
					next - o - l, SEED_N, o + l))
				TH_LOG("gap after copy %d", i);
		}
	}
	/* the source side is unchanged */
	if (variant->read) {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(self->normal),
						 MANY_LEN, SEED_N, 0));
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
	free(c);
	free(iov);
}

/* ---- stalls: a target whose userfaultfd nobody serves ---- */

/* Wait (10 s at most) until the target reports a fault in its region. */
static bool saw_stall(FIXTURE_DATA(ur) *self)
{
	struct xp_tevent ev;

	if (xp_poll_in(self->t.evt_rd, 10000) != 1 ||
	    xp_read_full(self->t.evt_rd, &ev, sizeof(ev)))
		return false;
	return ev.address >= xp_ptr(self->uffd_region) &&
	       ev.address < xp_ptr(self->uffd_region) + XP_UFFD_LEN;
}

/*
 * Submit a copy at the unserved region on @ring and see it stall: the
 * submission returns (a blocking issue would never return), the target
 * sees the fault, and no CQE has been posted.
 */
static void submit_stalled(struct __test_metadata *_metadata,
			   FIXTURE_DATA(ur) *self,
			   const FIXTURE_VARIANT(ur) *variant,
			   struct io_uring *ring, struct xpcopy_copy *c,
			   struct xpcopy_iovec iov[2])
{
	struct io_uring_cqe *cqe;

	xp_target_drain_events(&self->t);
	ASSERT_EQ(0, submit_copy(ring, self->fd, c, iov, variant->flags,
				 self->t.pid, self->local,
				 xp_ptr(self->uffd_region) + 64, stall_len(variant),
				 UD_COPY));
	ASSERT_EQ(1, io_uring_submit(ring));
	ASSERT_TRUE(saw_stall(self))
		TH_LOG("no userfault within 10 s of the submission");
	/* still in flight: the submission did not wait for it */
	ASSERT_EQ(-EAGAIN, io_uring_peek_cqe(ring, &cqe))
		TH_LOG("the copy completed (%d) with its fault unserved",
		       cqe->res);
	/*
	 * A large copy's caller (a worker standing in for the submitter, or
	 * the io-wq thread) may be the one waiting for the target's page,
	 * with nothing pinned.
	 */
	if (!variant->bounce && !variant->large) {
		uint64_t pinned = 0;

		/* the workers copy: the submitter's pages are pinned */
		ASSERT_EQ(0, xp_stat("pinned_now", &pinned));
		EXPECT_LT(0ULL, pinned);
	}
}

/* A copy of normal memory works, on the workers: none is stuck. */
static void normal_copy_works(struct __test_metadata *_metadata,
			      FIXTURE_DATA(ur) *self,
			      const FIXTURE_VARIANT(ur) *variant,
			      struct io_uring *ring)
{
	struct xpcopy_iovec iov[2];
	struct xpcopy_copy c;
	__u64 ud = 0;
	int res = 0;
	__u32 flags = variant->flags & ~XPCOPY_COPY_INLINE;
	size_t len = stall_len(variant);

	/* A large one on the automatic path: the workers' (or io-wq's). */
	if (!variant->bounce && !variant->large)
		flags |= XPCOPY_COPY_WORKER;
	xp_fill(self->local, len, SEED_L, 0);
	ASSERT_EQ(0, submit_copy(ring, self->fd, &c, iov, flags,
				 self->t.pid, self->local,
				 xp_ptr(self->normal), len, UD_COPY));
	ASSERT_EQ(1, io_uring_submit(ring));
	ASSERT_EQ(0, wait_cqe(ring, &ud, &res))
		TH_LOG("a normal copy did not complete in %d s: a worker stuck?",
		       HANG_S);
	ASSERT_EQ((int)len, res) TH_LOG("%s", strerror(-res));
	EXPECT_EQ((__u64)len, c.copied);
	if (variant->read) {
		EXPECT_EQ(-1, xp_check(self->local, len, SEED_N, 0));
	} else {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(self->normal),
						 len, SEED_L, 0));
	}
}

/*
 * After a stall test's rounds: a normal copy still works (no worker is
 * stuck), nothing stays pinned, every pin taken since @s0 was released,
 * and the target stops.
 */
static void stalls_over(struct __test_metadata *_metadata,
			FIXTURE_DATA(ur) *self, const FIXTURE_VARIANT(ur) *variant,
			const struct xp_stats *s0)
{
	normal_copy_works(_metadata, self, variant, &self->ring);
	XP_EXPECT_PINS_BACK(*s0, 2000);
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

/* As many stalls in a row as it takes to use up every worker, plus one. */
static int stall_rounds(FIXTURE_DATA(ur) *self)
{
	return (self->nr_workers < 8 ? (int)self->nr_workers : 8) + 1;
}

static void stall_async_cancel_workers(struct __test_metadata *_metadata,
				       FIXTURE_DATA(ur) *self,
				       const FIXTURE_VARIANT(ur) *variant);

/*
 * IORING_OP_ASYNC_CANCEL of a stalled copy: the copy completes with EINTR
 * (cancelled while running) or ECANCELED (before it ran), the cancel with
 * 0, EALREADY (it was running) or ENOENT (it had completed).
 */
static void stall_async_cancel(struct __test_metadata *_metadata,
			       FIXTURE_DATA(ur) *self,
			       const FIXTURE_VARIANT(ur) *variant)
{
	struct xpcopy_iovec iov[2];
	struct io_uring_sqe *sqe;
	struct xpcopy_copy c;
	int res_copy = 1, res_cancel = 1;

	if (variant->large && uring_workers(self->fd)) {
		stall_async_cancel_workers(_metadata, self, variant);
		return;
	}

	submit_stalled(_metadata, self, variant, &self->ring, &c, iov);
	sqe = io_uring_get_sqe(&self->ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_cancel64(sqe, UD_COPY, 0);
	sqe->user_data = UD_CANCEL;
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	for (int k = 0; k < 2; k++) {
		__u64 ud = 0;
		int res = 0;

		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res))
			TH_LOG("no completion %d s after the cancel", HANG_S);
		if (ud == UD_COPY)
			res_copy = res;
		else if (ud == UD_CANCEL)
			res_cancel = res;
	}
	EXPECT_TRUE(res_copy == -EINTR || res_copy == -ECANCELED)
		TH_LOG("cancelled copy: %d (%s), copied %llu", res_copy,
		       strerror(-res_copy), (unsigned long long)c.copied);
	EXPECT_TRUE(res_cancel == 0 || res_cancel == -EALREADY ||
		    res_cancel == -ENOENT)
		TH_LOG("cancel: %d (%s)", res_cancel, strerror(-res_cancel));
	EXPECT_EQ(0ULL, xp_wait_unpinned(2000))
		TH_LOG("pages still pinned after the cancel");
}

/*
 * IORING_OP_ASYNC_CANCEL of a stalled copy the workers run: io_uring has no
 * hook that reaches it (it cancels io-wq work, polls and timers), so the
 * cancel finds nothing (ENOENT; EALREADY allowed) and the copy stays in
 * flight, its CQE not posted; closing the ring then ends it, with no pin
 * left.
 */
static void stall_async_cancel_workers(struct __test_metadata *_metadata,
				       FIXTURE_DATA(ur) *self,
				       const FIXTURE_VARIANT(ur) *variant)
{
	struct xpcopy_iovec iov[2];
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct xpcopy_copy c;
	__u64 ud = 0;
	int res = 0;

	ASSERT_EQ(0, ring_init(&ring, 4));
	submit_stalled(_metadata, self, variant, &ring, &c, iov);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_cancel64(sqe, UD_COPY, 0);
	sqe->user_data = UD_CANCEL;
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, wait_cqe(&ring, &ud, &res));
	EXPECT_EQ((__u64)UD_CANCEL, ud) TH_LOG("the copy completed: %d", res);
	EXPECT_TRUE(res == -ENOENT || res == -EALREADY)
		TH_LOG("cancel: %d (%s)", res, strerror(-res));
	usleep(200 * 1000);
	EXPECT_EQ(-EAGAIN, io_uring_peek_cqe(&ring, &cqe))
		TH_LOG("the copy completed with its fault unserved");
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0ULL, xp_wait_unpinned(HANG_S * 1000))
		TH_LOG("pages still pinned %d s after the ring closed", HANG_S);
}

/* Closing a ring with a stalled copy in flight ends the copy. */
static void stall_ring_close(struct __test_metadata *_metadata,
			     FIXTURE_DATA(ur) *self,
			     const FIXTURE_VARIANT(ur) *variant)
{
	struct xpcopy_iovec iov[2];
	struct io_uring ring;
	struct xpcopy_copy c;

	ASSERT_EQ(0, ring_init(&ring, 4));
	submit_stalled(_metadata, self, variant, &ring, &c, iov);
	io_uring_queue_exit(&ring);
	/* the copy let go of its pages: it ended */
	EXPECT_EQ(0ULL, xp_wait_unpinned(HANG_S * 1000))
		TH_LOG("pages still pinned %d s after the ring closed", HANG_S);
}

/*
 * A process with a stalled copy in flight on its ring exits (@sig 0: it
 * returns from main without closing the ring) or is killed with @sig: it
 * is reaped, and its copy ends.
 */
static void stall_then_exit(struct __test_metadata *_metadata,
			    FIXTURE_DATA(ur) *self,
			    const FIXTURE_VARIANT(ur) *variant, int sig)
{
	int go[2], status = 0;
	pid_t pid, w;
	char b = 0;

	ASSERT_EQ(0, pipe(go));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct xpcopy_iovec iov[2];
		struct io_uring ring;
		struct xpcopy_copy c;

		close(go[1]);
		xp_die_with_parent(getppid());
		if (ring_init(&ring, 4) ||
		    submit_copy(&ring, self->fd, &c, iov, variant->flags,
				self->t.pid, self->local,
				xp_ptr(self->uffd_region) + 64,
				stall_len(variant), UD_COPY) ||
		    io_uring_submit(&ring) != 1)
			_exit(2);
		/* wait for the word, then exit with the copy in flight */
		if (read(go[0], &b, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(go[0]);
	if (!saw_stall(self)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(go[1]);
		ASSERT_TRUE(false) TH_LOG("no userfault within 10 s");
	}
	if (sig) {
		ASSERT_EQ(0, kill(pid, sig));
	} else {
		ASSERT_EQ(1, write(go[1], &b, 1));
	}
	w = xp_waitpid_ms(pid, &status, HANG_S * 1000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(go[1]);
	ASSERT_EQ(pid, w) TH_LOG("the submitter was not reaped within %d s",
				 HANG_S);
	if (sig) {
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig);
	} else {
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	EXPECT_EQ(0ULL, xp_wait_unpinned(HANG_S * 1000))
		TH_LOG("pages still pinned after the submitter died");
}

static void stall_process_exit(struct __test_metadata *_metadata,
			       FIXTURE_DATA(ur) *self,
			       const FIXTURE_VARIANT(ur) *variant)
{
	xp_target_drain_events(&self->t);
	stall_then_exit(_metadata, self, variant, 0);
}

static void stall_process_killed(struct __test_metadata *_metadata,
				 FIXTURE_DATA(ur) *self,
				 const FIXTURE_VARIANT(ur) *variant)
{
	xp_target_drain_events(&self->t);
	stall_then_exit(_metadata, self, variant, SIGKILL);
}

typedef void (*stall_fn)(struct __test_metadata *_metadata,
			 FIXTURE_DATA(ur) *self,
			 const FIXTURE_VARIANT(ur) *variant);

/*
 * A stall test: start the target with its userfaultfd region unserved, run
 * @round stall_rounds() times, then check stalls_over() (no worker stayed
 * stuck in the fault, every pin came back). The whole test body: it may
 * SKIP.
 */
static void stall_test(struct __test_metadata *_metadata,
		       FIXTURE_DATA(ur) *self,
		       const FIXTURE_VARIANT(ur) *variant, stall_fn round)
{
	struct xp_stats s0;
	int rounds;

	XP_START_UFFD_TARGET();
	ASSERT_EQ(0, xp_stats_read(&s0));
	rounds = stall_rounds(self);
	for (int i = 0; i < rounds; i++) {
		TH_LOG("round %d of %d", i + 1, rounds);
		round(_metadata, self, variant);
	}
	stalls_over(_metadata, self, variant, &s0);
}

TEST_F_TIMEOUT(ur, stall_async_cancel, 150)
{
	stall_test(_metadata, self, variant, stall_async_cancel);
}

TEST_F_TIMEOUT(ur, stall_ring_close, 150)
{
	stall_test(_metadata, self, variant, stall_ring_close);
}

TEST_F_TIMEOUT(ur, stall_process_exit, 200)
{
	stall_test(_metadata, self, variant, stall_process_exit);
}

TEST_F_TIMEOUT(ur, stall_process_killed, 200)
{
	stall_test(_metadata, self, variant, stall_process_killed);
}

/* The control: with its faults served, the same copy completes, right. */
TEST_F_TIMEOUT(ur, uffd_resolved_copy_completes, 60)
{
	const size_t off = 100, len = XP_UFFD_LEN - 200;
	struct xpcopy_iovec iov[2];
	struct xpcopy_copy c;
	uint8_t *loc;
	__u64 ud = 0;
	int res = 0;

	loc = xp_map_filled(len, SEED_L);
	ASSERT_NE(NULL, loc);
	XP_START_UFFD_TARGET();
	ASSERT_EQ(0, xp_target_cmd(&self->t, XP_T_UFFD_RESOLVE, 0, 0, SEED_U,
				   0));
	ASSERT_EQ(0, submit_copy(&self->ring, self->fd, &c, iov,
				 variant->flags, self->t.pid, loc,
				 xp_ptr(self->uffd_region) + off, len,
				 UD_COPY));
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
	ASSERT_EQ((int)len, res) TH_LOG("%s", strerror(-res));
	EXPECT_EQ(len, c.copied);
	if (variant->read) {
		EXPECT_EQ(-1, xp_check(loc, len, SEED_U, off));
	} else {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
				xp_ptr(self->uffd_region) + off, len,
				SEED_L, 0));
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

/* ---- a large copy: the workers', not io-wq's ---- */

/*
 * A 4 MiB copy of present pages through io_uring, each way (within this
 * process: pid mode needs no capability for itself), unaligned: byte-exact,
 * its CQE's result and `copied` the whole count, every pin back. Where the
 * kernel has cancelable uring_cmds, handed to the module's workers in the
 * submission (uring_workers + 1), no io-wq thread (uring_punts + 0);
 * elsewhere (6.1) it goes to io-wq as before, which is checked, and the
 * test then says SKIP with the reason.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
TEST(uring_large_copy_to_workers)
{
	const size_t len = BIG_LEN - 8;
	uint64_t is0 = 0, pu0 = 0, wk0 = 0, is1 = 0, pu1 = 0, wk1 = 0;
	struct xpcopy_iovec iov[2];
	struct xp_stats s0, s1;
	struct xpcopy_copy c;
	struct io_uring ring;
	uint8_t *src, *dst;
	int fd, ret, dir;
	bool workers;

	XPCOPY_OPEN_OR_SKIP(fd);
	XPCOPY_URING_CMD_OR_SKIP(fd);
	workers = uring_workers(fd);
	ret = ring_init(&ring, 4);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	src = xp_map_filled(BIG_LEN, SEED_L);
	dst = xp_map_filled(BIG_LEN, SEED_N);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, xp_stats_read(&s0));
	for (dir = 0; dir < 2; dir++) {
		__u64 ud = 0;
		int res = 0;

		xp_fill(dst, BIG_LEN, SEED_N, 0);
		ASSERT_EQ(0, uring_counts(&is0, &pu0));
		ASSERT_EQ(0, xp_stat("uring_workers", &wk0));
		/* write: src + 1 into dst + 3; read: src + 1 out into dst + 3 */
		if (dir == 0)
			ret = submit_copy(&ring, fd, &c, iov, XPCOPY_COPY_WRITE,
					  getpid(), src + 1, xp_ptr(dst + 3),
					  len, UD_COPY);
		else
			ret = submit_copy(&ring, fd, &c, iov, XPCOPY_COPY_READ,
					  getpid(), dst + 3, xp_ptr(src + 1),
					  len, UD_COPY);
		ASSERT_EQ(0, ret);
		ASSERT_EQ(1, io_uring_submit(&ring));
		ASSERT_EQ(0, wait_cqe(&ring, &ud, &res));
		EXPECT_EQ((__u64)UD_COPY, ud);
		EXPECT_EQ((int)len, res) TH_LOG("%s", res < 0 ?
						strerror(-res) : "short");
		EXPECT_EQ((__u64)len, c.copied);
		EXPECT_EQ(-1, xp_check(dst + 3, len, SEED_L, 1));
		EXPECT_EQ(-1, xp_check(dst, 3, SEED_N, 0));
		EXPECT_EQ(-1, xp_check(dst + 3 + len, BIG_LEN - 3 - len,
				       SEED_N, 3 + len));
		ASSERT_EQ(0, uring_counts(&is1, &pu1));
		ASSERT_EQ(0, xp_stat("uring_workers", &wk1));
		EXPECT_EQ(0ULL, is1 - is0);
		EXPECT_EQ(workers ? 0ULL : 1ULL, pu1 - pu0)
			TH_LOG("%s: io-wq punts", dir ? "read" : "write");
		EXPECT_EQ(workers ? 1ULL : 0ULL, wk1 - wk0)
			TH_LOG("%s: handed to the workers",
			       dir ? "read" : "write");
	}
	XP_EXPECT_PINS_BACK_TO(s0, s1, 1000);
	EXPECT_EQ(2ULL, s1.copies - s0.copies);
	io_uring_queue_exit(&ring);
	munmap(src, BIG_LEN);
	munmap(dst, BIG_LEN);
	close(fd);
	if (!workers)
		SKIP(return, NO_URING_WORKERS);
}
#pragma GCC diagnostic pop

/*
 * A 1 MiB copy through a grant with XPCOPY_COPY_PUBLISH through io_uring:
 * the worker that runs it publishes the sequence value after the data, and
 * writes `copied`; 0 io-wq punts where the kernel has cancelable uring_cmds
 * (else one, and SKIP with the reason).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
TEST(uring_large_grant_publish_to_workers)
{
	const size_t len = 1 * MiB;
	uint64_t pu0 = 0, wk0 = 0, pu1 = 0, wk1 = 0, is = 0;
	struct xpcopy_iovec iov[2];
	struct xpcopy_copy c;
	struct io_uring ring;
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE |
			 XPCOPY_GRANT_SEQ,
		.len = len,
	};
	struct io_uring_sqe *sqe;
	uint64_t *seq;
	uint8_t *win, *src;
	int fd, gfd, ret, res = 0;
	bool workers;
	__u64 ud = 0;

	XPCOPY_OPEN_OR_SKIP(fd);
	XPCOPY_URING_CMD_OR_SKIP(fd);
	workers = uring_workers(fd);
	ret = ring_init(&ring, 4);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	win = xp_map_filled(len, SEED_N);
	src = xp_map_filled(len, SEED_L);
	seq = xp_map(4096, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, seq);
	g.addr = xp_ptr(win);
	g.seq_addr = xp_ptr(seq);
	gfd = ioctl(fd, XPCOPY_GRANT, &g);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT: %s", strerror(errno));
	ASSERT_EQ(0, uring_counts(&is, &pu0));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk0));
	/* the local range src + 5, the window's from offset 7 */
	iov[0].addr = xp_ptr(src + 5);
	iov[0].len = len - 7;
	iov[1].addr = 7;
	iov[1].len = len - 7;
	xp_copy_init(&c, XPCOPY_COPY_WRITE | XPCOPY_COPY_GRANT |
		     XPCOPY_COPY_PUBLISH, 0, &iov[0], 1, &iov[1], 1);
	c.grant_fd = gfd;
	c.seq = 7;
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	xp_prep_uring_cmd(sqe, fd, XPCOPY_COPY, &c, UD_COPY);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, wait_cqe(&ring, &ud, &res));
	EXPECT_EQ((int)(len - 7), res) TH_LOG("%s", res < 0 ?
					      strerror(-res) : "short");
	EXPECT_EQ((__u64)(len - 7), c.copied);
	EXPECT_EQ(7ULL, __atomic_load_n(seq, __ATOMIC_ACQUIRE));
	EXPECT_EQ(-1, xp_check(win + 7, len - 7, SEED_L, 5));
	EXPECT_EQ(-1, xp_check(win, 7, SEED_N, 0));
	ASSERT_EQ(0, uring_counts(&is, &pu1));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk1));
	EXPECT_EQ(workers ? 0ULL : 1ULL, pu1 - pu0);
	EXPECT_EQ(workers ? 1ULL : 0ULL, wk1 - wk0);
	EXPECT_EQ(0ULL, xp_wait_unpinned(1000));
	close(gfd);
	io_uring_queue_exit(&ring);
	munmap(win, len);
	munmap(src, len);
	munmap(seq, 4096);
	close(fd);
	if (!workers)
		SKIP(return, NO_URING_WORKERS);
}
#pragma GCC diagnostic pop

/* ---- the ABI through io_uring: the ioctl's checks and errnos ---- */

FIXTURE(abi)
{
	int fd;
	struct io_uring ring;
	bool have_ring;
};

FIXTURE_SETUP(abi)
{
	int ret;

	self->have_ring = false;
	XPCOPY_OPEN_OR_SKIP(self->fd);
	XPCOPY_URING_CMD_OR_SKIP(self->fd);
	ret = ring_init(&self->ring, 8);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	self->have_ring = true;
}

FIXTURE_TEARDOWN(abi)
{
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	close(self->fd);
}

/* One command, its CQE's result; a raw sqe->cmd when @raw is set. */
static int one_cmd(FIXTURE_DATA(abi) *self, __u32 cmd_op, void *arg,
		   const struct xpcopy_uring_cmd *raw)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);
	__u64 ud = 0;
	int res = 0, ret;

	if (!sqe)
		return INT_MIN;
	xp_prep_uring_cmd(sqe, self->fd, cmd_op, arg, 77);
	if (raw)
		memcpy(sqe->cmd, raw, sizeof(*raw));
	if (io_uring_submit(&self->ring) != 1)
		return INT_MIN;
	ret = wait_cqe(&self->ring, &ud, &res);
	if (ret || ud != 77)
		return INT_MIN;
	return res;
}

TEST_F(abi, features)
{
	struct xpcopy_features f = { .size = sizeof(f) };

	ASSERT_EQ(0, one_cmd(self, XPCOPY_FEATURES, &f, NULL));
	EXPECT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version);
	EXPECT_NE(0ULL, f.commands & (1ULL << XPCOPY_CMD_COPY));
	EXPECT_LT(0U, f.nr_workers);
}

TEST_F(abi, errnos)
{
	struct xpcopy_features f = { .size = sizeof(f) };
	struct xpcopy_uring_cmd raw = { .cmd = xp_ptr(&f), .__reserved = 1 };
	uint8_t buf[64];
	struct xpcopy_iovec l = { xp_ptr(buf), sizeof(buf) };
	struct xpcopy_iovec r = { XP_KERNEL_ADDR, sizeof(buf) };
	struct xpcopy_copy c;

	EXPECT_EQ(-ENOTTY, one_cmd(self, _IOWR(XPCOPY_TYPE, 0x1f,
					       struct xpcopy_features),
				   &f, NULL));
	EXPECT_EQ(-ENOTTY, one_cmd(self, _IOWR('y', XPCOPY_CMD_FEATURES,
					       struct xpcopy_features),
				   &f, NULL));
	EXPECT_EQ(-EINVAL, one_cmd(self, XPCOPY_FEATURES, &f, &raw));
	EXPECT_EQ(-EFAULT, one_cmd(self, XPCOPY_FEATURES, NULL, NULL));
	f.flags = 1;
	EXPECT_EQ(-EINVAL, one_cmd(self, XPCOPY_FEATURES, &f, NULL));

	xp_copy_init(&c, XPCOPY_COPY_WRITE | XPCOPY_COPY_READ, getpid(),
		     &l, 1, &l, 1);
	EXPECT_EQ(-EINVAL, one_cmd(self, XPCOPY_COPY, &c, NULL));
	xp_copy_init(&c, XPCOPY_COPY_WRITE | (1U << 31), getpid(), &l, 1,
		     &l, 1);
	EXPECT_EQ(-EINVAL, one_cmd(self, XPCOPY_COPY, &c, NULL));
	xp_copy_init(&c, XPCOPY_COPY_WRITE, getpid(), &l, 1, &r, 1);
	EXPECT_EQ(-EFAULT, one_cmd(self, XPCOPY_COPY, &c, NULL));
	EXPECT_EQ(XP_COPIED_POISON, c.copied);
	xp_copy_init(&c, XPCOPY_COPY_WRITE, -1, &l, 1, &l, 1);
	EXPECT_EQ(-EINVAL, one_cmd(self, XPCOPY_COPY, &c, NULL));
	xp_copy_init(&c, XPCOPY_COPY_WRITE, getpid(), &l, 1, &l, 1);
	c.size = 8;
	EXPECT_EQ(-EINVAL, one_cmd(self, XPCOPY_COPY, &c, NULL));
	/* a self copy works, and its result is the count */
	xp_copy_init(&c, XPCOPY_COPY_WRITE, getpid(), &l, 1, &l, 1);
	EXPECT_EQ((int)sizeof(buf), one_cmd(self, XPCOPY_COPY, &c, NULL));
	EXPECT_EQ(sizeof(buf), c.copied);
}

/* A grant made through io_uring: the result is the new fd. */
TEST_F(abi, grant_fd_result)
{
	uint8_t *win = xp_map(4096, PROT_READ | PROT_WRITE);
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE,
		.len = 4096,
	};
	struct xpcopy_grant_info info = { .size = sizeof(info) };
	int fd;

	ASSERT_NE(NULL, win);
	g.addr = xp_ptr(win);
	fd = one_cmd(self, XPCOPY_GRANT, &g, NULL);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	EXPECT_EQ(fd, g.fd);
	info.grant_fd = fd;
	EXPECT_EQ(0, one_cmd(self, XPCOPY_GRANT_INFO, &info, NULL));
	EXPECT_EQ(4096ULL, info.len);
	EXPECT_EQ(0, xp_ioctl(self->fd, XPCOPY_GRANT_INFO, &info));
	close(fd);
	munmap(win, 4096);
}

/*
 * XPCOPY_FEATURES tells the truth about io_uring, on every kernel: with
 * XPCOPY_CAP_URING_CMD a command submitted through io_uring runs; without
 * it (Linux before 5.19: no IORING_OP_URING_CMD) io_uring itself fails the
 * SQE with EINVAL, the errno the ABI documents for that case.
 */
/* TEST() (without a fixture) has a parameter it does not use. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
TEST(caps_match_uring_cmd)
{
	struct xpcopy_features f = { .size = sizeof(f) };
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int fd, ret, res = 0;
	__u64 ud = 0;
	bool cap;

	XPCOPY_OPEN_OR_SKIP(fd);
	cap = xp_has_uring_cmd(fd);
	ret = ring_init(&ring, 2);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(close(fd); return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	xp_prep_uring_cmd(sqe, fd, XPCOPY_FEATURES, &f, 5);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, wait_cqe(&ring, &ud, &res));
	EXPECT_EQ(5ULL, ud);
	EXPECT_EQ(cap ? 0 : -EINVAL, res)
		TH_LOG("XPCOPY_FEATURES: caps %s XPCOPY_CAP_URING_CMD",
		       cap ? "has" : "lacks");
	if (cap)
		EXPECT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version);
	io_uring_queue_exit(&ring);
	close(fd);
}
#pragma GCC diagnostic pop

/*
 * Every worker held by a copy stalled on a page nobody serves: a large
 * io_uring copy of present pages is not queued behind them, and not sent
 * to io-wq either: the submitter copies it in the submission itself
 * (uring_issued + 1, uring_workers + 0, uring_punts + 0), byte-exact.
 */
TEST_F_TIMEOUT(ur, large_with_no_free_worker, 120)
{
	struct sigaction sa = { .sa_handler = xp_no_op_signal };
	uint64_t is0 = 0, pu0 = 0, is1 = 0, pu1 = 0, wk0 = 0, wk1 = 0;
	static struct xp_staller st[64];
	const size_t len = LARGE_LEN;
	struct xpcopy_iovec iov[2];
	struct xpcopy_copy c;
	struct xp_stats s0;
	unsigned int n;
	uint64_t p0;
	int res = 0;
	__u64 ud = 0;
	long long d;

	if (!variant->large)
		SKIP(return, "for the *_large variants: too large for the submission");
	if (!uring_workers(self->fd))
		SKIP(return, "no cancelable uring_cmds: large copies go to io-wq (submission_or_io_wq)");
	n = self->nr_workers;
	ASSERT_GE(ARRAY_SIZE(st), n);
	ASSERT_GE(XP_UFFD_LEN / 4096, n);
	XP_START_UFFD_TARGET();
	/* Ours again after the fork: no copy-on-write fault to take. */
	xp_fill(self->local, MANY_LEN, SEED_L, 0);
	/* No SA_RESTART: the stalled copies end with EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, xp_stats_read(&s0));
	p0 = s0.pinned_now;
	/* Each stalled copy holds its one page and one worker. */
	ASSERT_EQ(0, xp_stallers_start(st, n, self->fd, self->t.pid,
				       self->local, xp_ptr(self->uffd_region),
				       4096, p0))
		TH_LOG("the stalling copies did not start");

	ASSERT_EQ(0, uring_counts(&is0, &pu0));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk0));
	ASSERT_EQ(0, submit_copy(&self->ring, self->fd, &c, iov,
				 variant->flags, self->t.pid,
				 self->local + MANY_LEN / 2,
				 xp_ptr(self->normal), len, UD_COPY));
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res))
		TH_LOG("the copy waited behind the stalled workers");
	EXPECT_EQ((int)len, res);
	ASSERT_EQ(0, uring_counts(&is1, &pu1));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk1));
	EXPECT_EQ(1ULL, is1 - is0) TH_LOG("not copied in the submission");
	EXPECT_EQ(0ULL, wk1 - wk0) TH_LOG("handed to held workers");
	EXPECT_EQ(0ULL, pu1 - pu0) TH_LOG("sent to io-wq");
	if (variant->read)
		d = xp_check(self->local + MANY_LEN / 2, len, SEED_N, 0);
	else
		d = xp_target_patcheck(&self->t, xp_ptr(self->normal), len,
				       SEED_L, MANY_LEN / 2);
	EXPECT_EQ(-1, d) TH_LOG("differs at %lld", d);

	EXPECT_EQ(0U, xp_stallers_stop(st, n))
		TH_LOG("stalled copies ended early or not with EINTR");
	XP_EXPECT_PINS_BACK(s0, 5000);
}

/* ---- XPCOPY_SQE_COPY: the command whole in a 128-byte SQE ---- */

FIXTURE(sqe)
{
	int fd;
	struct io_uring ring;	/* IORING_SETUP_SQE128 */
	bool have_ring;
	uint8_t *normal;	/* ours, MANY_LEN, SEED_N: the "remote" side */
	uint8_t *local;		/* ours, MANY_LEN, SEED_L */
};

FIXTURE_SETUP(sqe)
{
	RING_BUFS_SETUP(self, XPCOPY_CAP_SQE_COPY,
			"the module has no XPCOPY_SQE_COPY (XPCOPY_CAP_SQE_COPY)",
			IORING_SETUP_SQE128);
}

FIXTURE_TEARDOWN(sqe)
{
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	close(self->fd);
}

/* A pid no process has: a child's, reaped. */
static pid_t reaped_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

/* One XPCOPY_SQE_COPY of this process's, its CQE's result. */
static int sqe_one(FIXTURE_DATA(sqe) *self, __u32 flags, int target,
		   __u64 local, __u64 remote, __u64 len)
{
	__u64 copied = 0;
	int ret;

	ret = xp_sqe_copy(&self->ring, self->fd, flags, target, local, remote,
			  len, &copied);
	return ret ? ret : (int)copied;
}

/*
 * @n copies of @len bytes, @stride apart, from self->local to self->normal
 * (write) or back (read), by pid (this process) or through grant @gfd of
 * self->normal, in one io_uring_enter(): each CQE says @len. The growth of
 * uring_issued, uring_punts and uring_workers into @grew.
 */
static void sqe_batch(struct __test_metadata *_metadata,
		      FIXTURE_DATA(sqe) *self, int gfd, __u32 dir, int n,
		      size_t len, size_t stride, uint64_t grew[3])
{
	uint64_t c0[3] = { 0 }, c1[3] = { 0 };
	__u32 flags = dir | (gfd >= 0 ? XPCOPY_COPY_GRANT : 0);
	int i, res;
	__u64 ud;

	ASSERT_EQ(0, uring_counts(&c0[0], &c0[1]));
	ASSERT_EQ(0, xp_stat("uring_workers", &c0[2]));
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);
		__u64 remote = gfd >= 0 ? i * stride :
				xp_ptr(self->normal + i * stride);

		ASSERT_NE(NULL, sqe);
		xp_prep_sqe_copy(sqe, self->fd, flags,
				 gfd >= 0 ? gfd : getpid(),
				 xp_ptr(self->local + i * stride), remote,
				 len, 0, i);
	}
	ASSERT_EQ(n, io_uring_submit(&self->ring));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
		EXPECT_EQ((int)len, res)
			TH_LOG("copy %llu: %s", (unsigned long long)ud,
			       res < 0 ? strerror(-res) : "short");
	}
	ASSERT_EQ(0, uring_counts(&c1[0], &c1[1]));
	ASSERT_EQ(0, xp_stat("uring_workers", &c1[2]));
	for (i = 0; i < 3; i++)
		grew[i] = c1[i] - c0[i];
}

/*
 * 32 XPCOPY_SQE_COPY of 4 KiB in one io_uring_enter(), each way, by pid
 * and through a pinned grant: every one completes in the submission
 * (uring_issued + 32, no io-wq thread, no worker), byte-exact.
 */
TEST_F_TIMEOUT(sqe, in_submission, 120)
{
	const int n = 32;
	const size_t len = 4096, stride = 2 * len;
	uint64_t grew[3];
	int gfd, mode, dir, i;

	gfd = pinned_grant(self->fd, self->normal, n * stride);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT pinned: %s", strerror(-gfd));
	for (mode = 0; mode < 2; mode++) {
		for (dir = 0; dir < 2; dir++) {
			sqe_batch(_metadata, self, mode ? gfd : -1,
				  dir ? XPCOPY_COPY_READ : XPCOPY_COPY_WRITE,
				  n, len, stride, grew);
			EXPECT_EQ((uint64_t)n, grew[0]) TH_LOG("mode %d", mode);
			EXPECT_EQ(0ULL, grew[1]) TH_LOG("mode %d", mode);
			EXPECT_EQ(0ULL, grew[2]) TH_LOG("mode %d", mode);
			for (i = 0; i < n; i++) {
				long long d = xp_check(dir ?
						self->local + i * stride :
						self->normal + i * stride,
						len, SEED_L, i * stride);

				EXPECT_EQ(-1, d)
					TH_LOG("mode %d dir %d copy %d, byte %lld",
					       mode, dir, i, d);
			}
			/* What comes back must be what went. */
			for (i = 0; i < n && !dir; i++)
				memset(self->local + i * stride, 0, len);
		}
		xp_fill(self->normal, MANY_LEN, SEED_N, 0);
		xp_fill(self->local, MANY_LEN, SEED_L, 0);
	}
	close(gfd);
}

/*
 * Through a pinned grant a small XPCOPY_SQE_COPY takes a short way in the
 * submission; every check still holds there, with the errnos of the long
 * way: a right the grant lacks (EACCES), a range past the window
 * (ERANGE), a revoked grant (ESTALE: a derived one, whose pages the
 * original keeps pinned, and the original), an fd that is no grant
 * (EINVAL) or none (EBADF), a local range unmapped (EFAULT). A grant
 * derived at an offset that is no page boundary reaches the right bytes.
 * A local page not present yet is no error: the copy runs again where the
 * page can be faulted in (an io-wq punt), byte-exact.
 */
TEST_F_TIMEOUT(sqe, pinned_checks, 60)
{
	const __u32 gw = XPCOPY_COPY_GRANT | XPCOPY_COPY_WRITE;
	const __u32 gr = XPCOPY_COPY_GRANT | XPCOPY_COPY_READ;
	const size_t win = 16 * 4096;
	struct xpcopy_grant rg = {
		.size = sizeof(rg),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_PIN,
		.addr = xp_ptr(self->normal), .len = win,
	};
	struct xpcopy_grant_revoke rv = { .size = sizeof(rv) };
	struct xpcopy_grant_derive dv = {
		.size = sizeof(dv),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE,
		.offset = 4096 + 100, .len = 3 * 4096,
	};
	__u64 l = xp_ptr(self->local);
	uint64_t is0 = 0, pu0 = 0, is1 = 0, pu1 = 0;
	uint8_t *fresh;
	int gfd, rofd, dfd;

	gfd = pinned_grant(self->fd, self->normal, win);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT pinned: %s", strerror(-gfd));
	rofd = xp_ioctl(self->fd, XPCOPY_GRANT, &rg);
	ASSERT_LE(0, rofd) TH_LOG("XPCOPY_GRANT pinned read-only: %s",
				  strerror(-rofd));

	EXPECT_EQ(4096, sqe_one(self, gw, gfd, l, 0, 4096));
	EXPECT_EQ(-1, xp_check(self->normal, 4096, SEED_L, 0));
	EXPECT_EQ(100, sqe_one(self, gr, gfd, l + 8192, win - 100, 100));
	EXPECT_EQ(-EACCES, sqe_one(self, gw, rofd, l, 0, 64));
	EXPECT_EQ(64, sqe_one(self, gr, rofd, l, 0, 64));
	EXPECT_EQ(-ERANGE, sqe_one(self, gw, gfd, l, win - 64, 65));
	EXPECT_EQ(-ERANGE, sqe_one(self, gr, gfd, l, win + 4096, 1));
	EXPECT_EQ(-EINVAL, sqe_one(self, gw, self->fd, l, 0, 64));
	EXPECT_EQ(-EBADF, sqe_one(self, gw, 1000000, l, 0, 64));
	EXPECT_EQ(-EFAULT, sqe_one(self, gw, gfd, 4096, 0, 64));
	EXPECT_EQ(-EFAULT, sqe_one(self, gr, gfd, XP_KERNEL_ADDR, 0, 64));

	/* local pages never touched: not there until faulted in */
	fresh = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fresh);
	ASSERT_EQ(0, uring_counts(&is0, &pu0));
	EXPECT_EQ(4096, sqe_one(self, gr, gfd, xp_ptr(fresh), 0, 4096));
	EXPECT_EQ(4096, sqe_one(self, gw, gfd, xp_ptr(fresh + 4096), 4096,
				4096));
	ASSERT_EQ(0, uring_counts(&is1, &pu1));
	EXPECT_LE(1ULL, pu1 - pu0) TH_LOG("no punt: were the pages there?");
	EXPECT_EQ(-1, xp_check(fresh, 4096, SEED_L, 0));
	EXPECT_EQ(-1, first_nonzero(self->normal + 4096, 4096));

	/* derived at 4196: its offset 100 is the window's 4296 */
	dv.grant_fd = gfd;
	dfd = xp_ioctl(self->fd, XPCOPY_GRANT_DERIVE, &dv);
	ASSERT_LE(0, dfd) TH_LOG("XPCOPY_GRANT_DERIVE: %s", strerror(-dfd));
	memset(self->local + 3 * 4096, 0x7e, 5000);
	EXPECT_EQ(5000, sqe_one(self, gw, dfd, l + 3 * 4096, 100, 5000));
	EXPECT_EQ(0, memcmp(self->normal + 4296, self->local + 3 * 4096,
			    5000));
	EXPECT_NE(0x7e, self->normal[4295]);
	EXPECT_NE(0x7e, self->normal[4296 + 5000]);
	EXPECT_EQ(-ERANGE, sqe_one(self, gr, dfd, l, 3 * 4096 - 10, 11));
	rv.grant_fd = dfd;
	ASSERT_EQ(0, xp_ioctl(self->fd, XPCOPY_GRANT_REVOKE, &rv));
	EXPECT_EQ(-ESTALE, sqe_one(self, gw, dfd, l, 0, 64));
	EXPECT_EQ(-ESTALE, sqe_one(self, gr, dfd, l, 0, 64));
	EXPECT_EQ(64, sqe_one(self, gr, gfd, l, 0, 64));
	close(dfd);

	rv.grant_fd = gfd;
	ASSERT_EQ(0, xp_ioctl(self->fd, XPCOPY_GRANT_REVOKE, &rv));
	EXPECT_EQ(-ESTALE, sqe_one(self, gw, gfd, l, 0, 64));
	EXPECT_EQ(-ESTALE, sqe_one(self, gr, gfd, l, 0, 64));
	munmap(fresh, 2 * 4096);
	close(rofd);
	close(gfd);
}

/*
 * The errnos of XPCOPY_COPY, and the SQE's own: a non-zero reserved field
 * or byte past the struct, and a ring of 64-byte SQEs, are EINVAL; as an
 * ioctl it is ENOTTY.
 */
TEST_F(sqe, errnos)
{
	__u64 l = xp_ptr(self->local), r = xp_ptr(self->normal);
	struct xpcopy_sqe_copy sc = { .flags = XPCOPY_COPY_WRITE };
	struct xpcopy_grant rg = {
		.size = sizeof(rg), .flags = XPCOPY_GRANT_READ,
		.addr = r, .len = 4096,
	};
	const __u32 w = XPCOPY_COPY_WRITE, gw = w | XPCOPY_COPY_GRANT;
	struct io_uring_sqe *sqe;
	struct io_uring ring64;
	pid_t me = getpid();
	int gfd, res, ret;
	__u64 ud;

	EXPECT_EQ(-ENOTTY, xp_ioctl(self->fd, XPCOPY_SQE_COPY, &sc));
	EXPECT_EQ(64, sqe_one(self, w, me, l, r, 64));
	EXPECT_EQ(0, sqe_one(self, w, me, l, r, 0));
	EXPECT_EQ(-EINVAL, sqe_one(self, w | XPCOPY_COPY_READ, me, l, r, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, 0, me, l, r, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, w | (1U << 31), me, l, r, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, w, -1, l, r, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, w | XPCOPY_COPY_INLINE |
				   XPCOPY_COPY_WORKER, me, l, r, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, w, me, ~0ULL - 10, r, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, w, me, l, ~0ULL - 10, 64));
	EXPECT_EQ(-EFAULT, sqe_one(self, w, me, l, XP_KERNEL_ADDR, 64));
	EXPECT_EQ(-EFAULT, sqe_one(self, w, me, 4096, r, 64));
	EXPECT_EQ(-ESRCH, sqe_one(self, w, reaped_pid(), l, r, 64));
	EXPECT_EQ(-EBADF, sqe_one(self, gw, 1000000, l, 0, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, gw, self->fd, l, 0, 64));
	EXPECT_EQ(-EINVAL, sqe_one(self, gw | XPCOPY_COPY_PUBLISH, self->fd,
				   l, 0, 64));
	gfd = xp_ioctl(self->fd, XPCOPY_GRANT, &rg);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT: %s", strerror(-gfd));
	EXPECT_EQ(-EACCES, sqe_one(self, gw, gfd, l, 0, 64));
	EXPECT_EQ(-ERANGE, sqe_one(self, XPCOPY_COPY_READ | XPCOPY_COPY_GRANT,
				   gfd, l, 4000, 200));
	EXPECT_EQ(64, sqe_one(self, XPCOPY_COPY_READ | XPCOPY_COPY_GRANT,
			      gfd, l, 4032, 64));
	close(gfd);

	/* __reserved, then the last byte of the 80 past the struct */
	for (int k = 0; k < 2; k++) {
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		xp_prep_sqe_copy(sqe, self->fd, w, me, l, r, 64, 0, 9);
		if (k)
			((uint8_t *)sqe)[127] = 1;
		else
			((struct xpcopy_sqe_copy *)sqe->cmd)->__reserved = 1;
		ASSERT_EQ(1, io_uring_submit(&self->ring));
		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
		EXPECT_EQ(-EINVAL, res) TH_LOG("case %d", k);
	}

	/* a ring of 64-byte SQEs: the command does not fit */
	ret = io_uring_queue_init(4, &ring64, 0);
	ASSERT_EQ(0, ret);
	sqe = io_uring_get_sqe(&ring64);
	ASSERT_NE(NULL, sqe);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = self->fd;
	sqe->cmd_op = XPCOPY_SQE_COPY;
	sqe->user_data = 5;
	ASSERT_EQ(1, io_uring_submit(&ring64));
	ASSERT_EQ(0, wait_cqe(&ring64, &ud, &res));
	EXPECT_EQ(-EINVAL, res);
	io_uring_queue_exit(&ring64);
}

/*
 * A length past MAX_RW_COUNT is cut to it, as by process_vm_writev(), so
 * that the count fits the CQE: a copy of ~0 bytes (which would wrap around
 * the address space uncut: EINVAL) copies the one page mapped before a
 * hole, and says so.
 */
TEST_F(sqe, len_clamped)
{
	uint8_t *two = xp_map(2 * 4096, PROT_READ | PROT_WRITE);

	ASSERT_NE(NULL, two);
	ASSERT_EQ(0, munmap(two + 4096, 4096));
	memset(two, 0x5a, 4096);
	EXPECT_EQ(4096, sqe_one(self, XPCOPY_COPY_WRITE, getpid(),
				xp_ptr(two), xp_ptr(self->normal), ~0ULL));
	EXPECT_EQ(0, memcmp(self->normal, two, 4096));
	munmap(two, 4096);
}

/*
 * A large one (1 MiB, more than inline_max) through a grant with a
 * sequence word, published: the CQE says the whole length, the word holds
 * the value, and the bytes are exact; where the kernel lets the module's
 * workers post CQEs, one of them ran it (no io-wq thread).
 */
TEST_F_TIMEOUT(sqe, large_publish, 120)
{
	const size_t len = 1 * MiB;
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE |
			 XPCOPY_GRANT_SEQ,
		.addr = xp_ptr(self->normal), .len = len,
	};
	uint64_t wk0 = 0, wk1 = 0, *seq;
	struct io_uring_sqe *sqe;
	int gfd, res;
	__u64 ud;

	seq = xp_map(4096, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, seq);
	g.seq_addr = xp_ptr(seq);
	gfd = xp_ioctl(self->fd, XPCOPY_GRANT, &g);
	ASSERT_LE(0, gfd) TH_LOG("XPCOPY_GRANT: %s", strerror(-gfd));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk0));
	sqe = io_uring_get_sqe(&self->ring);
	ASSERT_NE(NULL, sqe);
	xp_prep_sqe_copy(sqe, self->fd, XPCOPY_COPY_WRITE | XPCOPY_COPY_GRANT |
			 XPCOPY_COPY_PUBLISH, gfd, xp_ptr(self->local), 0, len,
			 0x1234, 3);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
	EXPECT_EQ(3ULL, ud);
	EXPECT_EQ((int)len, res) TH_LOG("%s", res < 0 ? strerror(-res) : "short");
	EXPECT_EQ(0x1234ULL, __atomic_load_n(seq, __ATOMIC_ACQUIRE));
	EXPECT_EQ(-1, xp_check(self->normal, len, SEED_L, 0));
	ASSERT_EQ(0, xp_stat("uring_workers", &wk1));
	if (uring_workers(self->fd))
		EXPECT_EQ(1ULL, wk1 - wk0);
	close(gfd);
	munmap(seq, 4096);
}

/*
 * The SQE may be reused as soon as it is submitted: a copy that runs later
 * on an io-wq thread (a forced path) reads io_uring's copy of the command,
 * not the slot, which is scribbled over right after submission; both
 * XPCOPY_SQE_COPY and XPCOPY_COPY (whose SQE holds the struct's address).
 * (6.11 to 6.13 leave the command's pointer in the ring: the module reads
 * io_uring's copy itself there.)
 */
TEST_F_TIMEOUT(sqe, slot_reused, 60)
{
	const size_t len = 64 * KiB;
	struct xpcopy_iovec iov[8][2];
	struct xpcopy_copy c[8];
	struct io_uring_sqe *sqe;
	int i, res;
	__u64 ud;

	for (i = 0; i < 8; i++) {
		const __u32 flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER;
		uint8_t *l = self->local + i * len, *r = self->normal + i * len;

		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		if (i % 2) {
			iov[i][0].addr = xp_ptr(l);
			iov[i][0].len = len;
			iov[i][1].addr = xp_ptr(r);
			iov[i][1].len = len;
			xp_copy_init(&c[i], flags, getpid(), &iov[i][0], 1,
				     &iov[i][1], 1);
			xp_prep_uring_cmd(sqe, self->fd, XPCOPY_COPY, &c[i], i);
		} else {
			xp_prep_sqe_copy(sqe, self->fd, flags, getpid(),
					 xp_ptr(l), xp_ptr(r), len, 0, i);
		}
		ASSERT_EQ(1, io_uring_submit(&self->ring));
		memset(sqe, 0xff, 2 * sizeof(*sqe));
	}
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, wait_cqe(&self->ring, &ud, &res));
		EXPECT_EQ((int)len, res) TH_LOG("copy %llu: %s",
						(unsigned long long)ud,
						res < 0 ? strerror(-res) : "short");
	}
	EXPECT_EQ(-1, xp_check(self->normal, 8 * len, SEED_L, 0));
}

TEST_HARNESS_MAIN
