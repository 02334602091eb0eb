// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy grant tests: XPCOPY_GRANT, _DERIVE, _REVOKE and _INFO: making
 * grants, deriving them, revoking them, what they say of themselves, and fds
 * that are not grants.
 * xpcopy_grant.h describes the fixture and the helpers.
 */
#include "xpcopy_grant.h"

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT
 */

/* The fd is returned and stored, close-on-exec, an anon inode grant. */
TEST_F(grant, create_basic)
{
	struct xpcopy_grant g = {
		.size = sizeof(g), .flags = GRW, .addr = xp_ptr(self->buf),
		.len = self->total, .fd = -1,
	};
	struct xpcopy_grant_info in;
	char path[64], link[128];
	ssize_t n;
	int fd;

	fd = xp_ioctl(self->dev, XPCOPY_GRANT, &g);
	ASSERT_LE(0, fd);
	ASSERT_EQ(fd, g.fd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	ASSERT_NE(NULL, strstr(link, "xpcopy-grant")) TH_LOG("fd is %s", link);
	ASSERT_EQ(0, info(self->dev, fd, &in));
	ASSERT_EQ((__u32)GRW, in.rights);
	ASSERT_EQ(self->total, in.len);
	ASSERT_EQ(0, close(fd));
}

TEST_F(grant, create_no_rights)
{
	ASSERT_EQ(-EINVAL, grant(self->dev, 0, self->buf, self->total));
	ASSERT_EQ(-EINVAL, grant_seq(self->dev, 0, self->buf, self->total,
				     (__u64 *)self->data, 0));
}

TEST_F(grant, create_unknown_flag)
{
	ASSERT_EQ(-EINVAL, grant(self->dev, GRW | (1u << 4), self->buf,
				 self->total));
	ASSERT_EQ(-EINVAL, grant(self->dev, GRW | (1u << 31), self->buf,
				 self->total));
}

TEST_F(grant, create_len_zero)
{
	ASSERT_EQ(-EINVAL, grant(self->dev, GRW, self->buf, 0));
}

TEST_F(grant, create_wraps)
{
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GRW, xp_ptr(self->buf),
				     UINT64_MAX, 0, 0));
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GRW, UINT64_MAX - 7, 16,
				     0, 0));
}

TEST_F(grant, create_seq_misaligned)
{
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW | XPCOPY_GRANT_SEQ,
				     xp_ptr(self->buf), self->total,
				     xp_ptr(self->data + 4), 0));
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW | XPCOPY_GRANT_SEQ,
				     xp_ptr(self->buf), self->total,
				     xp_ptr(self->data + 1), 0));
}

/* The sequence word must be writable memory of the caller. */
TEST_F(grant, create_seq_readonly)
{
	void *ro = mmap(NULL, self->page, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(-EFAULT, grant_seq(self->dev, GW, self->buf, self->total,
				     ro, 0));
}

TEST_F(grant, create_seq_unmapped)
{
	void *p = xp_map(self->page, PROT_READ | PROT_WRITE);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, munmap(p, self->page));
	ASSERT_EQ(-EFAULT, grant_seq(self->dev, GW, self->buf, self->total,
				     p, 0));
	/* The guard page below the owner's memory: PROT_NONE. */
	ASSERT_EQ(-EFAULT, grant_seq(self->dev, GW, self->buf, self->total,
				     (__u64 *)(self->buf - self->page), 0));
}

/* Options without their flag. */
TEST_F(grant, create_seq_addr_without_flag)
{
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW, xp_ptr(self->buf),
				     self->total, xp_ptr(self->data), 0));
}

TEST_F(grant, create_eventfd_without_flag)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(-EINVAL, grant_raw(self->dev, GW, xp_ptr(self->buf),
				     self->total, 0, efd));
}

/* The window need not be mapped: ranges are resolved at each copy. */
TEST_F(grant, create_window_unmapped)
{
	size_t len = 2 * self->page;
	uint8_t *w = xp_map(len, PROT_READ | PROT_WRITE), *again;
	__u64 copied;
	int gfd;

	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, munmap(w, len));
	gfd = grant(self->dev, GRW, w, len);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EFAULT, gcopy(self->dev, CW, gfd, self->data, 100, 10, 0,
				 &copied));
	again = mmap(w, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(w, again);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 100, 10, 0,
			   &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(-1, xp_check(w + 10, 100, S_DATA, 0));
	ASSERT_EQ(-1, zero_check(w, 8));
}

