// SPDX-License-Identifier: GPL-2.0
/*
 * libxpcopy tests.
 *
 * The library is compiled into this test (its one source file is included
 * below), so that the test needs no library built beforehand and no flag
 * but the selftests' own. The tests check bytes and errnos through the
 * library's functions, and that no function ever changes errno: every
 * call is made through LIB(), which sets errno to a sentinel first and
 * fails the test if the call changed it.
 *
 * Fixture "dev" opens /dev/xpcopy and skips without it. Tests outside it
 * (argument checks the library makes itself, xpcopy_strerror(), the wait
 * loop on a pipe) need no module and run anywhere.

 * xpcopy(1) and the pkg-config example are tested by xpcopy_cli.
 *
 * Forked helpers never use the harness macros: they report through their
 * exit status, and the test process asserts.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <liburing.h>

#include "xpcopy_test.h"
/* TEST() (without a fixture) has a parameter it does not use. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* The library itself; its header finds the UAPI header already included. */
#include "../userspace/lib/xpcopy.c"

#define ERRNO_SENTINEL	4242

#define S_A		0x11b0a1ULL	/* pattern seeds */
#define S_B		0x11b0b2ULL
#define S_MSG		0x3e55a6eULL

#define UID_HOLDER	1000

/*
 * Call a library function with errno set to a sentinel; fail if it
 * changed errno. Evaluates to the call's value.
 */
#define LIB(call) ({							\
	int __e;							\
	errno = ERRNO_SENTINEL;						\
	__auto_type __r = (call);					\
	__e = errno;							\
	ASSERT_EQ(ERRNO_SENTINEL, __e)					\
		TH_LOG("%s changed errno to %d", #call, __e);		\
	__r; })

/* The same for forked helpers: exits with @code when errno changed. */
#define HLIB(code, call) ({						\
	errno = ERRNO_SENTINEL;						\
	__auto_type __r = (call);					\
	if (errno != ERRNO_SENTINEL)					\
		_exit(code);						\
	__r; })

static struct iovec iov(void *base, size_t len)
{
	return (struct iovec){ .iov_base = base, .iov_len = len };
}

/* ---------------------------------------------------------------------------
 * No module needed
 */

