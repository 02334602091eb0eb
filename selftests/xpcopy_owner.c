// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy selftests: a grant ends with its owner's exec or exit, even while a
 * copy through it is in flight.
 *
 * The holder (the test process) stalls one copy on a page of its own buffer
 * that its own userfaultfd holds, so that the copy is in flight for as long
 * as the test likes; the owner then executes this binary again (or exits).
 * Every new use of the grant must fail with ESRCH, the stalled copy must
 * write nothing once released, and the new image must see none of the
 * holder's bytes, whether the window is private memory or a MAP_SHARED
 * memfd that the new image maps too. By ioctl and through io_uring, on the
 * caller-context and the worker path, and through a pinned grant (whose
 * pages outlive the exec: the check must still refuse them).
 *
 * owner_exec_race repeats the exec against holders that copy without pause.
 */
#include <liburing.h>
#include <pthread.h>

#include "xpcopy_test.h"

#define IMAGE_ENV	"XPCOPY_OWNER_IMAGE"
#define WIN_ADDR	0x5b5b00000000ULL
#define WIN_LEN		(256 * KiB)
/* More than inline_max: the automatic path shares it (a grant's batches). */
#define STALL_LEN	(128 * KiB)
#define S_OWN		0x0c0ffeeULL
#define S_DATA		0xda7aULL
#define RACE_ROUNDS	40
#define RACE_THREADS	2
#define GRW		(XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE)

/*
 * A read-write grant of [addr, addr + len), with a sequence word if seq,
 * pinned if pin.
 */
static int grant_make(int dev, const void *addr, __u64 len, const void *seq,
		      bool pin)
{
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = GRW | (seq ? XPCOPY_GRANT_SEQ : 0) |
			 (pin ? XPCOPY_GRANT_PIN : 0),
		.addr = xp_ptr(addr), .len = len, .seq_addr = xp_ptr(seq),
	};
	int ret = xp_ioctl(dev, XPCOPY_GRANT, &g);

	return ret < 0 ? ret : g.fd;
}

static long long env_ll(const char *name)
{
	const char *s = getenv(name);

	return s ? strtoll(s, NULL, 0) : -1;
}

/* Replace this process with an image of this binary in @mode. */
static int exec_image(const char *mode, int sock, int mfd, int round)
{
	char v[3][24];

	if (fcntl(sock, F_SETFD, 0))
		return -errno;
	snprintf(v[0], sizeof(v[0]), "%d", sock);
	snprintf(v[1], sizeof(v[1]), "%d", mfd);
	snprintf(v[2], sizeof(v[2]), "%d", round);
	if (setenv(IMAGE_ENV, mode, 1) || setenv("XPO_SOCK", v[0], 1) ||
	    setenv("XPO_MFD", v[1], 1) || setenv("XPO_ROUND", v[2], 1))
		return -errno;
	execl("/proc/self/exe", "xpcopy_owner-image", (char *)NULL);
	return -errno;
}

/*
 * The owner's window: a MAP_SHARED memfd (its fd in *mfd, inherited by the
 * images it executes) or private memory (*mfd = -1), at WIN_ADDR.
 */
static void *map_window(bool shared, int *mfd)
{
	void *p;

	*mfd = -1;
	if (shared) {
		*mfd = memfd_create("xpcopy-owner", 0);
		if (*mfd < 0 || ftruncate(*mfd, WIN_LEN))
			return NULL;
	}
	p = mmap((void *)(uintptr_t)WIN_ADDR, WIN_LEN, PROT_READ | PROT_WRITE,
		 MAP_FIXED_NOREPLACE |
		 (shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS),
		 *mfd, 0);
	return p == (void *)(uintptr_t)WIN_ADDR ? p : NULL;
}

/* ------------------------------------------------------------------------
 * The images the owner executes; they run from a constructor, before the
 * harness, when IMAGE_ENV names them.
 */

/*
 * "victim": map the window again (the memfd the old image had, or new
 * private memory filled with S_OWN), say ready with the time, and on a
 * word answer with the offset of the first byte that is not S_OWN (-1).
 */
