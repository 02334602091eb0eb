// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy copy tests: bytes land where they should, for every size, offset
 * and iovec shape, and faults end a copy the documented way. Every test
 * runs four ways: XPCOPY_COPY_WRITE and XPCOPY_COPY_READ, each through the
 * single-copy path and through XPCOPY_COPY_BOUNCE.
 *
 * How a test works: the test process maps a local window and a remote
 * window (each with inaccessible guard pages around it) and fills each with
 * its own pattern; then it forks the target, which so gets its own
 * copy-on-write copy of the remote window at the same address. A model
 * computes, in userspace, the destination window the copy must leave
 * (guard bytes, gaps between ranges and all), into a MAP_SHARED scratch
 * area; the whole destination window is then compared with it (by the
 * target, for a WRITE), the source window is checked to be unchanged, and
 * for a WRITE the test process's own copy of the remote window too (the
 * target's copy-on-write copy was written, not ours). Module counters are
 * checked around every copy: bytes grew by what was copied, pins taken and
 * released balance, and nothing stays pinned.
 *
 * Mappings no copy may touch, fork and copy-on-write, and the time
 * counters are in xpcopy_copy_mm.c, on the same fixture (xpcopy_copy.h).
 */
#include "xpcopy_copy.h"

/* One side of a copy: a window of memory, its pattern, what can be read. */
struct side {
	uint8_t *base;
	size_t len;
	uint64_t seed;
	size_t chk_off, chk_len;	/* the part of the window to verify */
};

struct plan {
	struct side loc, rem;
	struct xpcopy_iovec *l, *r;
	__u32 lcnt, rcnt;
	/*
	 * When a fault cuts a copy short, what the destination ranges hold
	 * past the count is not promised by the contract: lenient leaves
	 * those bytes out of the check. Bytes outside the ranges are always
	 * checked, and so is everything when the copy was not cut by a fault.
	 */
	bool lenient;
};

/* A span of a window, [a, b). */
struct ival {
	size_t a, b;
};

static int ival_cmp(const void *x, const void *y)
{
	const struct ival *p = x, *q = y;

	return p->a < q->a ? -1 : p->a > q->a;
}

/*
 * The parts of the destination ranges after the first @skip bytes, as
 * window offsets, sorted. Returns how many, or -1 on allocation failure.
 */
static long tail_ivals(const struct side *dst, const struct xpcopy_iovec *dv,
		       __u32 dn, __u64 skip, struct ival **out)
{
	struct ival *iv = calloc(dn ? dn : 1, sizeof(*iv));
	long n = 0;

	if (!iv)
		return -1;
	for (__u32 i = 0; i < dn; i++) {
		__u64 a = dv[i].addr, len = dv[i].len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		a += skip;
		len -= skip;
		skip = 0;
		if (a < xp_ptr(dst->base) || a - xp_ptr(dst->base) >= dst->len)
			continue;	/* outside the window: nothing to mask */
		iv[n].a = a - xp_ptr(dst->base);
		iv[n].b = iv[n].a + len > dst->len ? dst->len : iv[n].a + len;
		n++;
	}
	qsort(iv, n, sizeof(*iv), ival_cmp);
	*out = iv;
	return n;
}

/*
 * Compare window offsets [from, to) of the destination with the model,
 * leaving out the spans @iv. Returns the window offset of the first
 * difference, -1 if none, or INT64_MIN if the target did not answer.
 */
static long long dst_cmp(FIXTURE_DATA(copy) *self, const struct side *dst,
			 bool local, size_t from, size_t to,
			 const struct ival *iv, long n)
{
	size_t pos = from;

	for (long i = 0; i <= n && pos < to; i++) {
		size_t end = i < n ? iv[i].a : to;
		long long d;

		if (end > to)
			end = to;
		if (end > pos) {
			if (local)
				d = xp_cmp(dst->base + pos, self->scratch + pos,
					   end - pos);
			else
				d = xp_target_cmp(&self->t,
						  xp_ptr(dst->base + pos),
						  end - pos, pos);
			if (d == INT64_MIN)
				return d;
			if (d >= 0)
				return (long long)pos + d;
		}
		if (i < n && iv[i].b > pos)
			pos = iv[i].b;
	}
	return -1;
}

static bool side_map(struct side *s, size_t len, uint64_t seed)
{
	s->base = xp_map_guarded(len);
	s->len = len;
	s->seed = seed;
	s->chk_off = 0;
	s->chk_len = len;
	if (!s->base)
		return false;
	xp_fill(s->base, len, seed, 0);
	return true;
}

static void side_unmap(struct side *s)
{
	size_t page = xp_page_size();
	size_t span = ((s->len + page - 1) & ~(page - 1)) + 2 * page;

	if (s->base)
		munmap(s->base - page, span);
	s->base = NULL;
}

