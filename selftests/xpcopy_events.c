// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy and what happens to memory while a copy runs: the target exits,
 * executes a new program, unmaps or moves (mremap) its range; the caller
 * unmaps or moves its own range from another thread; ranges backed by
 * hugetlb pages on both sides; a memory cgroup limit hit by the pages a
 * copy faults in, on the target's side and on the caller's. Every test
 * runs on the three paths (workers, caller's context, bounce buffer), both
 * directions, in pid mode (xpcopy_grant covers the owner's exit and munmap
 * through a grant).
 *
 * The promise checked each time: a documented result (a short count, or an
 * errno when nothing was copied), the bytes in the count are the source's,
 * nothing stays pinned and pins balance, no byte reaches the image a target
 * executed, and the runner finds nothing in the kernel log (a memory cgroup
 * at its limit prints an out-of-memory report: those tests say so first,
 * see run-tests.sh, and the report's trace alone is then not counted).
 */
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "xpcopy_test.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef MAP_HUGETLB
#define MAP_HUGETLB		0x40000
#endif

#define EV_ENV		"XPCOPY_EV_EXEC"
#define EV_ADDR		0x5b5b00000000ULL	/* the target's range */
#define EV_MOVED	0x5c5c00000000ULL	/* where mremap moves it */
#define EV_LEN		(64 * MiB)
#define SEED_T		0x7a7aULL	/* the target's bytes (both images) */
#define SEED_C		0xc0c0ULL	/* the caller's */

FIXTURE(ev)
{
	int fd;
	size_t page;
	pid_t child;
	int cmd_wr, rep_rd;
	struct xp_target t;
	char cg[128];		/* a memory cgroup made by the test */
	uint64_t hp_saved;	/* nr_hugepages to restore, or UINT64_MAX */
};

FIXTURE_VARIANT(ev)
{
	__u32 flags;
	bool read;
};

FIXTURE_VARIANT_ADD(ev, write) { .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(ev, read)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER, .read = true };
FIXTURE_VARIANT_ADD(ev, write_inline) { .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE };
FIXTURE_VARIANT_ADD(ev, read_inline)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE, .read = true };
FIXTURE_VARIANT_ADD(ev, write_bounce) { .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE };
FIXTURE_VARIANT_ADD(ev, read_bounce)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE, .read = true };

/* ---- the target of the event tests, and the image it executes ---- */

struct ev_check {
	uint64_t off, len, seed, start;
};

/* Answer pattern checks of the range at @base until the pipe closes. */
static void serve_checks(int rd, int wr, uint8_t *base)
{
	struct ev_check c;
	int64_t rep;

	while (!xp_read_full(rd, &c, sizeof(c))) {
		rep = xp_check(base + c.off, c.len, c.seed, c.start);
		if (xp_write_full(wr, &rep, sizeof(rep)))
			break;
	}
	_exit(0);
}

static uint8_t *map_range(uint64_t addr, size_t len, uint64_t seed)
{
	uint8_t *p = mmap((void *)(uintptr_t)addr, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);

	if (p != (void *)(uintptr_t)addr)
		return NULL;
	xp_fill(p, len, seed, 0);
	return p;
}

/* The image a target executes: the same range, the same bytes. */
static void __attribute__((constructor)) ev_exec_main(void)
{
	const char *s = getenv(EV_ENV);
	int64_t rep = 0;
	int rd, wr;
	uint8_t *p;

	if (!s)
		return;
	if (sscanf(s, "%d:%d", &rd, &wr) != 2)
		_exit(2);
	p = map_range(EV_ADDR, EV_LEN, SEED_T);
	if (!p)
		rep = -errno;
	if (xp_write_full(wr, &rep, sizeof(rep)) || !p)
		_exit(3);
	serve_checks(rd, wr, p);
}

enum ev_action { EV_NONE, EV_EXIT, EV_EXEC, EV_MUNMAP, EV_MREMAP };