static int victim_main(int sock, int mfd)
{
	long long rep = xp_now_ns();
	uint8_t *w;

	if (mfd >= 0)
		w = mmap(NULL, WIN_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			 mfd, 0);
	else
		w = mmap((void *)(uintptr_t)WIN_ADDR, WIN_LEN,
			 PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
	if (w == MAP_FAILED)
		rep = -1;
	else if (mfd < 0)
		xp_fill(w, WIN_LEN, S_OWN, 0);
	if (xp_msg_send(sock, &rep, sizeof(rep), -1) || rep < 0)
		return 2;
	if (xp_msg_recv(sock, &rep, sizeof(rep), NULL, 120000))
		return 3;
	rep = xp_check(w, WIN_LEN, S_OWN, 0);
	return xp_msg_send(sock, &rep, sizeof(rep), -1) ? 4 : 0;
}

/* What an image of owner_exec_race says when it starts. */
struct race_msg {
	__s64 t_new;		/* when it started: after the exec */
	__s32 round;
	__s32 late;		/* slots that hold a time after t_new */
};

/*
 * "race", round k: tell the time, let the holders hammer the dead grant a
 * little, count the slots of the memfd written by copies that started
 * after this image did, then (k < RACE_ROUNDS) grant the window and
 * execute round k + 1 after a short, varying time.
 */
static int race_main(int sock, int mfd, int round)
{
	struct race_msg m = { .t_new = xp_now_ns(), .round = round };
	__s64 *slot;
	int dev, gfd;

	slot = mmap((void *)(uintptr_t)WIN_ADDR, WIN_LEN,
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE,
		    mfd, 0);
	if (slot != (void *)(uintptr_t)WIN_ADDR)
		return 2;
	if (round)
		xp_sleep_ms(20);
	for (int i = 0; i < RACE_THREADS; i++)
		m.late += __atomic_load_n(&slot[i * 8], __ATOMIC_ACQUIRE) >
			  m.t_new;
	if (round == RACE_ROUNDS)
		return xp_msg_send(sock, &m, sizeof(m), -1) ? 3 : 0;
	dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	gfd = dev < 0 ? -1 : grant_make(dev, slot, WIN_LEN, NULL, false);
	if (gfd < 0 || xp_msg_send(sock, &m, sizeof(m), gfd))
		return 4;
	close(gfd);
	close(dev);
	xp_sleep_ms(1 + round % 7);
	exec_image("race", sock, mfd, round + 1);
	return 5;
}

static void __attribute__((constructor)) image_main(void)
{
	const char *mode = getenv(IMAGE_ENV);
	int sock = (int)env_ll("XPO_SOCK"), mfd = (int)env_ll("XPO_MFD");

	if (!mode)
		return;
	if (!strcmp(mode, "victim"))
		_exit(victim_main(sock, mfd));
	if (!strcmp(mode, "race"))
		_exit(race_main(sock, mfd, (int)env_ll("XPO_ROUND")));
	_exit(127);
}

/*
 * The owner before its exec: map and fill the window, grant it, send the
 * grant (and the memfd, if shared), then on a word execute "victim" ('e')
 * or exit ('x').
 */
static int owner_main(bool shared, bool pin, int sock)
{
	int dev, gfd, mfd;
	uint8_t *w;
	char c;

	w = map_window(shared, &mfd);
	dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	if (!w || dev < 0)
		return 2;
	xp_fill(w, WIN_LEN, S_OWN, 0);
	/* The sequence word: 8 bytes of the window's last page, unused. */
	gfd = grant_make(dev, w, WIN_LEN - 4096, w + WIN_LEN - 8, pin);
	if (gfd < 0 || xp_msg_send(sock, "g", 1, gfd) ||
	    xp_msg_send(sock, "m", 1, mfd))
		return 3;
	if (xp_msg_recv(sock, &c, 1, NULL, 120000))
		return 4;
	if (c == 'e')
		exec_image("victim", sock, mfd, 0);
	return c == 'x' ? 0 : 5;
}

/* ------------------------------------------------------------------------
 * Copies through a grant, by ioctl or io_uring, on a chosen path
 */

struct via {
	bool uring;
	struct io_uring ring;
	__u32 path;		/* XPCOPY_COPY_INLINE or _WORKER */
};

static int via_init(struct via *v, bool uring, __u32 path)
{
	v->uring = uring;
	v->path = path;
	return uring ? io_uring_queue_init(4, &v->ring, 0) : 0;
}

static void via_exit(struct via *v)
{
	if (v->uring)
		io_uring_queue_exit(&v->ring);
}

static int gcopy(struct via *v, int dev, __u32 dir, int gfd, void *local,
		 __u64 len, __u64 off, __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = xp_ptr(local), .len = len };
	struct xpcopy_iovec r = { .addr = off, .len = len };
	__u32 flags = dir | XPCOPY_COPY_GRANT | v->path;

	if (v->uring)
		return xp_uring_copy(&v->ring, dev, flags, gfd, &l, 1, &r, 1,
				     copied);
	return xp_copy(dev, flags, gfd, &l, 1, &r, 1, copied);
}