static __u64 iov_total(const struct xpcopy_iovec *v, __u32 n)
{
	__u64 t = 0;

	for (__u32 i = 0; i < n; i++)
		t += v[i].len;
	return t;
}

/*
 * The model: write into @out the destination window as it must be after
 * copying at most @limit bytes, in order, from the concatenation of the
 * source ranges to that of the destination ranges. Returns false if a
 * range to copy lies outside its window (a bug in the test).
 */
static bool model(uint8_t *out, const struct side *src,
		  const struct xpcopy_iovec *sv, __u32 sn,
		  const struct side *dst, const struct xpcopy_iovec *dv,
		  __u32 dn, __u64 limit)
{
	__u64 done = 0, soff = 0, doff = 0;
	__u32 si = 0, di = 0;

	xp_fill(out, dst->len, dst->seed, 0);
	while (done < limit && si < sn && di < dn) {
		__u64 n, so, dd;

		if (soff == sv[si].len) {
			si++;
			soff = 0;
			continue;
		}
		if (doff == dv[di].len) {
			di++;
			doff = 0;
			continue;
		}
		n = sv[si].len - soff;
		if (n > dv[di].len - doff)
			n = dv[di].len - doff;
		if (n > limit - done)
			n = limit - done;
		so = sv[si].addr + soff - xp_ptr(src->base);
		dd = dv[di].addr + doff - xp_ptr(dst->base);
		if (so > src->len || n > src->len - so ||
		    dd > dst->len || n > dst->len - dd)
			return false;
		xp_fill(out + dd, n, src->seed, so);
		soff += n;
		doff += n;
		done += n;
	}
	return true;
}

/*
 * Start a target, copy, check everything. @want_ret 0 expects success with
 * @want_copied bytes; otherwise the -errno expected, and nothing copied.
 */
static void run_plan(struct __test_metadata *_metadata,
		     FIXTURE_DATA(copy) *self,
		     const FIXTURE_VARIANT(copy) *variant, struct plan *p,
		     int want_ret, __u64 want_copied)
{
	bool rd = variant->read;
	const struct side *src = rd ? &p->rem : &p->loc;
	const struct side *dst = rd ? &p->loc : &p->rem;
	struct xp_stats s0, s1;
	__u64 copied = 0;
	long long diff;
	int ret;

	ASSERT_LE(dst->len, (size_t)SCRATCH_LEN);
	ASSERT_TRUE(model(self->scratch, src, rd ? p->r : p->l,
			  rd ? p->rcnt : p->lcnt, dst, rd ? p->l : p->r,
			  rd ? p->lcnt : p->rcnt, want_ret ? 0 : want_copied))
		TH_LOG("test bug: a range lies outside its window");

	ASSERT_EQ(0, xp_target_start(&self->t, self->scratch, SCRATCH_LEN,
				     NULL, NULL));
	ASSERT_EQ(0, xp_stats_read(&s0));
	ret = do_copy(self, variant, self->t.pid, p->l, p->lcnt,
		      p->r, p->rcnt, &copied);
	EXPECT_EQ(want_ret, ret) TH_LOG("copy returned %d (%s)", ret,
					 ret < 0 ? strerror(-ret) : "success");
	if (ret == 0 && want_ret == 0) {
		EXPECT_EQ(want_copied, copied);
	}

	/* counters */
	XP_EXPECT_PINS_BACK_TO(s0, s1, 1000);
	EXPECT_EQ(ret == 0 ? copied : 0ULL, s1.bytes - s0.bytes);
	if (ret == 0 && copied) {
		EXPECT_EQ(1ULL, s1.copies - s0.copies);
	}

	/* the destination window, guard bytes and gaps included */
	if (dst->chk_len) {
		__u64 done = ret == 0 ? copied : 0;
		struct ival *iv = NULL;
		long n = 0;

		if (p->lenient) {
			n = tail_ivals(dst, rd ? p->l : p->r,
				       rd ? p->lcnt : p->rcnt, done, &iv);
			ASSERT_LE(0, n);
		}
		diff = dst_cmp(self, dst, rd, dst->chk_off,
			       dst->chk_off + dst->chk_len, iv, n);
		EXPECT_EQ(-1, diff)
			TH_LOG("destination (%s) wrong at window offset %lld%s",
			       rd ? "local" : "remote", diff,
			       p->lenient ? "" : " (past the count included)");
		free(iv);
	}
	/* the source window is unchanged */
	if (src->chk_len) {
		if (rd)
			diff = xp_target_patcheck(&self->t,
						  xp_ptr(src->base + src->chk_off),
						  src->chk_len, src->seed,
						  src->chk_off);
		else
			diff = xp_check(src->base + src->chk_off, src->chk_len,
					src->seed, src->chk_off);
		EXPECT_EQ(-1, diff) TH_LOG("source changed at offset %lld",
					   diff);
	}
	/* our own copy of the remote window was not written */
	if (!rd && dst->chk_len) {
		diff = xp_check(dst->base + dst->chk_off, dst->chk_len,
				dst->seed, dst->chk_off);
		EXPECT_EQ(-1, diff)
			TH_LOG("write into the target changed the caller's copy-on-write copy at %lld",
			       diff);
	}
	EXPECT_EQ(0, xp_target_stop(&self->t)) TH_LOG("target died");
}