TEST(open_without_or_with_device)
{
	bool present = access(XPCOPY_DEV_PATH, F_OK) == 0;
	int fd;

	errno = ERRNO_SENTINEL;
	fd = xpcopy_open(O_CLOEXEC);
	ASSERT_EQ(ERRNO_SENTINEL, errno);
	if (!present) {
		ASSERT_EQ(-ENOENT, fd);
		return;
	}
	ASSERT_LE(0, fd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	errno = ERRNO_SENTINEL;
	ASSERT_EQ(0, xpcopy_close(fd));
	ASSERT_EQ(ERRNO_SENTINEL, errno);
}

TEST(argument_checks_of_the_library)
{
	static struct iovec many[XPCOPY_IOV_MAX + 1];
	static struct xpcopy_iovec xmany[XPCOPY_IOV_MAX + 1];
	char b[8];
	int fd = -1;	/* never reaches the kernel */
	uint64_t w = 0;

	/* More than XPCOPY_IOV_MAX segments on either side. */
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(fd, getpid(), XPCOPY_COPY_WRITE,
					   many, XPCOPY_IOV_MAX + 1, many, 1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(fd, getpid(), XPCOPY_COPY_READ,
					   many, 1, many, XPCOPY_IOV_MAX + 1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_copy(fd, 0, XPCOPY_COPY_WRITE,
						 many, XPCOPY_IOV_MAX + 1,
						 xmany, 1, 0)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_copy(fd, 0, XPCOPY_COPY_WRITE,
						 many, 1, xmany,
						 XPCOPY_IOV_MAX + 1, 0)));
	/* Grant mode through the pid functions. */
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(fd, 1, XPCOPY_COPY_WRITE |
					   XPCOPY_COPY_GRANT, many, 1,
					   many, 1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(fd, 1, XPCOPY_COPY_WRITE |
					   XPCOPY_COPY_PUBLISH, many, 1,
					   many, 1)));
	/* The single-range functions set the direction themselves. */
	ASSERT_EQ(-EINVAL, LIB(xpcopy_write(fd, 1, 0, b, 8, XPCOPY_COPY_READ)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_read(fd, 1, 0, b, 8, XPCOPY_COPY_WRITE)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_write(fd, 1, 0, b, 8,
					    XPCOPY_COPY_PUBLISH)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_write(fd, 0, 0, b, 8,
						  XPCOPY_COPY_GRANT << 8, 0)));
	/* A remote array of NULL with a count. */
	ASSERT_EQ(-EFAULT, LIB(xpcopy_grant_copy(fd, 0, XPCOPY_COPY_WRITE,
						 many, 1, NULL, 1, 0)));
	/* open flags, sequence word, eventfd, wait. */
	ASSERT_EQ(-EINVAL, LIB(xpcopy_open(O_NONBLOCK)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_create(fd, b, 8, XPCOPY_GRANT_READ |
						   XPCOPY_GRANT_SEQ, NULL, -1)));
	ASSERT_EQ(-EBADF, LIB(xpcopy_grant_create(fd, b, 8, XPCOPY_GRANT_READ |
						  XPCOPY_GRANT_EVENTFD, NULL,
						  -1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_wait(0, NULL, 1, 0)));
	ASSERT_EQ(-EBADF, LIB(xpcopy_wait(-1, &w, 1, 0)));
	ASSERT_EQ(-EFAULT, LIB(xpcopy_features(fd, NULL)));
	ASSERT_EQ(-EFAULT, LIB(xpcopy_grant_info(fd, 0, NULL)));
	/* What libc says of a closed fd comes back as -EBADF. */
	ASSERT_EQ(-EBADF, LIB(xpcopy_close(fd)));
}

TEST(strerror_speaks_xpcopy)
{
	static const int errs[] = {
		EPERM, ENOENT, ESRCH, EINTR, ENXIO, E2BIG, EBADF, EAGAIN,
		ENOMEM, EACCES, EFAULT, ENODEV, EINVAL, EMFILE, ENOTTY,
		ERANGE, EOVERFLOW, ETIMEDOUT, ESTALE, EIO, 4095,
	};
	const char *s;

	errno = ERRNO_SENTINEL;
	s = xpcopy_strerror(-EPERM, XPCOPY_OP_COPY);
	ASSERT_EQ(ERRNO_SENTINEL, errno);
	ASSERT_EQ(0, strncmp(s, "EPERM: ", 7));
	ASSERT_NE(NULL, strstr(s, "CAP_SYS_PTRACE"));
	ASSERT_NE(NULL, strstr(s, "grant"));
	/* Sign does not matter. */
	ASSERT_STREQ(s, xpcopy_strerror(EPERM, XPCOPY_OP_COPY));
	/* The same errno, another meaning in another operation. */
	s = xpcopy_strerror(-EPERM, XPCOPY_OP_GRANT_REVOKE);
	ASSERT_NE(NULL, strstr(s, "revoke"));
	ASSERT_NE(NULL, strstr(xpcopy_strerror(-ERANGE, XPCOPY_OP_GRANT_COPY),
			       "window"));
	ASSERT_NE(NULL, strstr(xpcopy_strerror(-ESTALE, XPCOPY_OP_GRANT_COPY),
			       "revoked"));
	ASSERT_NE(NULL, strstr(xpcopy_strerror(-ENOENT, XPCOPY_OP_OPEN),
			       "module"));
	ASSERT_NE(NULL, strstr(xpcopy_strerror(-ETIMEDOUT, XPCOPY_OP_WAIT),
			       "sequence word"));
	/* Every operation has a line for every errno, named first. */
	for (int op = 0; op <= XPCOPY_OP_MAX; op++) {
		for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
			errno = ERRNO_SENTINEL;
			s = xpcopy_strerror(-errs[i], (enum xpcopy_op)op);
			ASSERT_EQ(ERRNO_SENTINEL, errno);
			ASSERT_NE(NULL, s);
			ASSERT_TRUE(s[0] == 'E' || !strncmp(s, "errno 4095", 10))
				TH_LOG("op %d errno %d: \"%s\"", op, errs[i], s);
			ASSERT_NE(NULL, strstr(s, ": "));
			ASSERT_EQ(NULL, strchr(s, '\n'));
		}
	}
}

/*
 * xpcopy_wait()'s loop needs only a pollable fd that read(2) drains: a
 * pipe stands in for the grant fd, and a thread for the module (a release
 * store of the word, then a wake-up).
 */
struct fake_pub {
	int wr;
	uint64_t *word;
	uint64_t upto;
};

