// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy copy tests of the memory around a copy, on the copy fixture
 * (xpcopy_copy.h), every variant: mappings no path may touch (secretmem,
 * PFN maps), fork and copy-on-write (a copy leaves the source's pages
 * shared), and where the time goes (the time counters).
 */
#include "xpcopy_copy.h"

/* ---- mappings no path may touch ---- */

/*
 * A shared mapping the target inherits, at the same address: the copy into
 * or out of it must fail with EFAULT and leave both sides as they were,
 * on every path, as ptrace and process_vm_writev(2) refuse it.
 */
static void refused_mapping(struct __test_metadata *_metadata,
			    FIXTURE_DATA(copy) *self,
			    const FIXTURE_VARIANT(copy) *variant,
			    uint8_t *map, size_t len, bool writable)
{
	uint8_t *local = xp_map(len, PROT_READ | PROT_WRITE);
	uint8_t *before = malloc(len);
	__u64 copied = 0;
	int ret;

	ASSERT_NE(NULL, local);
	ASSERT_NE(NULL, before);
	xp_fill(local, len, SEED_L, 0);
	memcpy(before, map, len);
	ASSERT_EQ(0, xp_target_start(&self->t, self->scratch, SCRATCH_LEN,
				     NULL, NULL));
	if (!variant->read && !writable) {
		/* Nothing to write into: a read-only device mapping. */
		__u32 flags = (variant->flags & ~XPCOPY_COPY_WRITE) |
			      XPCOPY_COPY_READ;

		struct xpcopy_iovec l = { .addr = xp_ptr(local), .len = len };
		struct xpcopy_iovec r = { .addr = xp_ptr(map), .len = len };

		ret = do_copy_flags(self, variant, flags, self->t.pid, &l, 1,
				    &r, 1, &copied);
	} else {
		ret = do_copy1(self, variant, self->t.pid, local, len,
			       xp_ptr(map), len, &copied);
	}
	EXPECT_EQ(-EFAULT, ret);
	EXPECT_EQ(XP_COPIED_POISON, copied);
	/* The mapping is shared with the target: ours shows its bytes. */
	EXPECT_EQ(-1, xp_cmp(map, before, len));
	EXPECT_EQ(-1, xp_check(local, len, SEED_L, 0));
	EXPECT_EQ(0, xp_target_stop(&self->t));
	EXPECT_EQ(0ULL, xp_wait_unpinned(1000));
	munmap(local, len);
	free(before);
}

#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

/* memfd_secret(2): memory not even the kernel maps. */
TEST_F(copy, secretmem_refused)
{
	size_t len = 2 * self->page;
	uint8_t *map;
	int sfd;

	sfd = syscall(__NR_memfd_secret, 0);
	if (sfd < 0)
		SKIP(return, "memfd_secret: %s (secretmem off in this kernel)",
		     strerror(errno));
	ASSERT_EQ(0, ftruncate(sfd, len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	if (map == MAP_FAILED)
		SKIP(close(sfd); return, "mmap of memfd_secret: %s",
		     strerror(errno));
	xp_fill(map, len, SEED_R, 0);
	refused_mapping(_metadata, self, variant, map, len, true);
	EXPECT_EQ(-1, xp_check(map, len, SEED_R, 0));
	munmap(map, len);
	close(sfd);
}

/*
 * A raw-PFN device mapping (VM_IO | VM_PFNMAP): the first page of /dev/mem,
 * which STRICT_DEVMEM still lets root map read-only. Only reading from it
 * is tried, in both variants.
 */
TEST_F(copy, pfnmap_refused)
{
	size_t len = self->page;
	uint8_t *map;
	int mfd;

	mfd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		SKIP(return, "open /dev/mem: %s", strerror(errno));
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED)
		SKIP(close(mfd); return, "mmap /dev/mem: %s", strerror(errno));
	refused_mapping(_metadata, self, variant, map, len, false);
	munmap(map, len);
	close(mfd);
}

/* ---- fork and copy-on-write ---- */

/* Pages of [p, p+len) that /proc/self/pagemap calls exclusively mapped. */
static long exclusive_pages(const void *p, size_t len, size_t pg)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t n = len / pg;
	uint64_t *ent = calloc(n, sizeof(*ent));
	long excl = 0;

	if (fd < 0 || !ent ||
	    pread(fd, ent, n * sizeof(*ent), (uintptr_t)p / pg * sizeof(*ent)) !=
	    (ssize_t)(n * sizeof(*ent)))
		excl = -1;
	for (size_t i = 0; excl >= 0 && i < n; i++)
		excl += !!(ent[i] & (1ULL << 56));
	free(ent);
	if (fd >= 0)
		close(fd);
	return excl;
}

