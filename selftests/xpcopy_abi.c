// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy ABI tests: XPCOPY_FEATURES, the size/extensibility rules every
 * command follows, and the errno table of include/uapi/linux/xpcopy.h.
 *
 * Each errno test starts from one valid request (a 100-byte copy of the
 * process into itself, which needs no privilege) and breaks exactly one
 * thing in it, so that it reaches exactly one error path; baseline_self_copy
 * shows that the unbroken request works. After every failed call the
 * destination is checked to be unchanged.
 */
#include <sched.h>
#include <sys/stat.h>

#include "xpcopy_test.h"

#define SEED_A	0xa11ceULL
#define SEED_B	0xb0bULL
#define A_OFF	3
#define B_OFF	5
#define LEN	100ULL

FIXTURE(xpcopy)
{
	int fd;
	size_t page;
	uint8_t *a, *b;		/* two pages each, guard pages around */
	struct xpcopy_iovec l, r;
	struct xpcopy_copy c;	/* valid: copy a+3..a+103 to b+5..b+105 */
	uint64_t saved_batch;	/* batch_pages to restore, 0 if untouched */
	struct xp_target t;
};

FIXTURE_SETUP(xpcopy)
{
	xp_target_init(&self->t);
	self->saved_batch = 0;
	XPCOPY_OPEN_OR_SKIP(self->fd);
	self->page = xp_page_size();
	self->a = xp_map_guarded(2 * self->page);
	self->b = xp_map_guarded(2 * self->page);
	ASSERT_NE(NULL, self->a);
	ASSERT_NE(NULL, self->b);
	xp_fill(self->a, 2 * self->page, SEED_A, 0);
	xp_fill(self->b, 2 * self->page, SEED_B, 0);
	self->l.addr = xp_ptr(self->a + A_OFF);
	self->l.len = LEN;
	self->r.addr = xp_ptr(self->b + B_OFF);
	self->r.len = LEN;
	xp_copy_init(&self->c, XPCOPY_COPY_WRITE, getpid(), &self->l, 1,
		     &self->r, 1);
}

FIXTURE_TEARDOWN(xpcopy)
{
	xp_target_kill(&self->t);
	if (self->saved_batch)
		xp_write_u64(XPCOPY_BATCH_PARAM, self->saved_batch);
	if (self->fd >= 0)
		close(self->fd);
}

/* b is untouched: nothing was copied. */
#define ASSERT_B_UNCHANGED() \
	ASSERT_EQ(-1, xp_check(self->b, 2 * self->page, SEED_B, 0)) \
		TH_LOG("destination changed by a failed copy")

/* b holds the baseline copy's result. */
static long long b_after_copy(FIXTURE_DATA(xpcopy) *self)
{
	long long d;

	d = xp_check(self->b, B_OFF, SEED_B, 0);
	if (d >= 0)
		return d;
	d = xp_check(self->b + B_OFF, LEN, SEED_A, A_OFF);
	if (d >= 0)
		return B_OFF + d;
	d = xp_check(self->b + B_OFF + LEN, 2 * self->page - B_OFF - LEN,
		     SEED_B, B_OFF + LEN);
	if (d >= 0)
		return B_OFF + LEN + d;
	return -1;
}

static int call(int fd, unsigned long cmd, void *arg)
{
	return xp_ioctl(fd, cmd, arg);
}

/*
 * Each of @flags on the baseline copy is refused with EINVAL and leaves b
 * as it was.
 */
static void copy_flags_refused(struct __test_metadata *_metadata,
			       FIXTURE_DATA(xpcopy) *self,
			       const __u32 *flags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct xpcopy_copy c = self->c;

		c.flags = flags[i];
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("flags 0x%x", flags[i]);
		ASSERT_B_UNCHANGED();
	}
}

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
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		xp_die_with_parent(parent);
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

/* ---- XPCOPY_FEATURES ---- */

