// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy under fault injection (Documentation/fault-injection/).
 *
 * The sweep: for every command (FEATURES; COPY by pid and by grant, WRITE
 * and READ, on the workers, in the caller's context and through the bounce
 * buffer; COPY with PUBLISH; GRANT; GRANT_DERIVE; GRANT_REVOKE;
 * GRANT_INFO) and n = 1, 2, ...: write n to /proc/thread-self/fail-nth,
 * issue the command, read fail-nth back. The n-th fault site the calling
 * thread reaches fails (a slab or page allocation, failslab and
 * fail_page_alloc with ignore-gfp-wait=N and min-order=0, or a user copy,
 * fail_usercopy). Each time the command must return success or a
 * documented errno of its own, leave no pin (pins_taken - pins_released
 * unchanged, pinned_now 0), no fd, and the destination must hold, in the
 * count a success reports, exactly the new bytes, and elsewhere the old
 * bytes or the new ones; a PUBLISH that fails must not have stored its
 * value, one that succeeds must have. The sweep ends when fail-nth reads
 * back non-zero: the fault was not consumed, there are no more sites, and
 * the command must then have succeeded in full.
 *
 * Not covered by fail-nth: the copies the kernel workers run (a kthread
 * has its own fail-nth, 0); their faults (a page of the other process that
 * cannot be allocated, a user copy that fails) are injected by the
 * workers_* tests instead, by making the worker threads fail (make-it-fail,
 * task-filter=Y) with a probability. Commands sent through io_uring run on
 * an io-wq thread of the submitter (fail-nth 0 too): the uring_faults
 * tests make that thread fail the same way.
 *
 * fail_function (the inject_* tests): the functions the module marks with
 * ALLOW_ERROR_INJECTION() return an error without running, at a chosen
 * call: a fault-in the workers' fallback must cover, a stop between two
 * batches (the count is the batches before it), a target gone before the
 * copy, a publication that fails after its data.
 *
 * Needs CONFIG_FAULT_INJECTION (and FAILSLAB, FAIL_PAGE_ALLOC,
 * FAULT_INJECTION_USERCOPY, FAIL_FUNCTION, FAULT_INJECTION_DEBUG_FS for all
 * of it): the tests SKIP, saying so, on a kernel without it (Debian's). At
 * the end of each test, when kmemleak is there, it is asked to scan and any
 * leak whose backtrace names xpcopy fails the test.
 */
#include <liburing.h>	/* first: xpcopy_test.h's io_uring helpers */
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mount.h>

#include "xpcopy_test.h"

#define DBG		"/sys/kernel/debug"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define MAX_N		3000
#define SEED_OLD	0x01dULL
#define SEED_NEW	0x9e3ULL

/* The attributes each fault type has, and what the sweep sets them to. */
struct knob {
	const char *file;
	const char *val;
};

static const char *const fault_dirs[] = { "failslab", "fail_page_alloc",
					  "fail_usercopy" };

#define NSAVE	64

struct saved {
	char path[128];
	char val[64];
};

/* Fault injection settings changed, to restore. */
struct fi {
	int nth;		/* /proc/thread-self/fail-nth, open */
	struct saved save[NSAVE];
	int nsave;
	pid_t workers[64];
	int nworkers;
};

FIXTURE(fault)
{
	int dev;
	struct fi fi;
	size_t page;
	struct xp_target t;
	uint8_t *loc, *rem;	/* rem is MAP_SHARED: the target sees it */
	size_t len;
	uint64_t *seq;		/* a sequence word, MAP_SHARED */
};

FIXTURE_VARIANT(fault)
{
	int cmd;		/* XPCOPY_CMD_* */
	__u32 flags;		/* COPY flags */
	bool grant;
	bool publish;
};

FIXTURE_VARIANT_ADD(fault, features) { .cmd = XPCOPY_CMD_FEATURES };
FIXTURE_VARIANT_ADD(fault, copy_write_worker_pid)
{ .cmd = XPCOPY_CMD_COPY, .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(fault, copy_read_worker_pid)
{ .cmd = XPCOPY_CMD_COPY, .flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(fault, copy_write_inline_pid)
{ .cmd = XPCOPY_CMD_COPY, .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE };
FIXTURE_VARIANT_ADD(fault, copy_read_inline_pid)
{ .cmd = XPCOPY_CMD_COPY, .flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE };
FIXTURE_VARIANT_ADD(fault, copy_write_bounce_pid)
{ .cmd = XPCOPY_CMD_COPY, .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE };
FIXTURE_VARIANT_ADD(fault, copy_read_bounce_pid)
{ .cmd = XPCOPY_CMD_COPY, .flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE };
FIXTURE_VARIANT_ADD(fault, copy_write_worker_grant)
{ .cmd = XPCOPY_CMD_COPY, .grant = true,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(fault, copy_read_worker_grant)
{ .cmd = XPCOPY_CMD_COPY, .grant = true,
  .flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(fault, copy_write_inline_grant)
{ .cmd = XPCOPY_CMD_COPY, .grant = true,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE };
FIXTURE_VARIANT_ADD(fault, copy_read_inline_grant)
{ .cmd = XPCOPY_CMD_COPY, .grant = true,
  .flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE };
FIXTURE_VARIANT_ADD(fault, copy_write_bounce_grant)
{ .cmd = XPCOPY_CMD_COPY, .grant = true,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE };
FIXTURE_VARIANT_ADD(fault, copy_read_bounce_grant)
{ .cmd = XPCOPY_CMD_COPY, .grant = true,
  .flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE };
FIXTURE_VARIANT_ADD(fault, copy_publish)
{ .cmd = XPCOPY_CMD_COPY, .grant = true, .publish = true,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_PUBLISH };
FIXTURE_VARIANT_ADD(fault, grant) { .cmd = XPCOPY_CMD_GRANT };
FIXTURE_VARIANT_ADD(fault, grant_derive) { .cmd = XPCOPY_CMD_GRANT_DERIVE };
FIXTURE_VARIANT_ADD(fault, grant_revoke) { .cmd = XPCOPY_CMD_GRANT_REVOKE };
FIXTURE_VARIANT_ADD(fault, grant_info) { .cmd = XPCOPY_CMD_GRANT_INFO };

/* Set a file's value, remembering its old value for the teardown. */
static int set_path(struct fi *self, const char *path, const char *val)
{
	struct saved *s;

	if (access(path, W_OK))
		return -errno;
	if (self->nsave < NSAVE) {
		s = &self->save[self->nsave];
		if (xp_read_str(path, s->val, sizeof(s->val)) == 0) {
			snprintf(s->path, sizeof(s->path), "%s", path);
			self->nsave++;
		}
	}
	return xp_write_str(path, val);
}

/* Set a debugfs attribute, remembering its old value for the teardown. */
static int set_attr(struct fi *self, const char *dir,
		    const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DBG "/%s/%s", dir, file);
	return set_path(self, path, val);
}

static bool have_fault_injection(struct fi *self, char *why, size_t len)
{
	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (self->nth < 0) {
		snprintf(why, len,
			 "%s: %s: no CONFIG_FAULT_INJECTION in this kernel",
			 FAIL_NTH, strerror(errno));
		return false;
	}
	if (access(DBG "/failslab", F_OK))
		mount("debugfs", DBG, "debugfs", 0, NULL);
	if (access(DBG "/failslab", F_OK)) {
		snprintf(why, len,
			 DBG "/failslab: %s: no CONFIG_FAILSLAB or CONFIG_FAULT_INJECTION_DEBUG_FS",
			 strerror(errno));
		return false;
	}
	return true;
}

/*
 * Every fault type on for fail-nth, none at random: probability 0 keeps the
 * random path off; ignore-gfp-wait=N and min-order=0 let the sleeping and
 * order-0 allocations the module makes be failed; verbose=0 keeps the
 * kernel log clean (the runner fails a case whose log has a trace).
 */
static void setup_nth(struct fi *self)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(fault_dirs); i++) {
		set_attr(self, fault_dirs[i], "probability", "0");
		set_attr(self, fault_dirs[i], "verbose", "0");
		set_attr(self, fault_dirs[i], "task-filter", "Y");
		set_attr(self, fault_dirs[i], "times", "-1");
		set_attr(self, fault_dirs[i], "interval", "1");
		set_attr(self, fault_dirs[i], "space", "0");
		set_attr(self, fault_dirs[i], "ignore-gfp-wait", "N");
	}
	set_attr(self, "fail_page_alloc", "ignore-gfp-highmem", "N");
	set_attr(self, "fail_page_alloc", "min-order", "0");
}

static void fi_init(struct fi *self)
{
	self->nsave = 0;
	self->nworkers = 0;
	self->nth = -1;
}

static void fi_restore(struct fi *self)
{
	char path[64];

	if (self->nth >= 0) {
		pwrite(self->nth, "0", 1, 0);
		close(self->nth);
	}
	for (int i = 0; i < self->nworkers; i++) {
		snprintf(path, sizeof(path), "/proc/%d/make-it-fail",
			 self->workers[i]);
		xp_write_str(path, "0");
	}
	/* in reverse: the first value saved of an attribute is its own */
	for (int i = self->nsave - 1; i >= 0; i--)
		xp_write_str(self->save[i].path, self->save[i].val);
}

FIXTURE_SETUP(fault)
{
	char why[256];

	xp_target_init(&self->t);
	fi_init(&self->fi);
	XPCOPY_OPEN_OR_SKIP(self->dev);
	self->page = xp_page_size();
	if (!have_fault_injection(&self->fi, why, sizeof(why)))
		SKIP(return, "%s", why);
	setup_nth(&self->fi);
	/* 200 KiB + 13 at odd offsets: several pages, more than one chunk */
	self->len = 200 * KiB + 13;
	self->loc = xp_map_guarded(self->len + 64);
	self->rem = mmap(NULL, self->len + 2 * self->page,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0);
	self->seq = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(NULL, self->loc);
	ASSERT_NE(MAP_FAILED, self->rem);
	ASSERT_NE(MAP_FAILED, self->seq);
	memset(self->rem, 0, self->len + 2 * self->page);
	memset(self->seq, 0, self->page);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
}

FIXTURE_TEARDOWN(fault)
{
	fi_restore(&self->fi);
	xp_target_kill(&self->t);
	if (self->dev >= 0)
		close(self->dev);
}

/* Open fds of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/*
 * Arm fail-nth with @n. Everything the command touches is faulted in
 * before, so that the user program takes no page fault (which would
 * count) between arming and the command.
 */
static int arm(FIXTURE_DATA(fault) *self, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(self->fi.nth, buf, len, 0) == len ? 0 : -errno;
}

/*
 * After the command: was the fault consumed? Reading fail-nth copies the
 * count out, and that copy counts as a site too while the count is still
 * set: a read failing with EFAULT means it was 1, not consumed either.
 * Disarms.
 */
static bool consumed(FIXTURE_DATA(fault) *self)
{
	char buf[16] = "";
	ssize_t r = pread(self->fi.nth, buf, sizeof(buf) - 1, 0);
	bool c = r > 0 && strtoul(buf, NULL, 10) == 0;

	pwrite(self->fi.nth, "0", 1, 0);
	return c;
}

static bool in_set(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return true;
	return false;
}

/* Each byte of @p is the pattern @seed_new's or @seed_old's. */
static long long old_or_new(const uint8_t *p, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t b = p[i];

		if (b != xp_pattern_byte(SEED_NEW, off + i) &&
		    b != xp_pattern_byte(SEED_OLD, off + i))
			return (long long)i;
	}
	return -1;
}

static int make_grant(int dev, void *addr, size_t len, __u32 flags,
		      uint64_t *seq)
{
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = flags,
		.addr = xp_ptr(addr),
		.len = len,
	};

	if (seq) {
		g.flags |= XPCOPY_GRANT_SEQ;
		g.seq_addr = xp_ptr(seq);
	}
	return xp_ioctl(dev, XPCOPY_GRANT, &g);
}