/* ---------------------------------------------------------------------------
 * Fds that are not grants
 */

TEST_F(grant, fd_is_device)
{
	__u64 copied;

	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, self->dev, self->data, 100,
				 0, 0, &copied));
}

TEST_F(grant, fd_is_pipe)
{
	__u64 copied;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, p[0], self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CR, p[1], self->data, 100, 0, 0,
				 &copied));
}

TEST_F(grant, fd_is_eventfd)
{
	__u64 copied;
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, efd, self->data, 100, 0, 0,
				 &copied));
}

/* A grant's fd number after close. */
TEST_F(grant, fd_closed)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, close(gfd));
	ASSERT_EQ(-EBADF, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				&copied));
	ASSERT_EQ(XP_COPIED_POISON, copied);
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, fd_negative)
{
	__u64 copied;

	ASSERT_EQ(-EBADF, gcopy(self->dev, CW, -1, self->data, 100, 0, 0,
				&copied));
	ASSERT_EQ(-EBADF, gcopy(self->dev, CW, INT_MIN, self->data, 100, 0,
				0, &copied));
}

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT_DERIVE
 */

/* Offsets are relative to the sub-window: bytes land at parent + sub + off. */
TEST_F(grant, derive_subwindow)
{
	size_t p = self->page;
	struct region rg[] = { { p + 100 + 10, 200, S_DATA, 0 } };
	struct xpcopy_grant_info in;
	__u64 copied;
	int gfd, dfd;

	gfd = grant(self->dev, GRW, self->buf + p, 2 * p);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, GW, 100, 1000);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(FD_CLOEXEC, fcntl(dfd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, info(self->dev, dfd, &in));
	ASSERT_EQ((__u32)GW, in.rights);
	ASSERT_EQ(1000ULL, in.len);
	ASSERT_EQ(0, gcopy(self->dev, CW, dfd, self->data, 200, 10, 0,
			   &copied));
	ASSERT_EQ(200ULL, copied);
	ASSERT_IMAGE(rg, 1);
	/* Inside the parent's window but past the sub-window's end. */
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, dfd, self->data, 20, 990, 0,
				 &copied));
	/* The right the derived grant lacks. */
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR, dfd, self->data, 20, 0, 0,
				 &copied));
	ASSERT_IMAGE(rg, 1);
}

TEST_F(grant, derive_widen_rights)
{
	int gfd;

	gfd = grant(self->dev, GR, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, derive(self->dev, gfd, GRW, 0, 100));
	ASSERT_EQ(-EACCES, derive(self->dev, gfd, GW, 0, 100));
	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EACCES, derive(self->dev, gfd, GR, 0, 100));
}

TEST_F(grant, derive_widen_window)
{
	size_t p = self->page;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + p, p);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-ERANGE, derive(self->dev, gfd, GW, 0, p + 1));
	ASSERT_EQ(-ERANGE, derive(self->dev, gfd, GW, p - 10, 11));
	ASSERT_EQ(-ERANGE, derive(self->dev, gfd, GW, p + 1, 1));
	/* offset + len wraps 64 bits: EINVAL, as every wrapping range */
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW, 8, UINT64_MAX));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW, UINT64_MAX, 2));
	/* The whole window is fine. */
	ASSERT_LE(0, derive(self->dev, gfd, GW, 0, p));
}

TEST_F(grant, derive_bad_args)
{
	int gfd, p[2];

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW, 0, 0));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, 0, 0, 100));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW | XPCOPY_GRANT_SEQ, 0,
				  100));
	ASSERT_EQ(-EINVAL, derive(self->dev, gfd, GW | (1u << 20), 0, 100));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, derive(self->dev, p[0], GW, 0, 100));
	ASSERT_EQ(-EINVAL, derive(self->dev, self->dev, GW, 0, 100));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(-EBADF, derive(self->dev, p[0], GW, 0, 100));
}