/*
 * The target: maps EV_LEN at EV_ADDR with pattern SEED_T, says ready, and
 * on 'g' waits until the copy is under way (for a WRITE, until its first
 * page changes: the copy holds this image's memory; for a READ, 3 ms),
 * then acts, replies (0, or the range's new address), and answers checks.
 */
static void ev_target(int rd, int wr, enum ev_action act, bool wait_write)
{
	volatile uint64_t *first;
	uint64_t orig;
	int64_t rep = 0;
	uint8_t *p;
	char c;

	p = map_range(EV_ADDR, EV_LEN, SEED_T);
	if (!p)
		rep = -errno;
	if (xp_write_full(wr, &rep, sizeof(rep)) || !p)
		_exit(3);
	/*
	 * The word as the target wrote it, read before the copy may start:
	 * read after 'g', a copy that already reached it made the wait
	 * below last its whole 30 s.
	 */
	first = (volatile uint64_t *)p;
	orig = *first;
	if (xp_read_full(rd, &c, 1))
		_exit(0);
	if (wait_write) {
		int64_t end = xp_now_ns() + 30 * 1000000000LL;

		while (*first == orig && xp_now_ns() < end)
			;
	} else {
		xp_sleep_ms(3);
	}
	switch (act) {
	case EV_EXIT:
		_exit(0);
	case EV_EXEC: {
		char env[64];
		char *argv[] = { "xpcopy_events-exec", NULL };
		char *envp[] = { env, NULL };

		snprintf(env, sizeof(env), EV_ENV "=%d:%d", rd, wr);
		execve("/proc/self/exe", argv, envp);
		_exit(4);
	}
	case EV_MUNMAP:
		munmap(p, EV_LEN);
		break;
	case EV_MREMAP:
		p = mremap(p, EV_LEN, EV_LEN, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)(uintptr_t)EV_MOVED);
		rep = p == MAP_FAILED ? -errno : (int64_t)xp_ptr(p);
		break;
	default:
		break;
	}
	if (xp_write_full(wr, &rep, sizeof(rep)))
		_exit(5);
	serve_checks(rd, wr, p == MAP_FAILED ? NULL : p);
}

/* Fork the target; its pipes are not close-on-exec (the image needs them). */
static int ev_start(FIXTURE_DATA(ev) *self, enum ev_action act,
		    bool wait_write)
{
	int cmd[2], rep[2];
	int64_t ready;

	if (pipe(cmd) || pipe(rep))
		return -errno;
	self->child = xp_fork();
	if (self->child < 0)
		return -errno;
	if (self->child == 0) {
		close(cmd[1]);
		close(rep[0]);
		ev_target(cmd[0], rep[1], act, wait_write);
		_exit(0);
	}
	close(cmd[0]);
	close(rep[1]);
	fcntl(cmd[1], F_SETFD, FD_CLOEXEC);
	fcntl(rep[0], F_SETFD, FD_CLOEXEC);
	self->cmd_wr = cmd[1];
	self->rep_rd = rep[0];
	if (xp_read_full(self->rep_rd, &ready, sizeof(ready)))
		return -EPIPE;
	return (int)ready;
}

static int64_t ev_check(FIXTURE_DATA(ev) *self, uint64_t off, uint64_t len,
			uint64_t seed, uint64_t start)
{
	struct ev_check c = { off, len, seed, start };
	int64_t rep;

	if (xp_write_full(self->cmd_wr, &c, sizeof(c)) ||
	    xp_read_full(self->rep_rd, &rep, sizeof(rep)))
		return INT64_MIN;
	return rep;
}

FIXTURE_SETUP(ev)
{
	self->child = -1;
	self->cmd_wr = self->rep_rd = -1;
	xp_target_init(&self->t);
	self->cg[0] = 0;
	self->hp_saved = UINT64_MAX;
	XPCOPY_OPEN_OR_SKIP(self->fd);
	self->page = xp_page_size();
}

