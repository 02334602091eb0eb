// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy grant tests: XPCOPY_COPY with XPCOPY_COPY_GRANT: copies through a
 * grant, its bounds and rights, holders in other processes (other uids,
 * SCM_RIGHTS to a fresh image, pidfd_getfd, fork, threads), and the
 * owner's exit, exec and munmap, and revocation, during copies.
 * xpcopy_grant.h describes the fixture and the helpers.
 */
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sched.h>

#include "xpcopy_grant.h"

/* ---------------------------------------------------------------------------
 * Copies through a grant
 */

/*
 * Through @gfd, a grant of the owner's pages 1-2: 300 bytes written at
 * offset 5 land there (and nowhere else), and read back the same.
 */
static void write_read_300(struct __test_metadata *_metadata,
			   FIXTURE_DATA(grant) *self, int gfd)
{
	uint8_t back[300];
	struct region rg[] = {
		{ self->page + 5, 300, S_DATA, 0 },
	};
	__u64 copied;

	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 300, 5, 0,
			   &copied));
	ASSERT_EQ(300ULL, copied);
	ASSERT_IMAGE(rg, 1);
	memset(back, 0, sizeof(back));
	ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 300, 5, 0, &copied));
	ASSERT_EQ(300ULL, copied);
	ASSERT_EQ(-1, xp_check(back, 300, S_DATA, 0));
}

/* The owner through its own grant: bytes land at window start + offset. */
TEST_F(grant, write_read_offsets)
{
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, 2 * self->page);
	ASSERT_LE(0, gfd);
	write_read_300(_metadata, self, gfd);
}

/* Several remote ranges: each is an offset into the window. */
TEST_F(grant, iov_offsets)
{
	size_t p = self->page;
	struct xpcopy_iovec l = { xp_ptr(self->data), 3000 };
	struct xpcopy_iovec rv[3] = {
		{ 2 * p - 1000, 1000 },	/* ends at the window's end */
		{ 0, 1000 },		/* starts at its start */
		{ 1500, 1000 },
	};
	struct region rg[] = {
		{ p + 0, 1000, S_DATA, 1000 },
		{ p + 1500, 1000, S_DATA, 2000 },
		{ 3 * p - 1000, 1000, S_DATA, 0 },
	};
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GW, self->buf + p, 2 * p);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopyv(self->dev, CW, gfd, &l, 1, rv, 3, 0, &copied));
	ASSERT_EQ(3000ULL, copied);
	ASSERT_IMAGE(rg, 3);
}

/*
 * A grant copy of less than one batch is shared too: the batch, checked
 * once, is cut into shares that an idle worker copies beside the caller.
 * Some of 40 copies, written and read back in turn, find a worker in time
 * (caller_bytes grows by less than the copy); every byte lands in place,
 * both ways, with the count exact, and every pin is given back.
 */
TEST_F_TIMEOUT(grant, shared_within_batch, GRANT_TIMEOUT)
{
	const size_t len = 1 * MiB;
	uint64_t batch = 0, cb0 = 0, cb1 = 0, least = len;
	uint8_t *win, *mine;
	struct xp_stats s0;
	__u64 copied;
	int gfd, i;

	ASSERT_EQ(0, xp_batch_pages(&batch));
	if (batch * self->page <= len)
		SKIP(return, "batch_pages %llu: 1 MiB is not within one batch",
		     (unsigned long long)batch);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no worker helps a caller");
	win = xp_map(len, PROT_READ | PROT_WRITE);
	mine = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, mine);
	memset(win, 0, len);
	/*
	 * Resident, so that no copy falls back to the workers' batch path
	 * (which would also leave caller_bytes short): best effort.
	 */
	mlock(win, len);
	mlock(mine, len);
	gfd = grant(self->dev, GRW, win, len);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, xp_stats_read(&s0));
	for (i = 0; i < 40 && least == len; i++) {
		bool rd = i & 1;	/* write, then read it back */

		if (rd)
			memset(mine, 0, len);
		else
			xp_fill(mine, len, S_DATA + i, 0);
		ASSERT_EQ(0, xp_stat("caller_bytes", &cb0));
		ASSERT_EQ(0, gcopy(self->dev, rd ? CR : CW, gfd, mine, len, 0,
				   0, &copied));
		ASSERT_EQ(0, xp_stat("caller_bytes", &cb1));
		ASSERT_EQ((__u64)len, copied);
		ASSERT_EQ(-1, xp_check(rd ? mine : win, len,
				       S_DATA + (i & ~1), 0));
		least = cb1 - cb0 < least ? cb1 - cb0 : least;
	}
	EXPECT_GT(len, least)
		TH_LOG("40 copies of 1 MiB: the caller copied all of each");
	TH_LOG("%d copies; the caller copied %llu bytes of 1 MiB at least", i,
	       (unsigned long long)least);
	XP_EXPECT_PINS_BACK(s0, 2000);
	close(gfd);
	munmap(win, len);
	munmap(mine, len);
}

/* A zero-length copy succeeds with 0, after every other check. */
TEST_F(grant, zero_length)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 0, 0, 0, &copied));
	ASSERT_EQ(0ULL, copied);
	/* At the window's end exactly: an empty range inside it. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 0, self->page, 0,
			   &copied));
	ASSERT_EQ(0ULL, copied);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR, gfd, self->data, 0, 0, 0,
				 &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 0,
				 self->page + 1, 0, &copied));
	ASSERT_OWNER_UNCHANGED();
}

/* ---------------------------------------------------------------------------
 * Bounds: ERANGE, the window untouched
 */

TEST_F(grant, bounds_start_past)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 16,
				 self->page + 1, 0, &copied));
	ASSERT_EQ(XP_COPIED_POISON, copied);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 1,
				 self->page, 0, &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CR, gfd, self->data, 16,
				 2 * self->page, 0, &copied));
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, bounds_end_past)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data, 16,
				 self->page - 8, 0, &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, gfd, self->data,
				 self->page + 1, 0, 0, &copied));
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CR, gfd, self->data, 16,
				 self->page - 15, 0, &copied));
	ASSERT_OWNER_UNCHANGED();
}

/* The first range is fine, the second is not: nothing is copied. */
TEST_F(grant, bounds_second_range)
{
	struct xpcopy_iovec l = { xp_ptr(self->data), 200 };
	struct xpcopy_iovec rv[2] = {
		{ 0, 100 },
		{ self->page - 50, 100 },
	};
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, gcopyv(self->dev, CW, gfd, &l, 1, rv, 2, 0,
				  &copied));
	ASSERT_OWNER_UNCHANGED();
}

/*
 * Each of the remote ranges @rv (n of them, one per copy of 100 bytes
 * from data, into a grant of page 1) is refused with @err; the owner's
 * memory is unchanged.
 */
static void ranges_refused(struct __test_metadata *_metadata,
			   FIXTURE_DATA(grant) *self, int err,
			   const struct xpcopy_iovec *rv, int n)
{
	struct xpcopy_iovec l = { xp_ptr(self->data), 100 };
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(-err, gcopyv(self->dev, CW, gfd, &l, 1, &rv[i], 1, 0,
				       &copied))
			TH_LOG("range %d", i);
	}
	ASSERT_OWNER_UNCHANGED();
}

/*
 * A length that reaches past the window without wrapping 64 bits (a check
 * written as off + len > window would be fooled by a length near 2^64).
 */
TEST_F(grant, bounds_huge_len)
{
	const struct xpcopy_iovec rv[] = {
		{ 16, UINT64_MAX - 16 },
		{ 16, 1ULL << 63 },
	};

	ranges_refused(_metadata, self, ERANGE, rv, 2);
}

/*
 * A remote range whose offset + len wraps 64 bits: the general rule of
 * every command ("addr + len overflows": EINVAL) is checked before the
 * window; either way nothing is copied.
 */
TEST_F(grant, bounds_wrap)
{
	const struct xpcopy_iovec rv[] = {
		{ 16, UINT64_MAX - 8 },
		{ UINT64_MAX - 8, 100 },
	};

	ranges_refused(_metadata, self, EINVAL, rv, 2);
}

/* ---------------------------------------------------------------------------
 * Rights: EACCES
 */

TEST_F(grant, rights_write_readonly)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GR, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(XP_COPIED_POISON, copied);
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, rights_read_writeonly)
{
	uint8_t back[100];
	__u64 copied;
	int gfd;

	memset(back, 0x5a, sizeof(back));
	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR, gfd, back, 100, 0, 0,
				 &copied));
	for (size_t i = 0; i < sizeof(back); i++) {
		ASSERT_EQ(0x5a, back[i]);
	}
}