/* Derived from derived: offsets add up; rights and windows only shrink. */
TEST_F(grant, derive_of_derived)
{
	size_t p = self->page;
	struct region rg[] = { { p + 1000 + 300 + 7, 50, S_DATA, 0 } };
	struct xpcopy_grant_info in;
	uint8_t back[50];
	__u64 copied;
	int gfd, d1, d2, d3;

	gfd = grant(self->dev, GRW, self->buf + p, 2 * p);
	ASSERT_LE(0, gfd);
	d1 = derive(self->dev, gfd, GRW, 1000, 2000);
	ASSERT_LE(0, d1);
	d2 = derive(self->dev, d1, GW, 300, 500);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, gcopy(self->dev, CW, d2, self->data, 50, 7, 0,
			   &copied));
	ASSERT_EQ(50ULL, copied);
	ASSERT_IMAGE(rg, 1);
	/* The same bytes seen through the middle grant. */
	ASSERT_EQ(0, gcopy(self->dev, CR, d1, back, 50, 307, 0, &copied));
	ASSERT_EQ(-1, xp_check(back, 50, S_DATA, 0));
	ASSERT_EQ(-ERANGE, derive(self->dev, d2, GW, 0, 501));
	ASSERT_EQ(-EACCES, derive(self->dev, d2, GR, 0, 10));
	d3 = derive(self->dev, d2, GW, 499, 1);
	ASSERT_LE(0, d3);
	ASSERT_EQ(0, info(self->dev, d3, &in));
	ASSERT_EQ(1ULL, in.len);
	ASSERT_EQ(-ERANGE, gcopy(self->dev, CW, d3, self->data, 2, 0, 0,
				 &copied));
	ASSERT_IMAGE(rg, 1);
}

TEST_F(grant, derive_from_revoked)
{
	int gfd;

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, derive(self->dev, gfd, GW, 0, 100));
}

/*
 * Derived grants nest at most 16 deep (EMLINK beyond), and a whole chain is
 * released in any order without trouble (it was freed by recursion once).
 */
TEST_F(grant, derive_depth_limit_and_release)
{
	int fds[18], n = 0, fd;

	fds[n++] = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, fds[0]);
	for (;;) {
		fd = derive(self->dev, fds[n - 1], GW, 0, self->page);
		if (fd < 0)
			break;
		ASSERT_GT(18, n);
		fds[n++] = fd;
	}
	ASSERT_EQ(-EMLINK, fd);
	ASSERT_EQ(17, n) TH_LOG("the original and 16 derived");
	/* the deepest still works, and nests in its ancestors' window */
	ASSERT_EQ(0, gcopy(self->dev, CW, fds[n - 1], self->data, 10, 0, 0,
			   NULL));
	/* close the ancestors first: the chain lives on in the deepest */
	for (int i = 0; i < n - 1; i++)
		ASSERT_EQ(0, close(fds[i]));
	ASSERT_EQ(0, gcopy(self->dev, CW, fds[n - 1], self->data, 10, 0, 0,
			   NULL));
	ASSERT_EQ(0, close(fds[n - 1]));
}

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT_REVOKE
 */

TEST_F(grant, revoke_by_owner)
{
	struct xpcopy_grant_info in;
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, gfd, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(XP_COPIED_POISON, copied);
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CR, gfd, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(1U, in.revoked);
	/* Revoking twice succeeds. */
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_OWNER_UNCHANGED();
}

TEST_F(grant, revoke_parent_ends_derived)
{
	struct xpcopy_grant_info in;
	__u64 copied;
	int gfd, d1, d2;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	d1 = derive(self->dev, gfd, GRW, 0, 1000);
	ASSERT_LE(0, d1);
	d2 = derive(self->dev, d1, GW, 0, 100);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, d1, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, d2, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(0, info(self->dev, d2, &in));
	ASSERT_EQ(1U, in.revoked);
	ASSERT_OWNER_UNCHANGED();
}

/* Revoking a derived grant leaves its parent and siblings working. */
TEST_F(grant, revoke_derived_only)
{
	struct region rg[] = { { self->page + 100, 100, S_DATA, 0 } };
	__u64 copied;
	int gfd, d1, d2;

	gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	d1 = derive(self->dev, gfd, GW, 0, 100);
	ASSERT_LE(0, d1);
	d2 = derive(self->dev, gfd, GW, 100, 100);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, grant_revoke(self->dev, d1));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW, d1, self->data, 100, 0, 0,
				 &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW, d2, self->data, 50, 0, 0, &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data + 50, 50, 150, 0,
			   &copied));
	ASSERT_IMAGE(rg, 1);
}

static int h_revoke_not_owner(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	__u64 copied;
	int ret;

	/* A forked copy of the owner is not the owner, even as root. */
	ret = grant_revoke(self->dev, a->gfd);
	HCHECK(ret == -EPERM, "root holder revoke: %d", ret);
	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	ret = grant_revoke(self->dev, a->gfd);
	HCHECK(ret == -EPERM, "uid %d holder revoke: %d", UID_A, ret);
	ret = gcopy(self->dev, CW, a->gfd, self->data, 100, 0, 0, &copied);
	HCHECK(ret == 0 && copied == 100, "copy after the failed revoke: %d",
	       ret);
	return 0;
}