/*
 * After fork(), the caller's source pages are shared copy-on-write with its
 * child. Copying from them must not unshare them (a read-only FOLL_PIN
 * would: each page copied and allocated again, 8 MiB for an 8 MiB source,
 * on the first copy after every fork); the child keeps seeing its bytes.
 * The caller's pages are the destination of a READ, which must break
 * copy-on-write: there it does not apply.
 */
TEST_F_TIMEOUT(copy, fork_source_stays_shared, 120)
{
	size_t pg = self->page, len = 8 * MiB;
	int64_t t0, t1, t2;
	uint8_t *src, *dst;
	int gate[2], status;
	__u64 copied = 0;
	pid_t child;
	char c = 0;

	if (variant->read)
		SKIP(return, "a READ writes the caller's pages: they must be unshared");
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_NE(MAP_FAILED, dst);
	madvise(src, len, MADV_NOHUGEPAGE);
	xp_fill(src, len, SEED_L, 0);
	memset(dst, 0, len);
	ASSERT_EQ(len / pg, (size_t)exclusive_pages(src, len, pg));

	ASSERT_EQ(0, pipe(gate));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		close(gate[1]);
		/* Wait for the copy, then check the source as it saw it. */
		if (read(gate[0], &c, 1) != 1)
			_exit(2);
		_exit(xp_check(src, len, SEED_L, 0) == -1 ? 0 : 1);
	}
	close(gate[0]);
	EXPECT_EQ(0, exclusive_pages(src, len, pg));

	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	t0 = xp_now_ns();
	EXPECT_EQ(0, do_copy1(self, variant, self->t.pid, src, len,
			      xp_ptr(dst), len, &copied));
	t1 = xp_now_ns();
	EXPECT_EQ(len, copied);
	EXPECT_EQ(0, do_copy1(self, variant, self->t.pid, src, len,
			      xp_ptr(dst), len, &copied));
	t2 = xp_now_ns();
	TH_LOG("8 MiB after fork: first copy %.1f ms, second %.1f ms",
	       (t1 - t0) / 1e6, (t2 - t1) / 1e6);
	EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(dst), len, SEED_L, 0));

	/* Still shared with the child: nothing was unshared by the copy. */
	EXPECT_EQ(0, exclusive_pages(src, len, pg));
	EXPECT_EQ(1, write(gate[1], &c, 1));
	close(gate[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, xp_target_stop(&self->t));
	EXPECT_EQ(0ULL, xp_wait_unpinned(1000));
	munmap(src, len);
	munmap(dst, len);
}

/* ---- where the time goes ---- */

static int64_t stat_ns(const char *name)
{
	uint64_t v = 0;

	return xp_stat(name, &v) ? -1 : (int64_t)v;
}

/*
 * The time counters the benchmark reads: a copy on the workers adds to
 * time_take_ns, time_wait_ns and time_worker_ns, one in the caller's
 * context to time_inline_ns, each by no more than the call took.
 */
TEST_F(copy, time_counters)
{
	static const char *const names[] = {
		"time_take_ns", "time_wait_ns", "time_release_ns",
		"time_worker_ns", "time_inline_ns",
	};
	bool inl = variant->flags & XPCOPY_COPY_INLINE;
	size_t len = 1 * MiB;
	int64_t before[5], after[5], t0, t1;
	uint8_t *local, *remote;
	__u64 copied = 0;

	local = xp_map(len, PROT_READ | PROT_WRITE);
	remote = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, local);
	ASSERT_NE(NULL, remote);
	xp_fill(local, len, SEED_L, 0);
	xp_fill(remote, len, SEED_R, 0);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	for (int i = 0; i < 5; i++) {
		before[i] = stat_ns(names[i]);
		ASSERT_GE(before[i], 0) TH_LOG("no counter %s", names[i]);
	}
	t0 = xp_now_ns();
	ASSERT_EQ(0, do_copy1(self, variant, self->t.pid, local, len,
			      xp_ptr(remote), len, &copied));
	t1 = xp_now_ns();
	EXPECT_EQ(len, copied);
	for (int i = 0; i < 5; i++)
		after[i] = stat_ns(names[i]);
	if (inl) {
		EXPECT_GT(after[4], before[4]);
		EXPECT_EQ(after[1], before[1]);
	} else {
		EXPECT_GT(after[0], before[0]);
		EXPECT_GT(after[1], before[1]);
		EXPECT_GT(after[3], before[3]);
		EXPECT_EQ(after[4], before[4]);
		/* The caller's phases are parts of its call. */
		EXPECT_LE(after[0] - before[0] + after[1] - before[1] +
			  after[2] - before[2], t1 - t0);
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
	munmap(local, len);
	munmap(remote, len);
}

TEST_HARNESS_MAIN