TEST_F(xpcopy, features)
{
	struct xpcopy_features f;
	uint64_t batch;

	ASSERT_EQ(0, xp_features(self->fd, &f));
	EXPECT_EQ(sizeof(f), f.size);
	EXPECT_EQ(0U, f.flags);
	EXPECT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version);
	EXPECT_EQ(1ULL << XPCOPY_CMD_FEATURES,
		  f.commands & (1ULL << XPCOPY_CMD_FEATURES));
	EXPECT_EQ(1ULL << XPCOPY_CMD_COPY, f.commands & (1ULL << XPCOPY_CMD_COPY));
	/* and the grant commands of this header */
	for (unsigned int nr = XPCOPY_CMD_GRANT; nr <= XPCOPY_CMD_GRANT_INFO;
	     nr++)
		EXPECT_EQ(1ULL << nr, f.commands & (1ULL << nr));
	EXPECT_EQ((__u64)(XPCOPY_COPY_READ | XPCOPY_COPY_WRITE |
			  XPCOPY_COPY_BOUNCE),
		  f.copy_flags & (XPCOPY_COPY_READ | XPCOPY_COPY_WRITE |
				  XPCOPY_COPY_BOUNCE));
	EXPECT_EQ((__u64)(XPCOPY_COPY_GRANT | XPCOPY_COPY_PUBLISH),
		  f.copy_flags & (XPCOPY_COPY_GRANT | XPCOPY_COPY_PUBLISH));
	EXPECT_EQ((__u64)(XPCOPY_COPY_INLINE | XPCOPY_COPY_WORKER),
		  f.copy_flags & (XPCOPY_COPY_INLINE | XPCOPY_COPY_WORKER));
	EXPECT_EQ((__u32)XPCOPY_IOV_MAX, f.max_iov);
	EXPECT_LE(1U, f.nr_workers);
	ASSERT_EQ(0, xp_batch_pages(&batch))
		TH_LOG("cannot read %s", XPCOPY_BATCH_PARAM);
	EXPECT_LE(1U, f.batch_pages);
	EXPECT_EQ(batch, f.batch_pages);
}

/* The commands bitmap and ENOTTY agree: a known command never says ENOTTY,
 * an unknown one always does. */
TEST_F(xpcopy, features_commands_match_enotty)
{
	struct xpcopy_features f;
	uint8_t buf[256];

	ASSERT_EQ(0, xp_features(self->fd, &f));
	for (unsigned int nr = 0; nr < 64; nr++) {
		unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, XPCOPY_TYPE,
					 nr, 0);
		int ret;

		/* size 0: a known command rejects it with EINVAL */
		memset(buf, 0, sizeof(buf));
		ret = call(self->fd, cmd, buf);
		if (f.commands & (1ULL << nr)) {
			EXPECT_NE(-ENOTTY, ret) TH_LOG("nr %u in commands", nr);
		} else {
			EXPECT_EQ(-ENOTTY, ret) TH_LOG("nr %u not in commands", nr);
		}
	}
}

TEST_F(xpcopy, features_batch_pages_follows_param)
{
	struct xpcopy_features f;
	uint64_t v = 0;

	ASSERT_EQ(0, xp_batch_pages(&self->saved_batch));
	ASSERT_LE(1ULL, self->saved_batch);
	for (uint64_t want = 1; want <= 64; want = want * 4 + 3) {
		ASSERT_EQ(0, xp_write_u64(XPCOPY_BATCH_PARAM, want))
			TH_LOG("batch_pages is not writable by root");
		ASSERT_EQ(0, xp_batch_pages(&v));
		EXPECT_EQ(want, v);
		ASSERT_EQ(0, xp_features(self->fd, &f));
		EXPECT_EQ(want, f.batch_pages);
	}
}

TEST_F(xpcopy, features_flags_nonzero)
{
	struct xpcopy_features f;

	for (int bit = 0; bit < 32; bit++) {
		memset(&f, 0, sizeof(f));
		f.size = sizeof(f);
		f.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_FEATURES, &f))
			TH_LOG("flags 0x%x", f.flags);
	}
}

/* ---- struct size rules, for every command ---- */

/*
 * Every command of the header. v1 is the size of the command's first
 * version: XPCOPY_COPY was first published without @seq (48 bytes), so a
 * 48-byte struct must still work; the others are as first published.
 */
struct cmd_desc {
	const char *name;
	unsigned int nr;
	unsigned long cmd;
	uint32_t v1;		/* first version: one byte less is EINVAL */
	uint32_t ksize;		/* this header's struct */
};