/* Reading through a read-only grant works, and leaves the window alone. */
TEST_F(grant, rights_readonly_reads)
{
	uint8_t back[100];
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GR, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 100, 7, 0, &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(-1, xp_check(back, 100, S_OWN, self->page + 7));
	ASSERT_OWNER_UNCHANGED();
}

/* ---------------------------------------------------------------------------
 * Holders in other processes
 */

static void track(FIXTURE_DATA(grant) *self, pid_t pid)
{
	if (pid > 0 && self->nkids < (int)ARRAY_SIZE(self->kids))
		self->kids[self->nkids++] = pid;
}

struct unpriv_arg {
	int rw;			/* read-write grant on page 1 */
	int ro;			/* read-only grant on page 2 */
	pid_t owner;
};

static int h_unpriv(FIXTURE_DATA(grant) *self, void *arg)
{
	struct unpriv_arg *a = arg;
	struct res *r = self->r;
	size_t p = self->page;
	uint8_t back[300];
	__u64 copied;
	int ret;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	HCHECK(getuid() == UID_A && geteuid() == UID_A, "uid %d", getuid());

	/* Within its rights. */
	ret = gcopy(self->dev, CW, a->rw, self->data, 300, 5, 0, &copied);
	HCHECK(ret == 0 && copied == 300, "write: %d, %llu copied", ret,
	       (unsigned long long)copied);
	memset(back, 0, sizeof(back));
	ret = gcopy(self->dev, CR, a->rw, back, 300, 5, 0, &copied);
	HCHECK(ret == 0 && copied == 300, "read back: %d", ret);
	HCHECK(xp_check(back, 300, S_DATA, 0) == -1, "read back wrong");
	ret = gcopy(self->dev, CR, a->ro, back, 100, 20, 0, &copied);
	HCHECK(ret == 0 && copied == 100, "read-only read: %d", ret);
	HCHECK(xp_check(back, 100, S_OWN, 2 * p + 20) == -1,
	       "read through the read-only grant wrong");

	/* And nothing else. */
	ret = gcopy(self->dev, CW, a->ro, self->data, 100, 0, 0, &copied);
	HCHECK(ret == -EACCES, "write through read-only: %d", ret);
	ret = gcopy(self->dev, CW, a->rw, self->data, 16, p - 8, 0, &copied);
	HCHECK(ret == -ERANGE, "write across the window's end: %d", ret);
	ret = gcopy(self->dev, CR, a->rw, back, 16, p, 0, &copied);
	HCHECK(ret == -ERANGE, "read past the window: %d", ret);
	ret = derive(self->dev, a->rw, GRW, 0, p + 1);
	HCHECK(ret == -ERANGE, "derive a wider window: %d", ret);
	ret = derive(self->dev, a->ro, GRW, 0, p);
	HCHECK(ret == -EACCES, "derive wider rights: %d", ret);
	ret = grant_revoke(self->dev, a->rw);
	HCHECK(ret == -EPERM, "revoke: %d", ret);
	ret = pcopy(self->dev, CW, a->owner, self->data, 16, xp_ptr(self->buf),
		    &copied);
	HCHECK(ret == -EPERM, "pid-mode write: %d", ret);
	return 0;
}

/*
 * Root makes the grants, forks; the holder drops to another uid (and all
 * capabilities) and can do exactly what the grants allow.
 */
TEST_F(grant, unpriv_holder)
{
	struct region rg[] = { { self->page + 5, 300, S_DATA, 0 } };
	struct unpriv_arg a = { .owner = getpid() };
	pid_t pid;

	REQUIRE_ROOT();
	a.rw = grant(self->dev, GRW, self->buf + self->page, self->page);
	a.ro = grant(self->dev, GR, self->buf + 2 * self->page, self->page);
	ASSERT_LE(0, a.rw);
	ASSERT_LE(0, a.ro);
	pid = spawn(self, h_unpriv, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 1);
}

struct pid_arg {
	pid_t owner;
};

static int h_pid_mode(FIXTURE_DATA(grant) *self, void *arg)
{
	struct pid_arg *a = arg;
	struct res *r = self->r;
	uint8_t back[100];
	__u64 copied;
	pid_t kid;
	int ret;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	ret = pcopy(self->dev, CW, a->owner, self->data, 100,
		    xp_ptr(self->buf + self->page), &copied);
	HCHECK(ret == -EPERM, "pid-mode write into root's process: %d", ret);
	memset(back, 0x5a, sizeof(back));
	ret = pcopy(self->dev, CR, a->owner, back, 100,
		    xp_ptr(self->buf + self->page), &copied);
	HCHECK(ret == -EPERM, "pid-mode read from root's process: %d", ret);
	for (size_t i = 0; i < sizeof(back); i++)
		HCHECK(back[i] == 0x5a, "a failed read wrote byte %zu", i);
	/* A process of its own uid needs the capability just the same. */
	kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	HCHECK(kid > 0, "fork: %s", strerror(errno));
	ret = pcopy(self->dev, CW, kid, self->data, 100, xp_ptr(self->buf),
		    &copied);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	HCHECK(ret == -EPERM, "pid-mode write into uid %d's process: %d",
	       UID_A, ret);
	return 0;
}

/* Without a grant, the same uid gets EPERM in pid mode. */
TEST_F(grant, unpriv_pid_mode_eperm)
{
	struct pid_arg a = { .owner = getpid() };
	pid_t pid;

	REQUIRE_ROOT();
	pid = spawn(self, h_pid_mode, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_OWNER_UNCHANGED();
}

/*
 * The grant goes over SCM_RIGHTS to a fresh image of this binary (fork,
 * execve) running as another uid: a process that never had it, nor any
 * capability. It writes and reads through it; pid mode and revoking fail.
 */
TEST_F(grant, scm_rights_exec)
{
	struct region rg[] = { { self->page + 100, 1000, S_DATA, 0 } };
	struct scm_req req = { .off = 100, .len = 1000, .seed = S_DATA };
	struct scm_rep rep;
	int sv[2], gfd;
	pid_t pid;

	REQUIRE_ROOT();
	gfd = grant(self->dev, GRW, self->buf + self->page, 2 * self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		close(gfd);	/* it would not survive execve anyway */
		exec_helper("scm-holder", sv[1], "XPG_UID", UID_B);
		_exit(100);
	}
	ASSERT_LT(0, pid);
	track(self, pid);
	close(sv[1]);
	req.owner = getpid();
	ASSERT_EQ(0, xp_msg_send(sv[0], &req, sizeof(req), gfd));
	memset(&rep, 0, sizeof(rep));
	ASSERT_EQ(0, xp_msg_recv(sv[0], &rep, sizeof(rep), NULL, 60000))
		TH_LOG("no answer from the exec'd holder");
	ASSERT_EQ(0, rep.setup);
	ASSERT_EQ(1, rep.had_fd);
	ASSERT_EQ((__u32)GRW, rep.rights & GRW);
	ASSERT_EQ(0, rep.wret);
	ASSERT_EQ(1000ULL, rep.wcopied);
	ASSERT_EQ(0, rep.rret);
	ASSERT_EQ(1000ULL, rep.rcopied);
	ASSERT_EQ(-1, rep.rdiff);
	ASSERT_EQ(-EPERM, rep.pidret);
	ASSERT_EQ(-EPERM, rep.revret);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 1);
}

struct pidfd_arg {
	int num_wr;		/* the owner tells its grant's fd number */
	int go_rd;		/* then waits for this */
};

static int h_pidfd_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct region rg[] = { { self->page + 7, 100, S_DATA, 0 } };
	struct pidfd_arg *a = arg;
	struct res *r = self->r;
	char c;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	HCHECK(gfd >= 0, "grant: %d", gfd);
	HCHECK(xp_write_full(a->num_wr, &gfd, sizeof(gfd)) == 0, "pipe");
	HCHECK(xp_poll_in(a->go_rd, 60000) == 1 && read(a->go_rd, &c, 1) == 1,
	       "no word from the test");
	r->diff[0] = image_check(self->buf, self->total, rg, 1);
	return 0;
}