/* ------------------------------------------------------------------------
 * A copy stalled on the holder's own userfaultfd page across the exit or
 * exec of the owner
 */

FIXTURE(own)
{
	int dev;
	int sock;
	pid_t pid;
	int gfd;
	int mfd;		/* the owner's memfd, shared windows only */
	uint8_t *stall;		/* STALL_LEN, registered, never touched */
	int uffd;
	uint8_t *data;
	struct via via;
	bool via_ok;
};

FIXTURE_VARIANT(own)
{
	bool shared;
	bool uring;
	__u32 path;
	bool pin;
};

#define OWN_VARIANT(name, sh, ur, p)					\
	FIXTURE_VARIANT_ADD(own, name)					\
	{ .shared = sh, .uring = ur, .path = XPCOPY_COPY_##p }

OWN_VARIANT(private_ioctl_inline, false, false, INLINE);
OWN_VARIANT(private_ioctl_worker, false, false, WORKER);
OWN_VARIANT(private_uring_inline, false, true, INLINE);
OWN_VARIANT(private_uring_worker, false, true, WORKER);
OWN_VARIANT(shared_ioctl_inline, true, false, INLINE);
OWN_VARIANT(shared_ioctl_worker, true, false, WORKER);
OWN_VARIANT(shared_uring_inline, true, true, INLINE);
OWN_VARIANT(shared_uring_worker, true, true, WORKER);
/* The default path: a grant's copy shared in batches, checked in order. */
FIXTURE_VARIANT_ADD(own, private_ioctl_auto) { .shared = false, .path = 0 };
FIXTURE_VARIANT_ADD(own, shared_ioctl_auto) { .shared = true, .path = 0 };
/* A pinned grant (XPCOPY_GRANT_PIN): its copies are the caller's, any size. */
FIXTURE_VARIANT_ADD(own, private_ioctl_pinned) { .shared = false, .pin = true };
FIXTURE_VARIANT_ADD(own, shared_ioctl_pinned) { .shared = true, .pin = true };
FIXTURE_VARIANT_ADD(own, private_uring_pinned)
{ .shared = false, .uring = true, .pin = true };
FIXTURE_VARIANT_ADD(own, shared_uring_pinned)
{ .shared = true, .uring = true, .pin = true };

FIXTURE_SETUP(own)
{
	int sv[2], ret;
	const char *stage;
	char c;

	self->pid = -1;
	self->sock = -1;
	self->uffd = -1;
	self->via_ok = false;
	XPCOPY_OPEN_OR_SKIP(self->dev);
	if (variant->uring)
		XPCOPY_URING_CMD_OR_SKIP(self->dev);
	ret = via_init(&self->via, variant->uring, variant->path);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	self->via_ok = true;
	self->stall = xp_map(STALL_LEN, PROT_READ | PROT_WRITE);
	self->data = xp_map_guarded(WIN_LEN);
	ASSERT_NE(NULL, self->stall);
	ASSERT_NE(NULL, self->data);
	xp_fill(self->data, WIN_LEN, S_DATA, 0);
	self->uffd = xp_uffd_register(self->stall, STALL_LEN, &stage);
	if (self->uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s: %s", stage,
		     strerror(-self->uffd));

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	fflush(NULL);
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(owner_main(variant->shared, variant->pin, sv[1]));
	}
	close(sv[1]);
	self->sock = sv[0];
	ASSERT_EQ(0, xp_msg_recv(self->sock, &c, 1, &self->gfd, 60000));
	ASSERT_LE(0, self->gfd);
	ASSERT_EQ(0, xp_msg_recv(self->sock, &c, 1, &self->mfd, 60000));
	ASSERT_EQ(variant->shared, self->mfd >= 0);
}

FIXTURE_TEARDOWN(own)
{
	int status;

	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, &status, 0);
	}
	if (self->via_ok)
		via_exit(&self->via);
}

struct stalled {
	FIXTURE_DATA(own) *self;
	__u32 path;
	bool uring;
	int ret;
	__u64 copied;
};