FIXTURE_TEARDOWN(ev)
{
	int status;

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, &status, 0);
	}
	if (self->cmd_wr >= 0)
		close(self->cmd_wr);
	if (self->rep_rd >= 0)
		close(self->rep_rd);
	xp_target_kill(&self->t);
	if (self->cg[0]) {
		char path[192];

		snprintf(path, sizeof(path), "%s/memory.max", self->cg);
		xp_write_str(path, "max");
		rmdir(self->cg);
	}
	if (self->hp_saved != UINT64_MAX)
		xp_write_u64("/proc/sys/vm/nr_hugepages", self->hp_saved);
	close(self->fd);
}

/* A copy on its own thread. */
struct copier {
	pthread_t th;
	int fd;
	__u32 flags;
	pid_t pid;
	uint8_t *local;
	uint64_t remote;
	size_t len;
	volatile int started;
	int ret;
	__u64 copied;
};

static void *copier_fn(void *arg)
{
	struct copier *c = arg;

	c->started = 1;
	c->ret = xp_copy1(c->fd, c->flags, c->pid, c->local, c->len,
			  c->remote, c->len, &c->copied);
	return NULL;
}

static int copier_start(struct copier *c)
{
	c->started = 0;
	c->ret = INT_MIN;
	c->copied = 0;
	return pthread_create(&c->th, NULL, copier_fn, c);
}

static bool documented(int ret, const int *set)
{
	if (ret == 0)
		return true;
	for (; *set; set++)
		if (-ret == *set)
			return true;
	return false;
}

/*
 * Map and fill the caller's EV_LEN bytes, start the target with @act and
 * @wait_write (as ev_start() takes them), read the stats into *@s0, and
 * start @c copying between them and EV_ADDR in the target; returns the
 * caller's range once the copier runs.
 */
static uint8_t *copy_under_way(struct __test_metadata *_metadata,
			       FIXTURE_DATA(ev) *self,
			       const FIXTURE_VARIANT(ev) *variant,
			       enum ev_action act, bool wait_write,
			       struct copier *c, struct xp_stats *s0)
{
	uint8_t *local;

	*c = (struct copier){ .fd = self->fd, .flags = variant->flags,
			      .remote = EV_ADDR, .len = EV_LEN };
	local = xp_map(EV_LEN, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, local);
	xp_fill(local, EV_LEN, variant->read ? 0 : SEED_C, 0);
	ASSERT_EQ(0, ev_start(self, act, wait_write));
	ASSERT_EQ(0, xp_stats_read(s0));
	c->pid = self->child;
	c->local = local;
	ASSERT_EQ(0, copier_start(c));
	while (!c->started)
		usleep(100);
	return local;
}

/*
 * One event in the target during a 64 MiB copy; the checks that hold
 * whatever the timing. Returns the copier's result.
 */
static void target_event(struct __test_metadata *_metadata,
			 FIXTURE_DATA(ev) *self,
			 const FIXTURE_VARIANT(ev) *variant,
			 enum ev_action act, const int *errs)
{
	struct copier c;
	struct xp_stats s0 = { 0 };
	uint8_t *local;
	int64_t rep = 0, d;
	int status;

	local = copy_under_way(_metadata, self, variant, act, !variant->read,
			       &c, &s0);
	ASSERT_EQ(1, write(self->cmd_wr, "g", 1));
	if (act != EV_EXIT)
		ASSERT_EQ(0, xp_read_full(self->rep_rd, &rep, sizeof(rep)))
			TH_LOG("the target died acting");
	pthread_join(c.th, NULL);
	TH_LOG("copy returned %d, %llu of %llu bytes", c.ret,
	       (unsigned long long)c.copied, EV_LEN);
	ASSERT_TRUE(documented(c.ret, errs))
		TH_LOG("undocumented %s", strerror(-c.ret));
	if (c.ret)
		c.copied = 0;
	ASSERT_GE(EV_LEN, c.copied);
	XP_EXPECT_PINS_BACK(s0, 2000);