/*
 * run_plan() with one range each side: @len bytes at @laddr and @raddr;
 * @lenient as in struct plan.
 */
static void run_plan1(struct __test_metadata *_metadata,
		      FIXTURE_DATA(copy) *self,
		      const FIXTURE_VARIANT(copy) *variant, struct plan *p,
		      __u64 laddr, __u64 raddr, __u64 len, bool lenient,
		      int want_ret, __u64 want_copied)
{
	struct xpcopy_iovec l = { .addr = laddr, .len = len };
	struct xpcopy_iovec r = { .addr = raddr, .len = len };

	p->l = &l;
	p->r = &r;
	p->lcnt = p->rcnt = 1;
	p->lenient = lenient;
	run_plan(_metadata, self, variant, p, want_ret, want_copied);
}

/* One range each side: @len bytes at @loff in a local window and @roff in a
 * remote one, each window a page longer than needed on each end. */
static void simple(struct __test_metadata *_metadata,
		   FIXTURE_DATA(copy) *self,
		   const FIXTURE_VARIANT(copy) *variant, size_t len,
		   size_t loff, size_t roff)
{
	struct plan p = { 0 };

	ASSERT_TRUE(side_map(&p.loc, loff + len + self->page, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, roff + len + self->page, SEED_R));
	run_plan1(_metadata, self, variant, &p, xp_ptr(p.loc.base + loff),
		  xp_ptr(p.rem.base + roff), len, false, 0, len);
	side_unmap(&p.loc);
	side_unmap(&p.rem);
}

/* ---- sizes, page aligned on both sides ---- */

TEST_F(copy, size_1)
{
	simple(_metadata, self, variant, 1, self->page, self->page);
}

TEST_F(copy, size_4095)
{
	simple(_metadata, self, variant, 4095, self->page, self->page);
}

TEST_F(copy, size_4096)
{
	simple(_metadata, self, variant, 4096, self->page, self->page);
}

TEST_F(copy, size_4097)
{
	simple(_metadata, self, variant, 4097, self->page, self->page);
}

TEST_F(copy, size_1m_plus_13)
{
	simple(_metadata, self, variant, MiB + 13, self->page, self->page);
}

TEST_F_TIMEOUT(copy, size_64m, 100)
{
	simple(_metadata, self, variant, 64 * MiB, self->page, self->page);
}

/* ---- unaligned ---- */

TEST_F(copy, unaligned_both_sides)
{
	const struct { size_t loff, roff, len; } c[] = {
		{ 1, 4093, 3 * 4096 + 5 },
		{ 4095, 1, 4097 },
		{ 2047, 3001, 1 },
		{ 4095, 4095, 2 },
		{ 7, 7, 2 * 4096 },
		{ 4093, 4094, MiB + 13 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		TH_LOG("local offset %zu, remote offset %zu, %zu bytes",
		       c[i].loff, c[i].roff, c[i].len);
		simple(_metadata, self, variant, c[i].len, c[i].loff,
		       c[i].roff);
	}
}

/* ---- vectored ---- */

struct seg {
	size_t off, len;
};

static struct xpcopy_iovec *mkiov(const struct side *s, const struct seg *g,
				  size_t n)
{
	struct xpcopy_iovec *v = calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++) {
		v[i].addr = xp_ptr(s->base + g[i].off);
		v[i].len = g[i].len;
	}
	return v;
}

static void vectored(struct __test_metadata *_metadata,
		     FIXTURE_DATA(copy) *self,
		     const FIXTURE_VARIANT(copy) *variant,
		     const struct seg *lg, size_t ln,
		     const struct seg *rg, size_t rn, size_t wlen)
{
	struct plan p = { 0 };
	__u64 lt, rt;

	ASSERT_TRUE(side_map(&p.loc, wlen, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, wlen, SEED_R));
	p.l = mkiov(&p.loc, lg, ln);
	p.r = mkiov(&p.rem, rg, rn);
	ASSERT_NE(NULL, p.l);
	ASSERT_NE(NULL, p.r);
	p.lcnt = ln;
	p.rcnt = rn;
	lt = iov_total(p.l, ln);
	rt = iov_total(p.r, rn);
	run_plan(_metadata, self, variant, &p, 0, lt < rt ? lt : rt);
	free(p.l);
	free(p.r);
	side_unmap(&p.loc);
	side_unmap(&p.rem);
}