TEST_F(grant, revoke_by_holder_eperm)
{
	struct region rg[] = { { self->page, 100, S_DATA, 0 } };
	struct holder_arg a;
	struct xpcopy_grant_info in;
	pid_t pid;

	REQUIRE_ROOT();
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_revoke_not_owner, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_EQ(0, info(self->dev, a.gfd, &in));
	ASSERT_EQ(0U, in.revoked);
	ASSERT_IMAGE(rg, 1);
}

/*
 * A holder derives two grants: it may revoke what it derived, not the
 * grant it was given; a fork of it (another address space) may not revoke
 * what its parent derived either.
 */
static int h_revoke_by_deriver(FIXTURE_DATA(grant) *self, void *arg)
{
	struct holder_arg *a = arg;
	struct res *r = self->r;
	int d1, d2, ret, status;
	__u64 copied;
	pid_t kid;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	d1 = derive(self->dev, a->gfd, GW, 0, 100);
	d2 = derive(self->dev, a->gfd, GW, 100, 100);
	HCHECK(d1 >= 0 && d2 >= 0, "derive: %d %d", d1, d2);
	kid = fork();
	if (kid == 0)
		_exit(grant_revoke(self->dev, d2) == -EPERM ? 0 : 1);
	HCHECK(kid > 0, "fork: %s", strerror(errno));
	HCHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0, "a fork of the deriver revoked");
	ret = grant_revoke(self->dev, d1);
	HCHECK(ret == 0, "revoke what it derived: %d", ret);
	ret = gcopy(self->dev, CW, d1, self->data, 100, 0, 0, &copied);
	HCHECK(ret == -ESTALE, "copy through the revoked grant: %d", ret);
	ret = gcopy(self->dev, CW, d2, self->data, 100, 0, 0, &copied);
	HCHECK(ret == 0 && copied == 100, "sibling: %d", ret);
	ret = grant_revoke(self->dev, a->gfd);
	HCHECK(ret == -EPERM, "revoke the grant it was given: %d", ret);
	ret = gcopy(self->dev, CW, a->gfd, self->data + 100, 100, 200, 0,
		    &copied);
	HCHECK(ret == 0 && copied == 100, "the grant it was given: %d", ret);
	return 0;
}

TEST_F(grant, revoke_by_deriver)
{
	struct region rg[] = {
		{ self->page + 100, 100, S_DATA, 0 },
		{ self->page + 200, 100, S_DATA, 100 },
	};
	struct holder_arg a;
	pid_t pid;

	REQUIRE_ROOT();
	a.gfd = grant(self->dev, GRW, self->buf + self->page, self->page);
	ASSERT_LE(0, a.gfd);
	pid = spawn(self, h_revoke_by_deriver, &a);
	ASSERT_HELPER_OK(pid, 30000);
	ASSERT_IMAGE(rg, 2);
}

TEST_F(grant, revoke_bad_args)
{
	struct xpcopy_grant_revoke rv = { .size = sizeof(rv) };
	int gfd, p[2];

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	rv.grant_fd = gfd;
	rv.flags = 1;
	ASSERT_EQ(-EINVAL, xp_ioctl(self->dev, XPCOPY_GRANT_REVOKE, &rv));
	rv.flags = 0;
	rv.__reserved = 1;
	ASSERT_EQ(-EINVAL, xp_ioctl(self->dev, XPCOPY_GRANT_REVOKE, &rv));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, grant_revoke(self->dev, p[0]));
	ASSERT_EQ(-EINVAL, grant_revoke(self->dev, self->dev));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(-EBADF, grant_revoke(self->dev, p[0]));
	/* None of that revoked the grant. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 8, 0, 0, NULL));
}

/* A revoked grant polls POLLERR, and read() fails with ESTALE. */
TEST_F(grant, revoked_poll_read)
{
	__u64 seqw = 0, v;
	struct pollfd pf;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->total, &seqw, 0);
	ASSERT_LE(0, gfd);
	pf = (struct pollfd){ .fd = gfd, .events = POLLIN };
	ASSERT_EQ(0, poll(&pf, 1, 0));
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	pf.revents = 0;
	ASSERT_EQ(1, poll(&pf, 1, 0));
	ASSERT_EQ(POLLERR, pf.revents & (POLLERR | POLLIN));
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(ESTALE, errno);
}

