/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the copy engine's interface to the rest of the module.
 */
#ifndef _XPCOPY_ENGINE_H
#define _XPCOPY_ENGINE_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <uapi/linux/xpcopy.h>

struct mm_struct;

/**
 * struct xpc_stats - counters shown under /sys/class/misc/xpcopy/stats/
 * @copies: copy commands that succeeded
 * @bytes: bytes those commands copied
 * @copy_bytes: bytes moved by the kernel's user copies (twice @bytes for
 *	the bounce path, once for the single copy)
 * @pinned_now: pages pinned at this moment (the caller's on the worker
 *	path, the other process's on the caller-context path)
 * @pinned_peak: most pages pinned at once since load or reset
 * @pins_taken: pages pinned since load
 * @pins_released: pages unpinned since load
 * @inline_copies: copies that ran in the caller's context, not on a worker
 * @ns_take: time spent taking the callers' pages (or filling and emptying
 *	the bounce buffer): by the callers on the batch path, by the helping
 *	workers on the shared path
 * @ns_wait: time callers spent waiting for the workers: hand-off, wake-up
 *	and the copies themselves
 * @ns_release: time spent releasing the callers' pages (as @ns_take)
 * @ns_worker: time workers spent copying (summed over the workers)
 * @ns_inline: time callers spent copying in their own context
 * @uring_issued: io_uring copies completed in the submission itself (their
 *	pages were present: no io-wq thread, no worker)
 * @uring_punts: io_uring commands handed to an io-wq thread
 * @worker_wakeups: times a worker was woken to find work (or to leave an mm)
 * @mm_switches: times a worker entered an address space (kthread_use_mm())
 * @caller_bytes: bytes the callers copied in their own context (small
 *	copies, and their own share of large ones)
 * @taken_back: shares queued for the workers that the caller copied
 *	itself, no worker having started them
 */
struct xpc_stats {
	atomic64_t copies;
	atomic64_t bytes;
	atomic64_t copy_bytes;
	atomic64_t pinned_now;
	atomic64_t pinned_peak;
	atomic64_t pins_taken;
	atomic64_t pins_released;
	atomic64_t inline_copies;
	atomic64_t ns_take;
	atomic64_t ns_wait;
	atomic64_t ns_release;
	atomic64_t ns_worker;
	atomic64_t ns_inline;
	atomic64_t uring_issued;
	atomic64_t uring_punts;
	atomic64_t worker_wakeups;
	atomic64_t mm_switches;
	atomic64_t caller_bytes;
	atomic64_t taken_back;
};

/* Where a copy runs: chosen by size, or forced by the caller. */
enum xpc_path {
	XPC_PATH_AUTO,
	XPC_PATH_INLINE,
	XPC_PATH_WORKER,
};

extern struct xpc_stats xpc_stats;

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
 * @liov: the caller's ranges, validated
 * @lcnt: number of @liov entries
 * @riov: the ranges in @mm, validated
 * @rcnt: number of @riov entries
 * @check: if set, called before each batch touches @mm; a non-zero return
 *	(-errno) stops the copy there (a revoked grant, an owner gone)
 * @check_arg: the argument of @check
 */
struct xpc_xfer {
	struct mm_struct *mm;
	bool write;
	bool bounce;
	enum xpc_path path;
	bool nowait;
	bool nonblock;
	const struct xpcopy_iovec *liov;
	u32 lcnt;
	const struct xpcopy_iovec *riov;
	u32 rcnt;
	int (*check)(void *arg);
	void *check_arg;
};

int xpc_engine_init(void);
void xpc_engine_exit(void);
unsigned int xpc_batch_pages(void);
unsigned int xpc_nr_workers(void);
u64 xpc_xfer_total(const struct xpc_xfer *x);
int xpc_engine_copy(const struct xpc_xfer *xfer, u64 *copied);
int xpc_engine_store_u64(struct mm_struct *mm, u64 addr, u64 val);

#endif /* _XPCOPY_ENGINE_H */
