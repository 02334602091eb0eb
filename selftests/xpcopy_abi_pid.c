// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy ABI tests of the target pid: ESRCH (reaped, zombie, kernel
 * thread, negative), EPERM (CAP_SYS_PTRACE over the target, except for
 * oneself, in children that drop credentials), and zero-length copies.
 * The fixture is xpcopy_abi.h's; each test breaks one thing of its valid
 * request.
 */
#include "xpcopy_abi.h"

/* A pid that belonged to a child of ours, now reaped and unused. */
static pid_t reaped_pid(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return pid;
}

/*
 * Run fn in a forked child that reports through a MAP_SHARED struct.
 * Returns the child's wait status.
 */
struct child_res {
	int setup_err;		/* -errno of the credential step, 0 if fine */
	const char *stage;
	int ret;
	__u64 copied;
	long long diff;		/* first wrong byte, -1 if right */
	int ret2;
	__u64 copied2;
};

static int in_child(void (*fn)(FIXTURE_DATA(xpcopy) *, struct child_res *,
			       pid_t),
		    FIXTURE_DATA(xpcopy) *self, struct child_res *res)
{
	pid_t parent = getpid();
	int status = -1;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->ret = res->ret2 = INT_MIN;
	res->diff = -2;
	pid = xp_fork();
	if (pid == 0) {
		fn(self, res, parent);
		_exit(0);
	}
	if (pid < 0)
		return -1;
	if (xp_waitpid_ms(pid, &status, 20000) != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return status;
}

static struct child_res *shared_res(void)
{
	void *p = mmap(NULL, sizeof(struct child_res), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Run fn in a child (see in_child) and assert that it exited normally
 * after its credential step succeeded; res then holds what it saw.
 */
static void child_done(struct __test_metadata *_metadata,
		       FIXTURE_DATA(xpcopy) *self,
		       void (*fn)(FIXTURE_DATA(xpcopy) *, struct child_res *,
				  pid_t),
		       struct child_res *res)
{
	int status = in_child(fn, self, res);

	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, res->setup_err)
		TH_LOG("%s: %s", res->stage, strerror(-res->setup_err));
}

/* In a test: res = what fn saw in a child that ran to its end. */
#define CHILD_DONE(fn, res) do {					\
	(res) = shared_res();						\
	ASSERT_NE(NULL, (res));						\
	child_done(_metadata, self, (fn), (res));			\
} while (0)

/* In a test: the copy fn makes in a child is EPERM, and b is unchanged. */
#define EPERM_IN_CHILD(fn) do {						\
	struct child_res *__res;					\
									\
	CHILD_DONE((fn), __res);					\
	EXPECT_EQ(-EPERM, __res->ret);					\
	ASSERT_B_UNCHANGED();						\
} while (0)

/* ---- ESRCH and a negative pid ---- */

TEST_F(xpcopy, pid_reaped)
{
	struct xpcopy_copy c = self->c;
	pid_t pid = reaped_pid();

	ASSERT_LT(0, pid);
	ASSERT_EQ(-1, kill(pid, 0));
	ASSERT_EQ(ESRCH, errno) TH_LOG("pid %d was reused", pid);
	c.pid = pid;
	EXPECT_EQ(-ESRCH, call(self->fd, XPCOPY_COPY, &c));
	ASSERT_B_UNCHANGED();
}

TEST_F(xpcopy, pid_zombie)
{
	struct xpcopy_copy c = self->c;
	siginfo_t si;
	char path[64], st[256];
	int status, fd;
	pid_t pid;

	pid = fork();
	if (pid == 0)
		_exit(0);
	ASSERT_LT(0, pid);
	/* wait for the exit but leave the zombie */
	memset(&si, 0, sizeof(si));
	ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	ASSERT_EQ(pid, si.si_pid);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, st, sizeof(st) - 1);
		char *p;

		close(fd);
		ASSERT_LT(0, n);
		st[n] = 0;
		p = strrchr(st, ')');
		ASSERT_NE(NULL, p);
		ASSERT_EQ('Z', p[2]) TH_LOG("child is not a zombie: %s", st);
	}
	c.pid = pid;
	EXPECT_EQ(-ESRCH, call(self->fd, XPCOPY_COPY, &c));
	ASSERT_B_UNCHANGED();
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
}

/* A kernel thread has no memory: ESRCH. */
TEST_F(xpcopy, pid_kernel_thread)
{
	struct xpcopy_copy c = self->c;
	char comm[32] = "";
	ssize_t n;
	int fd;

	fd = open("/proc/2/comm", O_RDONLY);
	if (fd < 0)
		SKIP(return, "/proc/2/comm: %s", strerror(errno));
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0 || strncmp(comm, "kthreadd", 8))
		SKIP(return, "pid 2 is not kthreadd");
	c.pid = 2;
	EXPECT_EQ(-ESRCH, call(self->fd, XPCOPY_COPY, &c));
	ASSERT_B_UNCHANGED();
}

