// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation: a copy stalled on a page nobody serves holds up no other
 * caller.
 *
 * Process A copies into its own mapping of pages that never arrive, on the
 * workers (XPCOPY_COPY_WORKER): in the "fuse" variant a file of a FUSE file
 * system served by this test through the raw /dev/fuse protocol, whose
 * reads it never answers; in the "uffd" variant a region on a userfaultfd
 * nobody resolves. Its copy is cut for one worker per CPU, each stalled.
 * Meanwhile process B, of another uid, copies 64 MiB through a grant of
 * the test's memory: it must finish, byte-exact, in at most twice its time
 * without A. Then A stalls every other worker too, one page each, and B
 * must still finish, byte-exact (its own copier: no worker is left). A is
 * then ended: by SIGKILL, and for FUSE by aborting the connection too
 * (once the server has read a request, the kernel's wait for its answer
 * ignores even SIGKILL). It leaves no pinned page, and the workers copy
 * again.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <linux/fuse.h>

#include "xpcopy_test.h"
#include "grant_helpers.h"

/* A's copies land this far apart in the file: each asks a read of its own. */
#define IS_STRIDE	(256UL << 10)
#define IS_MAX_STALLS	1024U
#define IS_FILE_LEN	(IS_MAX_STALLS * IS_STRIDE)
#define IS_FILE_INO	2
#define IS_SEED		0x150ULL

FIXTURE(isolation) {
	int dev;
	struct xpcopy_features feat;
	size_t page;
	uint8_t *win;		/* the window of the grant B copies into */
	int gfd;
	pid_t b;		/* the other uid's holder */
	int b_cmd, b_rep;
	pid_t a;		/* the stalled copier */
	pid_t server;		/* the FUSE server */
	int reads_rd;		/* a byte for each read the server got */
	char mnt[64];
};

FIXTURE_VARIANT(isolation) {
	bool fuse;
};

FIXTURE_VARIANT_ADD(isolation, fuse) {
	.fuse = true,
};

FIXTURE_VARIANT_ADD(isolation, uffd) {
	.fuse = false,
};

struct is_result {
	int ret;
	__u64 copied;
	int64_t ns;
};

/* B: fill its source with the seed it is sent, copy it all, report. */
static void is_holder(int dev, int gfd, int cmd, int rep)
{
	struct is_result r;
	uint8_t *src;
	uint64_t seed;
	int64_t t0;

	xp_die_with_parent(getppid());
	src = xp_map(BIG, PROT_READ | PROT_WRITE);
	/* Huge pages make TCG guests' timings erratic: not what is measured. */
	if (!src || madvise(src, BIG, MADV_NOHUGEPAGE) ||
	    xp_become(UID_A, UID_A, 0))
		_exit(1);
	while (xp_read_full(cmd, &seed, sizeof(seed)) == 0 && seed) {
		big_fill(src, BIG, seed);
		t0 = xp_now_ns();
		r.ret = xp_copy1(dev, CW | XPCOPY_COPY_GRANT, gfd, src, BIG,
				 0, BIG, &r.copied);
		r.ns = xp_now_ns() - t0;
		if (xp_write_full(rep, &r, sizeof(r)))
			_exit(1);
	}
	_exit(0);
}

/* One copy by B with @seed: its time in ns, after checking every byte. */
static int64_t is_b_copy(struct __test_metadata *_metadata,
			 FIXTURE_DATA(isolation) *self, uint64_t seed)
{
	struct is_result r;

	memset(self->win, 0, BIG);
	if (xp_write_full(self->b_cmd, &seed, sizeof(seed)))
		return -1;
	if (xp_poll_in(self->b_rep, 120000) != 1 ||
	    xp_read_full(self->b_rep, &r, sizeof(r)))
		return -1;
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ((__u64)BIG, r.copied);
	EXPECT_EQ(-1, big_check(self->win, BIG, seed))
		TH_LOG("B's bytes did not all land");
	return r.ns;
}

static int is_fuse_reply(int dev, __u64 unique, int error, const void *arg,
			 size_t len)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + len, .error = error, .unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)arg, .iov_len = len },
	};

	return writev(dev, iov, len ? 2 : 1) == (ssize_t)oh.len ? 0 : -1;
}

static void is_fuse_attr(struct fuse_attr *a, __u64 ino)
{
	bool dir = ino == FUSE_ROOT_ID;

	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = dir ? S_IFDIR | 0755 : S_IFREG | 0666;
	a->nlink = dir ? 2 : 1;
	a->size = dir ? 0 : IS_FILE_LEN;
	a->blocks = a->size / 512;
	a->blksize = 4096;
}