static void *fake_publisher(void *arg)
{
	struct fake_pub *p = arg;
	uint64_t v;

	for (v = 1; v <= p->upto; v++) {
		usleep(2000);
		__atomic_store_n(p->word, v, __ATOMIC_RELEASE);
		if (write(p->wr, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

TEST(wait_loop_on_a_pipe)
{
	static uint64_t word;
	struct fake_pub p = { .word = &word, .upto = 5 };
	int64_t t0;
	pthread_t th;
	int fds[2], ret;

	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	p.wr = fds[1];
	word = 0;

	/* Nothing comes: a timeout, after about the time asked. */
	t0 = xp_now_ns();
	ret = LIB(xpcopy_wait(fds[0], &word, 1, 50));
	ASSERT_EQ(-ETIMEDOUT, ret);
	ASSERT_LE(45 * 1000000LL, xp_now_ns() - t0);
	ASSERT_EQ(-ETIMEDOUT, LIB(xpcopy_wait(fds[0], &word, 1, 0)));

	/* Reached already: 0 at once, whatever the fd. */
	word = 3;
	ASSERT_EQ(0, LIB(xpcopy_wait(fds[0], &word, 3, 0)));
	ASSERT_EQ(0, LIB(xpcopy_wait(fds[0], &word, 2, -1)));
	word = 0;

	/* Five wake-ups, one value each: wait for the last. */
	ASSERT_EQ(0, pthread_create(&th, NULL, fake_publisher, &p));
	ret = LIB(xpcopy_wait(fds[0], &word, 5, 10000));
	ASSERT_EQ(0, ret);
	ASSERT_EQ(5ULL, xpcopy_seq_load(&word));
	pthread_join(th, NULL);

	/* Hung up (no grant does that): -EPIPE, not a spin. */
	close(fds[1]);
	ASSERT_EQ(-EPIPE, LIB(xpcopy_wait(fds[0], &word, 6, 30)));
	ASSERT_EQ(-EPIPE, LIB(xpcopy_wait(fds[0], &word, 6, -1)));
	close(fds[0]);
}

/* ---------------------------------------------------------------------------
 * With the module
 */

#define XPCOPY_LIB_OPEN_OR_SKIP(fdvar) do {				\
	(fdvar) = xpcopy_open(O_CLOEXEC);				\
	if ((fdvar) == -ENOENT || (fdvar) == -ENODEV ||			\
	    (fdvar) == -ENXIO)						\
		SKIP(return, "%s", xpcopy_strerror((fdvar),		\
						  XPCOPY_OP_OPEN));	\
	ASSERT_LE(0, (fdvar))						\
		TH_LOG("%s", xpcopy_strerror((fdvar), XPCOPY_OP_OPEN));	\
} while (0)

FIXTURE(dev)
{
	int fd;
	struct xp_target t;
	size_t page;
};

FIXTURE_SETUP(dev)
{
	self->fd = -1;
	xp_target_init(&self->t);
	self->page = xp_page_size();
	XPCOPY_LIB_OPEN_OR_SKIP(self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	xp_target_kill(&self->t);
	if (self->fd >= 0)
		xpcopy_close(self->fd);
}

TEST_F(dev, features)
{
	struct xpcopy_features f;
	const __u64 all_cmds = (1ULL << XPCOPY_CMD_FEATURES) |
		(1ULL << XPCOPY_CMD_COPY) | (1ULL << XPCOPY_CMD_GRANT) |
		(1ULL << XPCOPY_CMD_GRANT_DERIVE) |
		(1ULL << XPCOPY_CMD_GRANT_REVOKE) |
		(1ULL << XPCOPY_CMD_GRANT_INFO);
	uint64_t batch;

	memset(&f, 0xa5, sizeof(f));
	ASSERT_EQ(0, LIB(xpcopy_features(self->fd, &f)));
	ASSERT_EQ(sizeof(f), f.size);
	ASSERT_EQ(0U, f.flags);
	ASSERT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version);
	ASSERT_EQ((__u32)XPCOPY_IOV_MAX, f.max_iov);
	ASSERT_EQ(all_cmds, f.commands & all_cmds);
	ASSERT_EQ((__u64)(XPCOPY_COPY_WRITE | XPCOPY_COPY_READ |
			  XPCOPY_COPY_GRANT | XPCOPY_COPY_PUBLISH), f.copy_flags &
		  (XPCOPY_COPY_WRITE | XPCOPY_COPY_READ | XPCOPY_COPY_GRANT |
		   XPCOPY_COPY_PUBLISH));
	ASSERT_LT(0U, f.nr_workers);
	if (xp_batch_pages(&batch) == 0)
		ASSERT_EQ(batch, f.batch_pages);
}

TEST_F(dev, open_flags)
{
	int fd = LIB(xpcopy_open(0));

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, LIB(xpcopy_close(fd)));
	ASSERT_EQ(-EBADF, LIB(xpcopy_close(fd)));
}

/* A child (fork of the test) with buffers at the test's addresses. */
#define CH_LEN	(1024 * 1024 + 4099)

TEST_F(dev, write_read_child)
{
	static const unsigned int flag_sets[] = {
		0, XPCOPY_COPY_INLINE, XPCOPY_COPY_WORKER, XPCOPY_COPY_BOUNCE,
	};
	uint8_t *remote = xp_map_guarded(CH_LEN);
	uint8_t *local = xp_map(CH_LEN, PROT_READ | PROT_WRITE);
	uint8_t *back = xp_map(CH_LEN, PROT_READ | PROT_WRITE);
	size_t mapped = (CH_LEN + self->page - 1) & ~(self->page - 1);
	struct iovec l, r;
	ssize_t n;

	ASSERT_NE(NULL, remote);
	ASSERT_NE(NULL, local);
	ASSERT_NE(NULL, back);
	memset(remote, 0, CH_LEN);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));

	for (size_t k = 0; k < sizeof(flag_sets) / sizeof(flag_sets[0]); k++) {
		uint64_t seed = S_A + k;
		unsigned int fl = flag_sets[k];

		xp_fill(local, CH_LEN, seed, 0);
		/* Into the child, at an odd offset, all but 3 bytes. */
		n = LIB(xpcopy_write(self->fd, self->t.pid,
				     xp_ptr(remote) + 3, local, CH_LEN - 3,
				     fl));
		ASSERT_EQ(CH_LEN - 3, n) TH_LOG("flags %#x", fl);
		ASSERT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(remote) + 3,
						 CH_LEN - 3, seed, 0))
			TH_LOG("flags %#x", fl);
		/* And back out, into a third buffer. */
		memset(back, 0, CH_LEN);
		n = LIB(xpcopy_read(self->fd, self->t.pid, xp_ptr(remote) + 3,
				    back + 1, CH_LEN - 3, fl));
		ASSERT_EQ(CH_LEN - 3, n);
		ASSERT_EQ(0, back[0]);
		ASSERT_EQ(-1, xp_check(back + 1, CH_LEN - 3, seed, 0));
		ASSERT_EQ(0, back[CH_LEN - 2]);
	}

	/* Zero bytes: 0, after the checks. */
	ASSERT_EQ(0, LIB(xpcopy_write(self->fd, self->t.pid, xp_ptr(remote),
				      local, 0, 0)));
	/* A kernel address in the child: nothing copied. */
	ASSERT_EQ(-EFAULT, LIB(xpcopy_write(self->fd, self->t.pid,
					    XP_KERNEL_ADDR, local, 64, 0)));
	/* Short: the child's range runs into the guard page after it. */
	n = LIB(xpcopy_write(self->fd, self->t.pid,
			     xp_ptr(remote) + mapped - 100, local, 3 * 4096,
			     0));
	ASSERT_EQ(100, n);
	n = LIB(xpcopy_read(self->fd, self->t.pid,
			    xp_ptr(remote) + mapped - 100, back, 3 * 4096, 0));
	ASSERT_EQ(100, n);
	ASSERT_EQ(-1, xp_cmp(back, local, 100));
	/* Bad flag combination: the kernel's EINVAL. */
	ASSERT_EQ(-EINVAL, LIB(xpcopy_write(self->fd, self->t.pid,
					    xp_ptr(remote), local, 8,
					    XPCOPY_COPY_INLINE |
					    XPCOPY_COPY_BOUNCE)));
	/* Neither direction, and a negative pid, through the vectored call. */
	l = iov(local, 8);
	r = iov(remote, 8);
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(self->fd, self->t.pid, 0, &l, 1,
					   &r, 1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(self->fd, -5, XPCOPY_COPY_WRITE,
					   &l, 1, &r, 1)));
}