static const int err_copy[] = { ENOMEM, EFAULT, 0 };
static const int err_struct[] = { EFAULT, 0 };
static const int err_alloc[] = { ENOMEM, EFAULT, 0 };

/* One try of a COPY with fault @n; returns whether the fault was used. */
static bool try_copy(struct __test_metadata *_metadata,
		     FIXTURE_DATA(fault) *self,
		     const FIXTURE_VARIANT(fault) *variant, unsigned int n,
		     int gfd)
{
	bool rd = variant->flags & XPCOPY_COPY_READ;
	size_t len = self->len;
	uint8_t *dst = rd ? self->loc + 7 : self->rem + 5;
	uint8_t *src = rd ? self->rem + 5 : self->loc + 7;
	uint64_t seqv = 0x5e9000ULL + n;
	struct xpcopy_iovec l = { xp_ptr(self->loc + 7), len };
	struct xpcopy_iovec r = { variant->grant ? 5 : xp_ptr(self->rem + 5),
				  len };
	struct xpcopy_copy c;
	struct xp_stats s0 = { 0 };
	int fds, ret;
	bool used;
	long long d;

	xp_fill(src, len, SEED_NEW, 0);
	xp_fill(dst, len, SEED_OLD, 0);
	*self->seq = 1;
	xp_copy_init(&c, variant->flags | (variant->grant ?
					   XPCOPY_COPY_GRANT : 0),
		     variant->grant ? gfd : self->t.pid, &l, 1, &r, 1);
	if (variant->publish)
		c.seq = seqv;
	fds = count_fds();
	EXPECT_EQ(0, xp_stats_read(&s0));
	ASSERT_EQ(0, arm(self, n));
	ret = xp_ioctl(self->dev, XPCOPY_COPY, &c);
	used = consumed(self);

	if (!used)
		EXPECT_EQ(0, ret) TH_LOG("n=%u: no fault injected, yet %s", n,
					 strerror(-ret));
	if (ret) {
		EXPECT_TRUE(in_set(-ret, err_copy))
			TH_LOG("n=%u: undocumented %s", n, strerror(-ret));
		EXPECT_EQ(XP_COPIED_POISON, c.copied);
		c.copied = 0;
	} else {
		EXPECT_LE(1ULL, c.copied) TH_LOG("n=%u", n);
		EXPECT_GE((__u64)len, c.copied) TH_LOG("n=%u", n);
		if (!used)
			EXPECT_EQ((__u64)len, c.copied);
	}
	if (c.copied > len)
		c.copied = len;
	d = xp_check(dst, c.copied, SEED_NEW, 0);
	EXPECT_EQ(-1, d) TH_LOG("n=%u: byte %lld of the %llu copied is wrong",
				n, d, (unsigned long long)c.copied);
	d = old_or_new(dst + c.copied, len - c.copied, c.copied);
	EXPECT_EQ(-1, d) TH_LOG("n=%u: byte %lld past the count is neither old nor new",
				n, d + (long long)c.copied);
	if (variant->publish) {
		uint64_t want = ret == 0 && c.copied == len ? seqv : 1;

		EXPECT_EQ(want, *self->seq)
			TH_LOG("n=%u: ret %d copied %llu: the word holds %#llx",
			       n, ret, (unsigned long long)c.copied,
			       (unsigned long long)*self->seq);
	}
	XP_EXPECT_PINS_BACK(s0, 2000);
	EXPECT_EQ(fds, count_fds()) TH_LOG("n=%u: fds", n);
	return used;
}