#define CMD(_nr, _cmd, _struct, _v1) \
	{ #_cmd, _nr, _cmd, _v1, sizeof(struct _struct) }

static const struct cmd_desc all_cmds[] = {
	CMD(XPCOPY_CMD_FEATURES, XPCOPY_FEATURES, xpcopy_features,
	    offsetofend(struct xpcopy_features, nr_workers)),
	CMD(XPCOPY_CMD_COPY, XPCOPY_COPY, xpcopy_copy,
	    offsetofend(struct xpcopy_copy, copied)),
	CMD(XPCOPY_CMD_GRANT, XPCOPY_GRANT, xpcopy_grant,
	    sizeof(struct xpcopy_grant)),
	CMD(XPCOPY_CMD_GRANT_DERIVE, XPCOPY_GRANT_DERIVE, xpcopy_grant_derive,
	    sizeof(struct xpcopy_grant_derive)),
	CMD(XPCOPY_CMD_GRANT_REVOKE, XPCOPY_GRANT_REVOKE, xpcopy_grant_revoke,
	    sizeof(struct xpcopy_grant_revoke)),
	CMD(XPCOPY_CMD_GRANT_INFO, XPCOPY_GRANT_INFO, xpcopy_grant_info,
	    sizeof(struct xpcopy_grant_info)),
};

/* A grant over b, for the commands that take one. */
static int make_grant(FIXTURE_DATA(xpcopy) *self, __u32 rights)
{
	struct xpcopy_grant g = {
		.size = sizeof(g),
		.flags = rights,
		.addr = xp_ptr(self->b),
		.len = 2 * self->page,
	};

	return xp_ioctl(self->fd, XPCOPY_GRANT, &g);
}

static int grant_info(int fd, int grant_fd, struct xpcopy_grant_info *gi)
{
	memset(gi, 0, sizeof(*gi));
	gi->size = sizeof(*gi);
	gi->grant_fd = grant_fd;
	return xp_ioctl(fd, XPCOPY_GRANT_INFO, gi);
}

/* The grants the valid structs name: made once per test, on first use. */
static int the_grant = -1, the_revokable = -1;

static void cmd_valid(FIXTURE_DATA(xpcopy) *self, const struct cmd_desc *d,
		      void *buf)
{
	union {
		struct xpcopy_features f;
		struct xpcopy_copy c;
		struct xpcopy_grant g;
		struct xpcopy_grant_derive gd;
		struct xpcopy_grant_revoke gr;
		struct xpcopy_grant_info gi;
	} u;

	memset(&u, 0, sizeof(u));
	switch (d->nr) {
	case XPCOPY_CMD_FEATURES:
		u.f.size = sizeof(u.f);
		break;
	case XPCOPY_CMD_COPY:
		u.c = self->c;
		break;
	case XPCOPY_CMD_GRANT:
		u.g.size = sizeof(u.g);
		u.g.flags = XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE;
		u.g.addr = xp_ptr(self->b);
		u.g.len = 2 * self->page;
		break;
	case XPCOPY_CMD_GRANT_DERIVE:
		if (the_grant < 0)
			the_grant = make_grant(self, XPCOPY_GRANT_READ |
						     XPCOPY_GRANT_WRITE);
		u.gd.size = sizeof(u.gd);
		u.gd.flags = XPCOPY_GRANT_READ;
		u.gd.grant_fd = the_grant;
		u.gd.offset = self->page;
		u.gd.len = self->page;
		break;
	case XPCOPY_CMD_GRANT_REVOKE:
		/* revoking twice succeeds */
		if (the_revokable < 0)
			the_revokable = make_grant(self, XPCOPY_GRANT_READ);
		u.gr.size = sizeof(u.gr);
		u.gr.grant_fd = the_revokable;
		break;
	case XPCOPY_CMD_GRANT_INFO:
		if (the_grant < 0)
			the_grant = make_grant(self, XPCOPY_GRANT_READ |
						     XPCOPY_GRANT_WRITE);
		u.gi.size = sizeof(u.gi);
		u.gi.grant_fd = the_grant;
		break;
	}
	memcpy(buf, &u, d->ksize);
}

/*
 * Issue cmd with a struct of declared size @sz in a zeroed two-page buffer
 * (guard pages around): the valid struct first, then @tail_val at byte
 * @tail_pos when tail_pos >= 0. Returns -errno or the ioctl's return.
 */
static int sized_call(FIXTURE_DATA(xpcopy) *self, const struct cmd_desc *d,
		      uint8_t *buf, uint32_t sz, long tail_pos, uint8_t tail_val)
{
	memset(buf, 0, 2 * self->page);
	cmd_valid(self, d, buf);
	memcpy(buf, &sz, sizeof(sz));
	if (tail_pos >= 0)
		buf[tail_pos] = tail_val;
	xp_fill(self->b, 2 * self->page, SEED_B, 0);
	return call(self->fd, d->cmd, buf);
}

/* After sized_call: the command worked, and did its job. */
static void check_worked(struct __test_metadata *_metadata,
			 FIXTURE_DATA(xpcopy) *self, const struct cmd_desc *d,
			 uint8_t *buf, uint32_t sz, int ret)
{
	struct xpcopy_grant_info gi;
	uint32_t seen = sz < d->ksize ? sz : d->ksize;

	switch (d->nr) {
	case XPCOPY_CMD_FEATURES: {
		struct xpcopy_features f;

		EXPECT_EQ(0, ret) TH_LOG("%s size %u", d->name, sz);
		memcpy(&f, buf, sizeof(f));
		EXPECT_EQ((__u32)XPCOPY_ABI_VERSION, f.abi_version)
			TH_LOG("%s size %u", d->name, sz);
		EXPECT_EQ((__u32)XPCOPY_IOV_MAX, f.max_iov)
			TH_LOG("%s size %u", d->name, sz);
		break;
	}
	case XPCOPY_CMD_COPY: {
		struct xpcopy_copy c;

		EXPECT_EQ(0, ret) TH_LOG("%s size %u", d->name, sz);
		memcpy(&c, buf, sizeof(c));
		EXPECT_EQ(LEN, c.copied) TH_LOG("%s size %u", d->name, sz);
		EXPECT_EQ(-1, b_after_copy(self))
			TH_LOG("%s size %u: bytes wrong", d->name, sz);
		break;
	}
	case XPCOPY_CMD_GRANT:
	case XPCOPY_CMD_GRANT_DERIVE: {
		bool derive = d->nr == XPCOPY_CMD_GRANT_DERIVE;

		/* the new fd is the return value */
		EXPECT_LT(0, ret) TH_LOG("%s size %u", d->name, sz);
		if (ret <= 0)
			break;
		EXPECT_EQ(0, grant_info(self->fd, ret, &gi));
		EXPECT_EQ((__u64)(derive ? 1 : 2) * self->page, gi.len);
		EXPECT_EQ((__u32)(derive ? XPCOPY_GRANT_READ :
			   XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE), gi.rights);
		close(ret);
		break;
	}
	case XPCOPY_CMD_GRANT_REVOKE:
		EXPECT_EQ(0, ret) TH_LOG("%s size %u", d->name, sz);
		EXPECT_EQ(0, grant_info(self->fd, the_revokable, &gi));
		EXPECT_EQ(1U, gi.revoked);
		break;
	case XPCOPY_CMD_GRANT_INFO:
		EXPECT_EQ(0, ret) TH_LOG("%s size %u", d->name, sz);
		memcpy(&gi, buf, sizeof(gi));
		EXPECT_EQ((__u64)2 * self->page, gi.len);
		EXPECT_EQ((__u32)(XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE),
			  gi.rights);
		EXPECT_EQ(0U, gi.revoked);
		break;
	}
	/* nothing written past what the caller declared, nor past the
	 * kernel's struct (the byte at sz may be the caller's 0xff marker) */
	for (size_t i = seen; i < 2 * self->page; i++) {
		if (buf[i] && !(i == sz && buf[i] == 0xff)) {
			EXPECT_EQ(0, buf[i])
				TH_LOG("%s size %u: byte %zu written", d->name,
				       sz, i);
			break;
		}
	}
}

/* The iommufd-style sweep: one byte short of the first version, one byte
 * longer than the kernel's struct with a non-zero tail, and with a zero
 * tail; and the exact size. */
TEST_F(xpcopy, cmd_length)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];
		uint32_t k = d->ksize;
		int ret;

		/* the ioctl number carries the header's struct size */
		EXPECT_EQ(d->ksize, _IOC_SIZE(d->cmd)) TH_LOG("%s", d->name);
		EXPECT_EQ(d->nr, _IOC_NR(d->cmd)) TH_LOG("%s", d->name);

		EXPECT_EQ(-EINVAL, sized_call(self, d, buf, d->v1 - 1, k, 0xff))
			TH_LOG("%s: one byte short", d->name);
		ASSERT_B_UNCHANGED();
		EXPECT_EQ(-E2BIG, sized_call(self, d, buf, k + 1, k, 0xff))
			TH_LOG("%s: one byte long, non-zero", d->name);
		ASSERT_B_UNCHANGED();
		ret = sized_call(self, d, buf, k, k, 0xff);
		check_worked(_metadata, self, d, buf, k, ret);
		ret = sized_call(self, d, buf, k + 1, -1, 0);
		check_worked(_metadata, self, d, buf, k + 1, ret);
	}
}