/*
 * The io_uring helpers: eight copies into a child prepared with
 * xpcopy_copy_init() and xpcopy_prep_copy(), submitted at once, each waited
 * for with xpcopy_uring_wait() (which hands back its struct), the bytes
 * checked; and a FEATURES through xpcopy_prep_cmd().
 */
#define UR_N	8
#define UR_LEN	(64 * 1024 + 5)
TEST_F(dev, uring_prep_and_wait)
{
	uint8_t *remote = xp_map_guarded(UR_N * UR_LEN);
	uint8_t *local = xp_map(UR_N * UR_LEN, PROT_READ | PROT_WRITE);
	struct xpcopy_iovec l[UR_N], r[UR_N];
	struct xpcopy_copy c[UR_N];
	struct xpcopy_features f = { .size = sizeof(f) };
	bool seen[UR_N] = { false };
	struct io_uring ring;
	void *done;
	int ret;

	XPCOPY_URING_CMD_OR_SKIP(self->fd);
	ASSERT_NE(NULL, remote);
	ASSERT_NE(NULL, local);
	ret = io_uring_queue_init(UR_N, &ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	memset(remote, 0, UR_N * UR_LEN);
	xp_fill(local, UR_N * UR_LEN, S_A, 0);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	for (int i = 0; i < UR_N; i++) {
		l[i].addr = xp_ptr(local + i * UR_LEN);
		l[i].len = UR_LEN - i;
		r[i].addr = xp_ptr(remote + i * UR_LEN);
		r[i].len = UR_LEN - i;
		xpcopy_copy_init(&c[i], XPCOPY_COPY_WRITE, self->t.pid,
				 &l[i], 1, &r[i], 1, 0);
		xpcopy_prep_copy(io_uring_get_sqe(&ring), self->fd, &c[i]);
	}
	ASSERT_EQ(UR_N, io_uring_submit(&ring));
	for (int i = 0; i < UR_N; i++) {
		int k;

		done = NULL;
		ret = LIB(xpcopy_uring_wait(&ring, &done));
		k = (struct xpcopy_copy *)done - c;
		ASSERT_TRUE(k >= 0 && k < UR_N && !seen[k]);
		seen[k] = true;
		EXPECT_EQ(UR_LEN - k, ret);
		EXPECT_EQ((__u64)(UR_LEN - k), c[k].copied);
	}
	for (int i = 0; i < UR_N; i++) {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
				xp_ptr(remote + i * UR_LEN), UR_LEN - i, S_A,
				(uint64_t)i * UR_LEN));
	}
	xpcopy_prep_cmd(io_uring_get_sqe(&ring), self->fd, XPCOPY_FEATURES,
			&f);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, LIB(xpcopy_uring_wait(&ring, &done)));
	EXPECT_EQ((void *)&f, done);
	EXPECT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version);
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