/* One try of a grant command; returns whether the fault was used. */
static bool try_grant_cmd(struct __test_metadata *_metadata,
			  FIXTURE_DATA(fault) *self,
			  const FIXTURE_VARIANT(fault) *variant,
			  unsigned int n, int efd)
{
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE |
			 XPCOPY_GRANT_SEQ | XPCOPY_GRANT_EVENTFD,
		.addr = xp_ptr(self->rem),
		.len = self->len,
		.seq_addr = xp_ptr(self->seq),
		.eventfd = efd,
	};
	struct xpcopy_grant_derive dv = { .size = sizeof(dv),
					  .flags = XPCOPY_GRANT_READ,
					  .offset = 4096, .len = 8192 };
	struct xpcopy_grant_revoke rv = { .size = sizeof(rv) };
	struct xpcopy_grant_info in = { .size = sizeof(in) };
	struct xpcopy_features f = { .size = sizeof(f) };
	struct xpcopy_grant_info after;
	int parent = -1, fds, ret;
	const int *allowed = err_struct;
	bool used;

	if (variant->cmd != XPCOPY_CMD_GRANT &&
	    variant->cmd != XPCOPY_CMD_FEATURES) {
		parent = make_grant(self->dev, self->rem, self->len,
				    XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE,
				    NULL);
		ASSERT_LE(0, parent);
		dv.grant_fd = rv.grant_fd = in.grant_fd = parent;
	}
	fds = count_fds();
	ASSERT_EQ(0, arm(self, n));
	switch (variant->cmd) {
	case XPCOPY_CMD_FEATURES:
		ret = xp_ioctl(self->dev, XPCOPY_FEATURES, &f);
		break;
	case XPCOPY_CMD_GRANT:
		ret = xp_ioctl(self->dev, XPCOPY_GRANT, &g);
		allowed = err_alloc;
		break;
	case XPCOPY_CMD_GRANT_DERIVE:
		ret = xp_ioctl(self->dev, XPCOPY_GRANT_DERIVE, &dv);
		allowed = err_alloc;
		break;
	case XPCOPY_CMD_GRANT_REVOKE:
		ret = xp_ioctl(self->dev, XPCOPY_GRANT_REVOKE, &rv);
		break;
	default:
		ret = xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &in);
		break;
	}
	used = consumed(self);
	if (!used)
		EXPECT_LE(0, ret) TH_LOG("n=%u: no fault injected, yet %s", n,
					 strerror(-ret));
	if (ret < 0) {
		EXPECT_TRUE(in_set(-ret, allowed))
			TH_LOG("n=%u: undocumented %s", n, strerror(-ret));
		EXPECT_EQ(fds, count_fds()) TH_LOG("n=%u: an fd was left", n);
	} else if (variant->cmd == XPCOPY_CMD_GRANT ||
		   variant->cmd == XPCOPY_CMD_GRANT_DERIVE) {
		EXPECT_EQ(fds + 1, count_fds());
		EXPECT_EQ(ret, variant->cmd == XPCOPY_CMD_GRANT ? g.fd : dv.fd);
		/* the new grant works */
		memset(&after, 0, sizeof(after));
		after.size = sizeof(after);
		after.grant_fd = ret;
		EXPECT_EQ(0, xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &after));
		EXPECT_EQ(variant->cmd == XPCOPY_CMD_GRANT ? self->len : 8192,
			  after.len);
		close(ret);
	} else if (variant->cmd == XPCOPY_CMD_FEATURES) {
		EXPECT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version);
	} else if (variant->cmd == XPCOPY_CMD_GRANT_INFO) {
		EXPECT_EQ((__u64)self->len, in.len);
	}
	if (variant->cmd == XPCOPY_CMD_GRANT_REVOKE) {
		/* revoked exactly when the command said so */
		memset(&after, 0, sizeof(after));
		after.size = sizeof(after);
		after.grant_fd = parent;
		EXPECT_EQ(0, xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &after));
		EXPECT_EQ(ret == 0 ? 1U : 0U, after.revoked) TH_LOG("n=%u", n);
	}
	if (parent >= 0)
		close(parent);
	return used;
}