/* Ranges of different, unaligned lengths, not in address order, with gaps
 * and empty ranges; 17182 bytes each side. */
static const struct seg vec_local[] = {
	{ 5000, 1 }, { 100, 4095 }, { 20000, 4097 }, { 9000, 13 },
	{ 30001, 8199 }, { 60000, 0 }, { 12345, 777 },
};

static const struct seg vec_remote[] = {
	{ 40000, 4099 }, { 3, 5 }, { 7000, 0 }, { 11111, 12000 },
	{ 1000, 1078 },
};

TEST_F(copy, vectored)
{
	vectored(_metadata, self, variant, vec_local, ARRAY_SIZE(vec_local),
		 vec_remote, ARRAY_SIZE(vec_remote), 64 * KiB);
}

/* Totals differ: the copy stops where the shorter side ends. */
TEST_F(copy, vectored_local_shorter)
{
	vectored(_metadata, self, variant, vec_local, 4, vec_remote,
		 ARRAY_SIZE(vec_remote), 64 * KiB);
}

TEST_F(copy, vectored_remote_shorter)
{
	vectored(_metadata, self, variant, vec_local, ARRAY_SIZE(vec_local),
		 vec_remote, 2, 64 * KiB);
}

/* One side is a single range, the other many; shorter side in the middle
 * of a range of the longer one. */
TEST_F(copy, vectored_one_to_many)
{
	const struct seg one[] = { { 333, 10000 } };

	vectored(_metadata, self, variant, one, 1, vec_remote,
		 ARRAY_SIZE(vec_remote), 64 * KiB);
	vectored(_metadata, self, variant, vec_local, ARRAY_SIZE(vec_local),
		 one, 1, 64 * KiB);
}

/* Destination ranges overlap: bytes are copied in order, the later wins. */
TEST_F(copy, vectored_overlapping_destination)
{
	const struct seg src[] = { { 100, 5000 } };
	const struct seg dst[] = { { 1000, 3000 }, { 2500, 2000 } };

	if (variant->read)
		vectored(_metadata, self, variant, dst, 2, src, 1, 32 * KiB);
	else
		vectored(_metadata, self, variant, src, 1, dst, 2, 32 * KiB);
}

/* XPCOPY_IOV_MAX ranges each side, the remote ones in falling address
 * order. */
TEST_F(copy, iov_max_segments)
{
	const size_t n = XPCOPY_IOV_MAX;
	struct seg *lg = calloc(n, sizeof(*lg));
	struct seg *rg = calloc(n, sizeof(*rg));
	size_t off = 3, lt = 0, rt = 0;

	ASSERT_NE(NULL, lg);
	ASSERT_NE(NULL, rg);
	for (size_t i = 0; i < n; i++) {
		lg[i].off = off;
		lg[i].len = 1 + i % 7;
		off += lg[i].len + 2;
		lt += lg[i].len;
	}
	for (size_t i = 0; i < n - 1; i++) {
		rg[i].len = 1 + i % 5;
		rt += rg[i].len;
	}
	ASSERT_LT(rt, lt);
	rg[n - 1].len = lt - rt;
	off = 1;
	for (size_t i = n; i-- > 0;) {
		rg[i].off = off;
		off += rg[i].len + 3;
	}
	vectored(_metadata, self, variant, lg, n, rg, n, 16 * KiB);
	free(lg);
	free(rg);
}

/* ---- self ---- */

/* pid == own pid: both windows in the test process. */
TEST_F(copy, self_copy)
{
	struct side a, b;
	size_t len = MiB + 13;
	struct xpcopy_iovec l, r;
	const struct side *src, *dst;
	__u64 copied = 0;

	ASSERT_TRUE(side_map(&a, len + 2 * self->page, SEED_L));
	ASSERT_TRUE(side_map(&b, len + 2 * self->page, SEED_R));
	l.addr = xp_ptr(a.base + 7);
	l.len = len;
	r.addr = xp_ptr(b.base + 4090);
	r.len = len;
	ASSERT_EQ(0, do_copy(self, variant, getpid(), &l, 1, &r, 1,
			     &copied));
	EXPECT_EQ(len, copied);
	src = variant->read ? &b : &a;
	dst = variant->read ? &a : &b;
	ASSERT_TRUE(model(self->scratch, src, variant->read ? &r : &l, 1, dst,
			  variant->read ? &l : &r, 1, len));
	EXPECT_EQ(-1, xp_cmp(dst->base, self->scratch, dst->len));
	EXPECT_EQ(-1, xp_check(src->base, src->len, src->seed, 0));
	side_unmap(&a);
	side_unmap(&b);
}

/* ---- faults ---- */

/*
 * A range whose second half is unmapped: the copy succeeds with a short
 * count, exactly the mapped part, and those bytes are right. The range
 * starts 100 bytes into the window's second page and spans 4 pages; the
 * window's pages 3 and up are unmapped.
 */