TEST_F(xpcopy, struct_too_short)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];

		for (uint32_t sz = 0; sz < d->v1; sz++) {
			EXPECT_EQ(-EINVAL, sized_call(self, d, buf, sz, -1, 0))
				TH_LOG("%s size %u", d->name, sz);
			ASSERT_B_UNCHANGED();
		}
	}
}

/* Sizes from the first version up to the kernel's struct work: a caller
 * built against the first header still works. */
TEST_F(xpcopy, struct_older_version_ok)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];

		for (uint32_t sz = d->v1; sz <= d->ksize; sz++) {
			int ret = sized_call(self, d, buf, sz, -1, 0);

			check_worked(_metadata, self, d, buf, sz, ret);
		}
	}
}

TEST_F(xpcopy, struct_tail_nonzero)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];
		uint32_t sizes[] = { d->ksize + 1, d->ksize + 7, d->ksize + 8,
				     d->ksize + 64, self->page };

		for (size_t j = 0; j < ARRAY_SIZE(sizes); j++) {
			uint32_t sz = sizes[j];

			/* first and last byte of the tail */
			EXPECT_EQ(-E2BIG,
				  sized_call(self, d, buf, sz, d->ksize, 1))
				TH_LOG("%s size %u, first tail byte", d->name, sz);
			ASSERT_B_UNCHANGED();
			EXPECT_EQ(-E2BIG,
				  sized_call(self, d, buf, sz, sz - 1, 0x80))
				TH_LOG("%s size %u, last tail byte", d->name, sz);
			ASSERT_B_UNCHANGED();
		}
	}
}