/* The stalled copy, on its own thread (and its own ring). */
static void *stalled_copy(void *arg)
{
	struct stalled *s = arg;
	struct via v;

	s->ret = via_init(&v, s->uring, s->path);
	if (s->ret)
		return NULL;
	s->ret = gcopy(&v, s->self->dev, XPCOPY_COPY_WRITE, s->self->gfd,
		       s->self->stall, STALL_LEN, 0, &s->copied);
	via_exit(&v);
	return NULL;
}

/* Wait for the stalled copy's fault on the holder's userfaultfd. */
static int wait_fault(int uffd, uint64_t *addr)
{
	struct uffd_msg m;

	if (xp_poll_in(uffd, 30000) != 1)
		return -ETIMEDOUT;
	if (read(uffd, &m, sizeof(m)) != sizeof(m))
		return -errno;
	if (m.event != UFFD_EVENT_PAGEFAULT)
		return -EPROTO;
	*addr = m.arg.pagefault.address;
	return 0;
}

/* Fill every page of the stall buffer: the stalled copy goes on. */
static int release_stall(FIXTURE_DATA(own) *self)
{
	struct uffdio_copy cp = {
		.dst = xp_ptr(self->stall), .src = xp_ptr(self->data),
		.len = STALL_LEN,
	};

	return ioctl(self->uffd, UFFDIO_COPY, &cp) ? -errno : 0;
}

/* Every use of a grant whose owner is gone: ESRCH, INFO 2, EPOLLHUP. */
static void expect_gone(struct __test_metadata *_metadata,
			FIXTURE_DATA(own) *self)
{
	struct xpcopy_grant_derive d = {
		.size = sizeof(d), .flags = XPCOPY_GRANT_READ,
		.grant_fd = self->gfd, .len = 8,
	};
	struct xpcopy_grant_info in = {
		.size = sizeof(in), .grant_fd = self->gfd,
	};
	struct pollfd p = { .fd = self->gfd, .events = POLLIN };
	__u64 copied = 0, val;

	ASSERT_EQ(-ESRCH, gcopy(&self->via, self->dev, XPCOPY_COPY_WRITE,
				self->gfd, self->data, WIN_LEN - 4096, 0,
				&copied));
	ASSERT_EQ(-ESRCH, gcopy(&self->via, self->dev, XPCOPY_COPY_WRITE,
				self->gfd, self->data, 8, 64, &copied));
	ASSERT_EQ(-ESRCH, gcopy(&self->via, self->dev, XPCOPY_COPY_READ,
				self->gfd, self->data, 4096, 0, &copied));
	ASSERT_EQ(-ESRCH, xp_ioctl(self->dev, XPCOPY_GRANT_DERIVE, &d));
	ASSERT_EQ(0, xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &in));
	ASSERT_EQ(2U, in.revoked);
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(POLLHUP, p.revents & (POLLHUP | POLLERR | POLLIN));
	ASSERT_EQ(-1, read(self->gfd, &val, sizeof(val)));
	ASSERT_EQ(ESRCH, errno);
}

/*
 * Stall a copy, end the owner ('e': exec, 'x': exit), check every new use,
 * release the copy: it must stop without writing (it stalled before its
 * first byte), and the window (the memfd, and the new image) keep S_OWN.
 */