static void half_unmapped(struct __test_metadata *_metadata,
			  FIXTURE_DATA(copy) *self,
			  const FIXTURE_VARIANT(copy) *variant, bool remote,
			  bool strict)
{
	size_t pg = self->page, len = 4 * pg;
	struct plan p = { 0 };
	struct side *holey;

	ASSERT_TRUE(side_map(&p.loc, 6 * pg, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, 6 * pg, SEED_R));
	holey = remote ? &p.rem : &p.loc;
	ASSERT_EQ(0, munmap(holey->base + 3 * pg, 3 * pg));
	holey->chk_len = 3 * pg;
	run_plan1(_metadata, self, variant, &p, xp_ptr(p.loc.base + pg + 100),
		  xp_ptr(p.rem.base + pg + 100), len, !strict, 0,
		  2 * pg - 100);
	side_unmap(&p.loc);
	side_unmap(&p.rem);
}

TEST_F(copy, half_unmapped_remote)
{
	half_unmapped(_metadata, self, variant, true, false);
}

TEST_F(copy, half_unmapped_local)
{
	half_unmapped(_metadata, self, variant, false, false);
}

/* The fault is in the second remote range: short count, the first range. */
TEST_F(copy, fault_in_second_range)
{
	size_t pg = self->page;
	struct plan p = { 0 };
	struct xpcopy_iovec l, r[2];

	ASSERT_TRUE(side_map(&p.loc, 8 * pg, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, 8 * pg, SEED_R));
	ASSERT_EQ(0, munmap(p.rem.base + 5 * pg, 3 * pg));
	p.rem.chk_len = 5 * pg;
	l.addr = xp_ptr(p.loc.base + 11);
	l.len = 5000 + 3000;
	r[0].addr = xp_ptr(p.rem.base + 123);
	r[0].len = 5000;
	r[1].addr = xp_ptr(p.rem.base + 6 * pg);	/* unmapped */
	r[1].len = 3000;
	p.l = &l;
	p.r = r;
	p.lcnt = 1;
	p.rcnt = 2;
	p.lenient = true;
	run_plan(_metadata, self, variant, &p, 0, 5000);
	side_unmap(&p.loc);
	side_unmap(&p.rem);
}

/*
 * A whole range made inaccessible with @prot (or unmapped, prot < 0) on
 * one side; the other side is fine. Expect @want and nothing copied.
 */
static void bad_side(struct __test_metadata *_metadata,
		     FIXTURE_DATA(copy) *self,
		     const FIXTURE_VARIANT(copy) *variant, bool remote,
		     int prot, int want, bool strict)
{
	size_t pg = self->page;
	struct plan p = { 0 };
	struct side *bad;

	ASSERT_TRUE(side_map(&p.loc, 4 * pg, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, 4 * pg, SEED_R));
	bad = remote ? &p.rem : &p.loc;
	if (prot < 0) {
		ASSERT_EQ(0, munmap(bad->base, 4 * pg));
		bad->chk_len = 0;
	} else {
		ASSERT_EQ(0, mprotect(bad->base, 4 * pg, prot));
		if (!(prot & PROT_READ))
			bad->chk_len = 0;
	}
	run_plan1(_metadata, self, variant, &p, xp_ptr(p.loc.base + pg + 5),
		  xp_ptr(p.rem.base + pg + 9), 2 * pg, !strict, want, 0);
	if (prot >= 0)
		side_unmap(bad);
	side_unmap(remote ? &p.loc : &p.rem);
}

/* No forced writes: a read-only destination is EFAULT, and unchanged. */
TEST_F(copy, readonly_destination)
{
	bad_side(_metadata, self, variant, !variant->read, PROT_READ, -EFAULT,
		 true);
}

/* A read-only source is fine. */
TEST_F(copy, readonly_source)
{
	size_t pg = self->page;
	struct plan p = { 0 };
	struct side *src;

	ASSERT_TRUE(side_map(&p.loc, 4 * pg, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, 4 * pg, SEED_R));
	src = variant->read ? &p.rem : &p.loc;
	ASSERT_EQ(0, mprotect(src->base, 4 * pg, PROT_READ));
	run_plan1(_metadata, self, variant, &p, xp_ptr(p.loc.base + 77),
		  xp_ptr(p.rem.base + 1), 3 * pg, false, 0, 3 * pg);
	side_unmap(&p.loc);
	side_unmap(&p.rem);
}

TEST_F(copy, prot_none_remote)
{
	bad_side(_metadata, self, variant, true, PROT_NONE, -EFAULT, false);
}

TEST_F(copy, prot_none_local)
{
	bad_side(_metadata, self, variant, false, PROT_NONE, -EFAULT, false);
}