/* pidfd_getfd() takes the grant out of the owner's fd table. */
TEST_F(grant, pidfd_getfd)
{
	struct xpcopy_grant_info in;
	struct pidfd_arg a;
	int num[2], go[2], pidfd, fd, num_fd = -1;
	__u64 copied;
	pid_t pid;

	ASSERT_EQ(0, pipe2(num, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	a.num_wr = num[1];
	a.go_rd = go[0];
	self->r->diff[0] = -2;
	pid = spawn(self, h_pidfd_owner, &a);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, xp_poll_in(num[0], 60000));
	ASSERT_EQ(0, xp_read_full(num[0], &num_fd, sizeof(num_fd)));
	pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0 && errno == ENOSYS)
		SKIP(return, "pidfd_open: ENOSYS");
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	fd = (int)syscall(__NR_pidfd_getfd, pidfd, num_fd, 0);
	if (fd < 0 && errno == ENOSYS)
		SKIP(return, "pidfd_getfd (syscall 438): ENOSYS");
	ASSERT_LE(0, fd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	ASSERT_EQ(0, info(self->dev, fd, &in));
	ASSERT_EQ((__u32)GRW, in.rights);
	ASSERT_EQ((__u64)self->page, in.len);
	ASSERT_EQ(0, gcopy(self->dev, CW, fd, self->data, 100, 7, 0, &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(1, write(go[1], "c", 1));
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_EQ(-1, self->r->diff[0]) TH_LOG("owner's memory wrong");
	/* Our own copy of the pages is not the owner's. */
	ASSERT_OWNER_UNCHANGED();
}

static int h_fork_holder(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	uint8_t back[200];
	int ret, status;
	__u64 copied;
	pid_t kid;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	kid = fork();
	if (kid == 0) {
		ret = gcopy(self->dev, CW, a->gfd, self->data, 200, 0, 0,
			    &copied);
		if (ret || copied != 200)
			_exit(1);
		ret = gcopy(self->dev, CR, a->gfd, back, 200, 0, 0, &copied);
		if (ret || copied != 200 || xp_check(back, 200, S_DATA, 0) >= 0)
			_exit(2);
		_exit(0);
	}
	HCHECK(kid > 0, "fork: %s", strerror(errno));
	ret = gcopy(self->dev, CW, a->gfd, self->data + 200, 200, 1000, 0,
		    &copied);
	HCHECK(ret == 0 && copied == 200, "parent holder: %d", ret);
	ret = gcopy(self->dev, CR, a->gfd, back, 200, 1000, 0, &copied);
	HCHECK(ret == 0 && xp_check(back, 200, S_DATA, 200) == -1,
	       "parent holder read back: %d", ret);
	HCHECK(waitpid(kid, &status, 0) == kid, "waitpid");
	HCHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "child holder: status %#x", status);
	return 0;
}

/* A holder forks: parent and child both copy through the grant. */
TEST_F(grant, fork_holder)
{
	struct region rg[] = {
		{ self->page + 0, 200, S_DATA, 0 },
		{ self->page + 1000, 200, S_DATA, 200 },
	};
	struct holder_arg a;
	pid_t pid;

	REQUIRE_ROOT();
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_fork_holder, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 2);
}

static int h_wait_then_write(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	__u64 copied;
	char c;
	int ret;

	HCHECK(xp_poll_in(a->fd2, 60000) == 1 && read(a->fd2, &c, 1) == 1,
	       "no word from the test");
	ret = gcopy(self->dev, CW, a->gfd, self->data, 200, 0, 0, &copied);
	HCHECK(ret == 0 && copied == 200,
	       "write after the owner closed its fd: %d", ret);
	return 0;
}

/* The owner closes its fd once the holder has one: the grant lives on. */
TEST_F(grant, owner_closes_fd)
{
	struct region rg[] = { { self->page, 200, S_DATA, 0 } };
	struct holder_arg a;
	int go[2];
	pid_t pid;

	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	a.fd2 = go[0];
	pid = spawn(self, h_wait_then_write, &a);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, close(a.gfd));
	ASSERT_EQ(0, close(go[0]));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 1);
}

#define NTHREADS	8
#define TPART		(512 * KiB)
#define TROUNDS		4

struct th_arg {
	int dev, gfd, idx;
	uint8_t *buf;
	int err;
	int round;
};

static uint64_t th_seed(int idx, int round)
{
	return S_DATA + 16ULL * (uint64_t)idx + (uint64_t)round;
}

static void *th_copy(void *p)
{
	struct th_arg *t = p;
	__u64 off = (__u64)t->idx * TPART, copied;
	int ret;

	for (t->round = 0; t->round < TROUNDS; t->round++) {
		big_fill(t->buf, TPART, th_seed(t->idx, t->round));
		ret = gcopy(t->dev, CW, t->gfd, t->buf, TPART, off, 0,
			    &copied);
		if (ret || copied != TPART) {
			t->err = ret ? ret : -EIO;
			return NULL;
		}
		memset(t->buf, 0, TPART);
		ret = gcopy(t->dev, CR, t->gfd, t->buf, TPART, off, 0,
			    &copied);
		if (ret || copied != TPART) {
			t->err = ret ? ret : -EIO;
			return NULL;
		}
		if (big_check(t->buf, TPART, th_seed(t->idx, t->round)) >= 0) {
			t->err = -EBADMSG;
			return NULL;
		}
	}
	return NULL;
}

static int h_threads(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	struct th_arg t[NTHREADS];
	pthread_t tid[NTHREADS];

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	for (int i = 0; i < NTHREADS; i++) {
		t[i] = (struct th_arg){ .dev = self->dev, .gfd = a->gfd,
					.idx = i, .buf = xp_map(TPART, PROT_READ | PROT_WRITE) };
		HCHECK(t[i].buf, "mmap");
	}
	for (int i = 0; i < NTHREADS; i++)
		HCHECK(pthread_create(&tid[i], NULL, th_copy, &t[i]) == 0,
		       "pthread_create %d", i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		HCHECK(t[i].err == 0, "thread %d, round %d: %d (%s)", i,
		       t[i].round, t[i].err, strerror(-t[i].err));
	return 0;
}

/* Eight threads of one holder copy disjoint parts of one grant at once. */
TEST_F_TIMEOUT(grant, threads_disjoint, GRANT_TIMEOUT)
{
	size_t len = NTHREADS * TPART;
	struct holder_arg a;
	uint8_t *w;
	pid_t pid;

	REQUIRE_ROOT();
	w = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, w);
	a.gfd = grant(self->dev, GRW, w, len);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_threads, &a);
	ASSERT_HELPER_OK(pid, 100000);
	for (int i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(-1, big_check(w + (size_t)i * TPART, TPART,
					th_seed(i, TROUNDS - 1)))
			TH_LOG("part %d", i);
	}
}

/* ---------------------------------------------------------------------------
 * Lifetime: the owner exits, executes, unmaps; revocation mid-copy
 */

struct owner_arg {
	int sock;
	size_t len;
	int delay_ms;
	bool fill;
};

/*
 * An owner in a helper: maps a window, grants it, sends the window's
 * address with the grant, then exits on a word from the test ('d': after
 * delay_ms).
 */
static int h_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct owner_arg *a = arg;
	struct res *r = self->r;
	uint8_t *w = xp_map(a->len, PROT_READ | PROT_WRITE);
	__u64 addr = xp_ptr(w);
	char c;
	int gfd;

	HCHECK(w, "mmap %zu", a->len);
	if (a->fill)
		xp_fill(w, a->len, S_OWN, 0);
	gfd = grant(self->dev, GRW, w, a->len);
	HCHECK(gfd >= 0, "grant: %d", gfd);
	HCHECK(xp_msg_send(a->sock, &addr, sizeof(addr), gfd) == 0, "send");
	HCHECK(xp_msg_recv(a->sock, &c, 1, NULL, 60000) == 0, "no word");
	if (c == 'd')
		xp_sleep_ms(a->delay_ms);
	return 0;
}

/* Start h_owner; the grant fd it made, in this process. */
static int start_owner(FIXTURE_DATA(grant) *self, struct owner_arg *a,
		       int *sock, pid_t *pid)
{
	int sv[2], gfd, ret;
	__u64 addr;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	a->sock = sv[1];
	*pid = spawn(self, h_owner, a);
	close(sv[1]);
	*sock = sv[0];
	if (*pid < 0)
		return -ECHILD;
	ret = xp_msg_recv(sv[0], &addr, sizeof(addr), &gfd, 60000);
	if (ret)
		return ret;
	return gfd >= 0 ? gfd : -EBADF;
}

