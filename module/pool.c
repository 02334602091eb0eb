// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the pool of kernel workers.
 *
 * A worker takes jobs from one queue. For a job it enters the job's address
 * space (kthread_use_mm()) and runs it; between the jobs of one request it
 * stays in that mm, holding it, so a request's next batch costs no mm
 * switch, and it lingers a little for that batch before it sleeps. The
 * caller keeps the mm alive: when its request ends it waits until no worker
 * holds the mm for it any more. After a request's last job a worker may stay
 * in the mm on a reference of its own, lingering for the next request there.
 *
 * A worker is a kernel thread and sees none of the caller's signals. When the
 * caller is interrupted it cancels its request: the queued jobs are dropped
 * and the workers running one get SIGKILL, which they allow, so a fault
 * stalled on userfaultfd gives up.
 */
#include <linux/kernel_stat.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/tick.h>
#include <linux/wait.h>

#include "pool.h"
#include "stats.h"

static unsigned int linger_us = 200;
module_param(linger_us, uint, 0644);
MODULE_PARM_DESC(linger_us,
		 "a worker waits this long for the next share of the copy whose mm it is in before it sleeps, and a caller for its helpers' last shares (default 200; 0: never)");

static unsigned int workers;
module_param(workers, uint, 0444);
MODULE_PARM_DESC(workers, "copy workers (default 0: two per online CPU)");

static unsigned int help_idle_pct = 75;
module_param(help_idle_pct, uint, 0644);
MODULE_PARM_DESC(help_idle_pct,
		 "workers help a large copy only while this much of one CPU (percent) was idle or the workers' over the last 20 ms (default 75; 0: always)");

struct xpc_worker {
	struct task_struct *task;
	struct xpc_req *req;	/* under xpc_pool.lock: whom it works for */
	struct xpc_req *held;	/* whose mm it is in: its own to touch */
	struct mm_struct *kept;	/* the mm it stays in after a request */
};

static struct {
	spinlock_t lock;	/* protects queue and every worker's req */
	struct list_head queue;
	wait_queue_head_t wait;
	struct xpc_worker *workers;
	unsigned int nr;
	atomic_t idle;		/* workers asleep, waiting for a job */
	atomic_t lingering;	/* workers awake, waiting for a job */
	atomic64_t ran_ns;	/* CPU time the workers ran, summed */
} xpc_pool;

/* How long a measure of the CPUs' load holds, and when it is out of date. */
#define XPC_LOAD_SPAN_NS	(20 * NSEC_PER_MSEC)
#define XPC_LOAD_STALE_NS	(200 * NSEC_PER_MSEC)

/* The CPUs' load as last measured, for xpc_pool_may_help(). */
static struct {
	spinlock_t lock;	/* taken by the one caller that measures */
	u64 at;			/* when: ktime_get_ns(), 0 before the first */
	u64 idle_us;		/* the online CPUs' idle time, summed */
	u64 ran_ns;		/* xpc_pool.ran_ns */
	bool free;		/* a CPU was free since the one before */
} xpc_load = {
	.lock = __SPIN_LOCK_UNLOCKED(xpc_load.lock),
	.free = true,
};

/* The online CPUs' idle time, summed, in us; U64_MAX where none is kept. */
static u64 xpc_idle_us(void)
{
	u64 sum = 0, t;
	int cpu;

	for_each_online_cpu(cpu) {
		t = get_cpu_idle_time_us(cpu, NULL);
		if (t == (u64)-1)
			return U64_MAX;
		sum += t;
	}
	return sum;
}

/* Measure the CPUs' load since the last measure, taken at @now. */
static void xpc_load_measure(u64 now)
{
	u64 span = now - xpc_load.at, idle = xpc_idle_us();
	u64 ran = atomic64_read(&xpc_pool.ran_ns), free_ns;
	bool free = true;

	/* Out of date, or a CPU went offline: help, and measure anew. */
	if (xpc_load.at && span < XPC_LOAD_STALE_NS && idle != U64_MAX &&
	    idle >= xpc_load.idle_us) {
		free_ns = (idle - xpc_load.idle_us) * NSEC_PER_USEC +
			  (ran - xpc_load.ran_ns);
		free = free_ns * 100 >= span * READ_ONCE(help_idle_pct);
	}
	WRITE_ONCE(xpc_load.free, free);
	xpc_load.idle_us = idle;
	xpc_load.ran_ns = ran;
	WRITE_ONCE(xpc_load.at, now);
}

