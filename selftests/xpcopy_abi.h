/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the ABI programs (xpcopy_abi, xpcopy_abi_pid): a valid
 * request (a 100-byte copy of the process into itself, which needs no
 * privilege) that each errno test breaks in exactly one way, and the
 * check that the destination is unchanged after every failed call.
 */
#ifndef XPCOPY_ABI_H
#define XPCOPY_ABI_H

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
static inline long long b_after_copy(FIXTURE_DATA(xpcopy) *self)
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

static inline int call(int fd, unsigned long cmd, void *arg)
{
	return xp_ioctl(fd, cmd, arg);
}

#endif /* XPCOPY_ABI_H */