/* Once the owner exited every use fails with ESRCH; INFO says 2. */
TEST_F(grant, owner_exit_esrch)
{
	struct owner_arg a = { .len = 2 * self->page, .fill = true };
	struct xpcopy_grant_info in;
	uint8_t back[100];
	__u64 copied;
	int sock, gfd;
	pid_t pid;

	gfd = start_owner(self, &a, &sock, &pid);
	ASSERT_LE(0, gfd) TH_LOG("owner: %s", self->r->msg);
	ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 100, 3, 0, &copied));
	ASSERT_EQ(-1, xp_check(back, 100, S_OWN, 3));
	ASSERT_EQ(0, xp_msg_send(sock, "x", 1, -1));
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				&copied));
	ASSERT_EQ(XP_COPIED_POISON, copied);
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CR, gfd, back, 100, 0, 0,
				&copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(2U, in.revoked);
	ASSERT_EQ((__u32)GRW, in.rights);
	ASSERT_EQ(2 * self->page, in.len);
}

static int h_exec_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct owner_arg *a = arg;
	struct res *r = self->r;
	__u64 addr = EXEC_ADDR;
	uint8_t *w;
	char c;
	int gfd;

	w = mmap((void *)(uintptr_t)EXEC_ADDR, a->len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	HCHECK(w == (void *)(uintptr_t)EXEC_ADDR, "mmap at %#llx: %s",
	       EXEC_ADDR, strerror(errno));
	xp_fill(w, a->len, S_OWN, 0);
	gfd = grant(self->dev, GRW, w, a->len);
	HCHECK(gfd >= 0, "grant: %d", gfd);
	HCHECK(xp_msg_send(a->sock, &addr, sizeof(addr), gfd) == 0, "send");
	HCHECK(xp_msg_recv(a->sock, &c, 1, NULL, 60000) == 0, "no word");
	exec_helper("victim", a->sock, "XPG_LEN", a->len);
	hfail(r, __LINE__, "execve", "%s", strerror(errno));
	return 1;
}

/*
 * The owner executes this binary again, whose new image maps a window at
 * the same address: the grant now fails with ESRCH, and the new image
 * sees none of the bytes.
 */
TEST_F(grant, owner_exec_esrch)
{
	struct owner_arg a = { .len = 2 * self->page };
	struct xpcopy_grant_info in;
	int sv[2], gfd;
	long long rep = 0;
	__u64 addr, copied;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	a.sock = sv[1];
	pid = spawn(self, h_exec_owner, &a);
	ASSERT_LT(0, pid);
	close(sv[1]);
	ASSERT_EQ(0, xp_msg_recv(sv[0], &addr, sizeof(addr), &gfd, 60000))
		TH_LOG("owner: %s", self->r->msg);
	ASSERT_LE(0, gfd);
	/* Through the grant while the old image lives. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 64, 0, 0,
			   &copied));
	ASSERT_EQ(0, xp_msg_send(sv[0], "e", 1, -1));
	/* The new image says it runs: the exec is complete. */
	ASSERT_EQ(0, xp_msg_recv(sv[0], &rep, sizeof(rep), NULL, 60000))
		TH_LOG("no word from the new image");
	ASSERT_EQ(-1, rep) TH_LOG("the new image could not map its window");
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CW, gfd, self->data, a.len, 0, 0,
				&copied));
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CR, gfd, self->data, 64, 0, 0,
				&copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(2U, in.revoked);
	rep = 0;
	ASSERT_EQ(0, xp_msg_send(sv[0], &rep, sizeof(rep), -1));
	ASSERT_EQ(0, xp_msg_recv(sv[0], &rep, sizeof(rep), NULL, 60000));
	ASSERT_EQ(-1, rep) TH_LOG("a byte reached the new image at %lld",
				  rep);
	ASSERT_HELPER_OK(pid, 30000);
}

/*
 * The owner exits while a holder copies 64 MiB into it: the copy ends
 * (short count, or ESRCH if the owner was gone first, or the full count:
 * a copy in flight holds the address space until it ends), nothing stays
 * pinned, and later uses fail with ESRCH.
 */