/**
 * xpc_pool_may_help() - may workers help a copy: is a CPU free for them
 *
 * A helper is worth waking only onto a CPU that would otherwise idle. Where
 * every CPU runs something else (an MPI job with a spinning rank per core,
 * say), a helper shares a CPU, is descheduled with a share unfinished, and
 * its caller waits for it: the copy is then better the caller's alone, as
 * process_vm_writev()'s is. A CPU counts as free when over the last
 * XPC_LOAD_SPAN_NS the online CPUs' idle time and the workers' own run time
 * (they would leave their CPU idle) came to help_idle_pct of one CPU. One
 * caller measures, the others read the last measure.
 *
 * Return: true if the workers may help: a CPU was free, or help_idle_pct
 * is 0, or the kernel keeps no idle time (nohz off).
 */
bool xpc_pool_may_help(void)
{
	u64 now;

	if (!READ_ONCE(help_idle_pct))
		return true;
	now = ktime_get_ns();
	if ((s64)(now - READ_ONCE(xpc_load.at)) >= XPC_LOAD_SPAN_NS &&
	    spin_trylock(&xpc_load.lock)) {
		/* Read again under the lock: never before the last measure. */
		now = ktime_get_ns();
		if (now - xpc_load.at >= XPC_LOAD_SPAN_NS)
			xpc_load_measure(now);
		spin_unlock(&xpc_load.lock);
	}
	return READ_ONCE(xpc_load.free);
}

/* Count the CPU time the worker ran since its count at @seen. */
static void xpc_worker_ran(u64 *seen)
{
	u64 ran = READ_ONCE(current->se.sum_exec_runtime);

	atomic64_add(ran - *seen, &xpc_pool.ran_ns);
	*seen = ran;
}

/**
 * xpc_nr_workers() - how many workers run
 *
 * Return: the number of worker threads.
 */
unsigned int xpc_nr_workers(void)
{
	return xpc_pool.nr;
}

/**
 * xpc_pool_idle() - how many workers wait for a job now
 *
 * Return: the workers asleep or lingering; a hint, out of date at once.
 */
unsigned int xpc_pool_idle(void)
{
	return atomic_read(&xpc_pool.idle) + atomic_read(&xpc_pool.lingering);
}

/**
 * xpc_pool_to_wake() - of @k idle workers wanted, how many to wake
 * @k: workers wanted
 *
 * Lingering workers are awake already and take a job queued for them
 * unwoken. A caller that wakes fewer than it queued for must not depend on
 * the jobs being taken: it takes back what no worker started.
 *
 * Return: @k less the lingering workers, at least 0.
 */
unsigned int xpc_pool_to_wake(unsigned int k)
{
	unsigned int awake = atomic_read(&xpc_pool.lingering);

	return k > awake ? k - awake : 0;
}

static struct xpc_job *xpc_next_job(struct xpc_worker *w)
{
	struct xpc_job *job;

	spin_lock(&xpc_pool.lock);
	job = list_first_entry_or_null(&xpc_pool.queue, struct xpc_job, node);
	if (job) {
		list_del_init(&job->node);
		w->req = job->req;
	}
	spin_unlock(&xpc_pool.lock);
	return job;
}

/* The worker no longer stands in @w->held's mm for it. */
static void xpc_worker_release(struct xpc_worker *w)
{
	struct xpc_req *req = w->held;

	w->held = NULL;
	/* Nothing of req may be touched once the caller can see 0. */
	if (req && atomic_dec_and_test(&req->holders))
		complete(&req->left);
}

static bool xpc_worker_idle_ends(struct xpc_worker *w)
{
	return !list_empty(&xpc_pool.queue) || kthread_should_stop() ||
	       (w->held && READ_ONCE(w->held->ended));
}

