/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the module's counters, kept by the pool and the engine and shown
 * by the device.
 */
#ifndef _XPCOPY_STATS_H
#define _XPCOPY_STATS_H

#include <linux/atomic.h>
#include <linux/percpu.h>
#include <linux/u64_stats_sync.h>

/**
 * enum xpc_stat - counters shown under /sys/class/misc/xpcopy/stats/
 * @XPC_COPIES: copy commands that succeeded
 * @XPC_BYTES: bytes those commands copied
 * @XPC_COPY_BYTES: bytes moved by the kernel's user copies (twice
 *	@XPC_BYTES for the bounce path, once for the single copy)
 * @XPC_PINS_TAKEN: pages pinned since load
 * @XPC_PINS_RELEASED: pages unpinned since load
 * @XPC_INLINE_COPIES: copies that ran in the caller's context, not on a
 *	worker
 * @XPC_NS_TAKE: time spent taking the callers' pages (or filling and
 *	emptying the bounce buffer): by the callers on the batch path, by the
 *	helping workers on the shared path
 * @XPC_NS_WAIT: time callers spent waiting for the workers: hand-off,
 *	wake-up and the copies themselves
 * @XPC_NS_RELEASE: time spent releasing the callers' pages (as
 *	@XPC_NS_TAKE)
 * @XPC_NS_WORKER: time workers spent copying (summed over the workers)
 * @XPC_NS_INLINE: time callers spent copying in their own context (not
 *	timed: the io_uring short way through a pinned grant)
 * @XPC_URING_ISSUED: io_uring copies completed in the submission itself
 *	(their pages were present: no io-wq thread, no worker)
 * @XPC_URING_PUNTS: io_uring commands handed to an io-wq thread
 * @XPC_WORKER_WAKEUPS: times a worker was woken to find work (or to leave
 *	an mm)
 * @XPC_MM_SWITCHES: times a worker entered an address space
 *	(kthread_use_mm())
 * @XPC_CALLER_BYTES: bytes the callers copied in their own context (small
 *	copies, and their own share of large ones)
 * @XPC_TAKEN_BACK: shares queued for the workers that the caller copied
 *	itself, no worker having started them
 * @XPC_HELP_DECLINED: large copies the caller made alone, idle workers
 *	notwithstanding, because no CPU was free for them (help_idle_pct) and
 *	they were under busy_help_kb
 * @XPC_URING_WORKERS: io_uring copies handed, in the submission, to the
 *	module's workers, which run them and post their CQEs (no io-wq
 *	thread)
 * @XPC_NR_STATS: the number of counters
 *
 * Each is kept per CPU, added to without a locked instruction on the copy
 * path, and summed when read.
 */
enum xpc_stat {
	XPC_COPIES,
	XPC_BYTES,
	XPC_COPY_BYTES,
	XPC_PINS_TAKEN,
	XPC_PINS_RELEASED,
	XPC_INLINE_COPIES,
	XPC_NS_TAKE,
	XPC_NS_WAIT,
	XPC_NS_RELEASE,
	XPC_NS_WORKER,
	XPC_NS_INLINE,
	XPC_URING_ISSUED,
	XPC_URING_PUNTS,
	XPC_WORKER_WAKEUPS,
	XPC_MM_SWITCHES,
	XPC_CALLER_BYTES,
	XPC_TAKEN_BACK,
	XPC_HELP_DECLINED,
	XPC_URING_WORKERS,
	XPC_NR_STATS
};

/**
 * struct xpc_stats - one CPU's share of the counters
 * @v: indexed by enum xpc_stat
 * @syncp: lets a reader on another CPU read @v untorn where a u64 is two
 *	words (32-bit); nothing on 64-bit
 */
struct xpc_stats {
	u64 v[XPC_NR_STATS];
	struct u64_stats_sync syncp;
};

DECLARE_PER_CPU(struct xpc_stats, xpc_stats);

/**
 * struct xpc_pinned - pages pinned now, and the most at once
 * @now: pages pinned at this moment (the caller's on the worker path, the
 *	other process's on the caller-context path)
 * @peak: most pages pinned at once since load or reset
 *
 * Global, unlike the other counters: a peak is of the sum.
 */
struct xpc_pinned {
	atomic64_t now;
	atomic64_t peak;
};

extern struct xpc_pinned xpc_pinned;

/*
 * Add @n to counter @s (process context; preemptible is fine): one
 * instruction where a u64 is one word, else under @syncp.
 */
static inline void xpc_stat_add(enum xpc_stat s, u64 n)
{
#if BITS_PER_LONG == 64
	this_cpu_add(xpc_stats.v[s], n);
#else
	struct xpc_stats *st = get_cpu_ptr(&xpc_stats);

	u64_stats_update_begin(&st->syncp);
	st->v[s] += n;
	u64_stats_update_end(&st->syncp);
	put_cpu_ptr(&xpc_stats);
#endif
}

void xpc_stats_init(void);
u64 xpc_stat_read(enum xpc_stat s);

#endif /* _XPCOPY_STATS_H */