TEST_F_TIMEOUT(grant, owner_exit_during_copy, GRANT_TIMEOUT)
{
	struct owner_arg a = { .len = BIG, .delay_ms = 2 };
	struct xpcopy_grant_info in;
	uint8_t *local;
	__u64 copied;
	int sock, gfd, ret;
	int64_t t0;
	pid_t pid;

	local = xp_map(BIG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, local);
	big_fill(local, BIG, S_DATA);
	gfd = start_owner(self, &a, &sock, &pid);
	ASSERT_LE(0, gfd) TH_LOG("owner: %s", self->r->msg);
	ASSERT_EQ(0, xp_msg_send(sock, "d", 1, -1));
	t0 = xp_now_ns();
	ret = gcopy(self->dev, CW, gfd, local, BIG, 0, 0, &copied);
	if (ret == 0) {
		ASSERT_GE(BIG, copied);
		TH_LOG("copy returned %llu of %llu bytes after %lld ms%s",
		       (unsigned long long)copied, BIG,
		       (long long)((xp_now_ns() - t0) / 1000000),
		       copied == BIG ? " (note: the owner exited while it "
		       "ran, or after)" : "");
	} else {
		ASSERT_EQ(-ESRCH, ret);
	}
	ASSERT_HELPER_OK(pid, 60000);
	ASSERT_EQ(-ESRCH, gcopy(self->dev, CW, gfd, local, self->page, 0, 0,
				&copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(2U, in.revoked);
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
}

struct big_arg {
	int gfd;
	int start_wr;		/* a byte: the copy starts */
	int go_rd;		/* a byte: do the second copy */
};

/* A holder: a 64 MiB write, then, on a word, a one-page write. */
static int h_big_writer(FIXTURE_DATA(grant) *self, void *arg)
{
	struct big_arg *a = arg;
	struct res *r = self->r;
	uint8_t *local = xp_map(BIG, PROT_READ | PROT_WRITE);
	char c;

	HCHECK(local, "mmap");
	big_fill(local, BIG, S_DATA);
	HCHECK(write(a->start_wr, "s", 1) == 1, "pipe");
	r->ret[0] = gcopy(self->dev, CW, a->gfd, local, BIG, 0, 0,
			  &r->copied[0]);
	HCHECK(xp_poll_in(a->go_rd, 60000) == 1 && read(a->go_rd, &c, 1) == 1,
	       "no word from the test");
	r->ret[1] = gcopy(self->dev, CW, a->gfd, local, self->page, 0, 0,
			  &r->copied[1]);
	return 0;
}

static pid_t start_big_writer(FIXTURE_DATA(grant) *self, struct big_arg *a,
			      int *start_rd, int *go_wr)
{
	int start[2], go[2];
	pid_t pid;

	if (pipe2(start, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		return -1;
	a->start_wr = start[1];
	a->go_rd = go[0];
	self->r->ret[0] = self->r->ret[1] = INT_MIN;
	pid = spawn(self, h_big_writer, a);
	close(start[1]);
	close(go[0]);
	*start_rd = start[0];
	*go_wr = go[1];
	return pid;
}

/*
 * A grant over a fresh BIG mapping *w, and a holder started on it that
 * waits, about to copy, until the test has done its deed and written a
 * byte to *go_wr.
 */
static void big_writer_at_start(struct __test_metadata *_metadata,
				FIXTURE_DATA(grant) *self, struct big_arg *a,
				uint8_t **w, int *go_wr, pid_t *pid)
{
	int start_rd;
	char c;

	*w = xp_map(BIG, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, *w);
	a->gfd = grant(self->dev, GW, *w, BIG);
	ASSERT_LE(0, a->gfd);
	*pid = start_big_writer(self, a, &start_rd, go_wr);
	ASSERT_LT(0, *pid);
	ASSERT_EQ(1, xp_poll_in(start_rd, 60000));
	ASSERT_EQ(1, read(start_rd, &c, 1));
	xp_sleep_ms(1);
}

/*
 * The owner unmaps the window while a holder copies 64 MiB into it: a
 * short count (or EFAULT if nothing was copied; the full count only if the
 * copy was done first), nothing stays pinned, later copies fail EFAULT.
 */
TEST_F_TIMEOUT(grant, owner_munmap_during_copy, GRANT_TIMEOUT)
{
	struct res *r = self->r;
	struct big_arg a;
	uint8_t *w = NULL;
	pid_t pid = -1;
	int go_wr = -1;

	big_writer_at_start(_metadata, self, &a, &w, &go_wr, &pid);
	ASSERT_EQ(0, munmap(w, BIG));
	ASSERT_EQ(1, write(go_wr, "g", 1));
	ASSERT_HELPER_OK(pid, 100000);
	if (r->ret[0] == 0) {
		ASSERT_GE(BIG, r->copied[0]);
		TH_LOG("copy returned %llu of %llu bytes%s",
		       (unsigned long long)r->copied[0], BIG,
		       r->copied[0] == BIG ? " (note: it was done before the "
		       "munmap)" : "");
	} else {
		ASSERT_EQ(-EFAULT, r->ret[0]);
	}
	ASSERT_EQ(-EFAULT, r->ret[1]);
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
}

/*
 * The owner revokes while a holder copies 64 MiB: the copy stops at a
 * batch boundary with a short count (ESTALE if it had not started; the full
 * count only if it was done first); later copies fail with ESTALE; no byte
 * past the count reached the window.
 */
TEST_F_TIMEOUT(grant, revoke_during_copy, GRANT_TIMEOUT)
{
	struct res *r = self->r;
	unsigned int batch = batch_pages(self->dev);
	__u64 batch_bytes = (__u64)batch * self->page, copied;
	struct big_arg a;
	uint8_t *w = NULL;
	pid_t pid = -1;
	int go_wr = -1;

	ASSERT_LT(0U, batch);
	big_writer_at_start(_metadata, self, &a, &w, &go_wr, &pid);
	ASSERT_EQ(0, grant_revoke(self->dev, a.gfd));
	ASSERT_EQ(1, write(go_wr, "g", 1));
	ASSERT_HELPER_OK(pid, 100000);
	ASSERT_EQ(-ESTALE, r->ret[1]);
	if (r->ret[0] == -ESTALE) {
		TH_LOG("revoked before the copy began");
		copied = 0;
	} else {
		ASSERT_EQ(0, r->ret[0]);
		copied = r->copied[0];
		ASSERT_GE(BIG, copied);
		if (copied == BIG) {
			TH_LOG("note: the copy was done before the revocation");
		} else {
			ASSERT_EQ(0ULL, copied % batch_bytes)
				TH_LOG("%llu bytes: not a batch boundary "
				       "(batch %llu bytes)",
				       (unsigned long long)copied,
				       (unsigned long long)batch_bytes);
		}
		TH_LOG("copy returned %llu of %llu bytes",
		       (unsigned long long)copied, BIG);
	}
	ASSERT_EQ(-1, big_check(w, copied, S_DATA));
	ASSERT_EQ(-1, zero_check(w + copied, BIG - copied))
		TH_LOG("bytes past the count reached the window");
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
}

struct stall_copy {
	int dev, gfd;
	const void *src;
	__u64 len, copied;
	__u32 flags;		/* besides CW */
	int ret;
};

static void *stall_copy_run(void *arg)
{
	struct stall_copy *c = arg;

	c->ret = gcopy(c->dev, CW | c->flags, c->gfd, c->src, c->len, 0, 0,
		       &c->copied);
	return NULL;
}

/*
 * A page of the window the copy must wait for (a userfaultfd of the
 * owner's, served late), in the first share, which the caller takes as its
 * helpers wake: only that share waits for it, and the helpers' later
 * batches land meanwhile. The owner then revokes and serves the page: the
 * stalled share's batch, allowed before, is completed, and the count ends
 * at a batch boundary with no byte past it. (Before, the caller handed the
 * rest of the whole copy to the batch path: nothing past the page's batch
 * moved until it was served, and that path's own batches ended the count
 * off the boundary.)
 */
TEST_F_TIMEOUT(grant, revoke_while_share_stalls, GRANT_TIMEOUT)
{
	unsigned int batch = batch_pages(self->dev);
	__u64 bb = (__u64)batch * self->page, len, stall, off;
	struct uffdio_zeropage zp = { 0 };
	struct stall_copy c = { 0 };
	bool faulted, landed = false;
	const char *stage;
	struct uffd_msg msg;
	struct pollfd pfd;
	pthread_t th;
	uint8_t *win;
	int64_t end;
	int uffd;

	/* Helpers need more than the caller's own 16 pages of the cap. */
	if (batch < 32)
		SKIP(return, "batch_pages %u: no worker helps a caller", batch);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no worker helps a caller");
	/* At least four batches, and over busy_help_kb: always helped. */
	len = 4 * bb > 16 * MiB ? 4 * bb : (16 * MiB + bb - 1) / bb * bb;
	if (len > 64 * MiB)
		SKIP(return, "batch_pages %u: four batches are over 64 MiB",
		     batch);
	stall = 3 * self->page;
	win = xp_map(len, PROT_READ | PROT_WRITE);
	c.src = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, c.src);
	memset(win, 0, len);
	big_fill((void *)c.src, len, S_DATA);
	ASSERT_EQ(0, madvise(win + stall, self->page, MADV_DONTNEED));
	uffd = xp_uffd_register(win + stall, self->page, &stage);
	if (uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s: %s", stage,
		     strerror(-uffd));
	c.dev = self->dev;
	c.len = len;
	c.gfd = grant(self->dev, GRW, win, len);
	ASSERT_LE(0, c.gfd);
	ASSERT_EQ(0, pthread_create(&th, NULL, stall_copy_run, &c));

	/* A worker waits on the page: watch for bytes past its batch. */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	faulted = poll(&pfd, 1, 30000) == 1 &&
		  read(uffd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg);
	end = xp_now_ns() + 20000000000LL;
	while (faulted && !landed && xp_now_ns() < end) {
		for (off = bb; off < len && !landed; off += self->page)
			landed = ((volatile uint8_t *)win)[off] != 0;
		usleep(1000);
	}
	/* Whatever was seen: revoke, serve the page, let the copy end. */
	EXPECT_EQ(0, grant_revoke(self->dev, c.gfd));
	zp.range.start = (uintptr_t)(win + stall);
	zp.range.len = self->page;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp))
		TH_LOG("UFFDIO_ZEROPAGE: %s", strerror(errno));
	close(uffd);	/* a fault still waiting is then served as usual */
	ASSERT_EQ(0, pthread_join(th, NULL));
	close(c.gfd);

	ASSERT_TRUE(faulted) TH_LOG("no fault on the page in 30 s");
	EXPECT_TRUE(landed)
		TH_LOG("nothing past the first batch landed in 20 s while one "
		       "page of it stalled");
	ASSERT_EQ(0, c.ret) TH_LOG("copy: %s", strerror(-c.ret));
	ASSERT_LE(bb, c.copied) TH_LOG("%llu bytes: short of the stalled "
				      "share's batch",
				      (unsigned long long)c.copied);
	ASSERT_EQ(0ULL, c.copied % bb)
		TH_LOG("%llu bytes: not a batch boundary (batch %llu bytes)",
		       (unsigned long long)c.copied, (unsigned long long)bb);
	ASSERT_EQ(-1, big_check(win, c.copied, S_DATA));
	ASSERT_EQ(-1, zero_check(win + c.copied, len - c.copied))
		TH_LOG("bytes past the count reached the window");
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
	munmap(win, len);
	munmap((void *)c.src, len);
}

/* ---------------------------------------------------------------------------
 * Pinned grants (XPCOPY_GRANT_PIN)
 */

#define GPIN		XPCOPY_GRANT_PIN

/*
 * FOLL_PIN pins outstanding system-wide, from /proc/vmstat, the per-CPU
 * deltas folded first (stat_refresh, root); -1 if unread.
 */
static long long pins_out(void)
{
	unsigned long long acq = 0, rel = 0, v;
	char name[64];
	int seen = 0;
	FILE *f;

	if (xp_write_str("/proc/sys/vm/stat_refresh", "1"))
		return -1;
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %llu", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v, seen++;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v, seen++;
	}
	fclose(f);
	return seen == 2 ? (long long)(acq - rel) : -1;
}