/*
 * xpcopy_prep_sqe_copy(): eight copies into a child, each whole in a
 * 128-byte SQE (XPCOPY_SQE_COPY), submitted at once; each completion's
 * result is its count, the bytes are checked.
 */
TEST_F(dev, uring_prep_sqe_copy)
{
	uint8_t *remote = xp_map_guarded(UR_N * UR_LEN);
	uint8_t *local = xp_map(UR_N * UR_LEN, PROT_READ | PROT_WRITE);
	bool seen[UR_N] = { false };
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int ret;

	XPCOPY_URING_CMD_OR_SKIP(self->fd);
	if (!xp_has_cap(self->fd, XPCOPY_CAP_SQE_COPY))
		SKIP(return, "the module has no XPCOPY_SQE_COPY (XPCOPY_CAP_SQE_COPY)");
	ASSERT_NE(NULL, remote);
	ASSERT_NE(NULL, local);
	ret = io_uring_queue_init(UR_N, &ring, IORING_SETUP_SQE128);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "io_uring_setup: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	memset(remote, 0, UR_N * UR_LEN);
	xp_fill(local, UR_N * UR_LEN, S_A, 0);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	for (int i = 0; i < UR_N; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		ASSERT_NE(NULL, sqe);
		xpcopy_prep_sqe_copy(sqe, self->fd, XPCOPY_COPY_WRITE,
				     self->t.pid, local + i * UR_LEN,
				     xp_ptr(remote + i * UR_LEN), UR_LEN - i,
				     0);
		sqe->user_data = i;
	}
	ASSERT_EQ(UR_N, io_uring_submit(&ring));
	for (int i = 0; i < UR_N; i++) {
		__u64 k;

		ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
		k = cqe->user_data;
		ASSERT_TRUE(k < UR_N && !seen[k]);
		seen[k] = true;
		EXPECT_EQ((int)(UR_LEN - k), cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	for (int i = 0; i < UR_N; i++) {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
				xp_ptr(remote + i * UR_LEN), UR_LEN - i, S_A,
				(uint64_t)i * UR_LEN));
	}
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

TEST_F(dev, vectored)
{
	enum { LEN = 64 * 1024 };
	uint8_t *remote = xp_map(LEN, PROT_READ | PROT_WRITE);
	uint8_t *local = xp_map(LEN, PROT_READ | PROT_WRITE);
	uint8_t *scratch = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct iovec l[3], r[2];
	ssize_t n;

	ASSERT_NE(NULL, remote);
	ASSERT_NE(NULL, local);
	ASSERT_NE(MAP_FAILED, scratch);
	memset(remote, 0, LEN);
	ASSERT_EQ(0, xp_target_start(&self->t, scratch, LEN, NULL, NULL));
	xp_fill(local, LEN, S_B, 0);

	/* Local: [0,100) [5000,5300) [9000,9600); remote: [10,510) [20000,20500) */
	l[0] = iov(local, 100);
	l[1] = iov(local + 5000, 300);
	l[2] = iov(local + 9000, 600);
	r[0] = iov(remote + 10, 500);
	r[1] = iov(remote + 20000, 500);
	n = LIB(xpcopy_copy(self->fd, self->t.pid, XPCOPY_COPY_WRITE, l, 3,
			    r, 2));
	ASSERT_EQ(1000, n);
	/* The expected image of the child's buffer. */
	memset(scratch, 0, LEN);
	memcpy(scratch + 10, local, 100);
	memcpy(scratch + 110, local + 5000, 300);
	memcpy(scratch + 410, local + 9000, 100);
	memcpy(scratch + 20000, local + 9100, 500);
	ASSERT_EQ(-1, xp_target_cmp(&self->t, xp_ptr(remote), LEN, 0));

	/* Read the same ranges back, local side in one piece. */
	memset(local, 0, LEN);
	l[0] = iov(local, 1000);
	n = LIB(xpcopy_copy(self->fd, self->t.pid, XPCOPY_COPY_READ, l, 1,
			    r, 2));
	ASSERT_EQ(1000, n);
	ASSERT_EQ(-1, xp_cmp(local, scratch + 10, 500));
	ASSERT_EQ(-1, xp_cmp(local + 500, scratch + 20000, 500));
}

TEST_F(dev, iov_max_segments)
{
	static struct iovec l[XPCOPY_IOV_MAX + 1], r[XPCOPY_IOV_MAX + 1];
	uint8_t *remote = xp_map(XPCOPY_IOV_MAX * 16, PROT_READ | PROT_WRITE);
	uint8_t *local = xp_map(XPCOPY_IOV_MAX * 16, PROT_READ | PROT_WRITE);
	ssize_t n;

	ASSERT_NE(NULL, remote);
	ASSERT_NE(NULL, local);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	xp_fill(local, XPCOPY_IOV_MAX * 16, S_A, 0);
	/* Every other 8 bytes of the local buffer, into 16-byte slots. */
	for (int i = 0; i < XPCOPY_IOV_MAX; i++) {
		l[i] = iov(local + 16 * i, 8);
		r[i] = iov(remote + 16 * i, 8);
	}
	n = LIB(xpcopy_copy(self->fd, self->t.pid, XPCOPY_COPY_WRITE, l,
			    XPCOPY_IOV_MAX, r, XPCOPY_IOV_MAX));
	ASSERT_EQ(8 * XPCOPY_IOV_MAX, n);
	for (int i = 0; i < XPCOPY_IOV_MAX; i += 97)
		ASSERT_EQ(-1, xp_target_patcheck(&self->t,
						 xp_ptr(remote) + 16 * i, 8,
						 S_A, 16 * i));
	/* One more segment: refused before the kernel sees it. */
	l[XPCOPY_IOV_MAX] = iov(local, 1);
	r[XPCOPY_IOV_MAX] = iov(remote, 1);
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(self->fd, self->t.pid,
					   XPCOPY_COPY_WRITE, l,
					   XPCOPY_IOV_MAX + 1, r, 1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_copy(self->fd, self->t.pid,
					   XPCOPY_COPY_READ, l, 1, r,
					   XPCOPY_IOV_MAX + 1)));
}