TEST_F(copy, unmapped_remote)
{
	bad_side(_metadata, self, variant, true, -1, -EFAULT, false);
}

TEST_F(copy, unmapped_local)
{
	bad_side(_metadata, self, variant, false, -1, -EFAULT, false);
}

static void kernel_addr(struct __test_metadata *_metadata,
			FIXTURE_DATA(copy) *self,
			const FIXTURE_VARIANT(copy) *variant, bool remote)
{
	size_t pg = self->page;
	struct plan p = { 0 };

	ASSERT_TRUE(side_map(&p.loc, 4 * pg, SEED_L));
	ASSERT_TRUE(side_map(&p.rem, 4 * pg, SEED_R));
	run_plan1(_metadata, self, variant, &p,
		  remote ? xp_ptr(p.loc.base + pg) : XP_KERNEL_ADDR,
		  remote ? XP_KERNEL_ADDR : xp_ptr(p.rem.base + pg), pg, true,
		  -EFAULT, 0);
	side_unmap(&p.loc);
	side_unmap(&p.rem);
}

TEST_F(copy, kernel_address_remote)
{
	kernel_addr(_metadata, self, variant, true);
}

TEST_F(copy, kernel_address_local)
{
	kernel_addr(_metadata, self, variant, false);
}

/*
 * Beyond the contract's letter, as process_vm_readv(2) behaves: a copy cut
 * short by a fault in the source leaves the destination past the count as
 * it was, and a copy that fails leaves all of it. (A READ that fills the
 * rest of the caller's range with zeroes, as copy_from_user() does to its
 * destination on a fault, fails here.)
 */
TEST_F(copy, fault_keeps_rest_of_destination)
{
	half_unmapped(_metadata, self, variant, true, true);
	bad_side(_metadata, self, variant, true, PROT_NONE, -EFAULT, true);
	bad_side(_metadata, self, variant, true, -1, -EFAULT, true);
}

/* ---- counters and batches ---- */

TEST_F(copy, counters)
{
	size_t pg = self->page;
	struct side a, b;
	struct xp_stats s0, s1, s2;
	__u64 c1 = 0, c2 = 0;

	ASSERT_TRUE(side_map(&a, 2 * MiB, SEED_L));
	ASSERT_TRUE(side_map(&b, 2 * MiB, SEED_R));
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	ASSERT_EQ(0, xp_reset_peak());
	ASSERT_EQ(0, xp_stats_read(&s0));
	EXPECT_EQ(0ULL, s0.pinned_now);
	EXPECT_EQ(s0.pins_taken, s0.pins_released);
	ASSERT_EQ(0, do_copy1(self, variant, self->t.pid,
			      a.base + 1, MiB + 13, xp_ptr(b.base + 3),
			      MiB + 13, &c1));
	ASSERT_EQ(MiB + 13, c1);
	ASSERT_EQ(0, do_copy1(self, variant, self->t.pid,
			      a.base + pg, 5, xp_ptr(b.base), 5, &c2));
	ASSERT_EQ(5ULL, c2);
	XP_EXPECT_PINS_BACK_TO(s0, s1, 1000);
	EXPECT_EQ(2ULL, s1.copies - s0.copies);
	EXPECT_EQ(MiB + 13 + 5, s1.bytes - s0.bytes);
	if (!variant->bounce) {
		/* the single-copy path pins every local page it copies:
		 * 257 pages for the first copy, 1 for the second */
		EXPECT_LE(258ULL, s1.pins_taken - s0.pins_taken);
		EXPECT_LE(1ULL, s1.pinned_peak);
	}
	EXPECT_LE(s1.pinned_peak, self->batch);

	/* a failed copy copies no bytes */
	EXPECT_EQ(-EFAULT, do_copy1(self, variant, self->t.pid,
				    a.base, 100, XP_KERNEL_ADDR, 100, NULL));
	ASSERT_EQ(0, xp_stats_read(&s2));
	EXPECT_EQ(s1.bytes, s2.bytes);
	EXPECT_EQ(0, xp_target_stop(&self->t));
	side_unmap(&a);
	side_unmap(&b);
}

/* Writing "0" to pinned_peak resets it to pinned_now. */
TEST_F(copy, pinned_peak_reset)
{
	struct side a, b;
	uint64_t v = UINT64_MAX;
	__u64 c = 0;

	ASSERT_TRUE(side_map(&a, MiB, SEED_L));
	ASSERT_TRUE(side_map(&b, MiB, SEED_R));
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	ASSERT_EQ(0, do_copy1(self, variant, self->t.pid, a.base,
			      MiB, xp_ptr(b.base), MiB, &c));
	ASSERT_EQ(MiB, c);
	ASSERT_EQ(0ULL, xp_wait_unpinned(1000));
	ASSERT_EQ(0, xp_stat("pinned_peak", &v));
	if (!variant->bounce) {
		EXPECT_LE(1ULL, v);
	}
	ASSERT_EQ(0, xp_reset_peak());
	ASSERT_EQ(0, xp_stat("pinned_peak", &v));
	EXPECT_EQ(0ULL, v);
	EXPECT_EQ(0, xp_target_stop(&self->t));
	side_unmap(&a);
	side_unmap(&b);
}