TEST_F(xpcopy, pid_negative)
{
	const pid_t pids[] = { -1, -2, -(pid_t)getpid(), INT_MIN };

	for (size_t i = 0; i < ARRAY_SIZE(pids); i++) {
		struct xpcopy_copy c = self->c;

		c.pid = pids[i];
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("pid %d", pids[i]);
		ASSERT_B_UNCHANGED();
	}
}

/* ---- EPERM: CAP_SYS_PTRACE over the target, except for oneself ---- */

#define UNPRIV_UID	1000
#define UNPRIV_GID	1000

/* Copy self->c into @parent from a child with other credentials. */
static void copy_into_parent(FIXTURE_DATA(xpcopy) *self,
			     struct child_res *res, pid_t parent)
{
	struct xpcopy_copy c = self->c;

	c.pid = parent;
	res->ret = xp_ioctl(self->fd, XPCOPY_COPY, &c);
	res->copied = c.copied;
}

/* As uid 1000 without capabilities, the baseline copy into pid @parent. */
static void child_unpriv(FIXTURE_DATA(xpcopy) *self, struct child_res *res,
			 pid_t parent)
{
	res->stage = "setresuid(1000) and empty capability sets";
	res->setup_err = xp_become(UNPRIV_UID, UNPRIV_GID, 0);
	if (!res->setup_err)
		copy_into_parent(self, res, parent);
}

TEST_F(xpcopy, eperm_unprivileged)
{
	EPERM_IN_CHILD(child_unpriv);
}

static void child_root_no_ptrace(FIXTURE_DATA(xpcopy) *self,
				 struct child_res *res, pid_t parent)
{
	uint64_t eff = 0, prm = 0;

	res->stage = "capget";
	res->setup_err = xp_capget(&eff, &prm);
	if (res->setup_err)
		return;
	res->stage = "capset without CAP_SYS_PTRACE";
	eff &= ~(1ULL << CAP_SYS_PTRACE);
	prm &= ~(1ULL << CAP_SYS_PTRACE);
	res->setup_err = xp_capset(eff, prm, 0);
	if (!res->setup_err)
		copy_into_parent(self, res, parent);
}

/* uid 0 is not the key: the capability is. */
TEST_F(xpcopy, eperm_root_without_cap_sys_ptrace)
{
	EPERM_IN_CHILD(child_root_no_ptrace);
}

static void child_userns(FIXTURE_DATA(xpcopy) *self, struct child_res *res,
			 pid_t parent)
{
	res->stage = "unshare(CLONE_NEWUSER)";
	if (unshare(CLONE_NEWUSER)) {
		res->setup_err = -errno;
		return;
	}
	copy_into_parent(self, res, parent);
}

/* All capabilities, but in a user namespace that does not own the
 * target's memory. */
TEST_F(xpcopy, eperm_userns)
{
	struct child_res *res = shared_res();
	int status;

	ASSERT_NE(NULL, res);
	status = in_child(child_userns, self, res);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (res->setup_err)
		SKIP(return, "%s: %s", res->stage, strerror(-res->setup_err));
	EXPECT_EQ(-EPERM, res->ret);
	ASSERT_B_UNCHANGED();
}

static int target_unpriv_setup(void *arg, int *uffd, uint64_t *ubase)
{
	int ret;

	(void)arg;
	(void)uffd;
	(void)ubase;
	ret = xp_become(UNPRIV_UID, UNPRIV_GID, 0);
	if (ret)
		return ret;
	/* dumpable again, so ptrace rules alone would let a same-uid
	 * process in */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -errno;
	return 0;
}

static void child_unpriv_to_target(FIXTURE_DATA(xpcopy) *self,
				   struct child_res *res, pid_t parent)
{
	(void)parent;
	child_unpriv(self, res, self->t.pid);
}

/* Unlike ptrace, the same uid is not enough: CAP_SYS_PTRACE it is. */
TEST_F(xpcopy, eperm_same_uid)
{
	struct child_res *res;

	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, target_unpriv_setup,
				     NULL));
	CHILD_DONE(child_unpriv_to_target, res);
	EXPECT_EQ(-EPERM, res->ret);
	/* the target's copy of b is untouched */
	EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(self->b),
					 2 * self->page, SEED_B, 0));
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

static void child_ptrace_cap(FIXTURE_DATA(xpcopy) *self,
			     struct child_res *res, pid_t parent)
{
	res->stage = "setresuid(1000) keeping only CAP_SYS_PTRACE";
	res->setup_err = xp_become(UNPRIV_UID, UNPRIV_GID,
				   1ULL << CAP_SYS_PTRACE);
	if (!res->setup_err)
		copy_into_parent(self, res, parent);
}