	if (variant->read) {
		/* what arrived is the target's, in order (either image's) */
		d = xp_check(local, c.copied, SEED_T, 0);
		EXPECT_EQ(-1, d) TH_LOG("local byte %lld", (long long)d);
	} else if (act == EV_EXEC) {
		/* the new image saw none of it */
		EXPECT_EQ(-1, ev_check(self, 0, EV_LEN, SEED_T, 0))
			TH_LOG("a byte reached the executed image");
	} else if (act == EV_MREMAP && rep > 0) {
		/* the moved range holds the counted bytes */
		d = ev_check(self, 0, c.copied, SEED_C, 0);
		EXPECT_EQ(-1, d) TH_LOG("moved range: byte %lld", (long long)d);
	}
	if (c.copied == EV_LEN)
		TH_LOG("note: the copy was done before the event took effect");
	if (act == EV_MREMAP || act == EV_MUNMAP) {
		/* a new copy finds nothing there */
		EXPECT_EQ(-EFAULT, xp_copy1(self->fd, variant->flags,
					    self->child, local, 4096, EV_ADDR,
					    4096, NULL));
	}
	if (act == EV_EXIT) {
		EXPECT_EQ(self->child, waitpid(self->child, &status, 0));
		self->child = -1;
	}
	munmap(local, EV_LEN);
}

/*
 * A READ may look the target up only after it executed, before the new
 * image maps its range: EFAULT.
 */
static const int err_exit[] = { ESRCH, EFAULT, 0 };
static const int err_fault[] = { EFAULT, 0 };

TEST_F_TIMEOUT(ev, target_exit_during_copy, 120)
{
	target_event(_metadata, self, variant, EV_EXIT, err_exit);
}

TEST_F_TIMEOUT(ev, target_exec_during_copy, 120)
{
	target_event(_metadata, self, variant, EV_EXEC, err_exit);
}

TEST_F_TIMEOUT(ev, target_munmap_during_copy, 120)
{
	target_event(_metadata, self, variant, EV_MUNMAP, err_fault);
}

TEST_F_TIMEOUT(ev, target_mremap_during_copy, 120)
{
	target_event(_metadata, self, variant, EV_MREMAP, err_fault);
}

/*
 * The caller's own range unmapped, or moved, by another of its threads
 * while the copy runs.
 */
static void local_event(struct __test_metadata *_metadata,
			FIXTURE_DATA(ev) *self,
			const FIXTURE_VARIANT(ev) *variant, bool move)
{
	struct copier c;
	struct xp_stats s0 = { 0 };
	uint8_t *local, *moved = NULL;
	uint64_t pinned = 0;
	long long d;
	int64_t rep;

	local = copy_under_way(_metadata, self, variant, EV_NONE, false, &c,
			       &s0);
	/* under way: pages pinned (not on the bounce path: a little time) */
	for (int i = 0; i < 2000 && !(variant->flags & XPCOPY_COPY_BOUNCE) &&
	     (xp_stat("pinned_now", &pinned) || !pinned); i++)
		usleep(500);
	xp_sleep_ms(2);
	if (move) {
		moved = mremap(local, EV_LEN, EV_LEN,
			       MREMAP_MAYMOVE | MREMAP_FIXED,
			       (void *)(uintptr_t)EV_MOVED);
		ASSERT_NE(MAP_FAILED, moved);
	} else {
		ASSERT_EQ(0, munmap(local, EV_LEN));
	}
	pthread_join(c.th, NULL);
	TH_LOG("copy returned %d, %llu of %llu bytes", c.ret,
	       (unsigned long long)c.copied, EV_LEN);
	ASSERT_TRUE(c.ret == 0 || c.ret == -EFAULT)
		TH_LOG("undocumented %s", strerror(-c.ret));
	if (c.ret)
		c.copied = 0;
	ASSERT_GE(EV_LEN, c.copied);
	XP_EXPECT_PINS_BACK(s0, 2000);
	ASSERT_EQ(1, write(self->cmd_wr, "g", 1));
	ASSERT_EQ(0, xp_read_full(self->rep_rd, &rep, sizeof(rep)));
	if (variant->read && moved) {
		d = xp_check(moved, c.copied, SEED_T, 0);
		EXPECT_EQ(-1, d) TH_LOG("moved local range: byte %lld", d);
	} else if (!variant->read) {
		d = ev_check(self, 0, c.copied, SEED_C, 0);
		EXPECT_EQ(-1, d) TH_LOG("target byte %lld", (long long)d);
	}
	if (moved)
		munmap(moved, EV_LEN);
}

