// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy ABI tests: XPCOPY_FEATURES, the size/extensibility rules every
 * command follows, and the errno table of include/uapi/linux/xpcopy.h.
 *
 * Each errno test starts from one valid request (a 100-byte copy of the
 * process into itself, which needs no privilege) and breaks exactly one
 * thing in it, so that it reaches exactly one error path; baseline_self_copy
 * shows that the unbroken request works. After every failed call the
 * destination is checked to be unchanged. The pid rules (ESRCH, EPERM)
 * and zero-length copies are in xpcopy_abi_pid.c.
 */
#include "xpcopy_abi.h"

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

TEST_HARNESS_MAIN
