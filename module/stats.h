/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the module's counters, kept by the pool and the engine and shown
 * by the device.
 */
#ifndef _XPCOPY_STATS_H
#define _XPCOPY_STATS_H

#include <linux/atomic.h>

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

extern struct xpc_stats xpc_stats;

#endif /* _XPCOPY_STATS_H */
