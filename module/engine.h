/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the copy engine's interface to the rest of the module.
 */
#ifndef _XPCOPY_ENGINE_H
#define _XPCOPY_ENGINE_H

#include <linux/types.h>
#include <uapi/linux/xpcopy.h>

#include "stats.h"

struct mm_struct;
struct page;

/* Where a copy runs: chosen by size, or forced by the caller. */
enum xpc_path {
	XPC_PATH_AUTO,
	XPC_PATH_INLINE,
	XPC_PATH_WORKER,
};

/**
 * struct xpc_xfer - one copy command, as the engine sees it
 * @mm: the other address space; the caller holds a reference on its users
 * @write: true to copy the caller's ranges into @mm, false for the reverse
 * @bounce: copy twice through a kernel buffer instead of once
 * @path: caller's context or workers
 * @nowait: the caller-context path never waits for a page of @mm (I/O,
 *	userfaultfd) even when forced: it hands it to the workers, whose waits
 *	a signal or io_uring cancellation can always end
 * @nonblock: io_uring's submission: nothing may wait, not even for a page
 *	of the caller's or a lock; -EAGAIN (with nothing counted) says "run
 *	it again where it may block", which then copies everything again
 * @nonblock_large: with @nonblock, a copy larger than inline_max is tried
 *	in the submission too, by the submitter alone (no worker was free to
 *	take it); as a small one, -EAGAIN if it would wait
 * @stand_in: the caller is a worker standing in for an io_uring submitter
 *	(in the submitter's mm): it may wait for pages, killably (its SIGKILL
 *	is the cancellation), and never waits for a queued job, so that
 *	copies run this way cannot all wait for each other's jobs
 * @liov: the caller's ranges, validated
 * @lcnt: number of @liov entries
 * @riov: the ranges in @mm, validated
 * @rcnt: number of @riov entries
 * @check: if set, called before each batch touches @mm; a non-zero return
 *	(-errno) stops the copy there (a revoked grant, an owner gone)
 * @check_arg: the argument of @check (and of @recheck)
 * @pinned: the other side's pages, pinned for longer than the copy (a
 *	pinned grant's): the page holding address @pinned_start is
 *	@pinned[0], and every remote range lies within them. The copy takes
 *	them from here, never @mm's page tables, so nothing of @mm can make it
 *	wait, and nothing touches @mm: a small one runs in the caller's
 *	context, a large one is shared with idle workers that enter the
 *	caller's mm, not @mm, and copy their shares as the caller does
 * @pinned_start: see @pinned; page-aligned
 * @recheck: the engine's own, in the copy of the transfer the copiers of a
 *	grant's shared copy use: its batches are checked before their first
 *	share is taken, in order, and this is asked again after any wait on
 *	the caller's own pages (which the caller may hold as long as it
 *	likes) before the other side is touched
 */
struct xpc_xfer {
	struct mm_struct *mm;
	bool write;
	bool bounce;
	enum xpc_path path;
	bool nowait;
	bool nonblock;
	bool nonblock_large;
	bool stand_in;
	const struct xpcopy_iovec *liov;
	u32 lcnt;
	const struct xpcopy_iovec *riov;
	u32 rcnt;
	int (*check)(void *arg);
	void *check_arg;
	struct page *const *pinned;
	u64 pinned_start;
	int (*recheck)(void *arg);
};

unsigned int xpc_batch_pages(void);
u64 xpc_xfer_total(const struct xpc_xfer *x);
int xpc_engine_copy(const struct xpc_xfer *xfer, u64 *copied);
bool xpc_engine_too_large(const struct xpc_xfer *x);
int xpc_engine_store_u64(struct mm_struct *mm, u64 addr, u64 val);
int xpc_engine_copy_pinned(struct page *const *pages, u64 pos,
			   void __user *uaddr, u64 len, bool write);

#endif /* _XPCOPY_ENGINE_H */