/* Longer than the kernel's struct with a zero tail, up to a page: works. */
TEST_F(xpcopy, struct_tail_zero_ok)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];
		uint32_t sizes[] = { d->ksize + 1, d->ksize + 8, 512,
				     self->page - 1, self->page };

		for (size_t j = 0; j < ARRAY_SIZE(sizes); j++) {
			uint32_t sz = sizes[j];
			int ret;

			/* a non-zero byte just past the declared size is not
			 * part of the struct */
			ret = sized_call(self, d, buf, sz, sz, 0xff);
			check_worked(_metadata, self, d, buf, sz, ret);
		}
	}
}

TEST_F(xpcopy, struct_larger_than_page)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];
		uint32_t sizes[] = { self->page + 1, 2 * self->page,
				     2 * self->page + 1, 1U << 20, UINT32_MAX };

		for (size_t j = 0; j < ARRAY_SIZE(sizes); j++) {
			/* all readable bytes past the struct are zero */
			EXPECT_EQ(-E2BIG,
				  sized_call(self, d, buf, sizes[j], -1, 0))
				TH_LOG("%s size %u", d->name, sizes[j]);
			ASSERT_B_UNCHANGED();
		}
	}
}

/* The size bits of the ioctl number do not matter, only struct.size. */
TEST_F(xpcopy, cmd_size_bits_ignored)
{
	uint8_t *buf = xp_map_guarded(2 * self->page);
	unsigned int sizes[] = { 0, 1, 8, 40, 47, 48, 49, 56, 4095,
				 _IOC_SIZEMASK };

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];

		for (size_t j = 0; j < ARRAY_SIZE(sizes); j++) {
			struct cmd_desc alt = *d;
			int ret;

			alt.cmd = _IOC(_IOC_READ | _IOC_WRITE, XPCOPY_TYPE,
				       d->nr, sizes[j]);
			ret = sized_call(self, &alt, buf, d->ksize, -1, 0);
			if (ret < 0)
				TH_LOG("%s with size bits %u", d->name, sizes[j]);
			check_worked(_metadata, self, &alt, buf, d->ksize, ret);
		}
	}
}

/* EFAULT: the command struct cannot be read. */
TEST_F(xpcopy, cmd_struct_unreadable)
{
	uint8_t *buf = xp_map_guarded(self->page);
	uint8_t *end = buf + self->page;	/* guard page from here */

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		const struct cmd_desc *d = &all_cmds[i];
		uint32_t sz;
		uint8_t *p;

		EXPECT_EQ(-EFAULT, call(self->fd, d->cmd, NULL))
			TH_LOG("%s, NULL", d->name);
		EXPECT_EQ(-EFAULT, call(self->fd, d->cmd,
					(void *)(uintptr_t)XP_KERNEL_ADDR))
			TH_LOG("%s, kernel address", d->name);
		EXPECT_EQ(-EFAULT, call(self->fd, d->cmd, end))
			TH_LOG("%s, in a guard page", d->name);

		/* size readable, the rest of the struct in the guard page */
		p = end - 8;
		memset(p, 0, 8);
		sz = d->ksize;
		memcpy(p, &sz, sizeof(sz));
		EXPECT_EQ(-EFAULT, call(self->fd, d->cmd, p))
			TH_LOG("%s, struct crosses into a guard page", d->name);

		/* the whole kernel struct readable, its declared tail not */
		p = end - d->ksize;
		cmd_valid(self, d, p);
		sz = d->ksize + 16;
		memcpy(p, &sz, sizeof(sz));
		EXPECT_EQ(-EFAULT, call(self->fd, d->cmd, p))
			TH_LOG("%s, tail in a guard page", d->name);
		ASSERT_B_UNCHANGED();
	}
}

/* ---- ENOTTY ---- */