TEST_F(dev, esrch_reaped_pid)
{
	char buf[16] = "reaped";
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(-ESRCH, LIB(xpcopy_write(self->fd, pid, xp_ptr(buf), buf,
					   sizeof(buf), 0)));
	ASSERT_EQ(-ESRCH, LIB(xpcopy_read(self->fd, pid, xp_ptr(buf), buf,
					  sizeof(buf), 0)));
	ASSERT_NE(NULL, strstr(xpcopy_strerror(-ESRCH, XPCOPY_OP_COPY),
			       "no such process"));
}

TEST_F(dev, not_a_device_or_not_open)
{
	struct xpcopy_features f;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-ENOTTY, LIB(xpcopy_features(p[0], &f)));
	ASSERT_EQ(-EBADF, LIB(xpcopy_features(-1, &f)));
	close(p[0]);
	close(p[1]);
}

/*
 * Grants end to end, in two processes: the test process owns a window of
 * NMSG slots and a sequence word; a forked holder (without privileges when
 * the test runs as root) writes message n into slot n and publishes n; the
 * owner waits for each n with xpcopy_wait() and checks the slot.
 */
#define NMSG	200
#define SLOT	4096

static int holder(int gfd, int ack_rd, int done_wr)
{
	uint8_t *msg = malloc(SLOT), *chk = malloc(SLOT);
	struct xpcopy_grant_info gi;
	int dev, n;
	char go;

	if (!msg || !chk)
		return 10;
	if (getuid() == 0 && xp_become(UID_HOLDER, UID_HOLDER, 0))
		return 11;
	dev = HLIB(12, xpcopy_open(O_CLOEXEC));
	if (dev < 0)
		return 13;
	if (HLIB(12, xpcopy_grant_info(dev, gfd, &gi)) ||
	    gi.len != NMSG * SLOT ||
	    gi.rights != (XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE |
			  XPCOPY_GRANT_SEQ | XPCOPY_GRANT_EVENTFD))
		return 14;
	/* No pid mode over the owner without the capability. */
	if (getuid() != 0 &&
	    HLIB(12, xpcopy_write(dev, getppid(), 0, msg, 1, 0)) != -EPERM)
		return 15;
	for (n = 1; n <= NMSG; n++) {
		struct iovec l[2];
		struct xpcopy_iovec r[1] = { { (uint64_t)(n - 1) * SLOT, SLOT } };
		ssize_t got;

		xp_fill(msg, SLOT, S_MSG + n, 0);
		/* Half through the vectored call, half the single-range. */
		if (n & 1) {
			l[0] = iov(msg, SLOT / 2);
			l[1] = iov(msg + SLOT / 2, SLOT / 2);
			got = HLIB(12, xpcopy_grant_copy(dev, gfd,
					XPCOPY_COPY_WRITE | XPCOPY_COPY_PUBLISH,
					l, 2, r, 1, (uint64_t)n));
		} else {
			got = HLIB(12, xpcopy_grant_write(dev, gfd,
					(uint64_t)(n - 1) * SLOT, msg, SLOT,
					XPCOPY_COPY_PUBLISH, (uint64_t)n));
		}
		if (got != SLOT)
			return 16;
		/* Read it back through the grant. */
		memset(chk, 0, SLOT);
		if (HLIB(12, xpcopy_grant_read(dev, gfd,
					       (uint64_t)(n - 1) * SLOT, chk,
					       SLOT, 0, 0)) != SLOT ||
		    memcmp(chk, msg, SLOT))
			return 17;
	}
	/* Outside the window, and past its end. */
	if (HLIB(12, xpcopy_grant_write(dev, gfd, NMSG * SLOT, msg, 1, 0,
					0)) != -ERANGE ||
	    HLIB(12, xpcopy_grant_write(dev, gfd, NMSG * SLOT - 1, msg, 2,
					0, 0)) != -ERANGE)
		return 18;
	/* Tell the owner; wait for its revocation; then all is ESTALE. */
	if (write(done_wr, "d", 1) != 1 || read(ack_rd, &go, 1) != 1)
		return 19;
	if (HLIB(12, xpcopy_grant_write(dev, gfd, 0, msg, 1, 0, 0)) != -ESTALE)
		return 20;
	if (HLIB(12, xpcopy_grant_info(dev, gfd, &gi)) || gi.revoked != 1)
		return 21;
	xpcopy_close(dev);
	return 0;
}