/* Forget the leaks kmemleak found before this test. */
static void leak_clear(void)
{
	if (!access(DBG "/kmemleak", W_OK))
		xp_write_str(DBG "/kmemleak", "clear");
}

/*
 * kmemleak, when the kernel has it: scan, and fail on a leak whose
 * backtrace names the module. Objects younger than 5 s are not reported:
 * wait that long first.
 */
static void no_leak(struct __test_metadata *_metadata)
{
	static char buf[65536];
	char *p;

	if (access(DBG "/kmemleak", W_OK))
		return;
	xp_sleep_ms(5500);
	xp_write_str(DBG "/kmemleak", "scan");
	if (xp_read_str(DBG "/kmemleak", buf, sizeof(buf)))
		return;
	/*
	 * The module's own objects, and what a lost reference would strand:
	 * an eventfd context, an address space (a grant's mmgrab()).
	 */
	p = strstr(buf, "xpc_");
	if (!p)
		p = strstr(buf, "[xpcopy]");
	if (!p)
		p = strstr(buf, "do_eventfd");
	if (!p)
		p = strstr(buf, "dup_mm");
	if (!p)
		p = strstr(buf, "mm_alloc");
	EXPECT_EQ(NULL, p) TH_LOG("kmemleak:\n%s", buf);
}

TEST_F_TIMEOUT(fault, fail_nth_sweep, 900)
{
	int gfd = -1, efd = -1;
	unsigned int n;

	if (variant->cmd == XPCOPY_CMD_COPY && variant->grant) {
		gfd = make_grant(self->dev, self->rem, self->len + self->page,
				 XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE,
				 variant->publish ? self->seq : NULL);
		ASSERT_LE(0, gfd);
	}
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	leak_clear();
	for (n = 1; n <= MAX_N; n++) {
		bool used;

		if (variant->cmd == XPCOPY_CMD_COPY)
			used = try_copy(_metadata, self, variant, n, gfd);
		else
			used = try_grant_cmd(_metadata, self, variant, n, efd);
		if (!used)
			break;
		if (_metadata->exit_code == KSFT_FAIL) {
			TH_LOG("the failure above is at fault site n=%u", n);
			break;
		}
	}
	TH_LOG("%u fault sites reached by the calling thread", n - 1);
	EXPECT_GT((unsigned int)MAX_N, n) TH_LOG("still injecting after %u", MAX_N);
	/* at least the struct read (a user copy) is a site */
	EXPECT_LE(1U, n - 1);
	if (gfd >= 0)
		close(gfd);
	close(efd);
	no_leak(_metadata);
}

