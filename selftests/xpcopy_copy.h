/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the copy programs (xpcopy_copy, xpcopy_copy_mm): every
 * test runs through the ioctl and io_uring, on the worker, inline and
 * bounce paths, each way (the variants below), and do_copy() makes its
 * copy the way the variant says.
 */
#ifndef XPCOPY_COPY_H
#define XPCOPY_COPY_H

#include <sys/mman.h>
#include <liburing.h>

#include "xpcopy_test.h"

#define SEED_L	0x10ca1ULL
#define SEED_R	0x4e707eULL
#define SCRATCH_LEN	(64 * MiB + 64 * 4096)

FIXTURE(copy)
{
	int fd;
	size_t page;
	uint64_t batch;		/* batch_pages when the test started */
	uint8_t *scratch;	/* MAP_SHARED: expected images for the target */
	struct xp_target t;
	uint64_t saved_batch;	/* batch_pages to restore, 0 if untouched */
	struct io_uring ring;	/* the io_uring variants' */
	bool have_ring;
};

FIXTURE_VARIANT(copy)
{
	__u32 flags;
	bool read;	/* remote -> local */
	bool bounce;
	bool uring;	/* through io_uring, not the ioctl */
	bool sqe;	/* as XPCOPY_SQE_COPY where it can say the copy */
};

/*
 * Every copy test runs on each path: the workers (caller's pages pinned,
 * target mm adopted), the caller's context (target's pages pinned) and the
 * bounce buffer, each forced whatever the size, in both directions.
 */
FIXTURE_VARIANT_ADD(copy, write)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER,
};

FIXTURE_VARIANT_ADD(copy, read)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER,
	.read = true,
};

FIXTURE_VARIANT_ADD(copy, write_inline)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE,
};

FIXTURE_VARIANT_ADD(copy, read_inline)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE,
	.read = true,
};

FIXTURE_VARIANT_ADD(copy, write_bounce)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE,
	.bounce = true,
};

FIXTURE_VARIANT_ADD(copy, read_bounce)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE,
	.read = true,
	.bounce = true,
};

/* The same six, each copy submitted as an io_uring command. */
FIXTURE_VARIANT_ADD(copy, write_uring)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER,
	.uring = true,
};

FIXTURE_VARIANT_ADD(copy, read_uring)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER,
	.read = true,
	.uring = true,
};

FIXTURE_VARIANT_ADD(copy, write_inline_uring)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_INLINE,
	.uring = true,
};

FIXTURE_VARIANT_ADD(copy, read_inline_uring)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_INLINE,
	.read = true,
	.uring = true,
};

FIXTURE_VARIANT_ADD(copy, write_bounce_uring)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE,
	.bounce = true,
	.uring = true,
};

FIXTURE_VARIANT_ADD(copy, read_bounce_uring)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE,
	.read = true,
	.bounce = true,
	.uring = true,
};

/*
 * And as XPCOPY_SQE_COPY, the command whole in a 128-byte SQE, on the
 * worker path (through io-wq, so that io_uring's copy of the SQE is what
 * the copy reads). A copy it cannot say (more than one range a side, or
 * sides of different lengths) goes as XPCOPY_COPY on the same ring.
 */
FIXTURE_VARIANT_ADD(copy, write_sqe_uring)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_WORKER,
	.uring = true,
	.sqe = true,
};

FIXTURE_VARIANT_ADD(copy, read_sqe_uring)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_WORKER,
	.read = true,
	.uring = true,
	.sqe = true,
};

FIXTURE_SETUP(copy)
{
	xp_target_init(&self->t);
	self->saved_batch = 0;
	self->have_ring = false;
	XPCOPY_OPEN_OR_SKIP(self->fd);
	if (variant->uring) {
		int ret;

		XPCOPY_URING_CMD_OR_SKIP(self->fd);
		if (variant->sqe && !xp_has_cap(self->fd, XPCOPY_CAP_SQE_COPY))
			SKIP(return, "the module has no XPCOPY_SQE_COPY (XPCOPY_CAP_SQE_COPY)");
		ret = io_uring_queue_init(8, &self->ring,
					  variant->sqe ? IORING_SETUP_SQE128 : 0);
		if (ret == -ENOSYS || ret == -EPERM)
			SKIP(return, "io_uring_setup: %s", strerror(-ret));
		ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s",
					 strerror(-ret));
		self->have_ring = true;
	}
	self->page = xp_page_size();
	ASSERT_EQ(0, xp_batch_pages(&self->batch));
	self->scratch = mmap(NULL, SCRATCH_LEN, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->scratch);
}

FIXTURE_TEARDOWN(copy)
{
	xp_target_kill(&self->t);
	if (self->saved_batch)
		xp_write_u64(XPCOPY_BATCH_PARAM, self->saved_batch);
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	close(self->fd);
}

/* One copy with @flags, through the ioctl or io_uring as the variant says. */
static inline int do_copy_flags(FIXTURE_DATA(copy) *self,
			 const FIXTURE_VARIANT(copy) *variant, __u32 flags,
			 pid_t pid, const struct xpcopy_iovec *l, __u32 lcnt,
			 const struct xpcopy_iovec *r, __u32 rcnt,
			 __u64 *copied)
{
	if (variant->sqe && lcnt == 1 && rcnt == 1 && l->len == r->len)
		return xp_sqe_copy(&self->ring, self->fd, flags, pid, l->addr,
				   r->addr, l->len, copied);
	if (variant->uring)
		return xp_uring_copy(&self->ring, self->fd, flags, pid, l,
				     lcnt, r, rcnt, copied);
	return xp_copy(self->fd, flags, pid, l, lcnt, r, rcnt, copied);
}

/* One copy, through the ioctl or io_uring as the variant says. */
static inline int do_copy(FIXTURE_DATA(copy) *self,
		   const FIXTURE_VARIANT(copy) *variant, pid_t pid,
		   const struct xpcopy_iovec *l, __u32 lcnt,
		   const struct xpcopy_iovec *r, __u32 rcnt, __u64 *copied)
{
	return do_copy_flags(self, variant, variant->flags, pid, l, lcnt, r,
			     rcnt, copied);
}

static inline int do_copy1(FIXTURE_DATA(copy) *self,
		    const FIXTURE_VARIANT(copy) *variant, pid_t pid,
		    const void *laddr, __u64 llen, __u64 raddr, __u64 rlen,
		    __u64 *copied)
{
	struct xpcopy_iovec l = { .addr = xp_ptr(laddr), .len = llen };
	struct xpcopy_iovec r = { .addr = raddr, .len = rlen };

	return do_copy(self, variant, pid, &l, 1, &r, 1, copied);
}

#endif /* XPCOPY_COPY_H */