static void stall_across(struct __test_metadata *_metadata,
			 FIXTURE_DATA(own) *self,
			 const FIXTURE_VARIANT(own) *variant, char how)
{
	struct stalled s = {
		.self = self, .path = variant->path, .uring = variant->uring,
	};
	uint64_t fault = 0;
	long long rep = 0;
	pthread_t th;
	int status;

	ASSERT_EQ(0, pthread_create(&th, NULL, stalled_copy, &s));
	ASSERT_EQ(0, wait_fault(self->uffd, &fault))
		TH_LOG("the copy did not stall on the holder's page");
	ASSERT_EQ(xp_ptr(self->stall), fault & ~(uint64_t)4095);
	ASSERT_EQ(0, xp_msg_send(self->sock, &how, 1, -1));
	if (how == 'e') {
		/* The new image runs: the exec is complete. */
		ASSERT_EQ(0, xp_msg_recv(self->sock, &rep, sizeof(rep), NULL,
				      60000));
		ASSERT_LT(0, rep) TH_LOG("the new image could not map");
	} else {
		ASSERT_EQ(self->pid, xp_waitpid_ms(self->pid, &status, 60000));
		self->pid = -1;
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}

	expect_gone(_metadata, self);

	ASSERT_EQ(0, release_stall(self));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(-ESRCH, s.ret) TH_LOG("the stalled copy returned %d, %llu "
					"bytes, after the owner's %s", s.ret,
					(unsigned long long)s.copied,
					how == 'e' ? "exec" : "exit");
	expect_gone(_metadata, self);

	if (self->mfd >= 0) {
		uint8_t *w = mmap(NULL, WIN_LEN, PROT_READ, MAP_SHARED,
				  self->mfd, 0);

		ASSERT_NE(MAP_FAILED, w);
		ASSERT_EQ(-1, xp_check(w, WIN_LEN, S_OWN, 0))
			TH_LOG("a byte of the holder's reached the memfd");
		munmap(w, WIN_LEN);
	}
	if (how == 'e') {
		rep = 0;
		ASSERT_EQ(0, xp_msg_send(self->sock, &rep, sizeof(rep), -1));
		ASSERT_EQ(0, xp_msg_recv(self->sock, &rep, sizeof(rep), NULL,
				      60000));
		ASSERT_EQ(-1, rep) TH_LOG("the new image sees a holder's byte "
					  "at %lld", rep);
	}
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
}

TEST_F(own, stalled_copy_across_exec)
{
	stall_across(_metadata, self, variant, 'e');
}

TEST_F(own, stalled_copy_across_exit)
{
	stall_across(_metadata, self, variant, 'x');
}

/* A poller asleep when the owner execs is woken, with EPOLLHUP. */
TEST_F(own, poller_woken_by_exec)
{
	struct pollfd p = { .fd = self->gfd, .events = POLLIN };
	long long rep = 0;
	pid_t waker;
	int status;

	fflush(NULL);
	waker = fork();
	ASSERT_LE(0, waker);
	if (waker == 0) {
		xp_sleep_ms(200);
		_exit(xp_msg_send(self->sock, "e", 1, -1) ? 1 : 0);
	}
	ASSERT_EQ(1, poll(&p, 1, 30000)) TH_LOG("no wake-up in 30 s");
	ASSERT_EQ(POLLHUP, p.revents & (POLLHUP | POLLERR | POLLIN));
	ASSERT_EQ(waker, xp_waitpid_ms(waker, &status, 10000));
	ASSERT_EQ(0, xp_msg_recv(self->sock, &rep, sizeof(rep), NULL, 60000));
	ASSERT_LT(0, rep);
}

/*
 * A value published before the owner exits is still read, as from a pipe
 * whose writer closed (the fd polls EPOLLIN and EPOLLHUP); then ESRCH.
 */