/* ---- the workers: make-it-fail on the kthreads, at random ---- */

static int add_worker(const char *id, void *arg)
{
	struct fi *fi = arg;

	fi->workers[fi->nworkers++] = atoi(id);
	return fi->nworkers >= 64;
}

static int find_workers(struct fi *fi)
{
	int n = xp_scan_tasks("/proc", "xpcopy/", add_worker, fi);

	return n < 0 ? n : fi->nworkers;
}

/* Set make-it-fail of the workers find_workers() found to @val. */
static void workers_fail(struct fi *fi, const char *val)
{
	char path[64];

	for (int i = 0; i < fi->nworkers; i++) {
		snprintf(path, sizeof(path), "/proc/%d/make-it-fail",
			 fi->workers[i]);
		xp_write_str(path, val);
	}
}

/* The outcomes of the random-fault rounds. */
struct tally {
	unsigned int fails, shorts, whole;
};

/*
 * One round of random faults: the copy of @len bytes returned @ret and
 * counted @copied. It fails with EFAULT or ENOMEM only, or counts at most
 * @len; the counted bytes of @dst hold pattern SEED_NEW from @start.
 */
static void random_round(struct __test_metadata *_metadata, struct tally *t,
			 int round, int ret, __u64 copied, size_t len,
			 const uint8_t *dst, uint64_t start)
{
	long long d;

	if (ret) {
		EXPECT_TRUE(ret == -EFAULT || ret == -ENOMEM)
			TH_LOG("round %d: undocumented %s", round,
			       strerror(-ret));
		t->fails++;
		copied = 0;
	} else {
		EXPECT_GE((__u64)len, copied);
		t->shorts += copied < len;
		t->whole += copied == len;
	}
	d = xp_check(dst, copied, SEED_NEW, start);
	EXPECT_EQ(-1, d) TH_LOG("round %d: byte %lld of %llu", round, d,
				(unsigned long long)copied);
}

/*
 * The workers fail 1 in 5 of their allocations (pages of the other
 * process faulted in by the copy) and user copies, for 60 copies into
 * fresh (never touched) memory of the target: each ends with a short count
 * or EFAULT/ENOMEM, the bytes in the count are right, nothing stays pinned.
 */
FIXTURE(workers)
{
	int dev;
	struct fi fi;
	struct xp_target t;
};

FIXTURE_VARIANT(workers)
{
	__u32 flags;
};

FIXTURE_VARIANT_ADD(workers, write)
{ .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(workers, read)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(workers, write_bounce)
{ .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE };
FIXTURE_VARIANT_ADD(workers, read_bounce)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE };

FIXTURE_SETUP(workers)
{
	char why[256];

	xp_target_init(&self->t);
	fi_init(&self->fi);
	XPCOPY_OPEN_OR_SKIP(self->dev);
	if (!have_fault_injection(&self->fi, why, sizeof(why)))
		SKIP(return, "%s", why);
	setup_nth(&self->fi);
}

FIXTURE_TEARDOWN(workers)
{
	fi_restore(&self->fi);
	xp_target_kill(&self->t);
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F_TIMEOUT(workers, random_faults, 600)
{
	struct xp_stats s0 = { 0 };
	struct tally t = { 0 };
	size_t len = 1 * MiB;
	uint8_t *loc, *rem;

	ASSERT_LT(0, find_workers(&self->fi)) TH_LOG("no xpcopy/N threads");
	leak_clear();
	for (unsigned int i = 0; i < ARRAY_SIZE(fault_dirs); i++) {
		set_attr(&self->fi, fault_dirs[i], "probability", "20");
		set_attr(&self->fi, fault_dirs[i], "times", "-1");
	}
	loc = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, loc);
	ASSERT_EQ(0, xp_stats_read(&s0));
	for (int round = 0; round < 60; round++) {
		bool rd = variant->flags & XPCOPY_COPY_READ;
		__u64 copied = 0;
		int ret;

		/* a fresh target with fresh memory each round */
		rem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, rem);
		if (rd)
			xp_fill(rem, len, SEED_NEW, 0);
		xp_fill(loc, len, rd ? SEED_OLD : SEED_NEW, 0);
		ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
		workers_fail(&self->fi, "1");
		ret = xp_copy1(self->dev, variant->flags, self->t.pid, loc,
			       len, xp_ptr(rem), len, &copied);
		workers_fail(&self->fi, "0");
		random_round(_metadata, &t, round, ret, copied, len,
			     rd ? loc : rem, 0);
		xp_target_kill(&self->t);
		munmap(rem, len);
	}
	TH_LOG("60 copies of 1 MiB: %u failed, %u short", t.fails, t.shorts);
	XP_EXPECT_PINS_BACK(s0, 2000);
	munmap(loc, len);
	no_leak(_metadata);
}

/* ---- fail_function: one function of the module returns an error ---- */

#define FEI		DBG "/fail_function"
#define FEI_BATCH	8	/* batch_pages during these tests */
#define FEI_MANY	1000000	/* "times" when every call is to fail */
#define FEI_SEQ		0x5e9ULL

/*
 * The module marks with ALLOW_ERROR_INJECTION() the functions whose failure
 * leaves nothing to undo; fail_function (CONFIG_FAIL_FUNCTION) makes one
 * return an error without running. Each variant names the function, the
 * error, how many calls go through first and how many fail, the copy, and
 * its outcome: an errno, or a count of whole batches (the copy stops at a
 * batch boundary: past the count the destination is untouched), or the
 * whole copy (the module's fallback takes over). The injection must have
 * happened ("times" went down: a function inlined or cloned by the compiler
 * would escape it). Pins and fds balance, and once the injection is
 * removed the same copy succeeds in full.
 */