/* A small batch_pages is obeyed, and the copy is still right. */
TEST_F(copy, batch_pages_small)
{
	const uint64_t small = 8;
	struct xpcopy_features f;
	struct xp_stats s0, s1;
	size_t len = MiB + 13;
	uint64_t peak = UINT64_MAX;

	ASSERT_EQ(0, xp_batch_pages(&self->saved_batch));
	ASSERT_EQ(0, xp_write_u64(XPCOPY_BATCH_PARAM, small));
	ASSERT_EQ(0, xp_features(self->fd, &f));
	ASSERT_EQ(small, f.batch_pages);
	self->batch = small;
	ASSERT_EQ(0, xp_stats_read(&s0));
	ASSERT_EQ(0, xp_reset_peak());
	simple(_metadata, self, variant, len, 4093, 5);
	ASSERT_EQ(0, xp_stat("pinned_peak", &peak));
	ASSERT_EQ(0, xp_stats_read(&s1));
	EXPECT_LE(peak, small);
	if (!variant->bounce) {
		EXPECT_LE(1ULL, peak);
		/*
		 * The worker path pins the local side: 4093 + len spans 258
		 * pages. The caller-context path pins the remote side: 5 + len
		 * spans 257.
		 */
		EXPECT_LE(variant->flags & XPCOPY_COPY_INLINE ? 257ULL : 258ULL,
			  s1.pins_taken - s0.pins_taken);
	}
}

/* Transparent huge pages on both sides (when THP is available; the copy
 * must be right either way). */
TEST_F(copy, thp_buffers)
{
	size_t huge = 2 * MiB, len = 4 * MiB;
	struct plan p = { 0 };
	uint8_t *lraw, *rraw;

	lraw = xp_map(len + 2 * huge, PROT_READ | PROT_WRITE);
	rraw = xp_map(len + 2 * huge, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, lraw);
	ASSERT_NE(NULL, rraw);
	p.loc.base = (uint8_t *)(((uintptr_t)lraw + huge - 1) & ~(huge - 1));
	p.rem.base = (uint8_t *)(((uintptr_t)rraw + huge - 1) & ~(huge - 1));
	p.loc.len = p.rem.len = len;
	p.loc.seed = SEED_L;
	p.rem.seed = SEED_R;
	p.loc.chk_len = p.rem.chk_len = len;
	madvise(p.loc.base, len, MADV_HUGEPAGE);
	madvise(p.rem.base, len, MADV_HUGEPAGE);
	xp_fill(p.loc.base, len, SEED_L, 0);
	xp_fill(p.rem.base, len, SEED_R, 0);
	run_plan1(_metadata, self, variant, &p,
		  xp_ptr(p.loc.base + huge / 2 - 4095), xp_ptr(p.rem.base + 1),
		  2 * MiB + 4097, false, 0, 2 * MiB + 4097);
	munmap(lraw, len + 2 * huge);
	munmap(rraw, len + 2 * huge);
}

/* ---- 4 GiB, virtually ---- */

#define V_LEN		(4 * GiB)
#define V_SRC_MFD	(16 * MiB)
#define V_DST_MFD	(12 * MiB)	/* not a divisor of 16 MiB: see below */

struct repeat {
	uint8_t *base;
	uint64_t len;
	int mfd;
	size_t msize;
};

/*
 * Reserve V_LEN bytes of address space (PROT_NONE) for @r, to be filled
 * with @mfd, @msize bytes long, by map_repeat(); false if mmap() fails.
 */
static bool repeat_reserve(struct repeat *r, int mfd, size_t msize)
{
	r->base = mmap(NULL, V_LEN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->base == MAP_FAILED)
		return false;
	r->len = V_LEN;
	r->mfd = mfd;
	r->msize = msize;
	return true;
}

/* Map @mfd again and again over [base, base+len). */
static int map_repeat(const struct repeat *r)
{
	for (uint64_t off = 0; off < r->len; off += r->msize) {
		size_t n = r->len - off < r->msize ? r->len - off : r->msize;
		void *p = mmap(r->base + off, n, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_FIXED | MAP_POPULATE, r->mfd, 0);

		if (p == MAP_FAILED)
			return -errno;
	}
	return 0;
}

static int target_map_repeat(void *arg, int *uffd, uint64_t *ubase)
{
	(void)uffd;
	(void)ubase;
	return map_repeat(arg);
}