TEST_F(own, published_value_outlives_owner)
{
	struct pollfd p = { .fd = self->gfd, .events = POLLIN };
	struct xpcopy_iovec l = { .addr = xp_ptr(self->data), .len = 64 };
	struct xpcopy_iovec r = { .addr = 0, .len = 64 };
	struct xpcopy_copy c;
	__u64 val = 0;
	int status;

	xp_copy_init(&c, XPCOPY_COPY_WRITE | XPCOPY_COPY_GRANT |
		     XPCOPY_COPY_PUBLISH, self->gfd, &l, 1, &r, 1);
	c.seq = 77;
	ASSERT_EQ(0, xp_ioctl(self->dev, XPCOPY_COPY, &c));
	ASSERT_EQ(0, xp_msg_send(self->sock, "x", 1, -1));
	ASSERT_EQ(self->pid, xp_waitpid_ms(self->pid, &status, 60000));
	self->pid = -1;
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(POLLIN | POLLHUP, p.revents & (POLLIN | POLLHUP | POLLERR));
	ASSERT_EQ((ssize_t)sizeof(val), read(self->gfd, &val, sizeof(val)));
	ASSERT_EQ(77ULL, val);
	ASSERT_EQ(-1, read(self->gfd, &val, sizeof(val)));
	ASSERT_EQ(ESRCH, errno);
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(POLLHUP, p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* ------------------------------------------------------------------------
 * Repeated execs of the owner against holders copying without pause
 */

struct race {
	int dev;
	int gfd[RACE_ROUNDS];
	int cur;			/* the newest grant, -1 at first */
	bool uring;			/* thread 1 copies through io_uring */
	bool stop;
	__s64 t_new[RACE_ROUNDS + 1];	/* when image k started */
	__s64 ok_max[RACE_ROUNDS][RACE_THREADS];
	__u64 ok, esrch, other;
	int other_err;
};

struct hammer {
	struct race *r;
	int id;
};

/*
 * Copy this thread's start time into its slot, again and again, through
 * the newest grant: by ioctl (thread 0) or io_uring (thread 1; by ioctl
 * too where the kernel has no io_uring commands), on the caller-context and
 * worker paths in turn.
 */
static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct race *r = h->r;
	struct via v;
	__s64 t0;
	int k, ret;

	if (via_init(&v, h->id == 1 && r->uring, 0))
		return NULL;
	for (unsigned int n = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
	     n++) {
		__u64 copied;

		k = __atomic_load_n(&r->cur, __ATOMIC_ACQUIRE);
		if (k < 0) {
			sched_yield();
			continue;
		}
		v.path = n & 1 ? XPCOPY_COPY_WORKER : XPCOPY_COPY_INLINE;
		t0 = xp_now_ns();
		ret = gcopy(&v, r->dev, XPCOPY_COPY_WRITE, r->gfd[k], &t0,
			    sizeof(t0), (__u64)h->id * 64, &copied);
		if (!ret) {
			if (t0 > r->ok_max[k][h->id])
				r->ok_max[k][h->id] = t0;
			__atomic_add_fetch(&r->ok, 1, __ATOMIC_RELAXED);
		} else if (ret == -ESRCH) {
			__atomic_add_fetch(&r->esrch, 1, __ATOMIC_RELAXED);
		} else {
			r->other_err = ret;
			__atomic_add_fetch(&r->other, 1, __ATOMIC_RELAXED);
		}
	}
	via_exit(&v);
	return NULL;
}

FIXTURE(race)
{
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, owner_exec_race, 600)
{
	struct race *r = calloc(1, sizeof(*r));
	struct hammer h[RACE_THREADS];
	pthread_t th[RACE_THREADS];
	__u64 after = 0;
	int sv[2], mfd, late = 0, status;
	struct io_uring probe;
	pid_t pid;

	ASSERT_NE(NULL, r);
	r->cur = -1;
	XPCOPY_OPEN_OR_SKIP(r->dev);
	if (io_uring_queue_init(2, &probe, 0))
		SKIP(return, "io_uring unavailable");
	io_uring_queue_exit(&probe);
	r->uring = xp_has_uring_cmd(r->dev);
	if (!r->uring)
		TH_LOG("%s: both threads copy by ioctl", XP_NO_URING_CMD);
	mfd = memfd_create("xpcopy-race", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, WIN_LEN));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(race_main(sv[1], mfd, 0));
	}
	close(sv[1]);
	close(mfd);
	for (int i = 0; i < RACE_THREADS; i++) {
		h[i] = (struct hammer){ .r = r, .id = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, hammer_main, &h[i]));
	}
	for (int k = 0; k <= RACE_ROUNDS; k++) {
		struct race_msg m;
		int fd;

		ASSERT_EQ(0, xp_msg_recv(sv[0], &m, sizeof(m), &fd, 60000))
			TH_LOG("no word from image %d", k);
		ASSERT_EQ(k, m.round);
		r->t_new[k] = m.t_new;
		late += m.late;
		if (k == RACE_ROUNDS)
			break;
		ASSERT_LE(0, fd);
		r->gfd[k] = fd;
		__atomic_store_n(&r->cur, k, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(pid, xp_waitpid_ms(pid, &status, 30000));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	for (int k = 0; k < RACE_ROUNDS; k++)
		for (int i = 0; i < RACE_THREADS; i++)
			after += r->ok_max[k][i] > r->t_new[k + 1];
	TH_LOG("%d rounds: %llu copies succeeded, %llu ESRCH", RACE_ROUNDS,
	       (unsigned long long)r->ok, (unsigned long long)r->esrch);
	EXPECT_EQ(0ULL, r->other) TH_LOG("unexpected: %d", r->other_err);
	EXPECT_EQ(0ULL, after) TH_LOG("copies that started after the exec "
				      "succeeded");
	EXPECT_EQ(0, late) TH_LOG("slots written after the exec");
	EXPECT_LT(0ULL, r->ok);
	EXPECT_LT(0ULL, r->esrch);
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
	for (int k = 0; k < RACE_ROUNDS; k++)
		close(r->gfd[k]);
	close(sv[0]);
	free(r);
}

TEST_HARNESS_MAIN