/*
 * Between two batches of the request whose mm it is in, a worker waits a
 * little for the next job without sleeping: the caller is releasing and
 * taking its pages, and a wake-up (on a hypervisor, a descheduled vCPU)
 * costs more than the wait. So it does after a request's last job, still in
 * its mm (w->kept), for the next copy into the same process: an IPC peer's
 * next message then costs no wake-up and no mm switch. It yields to
 * anything else runnable on its CPU and stops when the request it is in
 * ends.
 */
static struct xpc_job *xpc_linger(struct xpc_worker *w)
{
	u64 until = ktime_get_ns() + (u64)READ_ONCE(linger_us) * NSEC_PER_USEC;
	struct xpc_job *job = NULL;

	atomic_inc(&xpc_pool.lingering);
	while ((w->kept || !READ_ONCE(w->held->ended)) &&
	       !kthread_should_stop() && ktime_get_ns() < until) {
		if (!list_empty(&xpc_pool.queue)) {
			job = xpc_next_job(w);
			if (job)
				break;
		}
		cond_resched();
		cpu_relax();
	}
	atomic_dec(&xpc_pool.lingering);
	/* A job queued as it stopped may have counted on it: take it. */
	smp_mb__after_atomic();
	if (!job && !list_empty(&xpc_pool.queue))
		job = xpc_next_job(w);
	return job;
}

/*
 * No job of @req is pending any more: wake its caller, or end a request no
 * caller waits for. Nothing of @req may be touched after this.
 */
static void xpc_req_idle(struct xpc_req *req)
{
	if (req->end)
		req->end(req);
	else
		complete(&req->done);
}

static int xpc_worker_fn(void *data)
{
	struct xpc_worker *w = data;
	struct mm_struct *used = NULL;
	struct xpc_job *job = NULL;
	u64 ran = current->se.sum_exec_runtime;

	/*
	 * The only way to interrupt a copy stalled on a fault (userfaultfd):
	 * SIGKILL from xpc_cancel(), a kernel signal. One sent from userspace
	 * stays ignored, so it cannot cut short someone else's next job.
	 */
	allow_kernel_signal(SIGKILL);
	while (!kthread_should_stop()) {
		struct xpc_req *req;
		u64 t0;

		if (!job && (w->held || w->kept) && READ_ONCE(linger_us))
			job = xpc_linger(w);
		if (!job && w->kept) {
			/* No next copy into it came: leave the kept mm. */
			kthread_unuse_mm(used);
			used = NULL;
			mmput_async(w->kept);
			w->kept = NULL;
		}
		if (!job) {
			xpc_worker_ran(&ran);
			atomic_inc(&xpc_pool.idle);
			wait_event_idle_exclusive(xpc_pool.wait,
						  xpc_worker_idle_ends(w));
			atomic_dec(&xpc_pool.idle);
			xpc_stat_add(XPC_WORKER_WAKEUPS, 1);
			job = xpc_next_job(w);
			/* The held request ended: leave its mm. */
			if (!job && w->held && READ_ONCE(w->held->ended)) {
				kthread_unuse_mm(used);
				used = NULL;
				xpc_worker_release(w);
			}
			continue;
		}
		req = job->req;
		if (w->kept) {
			/* req's caller keeps its mm alive from here. */
			if (w->kept != req->mm) {
				kthread_unuse_mm(used);
				used = NULL;
			}
			mmput_async(w->kept);
			w->kept = NULL;
		}
		if (w->held != req) {
			if (used != req->mm) {
				if (used)
					kthread_unuse_mm(used);
				used = req->mm;
				kthread_use_mm(used);
				xpc_stat_add(XPC_MM_SWITCHES, 1);
			}
			/* Hand over: req's caller now keeps the mm alive. */
			atomic_inc(&req->holders);
			xpc_worker_release(w);
			w->held = req;
		}
		t0 = ktime_get_ns();
		job->run(job);
		xpc_stat_add(XPC_NS_WORKER, ktime_get_ns() - t0);
		xpc_worker_ran(&ran);

		/* No kick may land once req is cleared: drop any that did. */
		spin_lock(&xpc_pool.lock);
		w->req = NULL;
		spin_unlock(&xpc_pool.lock);
		if (signal_pending(current))
			flush_signals(current);

		job = xpc_next_job(w);
		/*
		 * Last batch: leave before the caller can see it done, or stay
		 * in the mm on a reference of its own, for the next copy.
		 */
		if (READ_ONCE(req->last) && (!job || job->req != req)) {
			if (!job && READ_ONCE(linger_us) && mmget_not_zero(used)) {
				w->kept = used;
			} else if (!job || job->req->mm != used) {
				kthread_unuse_mm(used);
				used = NULL;
			}
			xpc_worker_release(w);
		}
		if (atomic_dec_and_test(&req->pending))
			xpc_req_idle(req);
	}
	if (used)
		kthread_unuse_mm(used);
	if (w->kept)
		mmput_async(w->kept);
	xpc_worker_release(w);
	return 0;
}