TEST_F(xpcopy, unknown_cmd_nr)
{
	struct xpcopy_features f;

	ASSERT_EQ(0, xp_features(self->fd, &f));
	for (unsigned int nr = 0; nr <= 0xff; nr++) {
		struct xpcopy_copy c = self->c;

		if (nr < 64 && (f.commands & (1ULL << nr)))
			continue;
		EXPECT_EQ(-ENOTTY, call(self->fd,
					_IOWR(XPCOPY_TYPE, nr, struct xpcopy_copy),
					&c))
			TH_LOG("nr 0x%x", nr);
		ASSERT_B_UNCHANGED();
	}
}

TEST_F(xpcopy, unknown_cmd_type)
{
	/* a type byte other than 'x', with xpcopy's own numbers and sizes */
	const unsigned int types[] = { 'y', 'w', 0x01, 0xfe };

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		struct xpcopy_features f = { .size = sizeof(f) };
		struct xpcopy_copy c = self->c;

		EXPECT_EQ(-ENOTTY, call(self->fd,
					_IOWR(types[i], XPCOPY_CMD_FEATURES,
					      struct xpcopy_features), &f))
			TH_LOG("type 0x%x, FEATURES nr", types[i]);
		EXPECT_EQ(0U, f.abi_version);
		EXPECT_EQ(-ENOTTY, call(self->fd,
					_IOWR(types[i], XPCOPY_CMD_COPY,
					      struct xpcopy_copy), &c))
			TH_LOG("type 0x%x, COPY nr", types[i]);
		ASSERT_B_UNCHANGED();
	}
}

/* ---- XPCOPY_COPY: the valid request, then each way to break it ---- */

TEST_F(xpcopy, baseline_self_copy)
{
	struct xpcopy_copy c = self->c;

	ASSERT_EQ(0, call(self->fd, XPCOPY_COPY, &c));
	EXPECT_EQ(LEN, c.copied);
	EXPECT_EQ(-1, b_after_copy(self));
	EXPECT_EQ(-1, xp_check(self->a, 2 * self->page, SEED_A, 0));

	/* the same range read back the other way */
	xp_fill(self->b, 2 * self->page, SEED_B, 0);
	c = self->c;
	c.flags = XPCOPY_COPY_READ;
	c.local_iov = xp_ptr(&self->r);
	c.remote_iov = xp_ptr(&self->l);
	ASSERT_EQ(0, call(self->fd, XPCOPY_COPY, &c));
	EXPECT_EQ(LEN, c.copied);
	EXPECT_EQ(-1, b_after_copy(self));

	xp_fill(self->b, 2 * self->page, SEED_B, 0);
	c = self->c;
	c.flags |= XPCOPY_COPY_BOUNCE;
	ASSERT_EQ(0, call(self->fd, XPCOPY_COPY, &c));
	EXPECT_EQ(LEN, c.copied);
	EXPECT_EQ(-1, b_after_copy(self));
}

/* The caller-context path cannot also be the workers' or the bounce's. */
TEST_F(xpcopy, copy_path_conflict)
{
	const __u32 flags[] = {
		XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE | XPCOPY_COPY_WORKER,
		XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE | XPCOPY_COPY_BOUNCE,
	};

	copy_flags_refused(_metadata, self, flags, ARRAY_SIZE(flags));
}

/*
 * Without a path flag, a copy of at most inline_max bytes runs in the
 * caller's context and a larger one on the workers: the inline_copies
 * counter tells which.
 */
TEST_F(xpcopy, copy_path_by_size)
{
	uint64_t before, after, max;
	struct xpcopy_copy c = self->c;

	ASSERT_EQ(0, xp_read_u64("/sys/module/xpcopy/parameters/inline_max",
				 &max));
	ASSERT_LE((uint64_t)LEN, max) TH_LOG("inline_max below the test size");
	ASSERT_EQ(0, xp_stat("inline_copies", &before));
	ASSERT_EQ(0, call(self->fd, XPCOPY_COPY, &c));
	EXPECT_EQ(LEN, c.copied);
	ASSERT_EQ(0, xp_stat("inline_copies", &after));
	EXPECT_EQ(before + 1, after);
	EXPECT_EQ(-1, b_after_copy(self));

	xp_fill(self->b, 2 * self->page, SEED_B, 0);
	c = self->c;
	c.flags |= XPCOPY_COPY_WORKER;
	ASSERT_EQ(0, call(self->fd, XPCOPY_COPY, &c));
	EXPECT_EQ(LEN, c.copied);
	ASSERT_EQ(0, xp_stat("inline_copies", &before));
	EXPECT_EQ(after, before);
	EXPECT_EQ(-1, b_after_copy(self));
}