TEST_F_TIMEOUT(ev, local_munmap_during_copy, 120)
{
	local_event(_metadata, self, variant, false);
}

TEST_F_TIMEOUT(ev, local_mremap_during_copy, 120)
{
	local_event(_metadata, self, variant, true);
}

/* ---- hugetlb on both sides ---- */

#define HP_LEN	(8 * MiB)

/*
 * Start a target and copy 2 MiB + 8193 bytes between 2 MiB - 4095 into
 * @loc (filled with SEED_C) and 4 MiB - 1 into @rem (SEED_T), both
 * @maplen long: the copy straddles huge page boundaries on both sides.
 * Then check all of the destination: the copied bytes, and the bytes on
 * either side untouched. @rem_shared: @rem is MAP_SHARED, we see the
 * target's bytes; otherwise it was copy-on-write at the fork, the target's
 * bytes are checked in the target and ours must not have changed.
 */
static void copy_straddling(struct __test_metadata *_metadata,
			    FIXTURE_DATA(ev) *self,
			    const FIXTURE_VARIANT(ev) *variant, uint8_t *loc,
			    uint8_t *rem, size_t maplen, bool rem_shared)
{
	size_t off_l = 2 * MiB - 4095, off_r = 4 * MiB - 1;
	size_t len = 2 * MiB + 8193;
	__u64 copied = 0;
	int ret;

	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	ret = xp_copy1(self->fd, variant->flags, self->t.pid, loc + off_l, len,
		       xp_ptr(rem + off_r), len, &copied);
	ASSERT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
	ASSERT_EQ((__u64)len, copied);
	if (variant->read) {
		EXPECT_EQ(-1, xp_check(loc, off_l, SEED_C, 0));
		EXPECT_EQ(-1, xp_check(loc + off_l, len, SEED_T, off_r));
		EXPECT_EQ(-1, xp_check(loc + off_l + len, maplen - off_l - len,
				       SEED_C, off_l + len));
	} else if (rem_shared) {
		EXPECT_EQ(-1, xp_check(rem, off_r, SEED_T, 0));
		EXPECT_EQ(-1, xp_check(rem + off_r, len, SEED_C, off_l));
		EXPECT_EQ(-1, xp_check(rem + off_r + len, maplen - off_r - len,
				       SEED_T, off_r + len));
	} else {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(rem), off_r,
						 SEED_T, 0));
		EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(rem + off_r),
						 len, SEED_C, off_l));
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
						 xp_ptr(rem + off_r + len),
						 maplen - off_r - len, SEED_T,
						 off_r + len));
		/* our own huge pages kept their bytes */
		EXPECT_EQ(-1, xp_check(rem, maplen, SEED_T, 0));
	}
}