/**
 * xpc_req_init() - start a request in @mm
 * @req: the request, on the caller's stack
 * @mm: the address space; the caller holds a reference on its users
 */
void xpc_req_init(struct xpc_req *req, struct mm_struct *mm)
{
	req->mm = mm;
	req->cancel = false;
	req->last = false;
	req->ended = false;
	atomic_set(&req->pending, 0);
	atomic_set(&req->holders, 1);	/* the caller's, until xpc_req_end() */
	init_completion(&req->done);
	init_completion(&req->left);
	req->end = NULL;
}

/**
 * xpc_req_end() - end a request
 * @req: the request, no job of it pending
 *
 * Every worker that still stands in the request's mm leaves it before this
 * returns, so the caller may then drop its reference on the mm's users.
 */
void xpc_req_end(struct xpc_req *req)
{
	WRITE_ONCE(req->ended, true);
	if (atomic_read(&req->holders) > 1)
		wake_up_all(&xpc_pool.wait);
	/* The caller's own count: whoever drops the last one completes. */
	if (!atomic_dec_and_test(&req->holders))
		wait_for_completion(&req->left);
}

/* Take @req's queued jobs off the queue; xpc_pool.lock held. How many. */
static unsigned int xpc_unqueue(struct xpc_req *req)
{
	struct xpc_job *job, *tmp;
	unsigned int n = 0;

	list_for_each_entry_safe(job, tmp, &xpc_pool.queue, node) {
		if (job->req == req) {
			list_del_init(&job->node);
			n++;
		}
	}
	return n;
}

/* SIGKILL the workers running a job of @req; xpc_pool.lock held. */
static void xpc_kill_running(struct xpc_req *req)
{
	unsigned int i;

	for (i = 0; i < xpc_pool.nr; i++)
		if (xpc_pool.workers[i].req == req)
			send_sig(SIGKILL, xpc_pool.workers[i].task, 1);
}

/**
 * xpc_jobs_done() - count jobs of @req as done, unrun
 * @req: the request
 * @n: how many, taken off the queue (xpc_kick())
 *
 * The last ends the wait on @req, or ends it (@req->end).
 *
 * Context: no lock that @req->end takes held.
 */
void xpc_jobs_done(struct xpc_req *req, unsigned int n)
{
	if (n && atomic_sub_and_test(n, &req->pending))
		xpc_req_idle(req);
}

/**
 * xpc_kick() - stop the jobs of @req, without waiting for them or ending it
 * @req: the request
 *
 * Marks it cancelled, takes its queued jobs off the queue and sends SIGKILL
 * to the workers running one. The jobs taken off are left for the caller
 * to count done with xpc_jobs_done(), once it holds no lock that @req->end
 * takes: so it may hold one here.
 *
 * Context: any context that may take a spinlock.
 * Return: how many queued jobs it took off the queue.
 */
unsigned int xpc_kick(struct xpc_req *req)
{
	unsigned int dropped;

	WRITE_ONCE(req->cancel, true);
	spin_lock(&xpc_pool.lock);
	dropped = xpc_unqueue(req);
	xpc_kill_running(req);
	spin_unlock(&xpc_pool.lock);
	return dropped;
}

/**
 * xpc_cancel() - stop the jobs of @req, without waiting for them
 * @req: the request
 *
 * Drops the request's queued jobs (they count as done) and sends SIGKILL to
 * the workers running one of them, which gives up their waits at once.
 *
 * Context: process context; for a request with @req->end, that may run
 * here, whatever it needs (it may sleep).
 */
void xpc_cancel(struct xpc_req *req)
{
	xpc_jobs_done(req, xpc_kick(req));
}