TEST_F_TIMEOUT(dev, grant_publish_wait_two_processes, 120)
{
	static uint64_t seq;	/* the owner's sequence word */
	size_t len = NMSG * SLOT;
	uint8_t *win = xp_map(len, PROT_READ | PROT_WRITE);
	struct xpcopy_grant_info gi;
	int gfd, efd, ack[2], done[2], status, ret;
	char d;
	uint64_t ev;
	pid_t pid;

	ASSERT_NE(NULL, win);
	memset(win, 0, len);
	seq = 0;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	gfd = LIB(xpcopy_grant_create(self->fd, win, len, XPCOPY_GRANT_READ |
				      XPCOPY_GRANT_WRITE, &seq, efd));
	ASSERT_LE(0, gfd) TH_LOG("%s", xpcopy_strerror(gfd,
					XPCOPY_OP_GRANT_CREATE));
	ASSERT_EQ(FD_CLOEXEC, fcntl(gfd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, LIB(xpcopy_grant_info(self->fd, gfd, &gi)));
	ASSERT_EQ(len, gi.len);
	ASSERT_EQ(0ULL, gi.seq);
	ASSERT_EQ(0U, gi.revoked);

	/* Nothing published yet. */
	ASSERT_EQ(-ETIMEDOUT, LIB(xpcopy_wait(gfd, &seq, 1, 20)));

	ASSERT_EQ(0, pipe2(ack, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(done, O_CLOEXEC));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(ack[1]);
		close(done[0]);
		xp_die_with_parent(getppid());
		_exit(holder(gfd, ack[0], done[1]));
	}
	close(ack[0]);
	close(done[1]);

	for (uint64_t n = 1; n <= NMSG; n++) {
		/* In slices, so that a holder that failed is seen at once. */
		for (int slice = 0; slice < 300; slice++) {
			ret = LIB(xpcopy_wait(gfd, &seq, n, 100));
			if (ret != -ETIMEDOUT)
				break;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				ASSERT_EQ(0, LIB(xpcopy_wait(gfd, &seq, n, 0)))
					TH_LOG("message %llu: the holder left with status %d (step)",
					       (unsigned long long)n,
					       WIFEXITED(status) ?
					       WEXITSTATUS(status) : -1);
				pid = -1;
				break;
			}
		}
		ASSERT_EQ(0, ret) TH_LOG("message %llu: %s",
					 (unsigned long long)n,
					 xpcopy_strerror(ret, XPCOPY_OP_WAIT));
		ASSERT_LE(n, xpcopy_seq_load(&seq));
		/* Seen n: message n is all there. */
		ASSERT_EQ(-1, xp_check(win + (n - 1) * SLOT, SLOT, S_MSG + n,
				       0)) TH_LOG("message %llu",
						  (unsigned long long)n);
	}
	ASSERT_EQ(0, LIB(xpcopy_grant_info(self->fd, gfd, &gi)));
	ASSERT_EQ((__u64)NMSG, gi.seq);
	ASSERT_EQ((uint64_t)NMSG, xpcopy_seq_load(&seq));
	/* The eventfd was signalled at every publication. */
	ASSERT_EQ((ssize_t)sizeof(ev), read(efd, &ev, sizeof(ev)));
	ASSERT_LE(1ULL, ev);
	ASSERT_GE((uint64_t)NMSG, ev);

	/* Once the holder is done: revoke; it checks ESTALE; so does a wait. */
	ASSERT_LT(0, pid) TH_LOG("the holder left early");
	ret = xp_poll_in(done[0], 60000) == 1 ? (int)read(done[0], &d, 1) : 0;
	if (ret != 1) {
		ASSERT_EQ(pid, xp_waitpid_ms(pid, &status, 5000));
		ASSERT_EQ(0, WEXITSTATUS(status))
			TH_LOG("holder failed at step %d", WEXITSTATUS(status));
		ASSERT_EQ(1, ret) TH_LOG("the holder left early");
	}
	ASSERT_EQ(0, LIB(xpcopy_grant_revoke(self->fd, gfd)));
	ASSERT_EQ(0, LIB(xpcopy_grant_revoke(self->fd, gfd)));
	ASSERT_EQ(1, write(ack[1], "g", 1));
	ASSERT_EQ(pid, xp_waitpid_ms(pid, &status, 60000));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("holder failed at step %d",
						 WEXITSTATUS(status));
	ASSERT_EQ(-ESTALE, LIB(xpcopy_wait(gfd, &seq, NMSG + 1, 5000)));
	/* A value published before the revocation still counts. */
	ASSERT_EQ(0, LIB(xpcopy_wait(gfd, &seq, NMSG, 5000)));
	ASSERT_EQ(0, LIB(xpcopy_grant_info(self->fd, gfd, &gi)));
	ASSERT_EQ(1U, gi.revoked);
	close(ack[1]);
	close(done[0]);
	close(gfd);
	close(efd);
}