/*
 * The FUSE server: a root directory with one file "f", every request
 * answered except reads, which it only counts on @reads_wr.
 */
static void is_fuse_serve(int dev, int reads_wr)
{
	static char buf[FUSE_MIN_READ_BUFFER + (1 << 20)];
	struct fuse_in_header *in = (void *)buf;
	void *arg = in + 1;

	for (;;) {
		ssize_t n = read(dev, buf, sizeof(buf));
		union {
			struct fuse_init_out init;
			struct fuse_entry_out entry;
			struct fuse_attr_out attr;
			struct fuse_open_out open;
		} o;

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;	/* ENOENT: a request taken back */
		if (n < (ssize_t)sizeof(*in))
			_exit(0);	/* unmounted or aborted */
		memset(&o, 0, sizeof(o));
		switch (in->opcode) {
		case FUSE_INIT: {
			const struct fuse_init_in *ii = arg;

			o.init.major = FUSE_KERNEL_VERSION;
			o.init.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ?
				       ii->minor : FUSE_KERNEL_MINOR_VERSION;
			o.init.max_readahead = ii->max_readahead;
			o.init.max_background = 16;
			o.init.congestion_threshold = 12;
			o.init.max_write = 128 << 10;
			o.init.time_gran = 1;
			is_fuse_reply(dev, in->unique, 0, &o.init,
				      sizeof(o.init));
			break;
		}
		case FUSE_LOOKUP:
			if (strcmp(arg, "f")) {
				is_fuse_reply(dev, in->unique, -ENOENT, NULL, 0);
				break;
			}
			o.entry.nodeid = IS_FILE_INO;
			o.entry.generation = 1;
			o.entry.entry_valid = 3600;
			o.entry.attr_valid = 3600;
			is_fuse_attr(&o.entry.attr, IS_FILE_INO);
			is_fuse_reply(dev, in->unique, 0, &o.entry,
				      sizeof(o.entry));
			break;
		case FUSE_GETATTR:
			o.attr.attr_valid = 3600;
			is_fuse_attr(&o.attr.attr, in->nodeid);
			is_fuse_reply(dev, in->unique, 0, &o.attr,
				      sizeof(o.attr));
			break;
		case FUSE_OPEN:
		case FUSE_OPENDIR:
			o.open.fh = in->nodeid;
			is_fuse_reply(dev, in->unique, 0, &o.open,
				      sizeof(o.open));
			break;
		case FUSE_READ:
			/* Never answered: the reader waits until the abort. */
			if (write(reads_wr, "r", 1) != 1)
				_exit(1);
			break;
		case FUSE_FLUSH:
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
		case FUSE_FSYNC:
			is_fuse_reply(dev, in->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;		/* no answer expected */
		default:
			is_fuse_reply(dev, in->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

/*
 * Mount a FUSE file system served by a child of ours at self->mnt and
 * open its file: the fd, or -errno (-ENODEV: no FUSE here).
 */
static int is_fuse_start(FIXTURE_DATA(isolation) *self)
{
	char opts[128];
	int dev, pfd[2], fd;

	dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return errno == ENOENT || errno == ENXIO ? -ENODEV : -errno;
	strcpy(self->mnt, "/tmp/xpcopy-fuse-XXXXXX");
	if (!mkdtemp(self->mnt) || pipe(pfd)) {
		close(dev);
		return -errno;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", dev);
	if (mount("xpcopy-test", self->mnt, "fuse", MS_NOSUID | MS_NODEV,
		  opts)) {
		fd = -errno;
		rmdir(self->mnt);
		self->mnt[0] = 0;
		goto out;
	}
	self->server = fork();
	if (!self->server) {
		close(pfd[0]);
		xp_die_with_parent(getppid());
		is_fuse_serve(dev, pfd[1]);
	}
	/* The server alone holds the device: its death aborts the mount. */
	self->reads_rd = pfd[0];
	pfd[0] = -1;
	if (self->server < 0) {
		fd = -errno;
		goto out;
	}
	snprintf(opts, sizeof(opts), "%s/f", self->mnt);
	fd = open(opts, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
out:
	close(dev);
	if (pfd[0] >= 0)
		close(pfd[0]);
	close(pfd[1]);
	return fd;
}

struct is_staller {
	pthread_t th;
	int dev;
	void *at;
	void *from;
	size_t len;
};

static void *is_stall(void *arg)
{
	struct is_staller *s = arg;
	__u64 copied;

	xp_copy1(s->dev, CW | XPCOPY_COPY_WORKER, getpid(), s->from, s->len,
		 xp_ptr(s->at), s->len, &copied);
	return NULL;
}

static int is_stall_start(struct is_staller *s, int dev, void *at,
			  void *from, size_t len)
{
	*s = (struct is_staller){
		.dev = dev, .at = at, .from = from, .len = len,
	};
	return pthread_create(&s->th, NULL, is_stall, s);
}

/*
 * A: map the pages that never arrive (the FUSE file @ffd, else a region on
 * an unserved userfaultfd) and start one forced-worker copy into them of
 * @cpus strides, cut for a worker per CPU; say so on @ready (1, or 2 if
 * userfaultfd is unavailable). On a byte from @more, start @n one-page
 * copies more, a stride apart, and say so again. Then wait.
 */
static void is_staller_main(int dev, unsigned int cpus, unsigned int n,
			    int ffd, int ready, int more)
{
	static struct is_staller st[IS_MAX_STALLS];
	size_t page = xp_page_size();
	const char *stage;
	uint8_t *at, *from;
	unsigned int i;
	char ok = 1;

	xp_die_with_parent(getppid());
	from = xp_map(IS_FILE_LEN, PROT_READ | PROT_WRITE);
	if (ffd >= 0) {
		at = mmap(NULL, IS_FILE_LEN, PROT_READ | PROT_WRITE,
			  MAP_SHARED, ffd, 0);
		if (at == MAP_FAILED)
			_exit(1);
	} else {
		at = xp_map(IS_FILE_LEN, PROT_READ | PROT_WRITE);
		if (!at)
			_exit(1);
		if (xp_uffd_register(at, IS_FILE_LEN, &stage) < 0)
			ok = 2;
	}
	if (!from || (ok == 1 &&
		      is_stall_start(&st[0], dev, at, from, cpus * IS_STRIDE)))
		_exit(1);
	if (write(ready, &ok, 1) != 1 || ok != 1 ||
	    xp_read_full(more, &ok, 1))
		_exit(1);
	for (i = 0; i < n; i++)
		if (is_stall_start(&st[1 + i], dev,
				   at + (cpus + i) * IS_STRIDE,
				   from + (cpus + i) * IS_STRIDE, page))
			_exit(1);
	if (write(ready, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Wait until @want pages are pinned: A's copies all began. */
static uint64_t is_wait_pinned(uint64_t want)
{
	uint64_t pinned = 0;
	unsigned int i;

	for (i = 0; i < 10000 && pinned < want; i++) {
		xp_stat("pinned_now", &pinned);
		usleep(1000);
	}
	return pinned;
}

FIXTURE_SETUP(isolation)
{
	int cmd[2], rep[2];

	self->b = self->a = self->server = -1;
	self->gfd = self->reads_rd = self->b_cmd = self->b_rep = -1;
	self->mnt[0] = 0;
	self->page = xp_page_size();
	XPCOPY_OPEN_OR_SKIP(self->dev);
	ASSERT_EQ(0, xp_features(self->dev, &self->feat));
	self->win = xp_map(BIG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, self->win);
	ASSERT_EQ(0, madvise(self->win, BIG, MADV_NOHUGEPAGE));
	self->gfd = grant(self->dev, GW, self->win, BIG);
	ASSERT_LE(0, self->gfd);
	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(rep));
	self->b = fork();
	ASSERT_LE(0, self->b);
	if (!self->b) {
		close(cmd[1]);
		close(rep[0]);
		is_holder(self->dev, self->gfd, cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	self->b_cmd = cmd[1];
	self->b_rep = rep[0];
}

FIXTURE_TEARDOWN(isolation)
{
	pid_t *p[] = { &self->a, &self->server, &self->b };
	int *fds[] = { &self->reads_rd, &self->b_cmd, &self->b_rep,
		       &self->gfd, &self->dev };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p); i++) {
		if (*p[i] > 0) {
			kill(*p[i], SIGKILL);
			waitpid(*p[i], NULL, 0);
		}
	}
	if (self->mnt[0]) {
		umount2(self->mnt, MNT_DETACH);
		rmdir(self->mnt);
	}
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

TEST_F_TIMEOUT(isolation, other_uid_grant_copy_unheld, 300)
{
	unsigned int i, n = self->feat.nr_workers;
	unsigned int cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t alone = INT64_MAX, held = INT64_MAX, t;
	size_t first = cpus * IS_STRIDE / self->page;
	int ffd = -1, ready[2], more[2], status;
	struct xp_stats s0 = { 0 };
	uint8_t *mine;
	uint64_t p0;
	char c = 0;
	__u64 got;

	ASSERT_GE(IS_MAX_STALLS, cpus + n);
	/* B alone: the better of two copies. */
	for (i = 0; i < 2; i++) {
		t = is_b_copy(_metadata, self, IS_SEED + i);
		ASSERT_LT(0, t) TH_LOG("B did not answer");
		TH_LOG("B alone: %.1f ms", t / 1e6);
		alone = t < alone ? t : alone;
	}

	if (variant->fuse) {
		ffd = is_fuse_start(self);
		if (ffd == -ENODEV)
			SKIP(return, "no /dev/fuse in this kernel (CONFIG_FUSE_FS)");
		ASSERT_LE(0, ffd) TH_LOG("FUSE mount: %s", strerror(-ffd));
	}
	ASSERT_EQ(0, xp_stats_read(&s0));
	p0 = s0.pinned_now;
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(more));
	self->a = fork();
	ASSERT_LE(0, self->a);
	if (!self->a) {
		close(ready[0]);
		close(more[1]);
		is_staller_main(self->dev, cpus, n, ffd, ready[1], more[0]);
	}
	close(ready[1]);
	close(more[0]);
	if (ffd >= 0)
		close(ffd);
	ASSERT_EQ(1, xp_poll_in(ready[0], 30000));
	ASSERT_EQ(1, read(ready[0], &c, 1));
	if (c == 2)
		SKIP(return, "userfaultfd unavailable");
	ASSERT_EQ(1, c);
	/* A's copy pins its side, a batch: its workers are under way. */
	ASSERT_EQ(p0 + first, is_wait_pinned(p0 + first))
		TH_LOG("A's copy did not start");
	if (variant->fuse)
		ASSERT_EQ(1, xp_poll_in(self->reads_rd, 10000))
			TH_LOG("the FUSE server got no read");
	usleep(300 * 1000);
	ASSERT_EQ(0, waitpid(self->a, &status, WNOHANG))
		TH_LOG("A's copy ended by itself");

	/* B beside A: the better of two, bytes checked. */
	alarm(120);
	for (i = 0; i < 2; i++) {
		t = is_b_copy(_metadata, self, IS_SEED + 2 + i);
		ASSERT_LT(0, t) TH_LOG("B did not finish");
		TH_LOG("B with A's copy stalled: %.1f ms", t / 1e6);
		held = t < held ? t : held;
	}
	alarm(0);
	TH_LOG("B's 64 MiB: %.1f ms alone, %.1f ms beside A",
	       alone / 1e6, held / 1e6);
	EXPECT_LE(held, 2 * alone) TH_LOG("B slowed down more than twice");

	/* Every worker held: B is its own copier, and still done. */
	ASSERT_EQ(1, write(more[1], "m", 1));
	ASSERT_EQ(1, xp_poll_in(ready[0], 30000));
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(p0 + first + n, is_wait_pinned(p0 + first + n))
		TH_LOG("A's other copies did not start");
	usleep(300 * 1000);
	alarm(120);
	t = is_b_copy(_metadata, self, IS_SEED + 4);
	alarm(0);
	ASSERT_LT(0, t) TH_LOG("B did not finish");
	TH_LOG("B with every worker held: %.1f ms", t / 1e6);
	close(ready[0]);
	close(more[1]);

	/* End A. FUSE: SIGKILL cannot end a read the server took; abort. */
	ASSERT_EQ(0, kill(self->a, SIGKILL));
	if (variant->fuse) {
		ASSERT_EQ(0, kill(self->server, SIGKILL));
		ASSERT_EQ(self->server, xp_waitpid_ms(self->server, NULL, 10000));
		self->server = -1;
	}
	ASSERT_EQ(self->a, xp_waitpid_ms(self->a, &status, 30000))
		TH_LOG("A did not end");
	self->a = -1;
	EXPECT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("A left pages pinned");

	/* The workers are free: a copy on them completes. */
	mine = xp_map_filled(1 << 20, IS_SEED);
	ASSERT_NE(NULL, mine);
	alarm(30);
	ASSERT_EQ(0, xp_copy1(self->dev, CW | XPCOPY_COPY_WORKER, getpid(),
			      mine, 1 << 20, xp_ptr(self->win), 1 << 20,
			      &got));
	alarm(0);
	ASSERT_EQ((__u64)(1 << 20), got);
	EXPECT_EQ(0, memcmp(mine, self->win, 1 << 20));
	munmap(mine, 1 << 20);
	XP_EXPECT_PINS_BACK(s0, 5000);
}

TEST_HARNESS_MAIN