/* This process's locked memory (VmLck), in KiB; -1 if unread. */
static long long locked_kb(void)
{
	long long kb = -1;
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define REQUIRE_PIN_COUNTS(p0) do {					\
	(p0) = pins_out();						\
	if ((p0) < 0)							\
		SKIP(return, "no nr_foll_pin_* in /proc/vmstat, or no root to fold them (stat_refresh)"); \
} while (0)

/*
 * A pinned grant holds one pin per page of its window from its creation
 * to its last close; copies through it land in place both ways, and
 * XPCOPY_GRANT_INFO reports the pin among its rights.
 */
TEST_F(grant, pin_write_read)
{
	struct xpcopy_grant_info in;
	long long p0, kb0;
	int gfd;

	REQUIRE_PIN_COUNTS(p0);
	kb0 = locked_kb();
	gfd = grant(self->dev, GRW | GPIN, self->buf + self->page,
		    2 * self->page);
	ASSERT_LE(0, gfd);
	EXPECT_EQ(p0 + 2, pins_out());
	/* Charged to the owner's locked memory. */
	EXPECT_EQ(kb0 + (long long)(2 * self->page / 1024), locked_kb());
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	EXPECT_EQ((__u32)(GRW | GPIN), in.rights);
	write_read_300(_metadata, self, gfd);
	/* The pages stay pinned between copies; the last close frees them. */
	EXPECT_EQ(p0 + 2, pins_out());
	close(gfd);
	EXPECT_EQ(p0, pins_out());
	EXPECT_EQ(kb0, locked_kb());
}

/* Many ranges over 4 MiB, both ways: every byte in place, count exact. */
TEST_F(grant, pin_large_iov)
{
	const size_t len = 4 * MiB, p = self->page;
	struct xpcopy_iovec l = { 0, len - 3 * p - 5 };
	struct xpcopy_iovec rv[3] = {
		{ 5, p },			/* unaligned, across a page */
		{ len - 2 * p + 1, 2 * p - 1 },	/* to the window's end */
		{ 3 * p, len - 6 * p - 4 },
	};
	uint8_t *win, *mine, *back;
	long long p0;
	__u64 copied;
	int gfd;

	REQUIRE_PIN_COUNTS(p0);
	win = xp_map_filled(len, S_OWN);
	mine = xp_map_filled(len, S_DATA);
	back = xp_map_guarded(len);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, mine);
	ASSERT_NE(NULL, back);
	l.addr = xp_ptr(mine);
	gfd = grant(self->dev, GRW | GPIN, win, len);
	ASSERT_LE(0, gfd);
	EXPECT_EQ(p0 + (long long)(len / p), pins_out());
	ASSERT_EQ(0, gcopyv(self->dev, CW, gfd, &l, 1, rv, 3, 0, &copied));
	ASSERT_EQ(l.len, copied);
	EXPECT_EQ(-1, xp_check(win + 5, p, S_DATA, 0));
	EXPECT_EQ(-1, xp_check(win + len - 2 * p + 1, 2 * p - 1, S_DATA, p));
	EXPECT_EQ(-1, xp_check(win + 3 * p, len - 6 * p - 4, S_DATA,
			       3 * p - 1));
	EXPECT_EQ(-1, xp_check(win, 5, S_OWN, 0));
	EXPECT_EQ(-1, xp_check(win + len - 2 * p, 1, S_OWN, len - 2 * p));
	l.addr = xp_ptr(back);
	ASSERT_EQ(0, gcopyv(self->dev, CR, gfd, &l, 1, rv, 3, 0, &copied));
	ASSERT_EQ(l.len, copied);
	EXPECT_EQ(-1, xp_check(back, l.len, S_DATA, 0));
	close(gfd);
	EXPECT_EQ(p0, pins_out());
	munmap(win, len);
	munmap(mine, len);
	munmap(back, len);
}

/* The whole window must be mapped when it is pinned: else EFAULT, no pin. */
TEST_F(grant, pin_window_unmapped)
{
	long long p0;
	int gfd;

	REQUIRE_PIN_COUNTS(p0);
	/* The guard page after the owner's pages is PROT_NONE. */
	EXPECT_EQ(-EFAULT, grant(self->dev, GRW | GPIN,
				 self->buf + self->total - self->page,
				 2 * self->page));
	EXPECT_EQ(p0, pins_out());
	/* Not pinned, the same window is fine: it is resolved at each copy. */
	gfd = grant(self->dev, GRW, self->buf + self->total - self->page,
		    2 * self->page);
	EXPECT_LE(0, gfd);
	close(gfd);
}

/*
 * Pages are pinned for writing whatever the rights (so that the owner's
 * later writes stay visible): read-only memory is EFAULT even for a
 * read-only grant, and nothing stays pinned.
 */
TEST_F(grant, pin_readonly_memory)
{
	long long p0;
	void *ro;

	REQUIRE_PIN_COUNTS(p0);
	ro = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, grant(self->dev, GRW | GPIN, ro, self->page));
	EXPECT_EQ(-EFAULT, grant(self->dev, XPCOPY_GRANT_READ | GPIN, ro,
				 self->page));
	EXPECT_EQ(p0, pins_out());
	munmap(ro, self->page);
}

/*
 * A read-only pinned grant of memory the owner has not touched yet (the
 * zero page), and of memory it shares copy-on-write with a child: what the
 * owner writes afterwards is what a holder reads through the grant.
 */
TEST_F(grant, pin_readonly_sees_owner_writes)
{
	const size_t p = self->page;
	uint8_t back[64], *fresh, *shared;
	pid_t kid;
	__u64 copied;
	int gfd, i, status;
	size_t k;

	fresh = mmap(NULL, 2 * p, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fresh);
	ASSERT_EQ(0, ((volatile uint8_t *)fresh)[0]);	/* the zero page */
	shared = fresh + p;
	memset(shared, 0x22, p);
	kid = fork();	/* shared: copy-on-write with the child */
	ASSERT_LE(0, kid);
	if (kid == 0) {
		pause();
		_exit(0);
	}
	gfd = grant(self->dev, XPCOPY_GRANT_READ | GPIN, fresh, 2 * p);
	ASSERT_LE(0, gfd);
	memset(fresh, 0x5a, 64);
	memset(shared, 0x6b, 64);
	for (i = 0; i < 2; i++) {
		memset(back, 0, sizeof(back));
		ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, 64, i * p, 0,
				   &copied));
		ASSERT_EQ(64ULL, copied);
		for (k = 0; k < sizeof(back) && back[k] == (i ? 0x6b : 0x5a);)
			k++;
		ASSERT_EQ(sizeof(back), k)
			TH_LOG("page %d byte %zu: the grant reads a page the owner no longer has",
			       i, k);
	}
	close(gfd);
	kill(kid, SIGKILL);
	waitpid(kid, &status, 0);
	munmap(fresh, 2 * p);
}

/*
 * A shared mapping of a file: on tmpfs it can be pinned, on another file
 * system (whose writeback would not see writes through the pins) EFAULT.
 * The file is made where the tests run; its file system says which.
 */
TEST_F(grant, pin_shared_file_mapping)
{
	char path[] = "./xpcopy-pin-XXXXXX";
	struct statfs sf;
	long long p0;
	void *map;
	int fd, gfd;

	REQUIRE_PIN_COUNTS(p0);
	fd = mkstemp(path);
	if (fd < 0)
		SKIP(return, "mkstemp in the working directory: %s",
		     strerror(errno));
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, self->page));
	ASSERT_EQ(0, fstatfs(fd, &sf));
	map = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	ASSERT_NE(MAP_FAILED, map);
	gfd = grant(self->dev, GRW | GPIN, map, self->page);
	if (sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC) {
		EXPECT_LE(0, gfd) TH_LOG("tmpfs: %s", strerror(-gfd));
		close(gfd);
	} else {
		EXPECT_EQ(-EFAULT, gfd)
			TH_LOG("file system 0x%lx", (unsigned long)sf.f_type);
	}
	/* A memfd (tmpfs) shared mapping always can. */
	munmap(map, self->page);
	close(fd);
	fd = memfd_create("xpcopy-pin", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, self->page));
	map = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	ASSERT_NE(MAP_FAILED, map);
	gfd = grant(self->dev, GRW | GPIN, map, self->page);
	EXPECT_LE(0, gfd);
	close(gfd);
	EXPECT_EQ(p0, pins_out());
	munmap(map, self->page);
	close(fd);
}

/*
 * The owner exits while the holder keeps the grant fd: the grant can copy
 * no more (ESRCH), so its pages are released (nobody could revoke it now)
 * with the fd still open.
 */
