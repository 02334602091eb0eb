/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the pool of kernel workers that run jobs in another address space.
 */
#ifndef _XPCOPY_POOL_H
#define _XPCOPY_POOL_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/types.h>

struct mm_struct;

/**
 * struct xpc_req - one caller's jobs in one address space, while they run
 * @mm: the address space the workers enter; the caller holds a reference on
 *	its users until xpc_req_end() returns
 * @cancel: set by xpc_cancel(): the jobs stop early
 * @last: the jobs queued are the request's last: a worker leaves @mm after
 *	its job (else it stays in @mm, holding it, until the request ends)
 * @ended: set by xpc_req_end()
 * @pending: jobs queued or running
 * @holders: the caller and every worker in @mm for it
 * @done: completed when no job is pending (unless @end is set)
 * @left: completed when no worker holds @mm any more
 * @end: set for a request no caller waits for (an io_uring copy the
 *	workers run): called instead of completing @done once no job is
 *	pending, by the worker that ran the last one when it touches neither
 *	the request nor @mm any more (or by xpc_cancel() for jobs it dropped);
 *	it must call xpc_req_end(), which then does not wait
 *
 * Lives on the caller's stack, or for a request with @end on the heap.
 */
struct xpc_req {
	struct mm_struct *mm;
	bool cancel;
	bool last;
	bool ended;
	atomic_t pending;
	atomic_t holders;
	struct completion done;
	struct completion left;
	void (*end)(struct xpc_req *req);
};

/**
 * struct xpc_job - a piece of work a worker runs in its request's mm
 * @node: in the pool's queue
 * @req: the request
 * @run: called in a worker that has entered @req->mm
 */
struct xpc_job {
	struct list_head node;
	struct xpc_req *req;
	void (*run)(struct xpc_job *job);
};

int xpc_pool_start(void);
void xpc_pool_stop(void);
unsigned int xpc_nr_workers(void);
unsigned int xpc_pool_idle(void);
unsigned int xpc_pool_to_wake(unsigned int k);
bool xpc_pool_may_help(void);

void xpc_req_init(struct xpc_req *req, struct mm_struct *mm);
void xpc_req_end(struct xpc_req *req);
void xpc_submit(struct xpc_req *req, struct list_head *jobs, unsigned int n,
		unsigned int wake);
unsigned int xpc_take_back(struct xpc_req *req);
int xpc_wait(struct xpc_req *req);
int xpc_wait_helpers(struct xpc_req *req);
void xpc_stop(struct xpc_req *req);
void xpc_cancel(struct xpc_req *req);
unsigned int xpc_kick(struct xpc_req *req);
void xpc_jobs_done(struct xpc_req *req, unsigned int n);

/* Has the request been cancelled? Its jobs then stop at once. */
static inline bool xpc_req_cancelled(const struct xpc_req *req)
{
	return READ_ONCE(req->cancel);
}

#endif /* _XPCOPY_POOL_H */