TEST_F(xpcopy, copy_unknown_flag)
{
	struct xpcopy_features f;

	ASSERT_EQ(0, xp_features(self->fd, &f));
	for (int bit = 0; bit < 32; bit++) {
		struct xpcopy_copy c = self->c;

		if (f.copy_flags & (1ULL << bit))
			continue;
		c.flags |= 1U << bit;
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("flag bit %d", bit);
		ASSERT_B_UNCHANGED();
	}
}

TEST_F(xpcopy, copy_reserved_nonzero)
{
	const __u32 vals[] = { 1, 0x80000000, 0xffffffff };

	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		struct xpcopy_copy c = self->c;

		c.__reserved = vals[i];
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("__reserved 0x%x", vals[i]);
		ASSERT_B_UNCHANGED();
	}
}

TEST_F(xpcopy, copy_no_direction)
{
	const __u32 flags[] = { 0, XPCOPY_COPY_BOUNCE };

	copy_flags_refused(_metadata, self, flags, ARRAY_SIZE(flags));
}

TEST_F(xpcopy, copy_both_directions)
{
	const __u32 flags[] = {
		XPCOPY_COPY_READ | XPCOPY_COPY_WRITE,
		XPCOPY_COPY_READ | XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE,
	};

	copy_flags_refused(_metadata, self, flags, ARRAY_SIZE(flags));
}

TEST_F(xpcopy, local_range_overflow)
{
	const struct xpcopy_iovec bad[] = {
		{ UINT64_MAX - LEN / 2, LEN },		/* end wraps */
		{ UINT64_MAX, 2 },
		{ 0, 0 },				/* filled in below */
	};
	struct xpcopy_iovec v[ARRAY_SIZE(bad)];

	memcpy(v, bad, sizeof(v));
	v[2].addr = xp_ptr(self->a);			/* user start */
	v[2].len = UINT64_MAX;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct xpcopy_copy c = self->c;

		c.local_iov = xp_ptr(&v[i]);
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("local {0x%llx, 0x%llx}",
			       (unsigned long long)v[i].addr,
			       (unsigned long long)v[i].len);
		ASSERT_B_UNCHANGED();
	}
}

TEST_F(xpcopy, remote_range_overflow)
{
	struct xpcopy_iovec v[3] = {
		{ UINT64_MAX - LEN / 2, LEN },
		{ UINT64_MAX, 2 },
		{ xp_ptr(self->b), UINT64_MAX },
	};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct xpcopy_copy c = self->c;

		c.remote_iov = xp_ptr(&v[i]);
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("remote {0x%llx, 0x%llx}",
			       (unsigned long long)v[i].addr,
			       (unsigned long long)v[i].len);
		ASSERT_B_UNCHANGED();
	}
	/* the overflowing range may come after a good one */
	{
		struct xpcopy_iovec two[2] = {
			{ xp_ptr(self->b + B_OFF), LEN / 2 },
			{ UINT64_MAX - 10, LEN },
		};
		struct xpcopy_copy c = self->c;

		c.remote_iov = xp_ptr(two);
		c.remote_cnt = 2;
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c));
		ASSERT_B_UNCHANGED();
	}
}

/* XPCOPY_IOV_MAX + 1 readable, valid segments. */
static struct xpcopy_iovec *many_segs(uint8_t *base, size_t n)
{
	struct xpcopy_iovec *v = calloc(n, sizeof(*v));

	for (size_t i = 0; v && i < n; i++) {
		v[i].addr = xp_ptr(base + (i % 50));
		v[i].len = 1;
	}
	return v;
}

TEST_F(xpcopy, local_too_many_segments)
{
	struct xpcopy_iovec *v = many_segs(self->a, XPCOPY_IOV_MAX + 1);
	const __u32 cnts[] = { XPCOPY_IOV_MAX + 1, XPCOPY_IOV_MAX + 2, 1U << 20,
			       UINT32_MAX };

	ASSERT_NE(NULL, v);
	for (size_t i = 0; i < ARRAY_SIZE(cnts); i++) {
		struct xpcopy_copy c = self->c;

		c.local_iov = xp_ptr(v);
		c.local_cnt = cnts[i];
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("local_cnt %u", cnts[i]);
		ASSERT_B_UNCHANGED();
	}
	free(v);
}