TEST_F_TIMEOUT(grant, pin_released_when_owner_exits, GRANT_TIMEOUT)
{
	struct xpcopy_grant_info in;
	int sv[2], gfd = -1, status;
	long long p0, now = -1;
	__u64 copied;
	pid_t kid;
	char c;

	REQUIRE_PIN_COUNTS(p0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		int fd;

		close(sv[0]);
		fd = grant(self->dev, GRW | GPIN, self->buf, self->total);
		if (fd < 0 || xp_msg_send(sv[1], "g", 1, fd))
			_exit(2);
		/* Wait for the parent to have the fd, then exit. */
		_exit(xp_msg_recv(sv[1], &c, 1, NULL, 60000) ? 3 : 0);
	}
	close(sv[1]);
	ASSERT_EQ(0, xp_msg_recv(sv[0], &c, 1, &gfd, 60000));
	ASSERT_LE(0, gfd);
	EXPECT_EQ(p0 + NPAGES, pins_out());
	ASSERT_EQ(0, xp_msg_send(sv[0], "x", 1, -1));
	ASSERT_EQ(kid, xp_waitpid_ms(kid, &status, 60000));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The first use finds it gone; the release follows on a worker. */
	EXPECT_EQ(-ESRCH, gcopy(self->dev, CR, gfd, self->data, 8, 0, 0,
				&copied));
	for (int i = 0; i < 500 && now != p0; i++) {
		now = pins_out();
		if (now != p0)
			xp_sleep_ms(10);
	}
	EXPECT_EQ(p0, now) TH_LOG("pins kept after the owner exited");
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	EXPECT_EQ(2U, in.revoked);
	EXPECT_EQ((__u32)(GRW | GPIN), in.rights);
	close(gfd);
	close(sv[0]);
}

/*
 * Beyond RLIMIT_MEMLOCK without CAP_IPC_LOCK: ENOMEM, nothing pinned or
 * charged; within it, the grant is made, and closing it gives the charge
 * back (the same pages pin again).
 */
TEST_F(grant, pin_memlock_limit)
{
	pid_t pid;
	int status;

	REQUIRE_ROOT();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { 2 * self->page, 2 * self->page };
		int gfd, i;

		if (drop_to(65534) || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		if (grant(self->dev, GRW | GPIN, self->buf, 3 * self->page) !=
		    -ENOMEM)
			_exit(11);
		for (i = 0; i < 3; i++) {
			gfd = grant(self->dev, GRW | GPIN, self->buf,
				    2 * self->page);
			if (gfd < 0)
				_exit(12);
			/* The charge is full: one more page is refused. */
			if (grant(self->dev, GRW | GPIN, self->buf + 2 *
				  self->page, self->page) != -ENOMEM)
				_exit(13);
			close(gfd);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("step %d failed (10 setup, 11 over the limit not ENOMEM, 12 within refused, 13 charge not kept)",
		       WEXITSTATUS(status));
}

/* A pinned grant's copies are the caller's: forced workers, bounce EINVAL. */
TEST_F(grant, pin_path_flags)
{
	struct region rg[] = {
		{ self->page, 64, S_DATA, 0 },
	};
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW | GPIN, self->buf + self->page,
		    self->page);
	ASSERT_LE(0, gfd);
	EXPECT_EQ(-EINVAL, gcopy(self->dev, CW | XPCOPY_COPY_WORKER, gfd,
				 self->data, 64, 0, 0, &copied));
	EXPECT_EQ(-EINVAL, gcopy(self->dev, CR | XPCOPY_COPY_BOUNCE, gfd,
				 self->data, 64, 0, 0, &copied));
	EXPECT_EQ(0, gcopy(self->dev, CW | XPCOPY_COPY_INLINE, gfd,
			   self->data, 64, 0, 0, &copied));
	EXPECT_EQ(64ULL, copied);
	close(gfd);
	ASSERT_IMAGE(rg, 1);
}

/*
 * Revoking a derived grant releases nothing; revoking the original
 * releases every pin at once (no copy in flight), with its fds and the
 * derived grant's still open, and copies then fail with ESTALE.
 */
TEST_F(grant, pin_revoke_releases)
{
	long long p0;
	__u64 copied;
	int gfd, dfd;

	REQUIRE_PIN_COUNTS(p0);
	gfd = grant(self->dev, GRW | GPIN, self->buf + self->page,
		    2 * self->page);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, XPCOPY_GRANT_WRITE, 0, self->page);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(p0 + 2, pins_out());
	ASSERT_EQ(0, grant_revoke(self->dev, dfd));
	EXPECT_EQ(p0 + 2, pins_out());
	EXPECT_EQ(-ESTALE, gcopy(self->dev, CW, dfd, self->data, 8, 0, 0,
				 &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 8, 0, 0, &copied));
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	EXPECT_EQ(p0, pins_out());
	EXPECT_EQ(-ESTALE, gcopy(self->dev, CW, gfd, self->data, 8, 0, 0,
				 &copied));
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	close(dfd);
	close(gfd);
	EXPECT_EQ(p0, pins_out());
}

/*
 * The documented edge: the grant reaches the pages pinned when it was
 * made. After the owner unmaps the window and maps new memory there, a
 * copy through the grant lands in the old pages (read back through the
 * grant), and the new mapping stays untouched.
 */
TEST_F(grant, pin_survives_munmap)
{
	const size_t p = self->page, sizes[] = { 64, 1 * MiB + 100 };
	uint8_t *win, *again, *mine, *back;
	long long p0, d;
	__u64 copied;
	int gfd;

	REQUIRE_PIN_COUNTS(p0);
	mine = xp_map_filled(2 * MiB, S_DATA);
	back = xp_map_guarded(2 * MiB);
	ASSERT_NE(NULL, mine);
	ASSERT_NE(NULL, back);
	/* One page and 64 bytes; then 1 MiB, many of the caller's rounds. */
	for (int i = 0; i < 2; i++) {
		size_t len = sizes[i], wlen = (len + 5 + p - 1) / p * p;

		win = mmap(NULL, wlen, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, win);
		memset(win, 0x11, wlen);
		gfd = grant(self->dev, GRW | GPIN, win, wlen);
		ASSERT_LE(0, gfd);
		ASSERT_EQ(0, munmap(win, wlen));
		again = mmap(win, wlen, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ASSERT_EQ(win, again);
		ASSERT_EQ(0, gcopy(self->dev, CW, gfd, mine, len, 5, 0,
				   &copied));
		ASSERT_EQ(len, copied);
		EXPECT_EQ(-1, zero_check(again, wlen))
			TH_LOG("size %zu: the copy reached the new mapping", len);
		memset(back, 0, len);
		ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back, len, 5, 0,
				   &copied));
		ASSERT_EQ(len, copied);
		d = xp_check(back, len, S_DATA, 0);
		EXPECT_EQ(-1, d) TH_LOG("size %zu: byte %lld", len, d);
		EXPECT_EQ(p0 + (long long)(wlen / p), pins_out());
		close(gfd);
		EXPECT_EQ(p0, pins_out());
		munmap(again, wlen);
	}
	munmap(mine, 2 * MiB);
	munmap(back, 2 * MiB);
}


/*
 * Revoking a pinned grant while a copy through it is in flight: the copy
 * (stalled on a page of its own buffer that the caller's userfaultfd
 * holds) keeps the pages pinned until it ends; then they are all released,
 * the fds still open. The copy, released, stops at the page with a short
 * count: every byte before it in place, none after. Forced into the
 * caller's context the page is in the middle (many of the caller's
 * rounds); on the automatic path, where idle workers share the copy and
 * the shares of one batch are copied side by side, it is the last page.
 */
static void pin_revoke_in_flight_run(struct __test_metadata *_metadata,
				     FIXTURE_DATA(grant) *self, __u32 flags,
				     size_t stall)
{
	const size_t len = 1 * MiB;
	struct uffdio_zeropage zp = { 0 };
	struct stall_copy c = { 0 };
	const char *stage;
	struct uffd_msg msg;
	struct pollfd pfd;
	long long p0;
	pthread_t th;
	uint8_t *win;
	int uffd;

	REQUIRE_PIN_COUNTS(p0);
	win = xp_map(len, PROT_READ | PROT_WRITE);
	c.src = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, c.src);
	memset(win, 0, len);
	big_fill((void *)c.src, len, S_DATA);
	ASSERT_EQ(0, madvise((void *)c.src + stall, self->page,
			     MADV_DONTNEED));
	uffd = xp_uffd_register((void *)c.src + stall, self->page, &stage);
	if (uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s: %s", stage,
		     strerror(-uffd));
	c.dev = self->dev;
	c.len = len;
	c.flags = flags;
	c.gfd = grant(self->dev, GRW | GPIN, win, len);
	ASSERT_LE(0, c.gfd);
	ASSERT_EQ(p0 + (long long)(len / self->page), pins_out());
	ASSERT_EQ(0, pthread_create(&th, NULL, stall_copy_run, &c));

	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	EXPECT_TRUE(poll(&pfd, 1, 30000) == 1 &&
		    read(uffd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg))
		TH_LOG("the copy did not stall on its own page in 30 s");
	EXPECT_EQ(0, grant_revoke(self->dev, c.gfd));
	/* The copy in flight still holds them. */
	EXPECT_EQ(p0 + (long long)(len / self->page), pins_out());
	zp.range.start = (uintptr_t)c.src + stall;
	zp.range.len = self->page;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp))
		TH_LOG("UFFDIO_ZEROPAGE: %s", strerror(errno));
	close(uffd);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(p0, pins_out()) TH_LOG("pins kept after the copy ended");
	ASSERT_EQ(0, c.ret) TH_LOG("copy: %s", strerror(-c.ret));
	EXPECT_EQ((__u64)stall, c.copied);
	EXPECT_EQ(-1, big_check(win, c.copied, S_DATA));
	EXPECT_EQ(-1, zero_check(win + c.copied, len - c.copied));
	close(c.gfd);
	munmap(win, len);
	munmap((void *)c.src, len);
}