static int memfd_pattern(const char *name, size_t size, uint64_t seed)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size))
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	xp_fill(p, size, seed, 0);
	munmap(p, size);
	return fd;
}

/*
 * 4 GiB in one range (a __u64 length) each side: the source side is a
 * 16 MiB memfd mapped 256 times, the destination a 12 MiB memfd mapped
 * over and over. As bytes are copied in order, each destination byte ends
 * up with the last source byte written to it: for destination offset o,
 * stream position p in [4 GiB - 12 MiB, 4 GiB) with p % 12 MiB == o, that
 * is source byte p % 16 MiB. A batch lost, repeated or misplaced near the
 * end changes that. pinned_peak must stay within batch_pages throughout.
 */
TEST_F_TIMEOUT(copy, virtual_4g, 240)
{
	bool rd = variant->read;
	int src_mfd, dst_mfd;
	struct repeat rem, loc;
	struct xpcopy_iovec l, r;
	struct xp_stats s0, s1;
	uint8_t *dst;
	__u64 copied = 0;
	int ret;

	/*
	 * Through io_uring the 4 GiB copy runs on the worker path variants
	 * only: the inline and bounce paths are the same engine code as
	 * their ioctl variants (which run), and the bounce one took 150 to
	 * 240 s under TCG on a loaded host, a third of make check's budget
	 * for a kernel.
	 */
	if (variant->uring && (variant->bounce ||
			       (variant->flags & XPCOPY_COPY_INLINE)))
		SKIP(return, "4 GiB through io_uring: worker path variants only (the inline and bounce paths run through the ioctl)");
	if (variant->sqe)
		SKIP(return, "XPCOPY_SQE_COPY copies at most MAX_RW_COUNT bytes a command, as process_vm_writev (sqe.len_clamped)");

	src_mfd = memfd_pattern("xpcopy-src", V_SRC_MFD, SEED_L);
	dst_mfd = memfd_pattern("xpcopy-dst", V_DST_MFD, SEED_R);
	ASSERT_LE(0, src_mfd);
	ASSERT_LE(0, dst_mfd);

	/* the remote side is mapped by the target itself, after the fork */
	ASSERT_TRUE(repeat_reserve(&rem, rd ? src_mfd : dst_mfd,
				   rd ? V_SRC_MFD : V_DST_MFD));
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, target_map_repeat,
				     &rem));

	ASSERT_TRUE(repeat_reserve(&loc, rd ? dst_mfd : src_mfd,
				   rd ? V_DST_MFD : V_SRC_MFD));
	ASSERT_EQ(0, map_repeat(&loc));

	ASSERT_EQ(0, xp_reset_peak());
	ASSERT_EQ(0, xp_stats_read(&s0));
	EXPECT_EQ(0ULL, s0.pinned_peak);
	l.addr = xp_ptr(loc.base);
	l.len = V_LEN;
	r.addr = xp_ptr(rem.base);
	r.len = V_LEN;
	ret = do_copy(self, variant, self->t.pid, &l, 1, &r, 1,
		      &copied);
	ASSERT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
	EXPECT_EQ(V_LEN, copied);

	XP_EXPECT_PINS_BACK_TO(s0, s1, 1000);
	EXPECT_LE(s1.pinned_peak, self->batch)
		TH_LOG("pinned_peak %llu > batch_pages %llu",
		       (unsigned long long)s1.pinned_peak,
		       (unsigned long long)self->batch);
	if (!variant->bounce) {
		EXPECT_LE(1ULL, s1.pinned_peak);
		EXPECT_LE(V_LEN / self->page, s1.pins_taken - s0.pins_taken);
	}
	EXPECT_EQ(1ULL, s1.copies - s0.copies);
	EXPECT_EQ(V_LEN, s1.bytes - s0.bytes);

	/* the destination memfd holds the last 12 MiB of the stream */
	dst = mmap(NULL, V_DST_MFD, PROT_READ, MAP_SHARED, dst_mfd, 0);
	ASSERT_NE(MAP_FAILED, dst);
	for (uint64_t p = V_LEN - V_DST_MFD; p < V_LEN;) {
		uint64_t so = p % V_SRC_MFD, dof = p % V_DST_MFD;
		uint64_t n = V_LEN - p;
		long long d;

		if (n > V_SRC_MFD - so)
			n = V_SRC_MFD - so;
		if (n > V_DST_MFD - dof)
			n = V_DST_MFD - dof;
		d = xp_check(dst + dof, n, SEED_L, so);
		ASSERT_EQ(-1, d)
			TH_LOG("destination memfd wrong at offset %llu",
			       (unsigned long long)(dof + d));
		p += n;
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
	munmap(dst, V_DST_MFD);
	munmap(loc.base, V_LEN);
	munmap(rem.base, V_LEN);
	close(src_mfd);
	close(dst_mfd);
}

TEST_HARNESS_MAIN