TEST_F(xpcopy, remote_too_many_segments)
{
	struct xpcopy_iovec *v = many_segs(self->b + B_OFF, XPCOPY_IOV_MAX + 1);
	const __u32 cnts[] = { XPCOPY_IOV_MAX + 1, XPCOPY_IOV_MAX + 2, 1U << 20,
			       UINT32_MAX };

	ASSERT_NE(NULL, v);
	for (size_t i = 0; i < ARRAY_SIZE(cnts); i++) {
		struct xpcopy_copy c = self->c;

		c.remote_iov = xp_ptr(v);
		c.remote_cnt = cnts[i];
		EXPECT_EQ(-EINVAL, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("remote_cnt %u", cnts[i]);
		ASSERT_B_UNCHANGED();
	}
	free(v);
}

/* EFAULT: an iovec array cannot be read. */
static void iov_unreadable(struct __test_metadata *_metadata,
			   FIXTURE_DATA(xpcopy) *self, bool local)
{
	uint8_t *arr = xp_map_guarded(self->page);
	struct xpcopy_iovec *last;
	struct {
		const char *what;
		__u64 ptr;
		__u32 cnt;
	} cases[3];

	ASSERT_NE(NULL, arr);
	/* two entries: the first readable, the second in the guard page */
	last = (struct xpcopy_iovec *)(arr + self->page) - 1;
	last->addr = local ? self->l.addr : self->r.addr;
	last->len = LEN / 2;
	cases[0].what = "NULL";
	cases[0].ptr = 0;
	cases[0].cnt = 1;
	cases[1].what = "guard page";
	cases[1].ptr = xp_ptr(arr + self->page);
	cases[1].cnt = 1;
	cases[2].what = "second entry in the guard page";
	cases[2].ptr = xp_ptr(last);
	cases[2].cnt = 2;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct xpcopy_copy c = self->c;
		struct xpcopy_iovec other = local ? self->r : self->l;

		if (local) {
			c.local_iov = cases[i].ptr;
			c.local_cnt = cases[i].cnt;
			c.remote_iov = xp_ptr(&other);
		} else {
			c.remote_iov = cases[i].ptr;
			c.remote_cnt = cases[i].cnt;
			c.local_iov = xp_ptr(&other);
		}
		EXPECT_EQ(-EFAULT, call(self->fd, XPCOPY_COPY, &c))
			TH_LOG("%s iov array: %s", local ? "local" : "remote",
			       cases[i].what);
		ASSERT_B_UNCHANGED();
	}
}

TEST_F(xpcopy, local_iov_unreadable)
{
	iov_unreadable(_metadata, self, true);
}

TEST_F(xpcopy, remote_iov_unreadable)
{
	iov_unreadable(_metadata, self, false);
}

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
	struct child_res *res = shared_res();

	ASSERT_NE(NULL, res);
	child_done(_metadata, self, child_unpriv, res);
	EXPECT_EQ(-EPERM, res->ret);
	ASSERT_B_UNCHANGED();
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
	struct child_res *res = shared_res();

	ASSERT_NE(NULL, res);
	child_done(_metadata, self, child_root_no_ptrace, res);
	EXPECT_EQ(-EPERM, res->ret);
	ASSERT_B_UNCHANGED();
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
	struct xpcopy_copy c = self->c;

	(void)parent;
	res->stage = "setresuid(1000) and empty capability sets";
	res->setup_err = xp_become(UNPRIV_UID, UNPRIV_GID, 0);
	if (res->setup_err)
		return;
	c.pid = self->t.pid;
	res->ret = xp_ioctl(self->fd, XPCOPY_COPY, &c);
	res->copied = c.copied;
}

/* Unlike ptrace, the same uid is not enough: CAP_SYS_PTRACE it is. */
TEST_F(xpcopy, eperm_same_uid)
{
	struct child_res *res = shared_res();

	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, target_unpriv_setup,
				     NULL));
	child_done(_metadata, self, child_unpriv_to_target, res);
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
	struct child_res *res = shared_res();

	ASSERT_NE(NULL, res);
	child_done(_metadata, self, child_ptrace_cap, res);
	ASSERT_EQ(0, res->ret) TH_LOG("%s", strerror(-res->ret));
	EXPECT_EQ(LEN, res->copied);
	EXPECT_EQ(-1, b_after_copy(self));
}

static void child_self(FIXTURE_DATA(xpcopy) *self, struct child_res *res,
		       pid_t parent)
{
	struct xpcopy_copy c = self->c;

	(void)parent;
	res->stage = "setresuid(1000) and empty capability sets";
	res->setup_err = xp_become(UNPRIV_UID, UNPRIV_GID, 0);
	if (res->setup_err)
		return;
	c.pid = getpid();
	res->ret = xp_ioctl(self->fd, XPCOPY_COPY, &c);
	res->copied = c.copied;
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
	struct child_res *res = shared_res();

	ASSERT_NE(NULL, res);
	child_done(_metadata, self, child_self, res);
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