FIXTURE(inject)
{
	int dev;
	struct fi fi;
	size_t page, len;
	struct xp_target t;
	uint8_t *loc, *rem;	/* rem is MAP_SHARED: the target sees it */
	uint64_t *seq;
	bool armed;
};

FIXTURE_VARIANT(inject)
{
	const char *func;
	int err;		/* the error the function returns */
	int pass;		/* calls that go through first */
	int times;		/* calls that fail; 0: all of them */
	__u32 flags;		/* COPY flags */
	bool grant;		/* through a grant, with PUBLISH */
	int want_err;		/* the COPY's errno, or 0 */
	int want_batches;	/* bytes copied, in batches; 0: all */
};

/* A fault-in that fails: the ordinary user copy takes over, all is copied. */
FIXTURE_VARIANT_ADD(inject, fault_in_write)
{ .func = "xpc_fault_in", .err = EFAULT,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(inject, fault_in_read)
{ .func = "xpc_fault_in", .err = EFAULT,
  .flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER };
FIXTURE_VARIANT_ADD(inject, fault_in_write_bounce)
{ .func = "xpc_fault_in", .err = ENOMEM,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE };
/* A signal between batches: the count is the batches done before it. */
FIXTURE_VARIANT_ADD(inject, between_batches_first)
{ .func = "xpc_between_batches", .err = EINTR, .times = 1,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER, .want_batches = 1 };
FIXTURE_VARIANT_ADD(inject, between_batches_write)
{ .func = "xpc_between_batches", .err = EINTR, .pass = 1, .times = 1,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER, .want_batches = 2 };
FIXTURE_VARIANT_ADD(inject, between_batches_read_inline)
{ .func = "xpc_between_batches", .err = EINTR, .pass = 1, .times = 1,
  .flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE, .want_batches = 2 };
FIXTURE_VARIANT_ADD(inject, between_batches_read_bounce)
{ .func = "xpc_between_batches", .err = ESTALE, .pass = 2, .times = 1,
  .flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE, .want_batches = 3 };
/* The target gone before the copy began. */
FIXTURE_VARIANT_ADD(inject, target_mm)
{ .func = "xpc_target_mm", .err = ESRCH, .times = 1,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER, .want_err = ESRCH };
/* A publication that fails after its data landed: the word is unchanged. */
FIXTURE_VARIANT_ADD(inject, publish_store)
{ .func = "xpc_engine_store_u64", .err = EFAULT, .times = 1, .grant = true,
  .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER, .want_err = EFAULT };

FIXTURE_SETUP(inject)
{
	char why[256], batch[16];

	xp_target_init(&self->t);
	fi_init(&self->fi);
	self->armed = false;
	XPCOPY_OPEN_OR_SKIP(self->dev);
	self->page = xp_page_size();
	if (!have_fault_injection(&self->fi, why, sizeof(why)))
		SKIP(return, "%s", why);
	if (access(FEI "/inject", W_OK))
		SKIP(return, FEI "/inject: %s: no CONFIG_FAIL_FUNCTION",
		     strerror(errno));
	self->len = 4 * FEI_BATCH * self->page;
	self->loc = xp_map(self->len, PROT_READ | PROT_WRITE);
	self->rem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	self->seq = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(NULL, self->loc);
	ASSERT_NE(MAP_FAILED, self->rem);
	ASSERT_NE(MAP_FAILED, self->seq);
	/*
	 * Started before the buffers are written: the target's own page
	 * tables hold none of rem's pages, so its copies take faults.
	 */
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	/* last: the teardown, which restores it, runs only if setup ended */
	snprintf(batch, sizeof(batch), "%d", FEI_BATCH);
	ASSERT_EQ(0, set_path(&self->fi, XPCOPY_BATCH_PARAM, batch));
}

/* Remove @func from fail_function's list (-ENOENT: it was not there). */
static int fei_remove(const char *func)
{
	char buf[80];

	snprintf(buf, sizeof(buf), "!%s", func);
	return xp_write_str(FEI "/inject", buf);
}

/* No injection left behind: the module may be unloaded after this. */
static void fei_clear(FIXTURE_DATA(inject) *self,
		      const FIXTURE_VARIANT(inject) *variant)
{
	if (self->armed)
		fei_remove(variant->func);
	self->armed = false;
}

FIXTURE_TEARDOWN(inject)
{
	fei_clear(self, variant);
	fi_restore(&self->fi);
	xp_target_kill(&self->t);
	if (self->dev >= 0)
		close(self->dev);
}

static long fei_times(void)
{
	char buf[32];

	if (xp_read_str(FEI "/times", buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/*
 * Make @v->func fail as @v says; returns 0 or -errno. "times" is 0 (no
 * failure) until the function's error is set, then what @v says.
 */
static int fei_arm(FIXTURE_DATA(inject) *self,
		   const FIXTURE_VARIANT(inject) *v)
{
	static const char *const fixed[][2] = {
		{ "times", "0" }, { "probability", "100" },
		{ "interval", "1" }, { "verbose", "0" }, { "task-filter", "N" },
	};
	char path[160], val[32];
	int ret;

	for (unsigned int i = 0; i < ARRAY_SIZE(fixed); i++) {
		ret = set_attr(&self->fi, "fail_function", fixed[i][0],
			       fixed[i][1]);
		if (ret)
			return ret;
	}
	/* space n + 1 lets n calls through (should_fail(): space > size) */
	snprintf(val, sizeof(val), "%d", v->pass + 1);
	ret = set_attr(&self->fi, "fail_function", "space", val);
	if (ret)
		return ret;
	/* one a test killed by its timeout may have left */
	fei_remove(v->func);
	ret = xp_write_str(FEI "/inject", v->func);
	if (ret)
		return ret;
	self->armed = true;
	snprintf(path, sizeof(path), FEI "/%s/retval", v->func);
	snprintf(val, sizeof(val), "%#llx", (unsigned long long)-v->err);
	ret = xp_write_str(path, val);
	if (ret)
		return ret;
	snprintf(val, sizeof(val), "%d", v->times ? v->times : FEI_MANY);
	return set_attr(&self->fi, "fail_function", "times", val);
}

static void fei_copy_init(FIXTURE_DATA(inject) *self,
			  const FIXTURE_VARIANT(inject) *variant,
			  struct xpcopy_copy *c, struct xpcopy_iovec *l,
			  struct xpcopy_iovec *r, int gfd)
{
	l->addr = xp_ptr(self->loc);
	l->len = self->len;
	r->addr = variant->grant ? 0 : xp_ptr(self->rem);
	r->len = self->len;
	xp_copy_init(c, variant->flags | (variant->grant ?
			XPCOPY_COPY_GRANT | XPCOPY_COPY_PUBLISH : 0),
		     variant->grant ? gfd : self->t.pid, l, 1, r, 1);
	if (variant->grant)
		c->seq = FEI_SEQ;
}

TEST_F_TIMEOUT(inject, copy, 120)
{
	bool rd = variant->flags & XPCOPY_COPY_READ;
	uint8_t *dst = rd ? self->loc : self->rem;
	uint8_t *src = rd ? self->rem : self->loc;
	size_t len = self->len;
	size_t want = variant->want_batches ?
		      variant->want_batches * FEI_BATCH * self->page : len;
	struct xp_stats s0 = { 0 };
	struct xpcopy_iovec l, r;
	struct xpcopy_copy c;
	int gfd = -1, fds, ret;
	long times0, times1;
	long long d;

	if (variant->grant) {
		gfd = make_grant(self->dev, self->rem, len,
				 XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE,
				 self->seq);
		ASSERT_LE(0, gfd);
	}
	*self->seq = 1;
	xp_fill(src, len, SEED_NEW, 0);
	xp_fill(dst, len, SEED_OLD, 0);
	leak_clear();
	fds = count_fds();
	ASSERT_EQ(0, xp_stats_read(&s0));
	ret = fei_arm(self, variant);
	ASSERT_EQ(0, ret) TH_LOG("fail_function cannot fail %s: %s (ERANGE: not marked ALLOW_ERROR_INJECTION, EINVAL: no such symbol, EBUSY: already there)",
				 variant->func, strerror(-ret));
	times0 = fei_times();
	fei_copy_init(self, variant, &c, &l, &r, gfd);
	ret = xp_ioctl(self->dev, XPCOPY_COPY, &c);
	times1 = fei_times();
	fei_clear(self, variant);

	EXPECT_LT(times1, times0) TH_LOG("%s never failed (times %ld, then %ld): is it inlined or cloned?",
					 variant->func, times0, times1);
	if (variant->want_err) {
		EXPECT_EQ(-variant->want_err, ret);
		EXPECT_EQ(XP_COPIED_POISON, c.copied);
	} else {
		EXPECT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
		EXPECT_EQ((__u64)want, c.copied);
	}
	if (variant->want_err && !variant->grant)
		want = 0;	/* nothing began */
	d = xp_check(dst, want, SEED_NEW, 0);
	EXPECT_EQ(-1, d) TH_LOG("byte %lld of the first %zu is not the new one",
				d, want);
	d = xp_check(dst + want, len - want, SEED_OLD, want);
	EXPECT_EQ(-1, d) TH_LOG("byte %lld past the %zu copied was written",
				d + (long long)want, want);
	if (variant->grant)
		EXPECT_EQ(1ULL, *self->seq) TH_LOG("a failed publication stored %#llx",
						   (unsigned long long)*self->seq);
	XP_EXPECT_PINS_BACK(s0, 2000);
	EXPECT_EQ(fds, count_fds());

	/* Nothing of the failure stayed: the same copy, whole. */
	xp_fill(dst, len, SEED_OLD, 0);
	fei_copy_init(self, variant, &c, &l, &r, gfd);
	EXPECT_EQ(0, xp_ioctl(self->dev, XPCOPY_COPY, &c));
	EXPECT_EQ((__u64)len, c.copied);
	EXPECT_EQ(-1, xp_check(dst, len, SEED_NEW, 0));
	if (variant->grant)
		EXPECT_EQ(FEI_SEQ, *self->seq);
	XP_EXPECT_PINS_BACK(s0, 2000);
	if (gfd >= 0)
		close(gfd);
	no_leak(_metadata);
}

/* ---- io_uring: the io-wq thread that runs the command fails ---- */

/*
 * Through io_uring a command runs on an io-wq worker, a thread of this
 * process ("iou-wrk-<pid>"), which the fail-nth sweep never reaches: its
 * allocations and user copies (the struct, the iovecs, the caller's pages,
 * the count written back) fail here 1 in 5 times, for 100 copies. Each
 * completion is a count whose bytes are right or EFAULT/ENOMEM; nothing
 * stays pinned or leaks; some injected failure must have shown.
 */
FIXTURE(uring_faults)
{
	int dev;
	struct fi fi;
	struct xp_target t;
	struct io_uring ring;
	bool ring_ok;
	uint8_t *loc, *rem;	/* rem is MAP_SHARED: the target sees it */
};

FIXTURE_VARIANT(uring_faults)
{
	__u32 flags;
	size_t len;
};

FIXTURE_VARIANT_ADD(uring_faults, write)
{ .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER, .len = 256 * KiB };
FIXTURE_VARIANT_ADD(uring_faults, read)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER, .len = 256 * KiB };
FIXTURE_VARIANT_ADD(uring_faults, write_inline)
{ .flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE, .len = 40 * KiB + 3 };
FIXTURE_VARIANT_ADD(uring_faults, read_bounce)
{ .flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE, .len = 256 * KiB };

FIXTURE_SETUP(uring_faults)
{
	char why[256];
	int ret;

	xp_target_init(&self->t);
	fi_init(&self->fi);
	self->ring_ok = false;
	XPCOPY_OPEN_OR_SKIP(self->dev);
	if (!have_fault_injection(&self->fi, why, sizeof(why)))
		SKIP(return, "%s", why);
	XPCOPY_URING_CMD_OR_SKIP(self->dev);
	setup_nth(&self->fi);
	ret = io_uring_queue_init(8, &self->ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("io_uring_setup: %s", strerror(-ret));
	self->ring_ok = true;
	self->loc = xp_map(variant->len, PROT_READ | PROT_WRITE);
	self->rem = mmap(NULL, variant->len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(NULL, self->loc);
	ASSERT_NE(MAP_FAILED, self->rem);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
}

FIXTURE_TEARDOWN(uring_faults)
{
	fi_restore(&self->fi);
	if (self->ring_ok)
		io_uring_queue_exit(&self->ring);
	xp_target_kill(&self->t);
	if (self->dev >= 0)
		close(self->dev);
}

struct fail_arg {
	struct fi *fi;
	const char *val;
	int n;
};

static int set_fail(const char *id, void *arg)
{
	struct fail_arg *a = arg;
	char path[96];

	snprintf(path, sizeof(path), "/proc/self/task/%.20s/make-it-fail", id);
	if (!set_path(a->fi, path, a->val))
		a->n++;
	return 0;
}

/* Set make-it-fail of this process's io-wq threads; returns how many. */
static int uring_workers_fail(struct fi *fi, const char *val)
{
	struct fail_arg a = { .fi = fi, .val = val };
	int n = xp_scan_tasks("/proc/self/task", "iou-wrk-", set_fail, &a);

	return n < 0 ? n : a.n;
}

TEST_F_TIMEOUT(uring_faults, random_faults, 600)
{
	bool rd = variant->flags & XPCOPY_COPY_READ;
	uint8_t *dst = rd ? self->loc : self->rem;
	uint8_t *src = rd ? self->rem : self->loc;
	size_t len = variant->len;
	struct xpcopy_iovec l = { xp_ptr(self->loc), len };
	struct xpcopy_iovec r = { xp_ptr(self->rem), len };
	struct xp_stats s0 = { 0 };
	struct tally t = { 0 };
	__u64 copied = 0;
	int ret, n;

	leak_clear();
	ASSERT_EQ(0, xp_stats_read(&s0));
	/* a first copy starts the io-wq worker */
	xp_fill(src, len, SEED_NEW, 0);
	ret = xp_uring_copy(&self->ring, self->dev, variant->flags,
			    self->t.pid, &l, 1, &r, 1, &copied);
	ASSERT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
	ASSERT_EQ((__u64)len, copied);
	/* kvmalloc()'s vmalloc fallback warns when it fails too */
	xp_write_str("/dev/kmsg", "XPCOPY-EXPECT alloc-failure\n");
	n = uring_workers_fail(&self->fi, "1");
	ASSERT_LT(0, n) TH_LOG("no iou-wrk-* thread in /proc/self/task");
	for (unsigned int i = 0; i < ARRAY_SIZE(fault_dirs); i++) {
		ASSERT_EQ(0, set_attr(&self->fi, fault_dirs[i], "probability",
				      "20"));
		set_attr(&self->fi, fault_dirs[i], "times", "-1");
	}
	for (int round = 0; round < 100; round++) {
		xp_fill(src, len, SEED_NEW, round);
		xp_fill(dst, len, SEED_OLD, round);
		ret = xp_uring_copy(&self->ring, self->dev, variant->flags,
				    self->t.pid, &l, 1, &r, 1, &copied);
		random_round(_metadata, &t, round, ret, copied, len, dst,
			     round);
	}
	/* new io-wq threads may have come: none fails after this */
	for (unsigned int i = 0; i < ARRAY_SIZE(fault_dirs); i++)
		set_attr(&self->fi, fault_dirs[i], "probability", "0");
	TH_LOG("%d io-wq thread(s) failing; 100 copies: %u whole, %u short, %u failed",
	       n, t.whole, t.shorts, t.fails);
	EXPECT_LT(0U, t.shorts + t.fails) TH_LOG("no injected failure reached the io-wq thread");
	XP_EXPECT_PINS_BACK(s0, 2000);
	/* and the ring still works */
	xp_fill(src, len, SEED_NEW, 0);
	xp_fill(dst, len, SEED_OLD, 0);
	ret = xp_uring_copy(&self->ring, self->dev, variant->flags,
			    self->t.pid, &l, 1, &r, 1, &copied);
	EXPECT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
	EXPECT_EQ(-1, xp_check(dst, len, SEED_NEW, 0));
	no_leak(_metadata);
}

TEST_HARNESS_MAIN