TEST_F_TIMEOUT(ev, hugetlb_both_sides, 120)
{
	uint64_t have = 0, want, now = 0;
	uint8_t *loc, *rem;

	if (xp_read_u64("/proc/sys/vm/nr_hugepages", &have))
		SKIP(return, "no /proc/sys/vm/nr_hugepages (no CONFIG_HUGETLBFS)");
	/* 4 + 4 pages of 2 MiB, and as many again for copy-on-write */
	want = have + 16;
	if (xp_write_u64("/proc/sys/vm/nr_hugepages", want) == 0)
		self->hp_saved = have;
	xp_read_u64("/proc/sys/vm/nr_hugepages", &now);
	if (now < have + 8)
		SKIP(return, "could reserve only %llu of %llu huge pages",
		     (unsigned long long)now, (unsigned long long)want);
	/* the target's side MAP_SHARED: the target and we see the same pages */
	rem = mmap(NULL, HP_LEN, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	loc = mmap(NULL, HP_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (rem == MAP_FAILED || loc == MAP_FAILED)
		SKIP(return, "mmap(MAP_HUGETLB): %s", strerror(errno));
	xp_fill(loc, HP_LEN, SEED_C, 0);
	xp_fill(rem, HP_LEN, SEED_T, 0);
	copy_straddling(_metadata, self, variant, loc, rem, HP_LEN, true);
	EXPECT_EQ(0ULL, xp_wait_unpinned(1000));
	xp_target_stop(&self->t);
	munmap(loc, HP_LEN);
	munmap(rem, HP_LEN);
}

/* ---- transparent huge pages on both sides ---- */

/* AnonHugePages (kB) of the mapping of this process that contains @addr. */
static long thp_kb(const void *addr)
{
	unsigned long a = (unsigned long)addr, lo, hi;
	char line[256];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') == line + strspn(line, "0123456789abcdef")) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

#define THP_LEN	(8 * MiB)

/*
 * Both ranges backed by 2 MiB pages (checked in smaps; SKIP when THP is
 * off), the target's being our copy-on-write huge pages after the fork:
 * a WRITE breaks them in the target only. Offsets make the copy straddle
 * huge page boundaries on both sides.
 */
TEST_F_TIMEOUT(ev, thp_both_sides, 120)
{
	size_t huge = 2 * MiB;
	uint8_t *lraw, *rraw, *loc, *rem;
	long lk, rk;

	lraw = xp_map(THP_LEN + huge, PROT_READ | PROT_WRITE);
	rraw = xp_map(THP_LEN + huge, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, lraw);
	ASSERT_NE(NULL, rraw);
	loc = (uint8_t *)(((uintptr_t)lraw + huge - 1) & ~(huge - 1));
	rem = (uint8_t *)(((uintptr_t)rraw + huge - 1) & ~(huge - 1));
	madvise(loc, THP_LEN, MADV_HUGEPAGE);
	madvise(rem, THP_LEN, MADV_HUGEPAGE);
	xp_fill(loc, THP_LEN, SEED_C, 0);
	xp_fill(rem, THP_LEN, SEED_T, 0);
	lk = thp_kb(loc);
	rk = thp_kb(rem);
	if (lk <= 0 || rk <= 0)
		SKIP(return, "no transparent huge pages (AnonHugePages %ld and %ld kB)",
		     lk, rk);
	TH_LOG("AnonHugePages: local %ld kB, remote %ld kB", lk, rk);
	copy_straddling(_metadata, self, variant, loc, rem, THP_LEN, false);
	EXPECT_EQ(0ULL, xp_wait_unpinned(1000));
	EXPECT_EQ(0, xp_target_stop(&self->t));
	munmap(lraw, THP_LEN + huge);
	munmap(rraw, THP_LEN + huge);
}

/* ---- memory cgroup limits ---- */

#define CG_ROOT	"/sys/fs/cgroup"
#define CG_LEN	(32 * MiB)

/* A memory cgroup of its own, with the memory controller. */
static int make_cgroup(FIXTURE_DATA(ev) *self, char *why, size_t wlen)
{
	char path[192];

	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(why, wlen, "mount cgroup2 on " CG_ROOT ": %s",
				 strerror(errno));
			return -1;
		}
	}
	if (xp_write_str(CG_ROOT "/cgroup.subtree_control", "+memory")) {
		snprintf(why, wlen, "no memory controller in cgroup v2");
		return -1;
	}
	snprintf(self->cg, sizeof(self->cg), CG_ROOT "/xpcopy-ev-%d", getpid());
	if (mkdir(self->cg, 0755)) {
		snprintf(why, wlen, "mkdir %s: %s", self->cg, strerror(errno));
		self->cg[0] = 0;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/memory.swap.max", self->cg);
	xp_write_str(path, "0");
	return 0;
}

/* Put @pid in the cgroup, unkillable by the OOM killer. */
static int cg_enter(FIXTURE_DATA(ev) *self, pid_t pid)
{
	char path[192];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	ret = xp_write_str(path, "-1000");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/cgroup.procs", self->cg);
	return xp_write_u64(path, pid);
}

/* memory.max: what the cgroup uses now and @room more. */
static int cg_limit(FIXTURE_DATA(ev) *self, uint64_t room)
{
	char path[192];
	uint64_t cur = 0;

	snprintf(path, sizeof(path), "%s/memory.current", self->cg);
	if (xp_read_u64(path, &cur))
		return -EIO;
	snprintf(path, sizeof(path), "%s/memory.max", self->cg);
	return xp_write_u64(path, cur + room);
}

static void cg_unlimit(FIXTURE_DATA(ev) *self)
{
	char path[192], ev[256] = "";
	ssize_t n;
	int fd;

	/* how often the limit was hit, and the OOM killer found no victim */
	snprintf(path, sizeof(path), "%s/memory.events", self->cg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, ev, sizeof(ev) - 1);
		ev[n > 0 ? n : 0] = 0;
		close(fd);
		for (char *c = ev; *c; c++)
			if (*c == '\n')
				*c = ' ';
		printf("# %s: %s\n", path, ev);
	}

	snprintf(path, sizeof(path), "%s/memory.max", self->cg);
	xp_write_str(path, "max");
}

/*
 * Tell the runner that an out-of-memory report (with its trace) is
 * expected in this case's kernel log: a cgroup at its limit with no process
 * it may kill prints one for every charge it refuses.
 */
static void expect_oom_report(void)
{
	xp_write_str("/dev/kmsg", "XPCOPY-EXPECT oom-report\n");
}

static const int err_memcg[] = { ENOMEM, EFAULT, 0 };

/*
 * @len bytes of private anonymous memory never touched, without a
 * reservation and in small pages: each page the copy faults in is charged
 * on its own. NULL when mmap() fails.
 */
static uint8_t *map_untouched(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/*
 * The target in a cgroup limited to what it uses plus 2 MiB; the copy
 * writes 32 MiB into pages it never touched (READ: reads them, which
 * faults in nothing but zero pages: the copy must then go through). The
 * pages the copy faults in hit the limit: a short count or ENOMEM/EFAULT,
 * no hang, nothing pinned, and the counted bytes are there once the limit
 * is lifted.
 */
TEST_F_TIMEOUT(ev, memcg_target_limit, 120)
{
	struct xp_stats s0 = { 0 };
	uint8_t *local, *rem;
	char why[192];
	__u64 copied = 0;
	int ret;

	if (make_cgroup(self, why, sizeof(why)))
		SKIP(return, "%s", why);
	local = xp_map(CG_LEN, PROT_READ | PROT_WRITE);
	rem = map_untouched(CG_LEN);
	ASSERT_NE(NULL, local);
	ASSERT_NE(NULL, rem);
	xp_fill(local, CG_LEN, variant->read ? 0 : SEED_C, 0);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	ASSERT_EQ(0, cg_enter(self, self->t.pid));
	ASSERT_EQ(0, cg_limit(self, 2 * MiB));
	ASSERT_EQ(0, xp_stats_read(&s0));
	expect_oom_report();
	ret = xp_copy1(self->fd, variant->flags, self->t.pid, local, CG_LEN,
		       xp_ptr(rem), CG_LEN, &copied);
	TH_LOG("copy returned %d, %llu of %llu bytes", ret,
	       (unsigned long long)copied, CG_LEN);
	cg_unlimit(self);
	XP_EXPECT_PINS_BACK(s0, 2000);
	if (variant->read) {
		/* reading untouched anonymous memory allocates nothing */
		ASSERT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
		EXPECT_EQ(CG_LEN, copied);
		EXPECT_EQ(-1, xp_check(local, 0, 0, 0));
		return;
	}
	ASSERT_TRUE(documented(ret, err_memcg))
		TH_LOG("undocumented %s", strerror(-ret));
	if (ret)
		copied = 0;
	EXPECT_GT(CG_LEN, copied) TH_LOG("32 MiB fitted in a 2 MiB margin");
	EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(rem), copied,
					 SEED_C, 0));
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

struct cg_res {
	int ret;
	int stage;
	__u64 copied;
	long long diff;
	int go;		/* set by the parent once the limit is lifted */
};

/*
 * The caller in the limited cgroup: a READ into 32 MiB of its own memory
 * it never touched (the worker path pins it for writing, which faults it
 * in; the caller-context path writes it from the kernel; the bounce path
 * copies it out), from a target outside. A WRITE from untouched memory
 * faults in only zero pages and goes through.
 */
TEST_F_TIMEOUT(ev, memcg_caller_limit, 120)
{
	struct cg_res *res;
	uint8_t *local, *rem;
	char why[192];
	int status = 0;
	pid_t pid, w;

	if (make_cgroup(self, why, sizeof(why)))
		SKIP(return, "%s", why);
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	res->ret = INT_MIN;
	rem = xp_map(CG_LEN, PROT_READ | PROT_WRITE);
	local = map_untouched(CG_LEN);
	ASSERT_NE(NULL, rem);
	ASSERT_NE(NULL, local);
	xp_fill(rem, CG_LEN, SEED_T, 0);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	expect_oom_report();
	fflush(stdout);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		res->stage = 1;
		if (cg_enter(self, getpid()))
			_exit(1);
		res->stage = 2;
		if (cg_limit(self, 2 * MiB))
			_exit(2);
		res->stage = 3;
		res->ret = xp_copy1(self->fd, variant->flags, self->t.pid,
				    local, CG_LEN, xp_ptr(rem), CG_LEN,
				    &res->copied);
		/*
		 * At its limit the copier must not fault a page of its own
		 * in (a stack page still shared with the parent, stdio's
		 * buffer): unkillable, it would retry that fault forever.
		 * The parent lifts the limit; until then only the shared
		 * page is touched.
		 */
		__atomic_store_n(&res->stage, 4, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&res->go, __ATOMIC_ACQUIRE))
			;
		res->diff = res->ret ? -1 :
			    xp_check(local, variant->read ? res->copied : 0,
				     SEED_T, 0);
		_exit(0);
	}
	/* The copy returns (stage 4), or the copier dies early. */
	w = 0;
	for (int ms = 0; ms < 100000; ms++) {
		if (__atomic_load_n(&res->stage, __ATOMIC_ACQUIRE) == 4)
			break;
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		xp_sleep_ms(1);
	}
	cg_unlimit(self);
	__atomic_store_n(&res->go, 1, __ATOMIC_RELEASE);
	if (w != pid)
		w = xp_waitpid_ms(pid, &status, 10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_EQ(pid, w) TH_LOG("the copier hangs at its cgroup's limit (stage %d)",
				 res->stage);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("copier: status %#x, stage %d", status, res->stage);
	TH_LOG("copy returned %d, %llu of %llu bytes", res->ret,
	       (unsigned long long)res->copied, CG_LEN);
	EXPECT_EQ(0ULL, xp_wait_unpinned(2000)) TH_LOG("pages still pinned");
	if (!variant->read) {
		ASSERT_EQ(0, res->ret) TH_LOG("%s", strerror(-res->ret));
		EXPECT_EQ(CG_LEN, res->copied);
	} else {
		ASSERT_TRUE(documented(res->ret, err_memcg))
			TH_LOG("undocumented %s", strerror(-res->ret));
		EXPECT_EQ(-1, res->diff) TH_LOG("local byte %lld", res->diff);
		if (!res->ret)
			EXPECT_GT(CG_LEN, res->copied)
				TH_LOG("32 MiB fitted in a 2 MiB margin");
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
	munmap(res, sizeof(*res));
}

TEST_HARNESS_MAIN