/* The positive control of the EPERM tests: uid 1000 with CAP_SYS_PTRACE
 * may copy into a root process. */
TEST_F(xpcopy, cap_sys_ptrace_suffices)
{
	struct child_res *res;

	CHILD_DONE(child_ptrace_cap, res);
	ASSERT_EQ(0, res->ret) TH_LOG("%s", strerror(-res->ret));
	EXPECT_EQ(LEN, res->copied);
	EXPECT_EQ(-1, b_after_copy(self));
}

static void child_self(FIXTURE_DATA(xpcopy) *self, struct child_res *res,
		       pid_t parent)
{
	struct xpcopy_copy c;

	(void)parent;
	child_unpriv(self, res, getpid());
	if (res->setup_err)
		return;
	res->diff = b_after_copy(self);
	/* and the other way, through the bounce buffer */
	xp_fill(self->b, 2 * self->page, SEED_B, 0);
	c = self->c;
	c.pid = getpid();
	c.flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE;
	c.local_iov = xp_ptr(&self->r);
	c.remote_iov = xp_ptr(&self->l);
	res->ret2 = xp_ioctl(self->fd, XPCOPY_COPY, &c);
	res->copied2 = c.copied;
	if (res->diff == -1)
		res->diff = b_after_copy(self);
}

/* A process may always address itself. */
TEST_F(xpcopy, self_without_caps_works)
{
	struct child_res *res;

	CHILD_DONE(child_self, res);
	EXPECT_EQ(0, res->ret) TH_LOG("WRITE: %s", strerror(-res->ret));
	EXPECT_EQ(LEN, res->copied);
	EXPECT_EQ(0, res->ret2) TH_LOG("READ|BOUNCE: %s", strerror(-res->ret2));
	EXPECT_EQ(LEN, res->copied2);
	EXPECT_EQ(-1, res->diff);
	ASSERT_B_UNCHANGED();	/* the parent's b: the child's was a copy */
}

/* ---- zero length ---- */

TEST_F(xpcopy, zero_length)
{
	struct xpcopy_iovec zl = { xp_ptr(self->a), 0 };
	struct xpcopy_iovec zr = { xp_ptr(self->b), 0 };
	struct xpcopy_iovec zz[3] = { zl, zl, zl };
	struct {
		const char *what;
		__u32 flags;
		const struct xpcopy_iovec *l, *r;
		__u32 lcnt, rcnt;
	} cases[] = {
		{ "no segments", XPCOPY_COPY_WRITE, NULL, NULL, 0, 0 },
		{ "no segments, READ|BOUNCE",
		  XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE, NULL, NULL, 0, 0 },
		{ "empty segments", XPCOPY_COPY_WRITE, &zl, &zr, 1, 1 },
		{ "three empty local segments", XPCOPY_COPY_READ, zz, &zr, 3, 1 },
		{ "no remote segment", XPCOPY_COPY_WRITE, &self->l, NULL, 1, 0 },
		{ "no local segment", XPCOPY_COPY_READ, NULL, &self->r, 0, 1 },
		{ "empty remote segment", XPCOPY_COPY_WRITE, &self->l, &zr, 1, 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		__u64 copied;

		EXPECT_EQ(0, xp_copy(self->fd, cases[i].flags, getpid(),
				     cases[i].l, cases[i].lcnt, cases[i].r,
				     cases[i].rcnt, &copied))
			TH_LOG("%s", cases[i].what);
		EXPECT_EQ(0ULL, copied) TH_LOG("%s", cases[i].what);
		ASSERT_B_UNCHANGED();
	}
}

/* Validation comes before the zero-length shortcut. */
TEST_F(xpcopy, zero_length_bad_flag)
{
	__u64 copied;

	EXPECT_EQ(-EINVAL, xp_copy(self->fd, XPCOPY_COPY_WRITE | (1U << 30),
				   getpid(), NULL, 0, NULL, 0, &copied));
	EXPECT_EQ(-EINVAL, xp_copy(self->fd, 0, getpid(), NULL, 0, NULL, 0,
				   &copied));
	ASSERT_B_UNCHANGED();
}

/* "A zero-length copy succeeds with @copied 0, after every other check." */
TEST_F(xpcopy, zero_length_reaped_pid)
{
	pid_t pid = reaped_pid();
	__u64 copied;

	ASSERT_LT(0, pid);
	ASSERT_EQ(-1, kill(pid, 0));
	ASSERT_EQ(ESRCH, errno) TH_LOG("pid %d was reused", pid);
	EXPECT_EQ(-ESRCH, xp_copy(self->fd, XPCOPY_COPY_WRITE, pid, NULL, 0,
				  NULL, 0, &copied));
}

TEST_HARNESS_MAIN