TEST_F(dev, grant_derive_rights_and_errors)
{
	static uint64_t seq;
	size_t len = 4 * self->page;
	uint8_t *win = xp_map(len, PROT_READ | PROT_WRITE);
	uint8_t buf[64];
	struct xpcopy_grant_info gi;
	int gfd, ro, sub, noseq, p[2];

	ASSERT_NE(NULL, win);
	xp_fill(win, len, S_A, 0);
	gfd = LIB(xpcopy_grant_create(self->fd, win, len, XPCOPY_GRANT_READ |
				      XPCOPY_GRANT_WRITE, &seq, -1));
	ASSERT_LE(0, gfd);

	/* A read-only sub-window of the second page. */
	ro = LIB(xpcopy_grant_derive(self->fd, gfd, self->page, self->page,
				     XPCOPY_GRANT_READ));
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, LIB(xpcopy_grant_info(self->fd, ro, &gi)));
	ASSERT_EQ(self->page, gi.len);
	ASSERT_EQ((__u32)XPCOPY_GRANT_READ, gi.rights & (XPCOPY_GRANT_READ |
						  XPCOPY_GRANT_WRITE));
	ASSERT_EQ((ssize_t)sizeof(buf), LIB(xpcopy_grant_read(self->fd, ro, 10, buf,
						     sizeof(buf), 0, 0)));
	ASSERT_EQ(-1, xp_check(buf, sizeof(buf), S_A, self->page + 10));
	ASSERT_EQ(-EACCES, LIB(xpcopy_grant_write(self->fd, ro, 0, buf, 8, 0,
						  0)));
	ASSERT_EQ(-ERANGE, LIB(xpcopy_grant_read(self->fd, ro, self->page - 4,
						 buf, 8, 0, 0)));
	/* Widening: rights or window. */
	ASSERT_EQ(-EACCES, LIB(xpcopy_grant_derive(self->fd, ro, 0, 8,
						   XPCOPY_GRANT_WRITE)));
	ASSERT_EQ(-ERANGE, LIB(xpcopy_grant_derive(self->fd, ro, 0,
						   self->page + 1,
						   XPCOPY_GRANT_READ)));
	/* Revoking the parent ends the child. */
	sub = LIB(xpcopy_grant_derive(self->fd, ro, 0, 16, XPCOPY_GRANT_READ));
	ASSERT_LE(0, sub);
	ASSERT_EQ(0, LIB(xpcopy_grant_revoke(self->fd, ro)));
	ASSERT_EQ(-ESTALE, LIB(xpcopy_grant_read(self->fd, sub, 0, buf, 8, 0,
						 0)));
	ASSERT_EQ(-ESTALE, LIB(xpcopy_grant_read(self->fd, ro, 0, buf, 8, 0,
						 0)));
	ASSERT_EQ(-ESTALE, LIB(xpcopy_wait(sub, &seq, 1, 1000)));
	/* The root grant is untouched. */
	ASSERT_EQ(8, LIB(xpcopy_grant_read(self->fd, gfd, 0, buf, 8, 0, 0)));

	/* PUBLISH on a grant without a sequence word. */
	noseq = LIB(xpcopy_grant_create(self->fd, win, len, XPCOPY_GRANT_WRITE,
					NULL, -1));
	ASSERT_LE(0, noseq);
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_write(self->fd, noseq, 0, buf, 8,
						  XPCOPY_COPY_PUBLISH, 1)));
	/* Empty window; unaligned sequence word. */
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_create(self->fd, win, 0,
						   XPCOPY_GRANT_READ, NULL,
						   -1)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_create(self->fd, win, len,
			XPCOPY_GRANT_READ, (uint64_t *)(void *)(win + 1), -1)));
	/* Not a grant; not open. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_read(self->fd, p[0], 0, buf, 8, 0,
						 0)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_info(self->fd, p[0], &gi)));
	ASSERT_EQ(-EINVAL, LIB(xpcopy_grant_revoke(self->fd, p[0])));
	close(p[0]);
	close(p[1]);
	ASSERT_EQ(-EBADF, LIB(xpcopy_grant_read(self->fd, p[0], 0, buf, 8, 0,
						0)));
	ASSERT_EQ(-EBADF, LIB(xpcopy_grant_derive(self->fd, p[0], 0, 8,
						  XPCOPY_GRANT_READ)));
	close(sub);
	close(ro);
	close(noseq);
	close(gfd);
}

TEST_HARNESS_MAIN