TEST_F_TIMEOUT(grant, pin_revoke_in_flight, GRANT_TIMEOUT)
{
	pin_revoke_in_flight_run(_metadata, self, XPCOPY_COPY_INLINE,
				 256 * KiB);
	pin_revoke_in_flight_run(_metadata, self, 0, 1 * MiB - self->page);
}

/* Did workers help with the last copy? caller_bytes grew by less. */
static bool pin_helped(uint64_t cb0, __u64 copied)
{
	uint64_t cb1 = 0;

	return !xp_stat("caller_bytes", &cb1) && cb1 - cb0 < copied;
}

/*
 * A large copy through a pinned grant is shared like one by pid: idle
 * workers, in the caller's address space, copy shares between the grant's
 * pinned pages and the caller's memory. Of up to 20 copies of 16 MiB
 * each way (unaligned on both sides), some find a worker (caller_bytes
 * grows by less than the copy); every one is byte-exact with the count
 * exact, and the grant's pins are all that stays pinned.
 */
TEST_F_TIMEOUT(grant, pin_shared_large, GRANT_TIMEOUT)
{
	const size_t len = 16 * MiB, n = len - self->page - 16;
	bool helped_w = false, helped_r = false;
	uint8_t *win, *mine, *back;
	uint64_t cb0 = 0;
	struct xp_stats s0;
	long long p0, d;
	__u64 copied;
	int gfd, i;

	REQUIRE_PIN_COUNTS(p0);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no worker helps a caller");
	win = xp_map(len, PROT_READ | PROT_WRITE);
	mine = xp_map(len, PROT_READ | PROT_WRITE);
	back = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, mine);
	ASSERT_NE(NULL, back);
	gfd = grant(self->dev, GRW | GPIN, win, len);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, xp_stats_read(&s0));
	for (i = 0; i < 20 && !(helped_w && helped_r); i++) {
		memset(win, 0, len);
		big_fill(mine + 3, n, S_DATA + i);
		ASSERT_EQ(0, xp_stat("caller_bytes", &cb0));
		ASSERT_EQ(0, gcopy(self->dev, CW, gfd, mine + 3, n, 7, 0,
				   &copied));
		ASSERT_EQ((__u64)n, copied);
		helped_w |= pin_helped(cb0, copied);
		d = big_check(win + 7, n, S_DATA + i);
		ASSERT_EQ(-1, d) TH_LOG("copy %d, written: byte %lld", i, d);
		ASSERT_EQ(-1, zero_check(win, 7));
		ASSERT_EQ(-1, zero_check(win + 7 + n, len - 7 - n));

		memset(back, 0, len);
		ASSERT_EQ(0, xp_stat("caller_bytes", &cb0));
		ASSERT_EQ(0, gcopy(self->dev, CR, gfd, back + 5, n, 7, 0,
				   &copied));
		ASSERT_EQ((__u64)n, copied);
		helped_r |= pin_helped(cb0, copied);
		d = big_check(back + 5, n, S_DATA + i);
		ASSERT_EQ(-1, d) TH_LOG("copy %d, read: byte %lld", i, d);
		ASSERT_EQ(-1, zero_check(back, 5));
		ASSERT_EQ(-1, zero_check(back + 5 + n, len - 5 - n));
	}
	TH_LOG("%d copies each way", i);
	EXPECT_TRUE(helped_w) TH_LOG("no worker helped a write");
	EXPECT_TRUE(helped_r) TH_LOG("no worker helped a read");
	/* The grant's own pins, no more; the module's all given back. */
	EXPECT_EQ(p0 + (long long)(len / self->page), pins_out());
	XP_EXPECT_PINS_BACK(s0, 2000);
	close(gfd);
	EXPECT_EQ(p0, pins_out());
	munmap(win, len);
	munmap(mine, len);
	munmap(back, len);
}

/*
 * The grant revoked while a large pinned copy is shared: the count ends
 * where the rules of a grant copy put it (shared: at a batch boundary, each
 * batch checked before its first share; the caller's alone: at one of its
 * 16-page rounds), every byte before it in place, none after, and the
 * pins go once the copy ends and the grant is closed. Tried until one
 * copy a worker helped was cut short (up to 10 times).
 */
TEST_F_TIMEOUT(grant, pin_revoke_shared, GRANT_TIMEOUT)
{
	const size_t len = BIG;
	unsigned int batch = batch_pages(self->dev);
	__u64 bb = (__u64)batch * self->page, round = 16 * self->page;
	struct stall_copy c = { 0 };
	bool cut_helped = false;
	uint64_t cb0 = 0;
	long long p0, d;
	uint8_t *win;
	pthread_t th;
	int i;

	REQUIRE_PIN_COUNTS(p0);
	ASSERT_LT(0U, batch);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: no worker helps a caller");
	win = xp_map(len, PROT_READ | PROT_WRITE);
	c.src = xp_map(len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, win);
	ASSERT_NE(NULL, c.src);
	big_fill((void *)c.src, len, S_DATA);
	mlock(c.src, len);	/* best effort: no wait on the caller's pages */
	c.dev = self->dev;
	c.len = len;
	for (i = 0; i < 10 && !cut_helped; i++) {
		bool helped;

		memset(win, 0, len);
		c.gfd = grant(self->dev, GW | GPIN, win, len);
		ASSERT_LE(0, c.gfd);
		ASSERT_EQ(0, xp_stat("caller_bytes", &cb0));
		ASSERT_EQ(0, pthread_create(&th, NULL, stall_copy_run, &c));
		/* Revoke once a quarter of it landed. */
		while (!*(volatile uint64_t *)(win + len / 4))
			sched_yield();
		ASSERT_EQ(0, grant_revoke(self->dev, c.gfd));
		ASSERT_EQ(0, pthread_join(th, NULL));
		ASSERT_EQ(0, c.ret) TH_LOG("copy: %s", strerror(-c.ret));
		ASSERT_GE((__u64)len, c.copied);
		ASSERT_LE((__u64)len / 4, c.copied);
		helped = pin_helped(cb0, c.copied);
		if (c.copied < len) {
			__u64 unit = helped ? bb : round;

			ASSERT_EQ(0ULL, c.copied % unit)
				TH_LOG("%llu bytes: not a boundary of %llu (%s)",
				       (unsigned long long)c.copied,
				       (unsigned long long)unit,
				       helped ? "shared" : "the caller's");
			cut_helped = helped;
		}
		d = big_check(win, c.copied, S_DATA);
		ASSERT_EQ(-1, d) TH_LOG("byte %lld", d);
		d = zero_check(win + c.copied, len - c.copied);
		ASSERT_EQ(-1, d) TH_LOG("byte %lld past the count landed", d);
		TH_LOG("copy %d: %llu of %llu bytes, %s", i,
		       (unsigned long long)c.copied, (unsigned long long)len,
		       helped ? "shared" : "the caller's alone");
		/* The copy ended: the revoked grant's pins are gone. */
		EXPECT_EQ(p0, pins_out());
		close(c.gfd);
	}
	EXPECT_TRUE(cut_helped)
		TH_LOG("no shared copy was cut short by the revocation");
	EXPECT_EQ(p0, pins_out());
	ASSERT_EQ(0ULL, xp_wait_unpinned(5000)) TH_LOG("pages still pinned");
	munmap(win, len);
	munmap((void *)c.src, len);
}

TEST_HARNESS_MAIN