/* The derived grant of a revoked one polls POLLERR too. */
TEST_F(grant, revoked_parent_poll_derived)
{
	__u64 seqw = 0, v;
	struct pollfd pf;
	int gfd, dfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->total, &seqw, 0);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, GW, 0, 64);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	pf = (struct pollfd){ .fd = dfd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pf, 1, 0));
	ASSERT_EQ(POLLERR, pf.revents & (POLLERR | POLLIN));
	ASSERT_EQ(-1, read(dfd, &v, sizeof(v)));
	ASSERT_EQ(ESTALE, errno);
}

/* Revocation wakes a reader blocked in read(). */
TEST_F(grant, revoke_wakes_reader)
{
	struct reader rd = { .n = 1234 };
	__u64 seqw = 0;
	pthread_t t;

	rd.fd = grant_seq(self->dev, GW, self->buf, self->total, &seqw, 0);
	ASSERT_LE(0, rd.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, reader_thread, &rd));
	xp_sleep_ms(100);
	ASSERT_EQ(0, grant_revoke(self->dev, rd.fd));
	ASSERT_TRUE(join_ms(t, 20000)) TH_LOG("read() still blocked");
	ASSERT_EQ(-1, rd.n);
	ASSERT_EQ(ESTALE, rd.err);
}

/* ---------------------------------------------------------------------------
 * XPCOPY_GRANT_INFO
 */

TEST_F(grant, info_fields)
{
	__u64 seqw = 0, copied;
	struct xpcopy_grant_info in;
	int gfd, dfd, efd;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	gfd = grant_seq(self->dev, GRW, self->buf, 3 * self->page, &seqw,
			efd);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ((__u32)(GRW | XPCOPY_GRANT_SEQ | XPCOPY_GRANT_EVENTFD),
		  in.rights);
	ASSERT_EQ(3 * self->page, in.len);
	ASSERT_EQ(0ULL, in.seq);
	ASSERT_EQ(0U, in.revoked);
	ASSERT_EQ(0U, in.__reserved);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 42,
			   &copied));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(42ULL, in.seq);
	/* A derived grant: its own rights and window, the shared word. */
	dfd = derive(self->dev, gfd, GR, 8, 100);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, info(self->dev, dfd, &in));
	ASSERT_EQ((__u32)GR, in.rights & GRW);
	ASSERT_EQ(100ULL, in.len);
	ASSERT_EQ(42ULL, in.seq);
	ASSERT_EQ(0U, in.revoked);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(1U, in.revoked);
	ASSERT_EQ(0, info(self->dev, dfd, &in));
	ASSERT_EQ(1U, in.revoked);
}

/* Without options the rights are just the rights. */
TEST_F(grant, info_plain)
{
	struct xpcopy_grant_info in;
	int gfd;

	gfd = grant(self->dev, GR, self->buf, 5);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ((__u32)GR, in.rights);
	ASSERT_EQ(5ULL, in.len);
	ASSERT_EQ(0ULL, in.seq);
	ASSERT_EQ(0U, in.revoked);
}

TEST_F(grant, info_bad_args)
{
	struct xpcopy_grant_info in;
	int gfd, p[2];

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	in.grant_fd = gfd;
	in.flags = 1;
	ASSERT_EQ(-EINVAL, xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &in));
	in.flags = 0;
	in.__reserved = 1;
	ASSERT_EQ(-EINVAL, xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &in));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, info(self->dev, p[0], &in));
	ASSERT_EQ(-EINVAL, info(self->dev, self->dev, &in));
	ASSERT_EQ(0, close(p[0]));
	ASSERT_EQ(-EBADF, info(self->dev, p[0], &in));
}

/*
 * rights, len, seq and revoked are out fields: the header asks only flags
 * and __reserved to be 0, so the struct an INFO filled can be passed again.
 */
TEST_F(grant, info_out_fields_not_inputs)
{
	struct xpcopy_grant_info in;
	int gfd;

	gfd = grant(self->dev, GRW, self->buf, self->total);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(0, xp_ioctl(self->dev, XPCOPY_GRANT_INFO, &in))
		TH_LOG("INFO rejects a struct an INFO filled in");
	ASSERT_EQ(self->total, in.len);
}

TEST_HARNESS_MAIN