/**
 * xpc_submit() - hand jobs to the workers
 * @req: their request, no job of it pending
 * @jobs: @n jobs of @req, taken off this list
 * @n: how many
 * @wake: how many workers to wake
 *
 * The workers take the jobs in their order.
 */
void xpc_submit(struct xpc_req *req, struct list_head *jobs, unsigned int n,
		unsigned int wake)
{
	atomic_set(&req->pending, n);
	reinit_completion(&req->done);
	spin_lock(&xpc_pool.lock);
	list_splice_tail_init(jobs, &xpc_pool.queue);
	spin_unlock(&xpc_pool.lock);
	if (wake)
		wake_up_nr(&xpc_pool.wait, wake);
}

/**
 * xpc_take_back() - take back the jobs of @req no worker has started
 * @req: the request
 *
 * Return: how many; they count as done.
 */
unsigned int xpc_take_back(struct xpc_req *req)
{
	unsigned int n;

	spin_lock(&xpc_pool.lock);
	n = xpc_unqueue(req);
	spin_unlock(&xpc_pool.lock);
	xpc_jobs_done(req, n);
	return n;
}

/**
 * xpc_wait() - wait until no job of @req is queued or running
 * @req: the request
 *
 * Return: 0, or -EINTR when a signal cut the wait short: the jobs were then
 * cancelled and stopped early.
 */
int xpc_wait(struct xpc_req *req)
{
	if (wait_for_completion_interruptible(&req->done)) {
		xpc_cancel(req);
		/* Workers give up at once: their faults see SIGKILL. */
		wait_for_completion(&req->done);
		return -EINTR;
	}
	return 0;
}

/**
 * xpc_wait_helpers() - wait for the helpers of a copy the caller shared
 * @req: the request, the caller's own shares done
 *
 * The helpers are then most often in their last share: the caller waits
 * for it awake up to linger_us, as the helpers linger for the next, rather
 * than pay a wake-up, then as xpc_wait() does.
 *
 * Return: as xpc_wait().
 */
int xpc_wait_helpers(struct xpc_req *req)
{
	u64 until = ktime_get_ns() + (u64)READ_ONCE(linger_us) * NSEC_PER_USEC;

	while (!completion_done(&req->done) && !signal_pending(current) &&
	       ktime_get_ns() < until) {
		cond_resched();
		cpu_relax();
	}
	return xpc_wait(req);
}

/**
 * xpc_stop() - cancel the jobs of @req and wait until they stopped
 * @req: the request, after an error of the caller's
 */
void xpc_stop(struct xpc_req *req)
{
	xpc_cancel(req);
	wait_for_completion(&req->done);
}

/**
 * xpc_pool_start() - start the workers
 *
 * Return: 0 or -errno.
 */
int xpc_pool_start(void)
{
	/*
	 * Twice the CPUs: one copy uses at most one worker per CPU, so a
	 * copy stalled on pages nobody serves leaves as many idle to help
	 * the others.
	 */
	unsigned int i, nr = workers ? workers : 2 * num_online_cpus();
	int err;

	spin_lock_init(&xpc_pool.lock);
	INIT_LIST_HEAD(&xpc_pool.queue);
	init_waitqueue_head(&xpc_pool.wait);
	xpc_pool.workers = kcalloc(nr, sizeof(*xpc_pool.workers), GFP_KERNEL);
	if (!xpc_pool.workers)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		struct task_struct *t;

		t = kthread_run(xpc_worker_fn, &xpc_pool.workers[i],
				"xpcopy/%u", i);
		if (IS_ERR(t)) {
			err = PTR_ERR(t);
			goto err_stop;
		}
		xpc_pool.workers[i].task = t;
		xpc_pool.nr = i + 1;
	}
	return 0;

err_stop:
	xpc_pool_stop();
	return err;
}

/**
 * xpc_pool_stop() - stop the workers
 *
 * Context: no request is running (the device is closed by everyone).
 */
void xpc_pool_stop(void)
{
	unsigned int i;

	for (i = 0; i < xpc_pool.nr; i++)
		kthread_stop(xpc_pool.workers[i].task);
	kfree(xpc_pool.workers);
	xpc_pool.workers = NULL;
	xpc_pool.nr = 0;
}
