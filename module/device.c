// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the /dev/xpcopy character device, its commands and its counters.
 *
 * One dispatcher reads the size every command struct starts with, rejects it
 * below the command's first version, and reads the struct with
 * copy_struct_from_user(), which answers -E2BIG for a non-zero tail.
 */
#include <linux/capability.h>
#include <linux/device.h>
#include <linux/error-injection.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "engine.h"
#include "pool.h"
#include "grant.h"
#include "owner.h"

#define XPC_COPY_FLAGS	(XPCOPY_COPY_WRITE | XPCOPY_COPY_READ | \
			 XPCOPY_COPY_BOUNCE | XPCOPY_COPY_GRANT | \
			 XPCOPY_COPY_PUBLISH | XPCOPY_COPY_INLINE | \
			 XPCOPY_COPY_WORKER)

/*
 * One command: the caller's struct, a kernel copy of it, and where it came
 * from. @uring: submitted through io_uring; @nonblock: in io_uring's
 * submission, where nothing may wait (-EAGAIN: run it again on an io-wq
 * thread); @ioucmd, @issue_flags: set in that submission where a copy too
 * large for it can be handed to the workers (xpc_uring_async()); @copied:
 * set by a successful XPCOPY_COPY, the CQE's result; @sqe_iov: the local
 * and the remote range of an XPCOPY_SQE_COPY, read from its SQE, whose
 * @ubuffer is NULL: it has no struct of the caller's to read or write.
 */
struct xpc_ucmd {
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
	bool uring;
	bool nonblock;
	struct io_uring_cmd *ioucmd;
	unsigned int issue_flags;
	u64 copied;
	const struct xpcopy_iovec *sqe_iov;
};

union xpc_ucmd_buffer {
	struct xpcopy_features features;
	struct xpcopy_copy copy;
	struct xpcopy_grant grant;
	struct xpcopy_grant_derive derive;
	struct xpcopy_grant_revoke revoke;
	struct xpcopy_grant_info info;
};

struct xpc_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	int (*execute)(struct xpc_ucmd *ucmd);
};

static int xpc_features(struct xpc_ucmd *ucmd);
static int xpc_copy(struct xpc_ucmd *ucmd);
static int xpc_grant(struct xpc_ucmd *ucmd);
static int xpc_derive(struct xpc_ucmd *ucmd);
static int xpc_revoke(struct xpc_ucmd *ucmd);
static int xpc_info(struct xpc_ucmd *ucmd);

/* Each entry: the command, its struct, and the last field of version 1. */
#define XPC_IOCTL_OP(_nr, _ioctl, _fn, _struct, _last)			\
	[_nr] = {							\
		.size = sizeof(_struct),				\
		.min_size = offsetofend(_struct, _last),		\
		.ioctl_num = _ioctl,					\
		.execute = _fn,						\
	}

static const struct xpc_ioctl_op xpc_ops[] = {
	XPC_IOCTL_OP(XPCOPY_CMD_FEATURES, XPCOPY_FEATURES, xpc_features,
		     struct xpcopy_features, nr_workers),
	XPC_IOCTL_OP(XPCOPY_CMD_COPY, XPCOPY_COPY, xpc_copy,
		     struct xpcopy_copy, copied),
	XPC_IOCTL_OP(XPCOPY_CMD_GRANT, XPCOPY_GRANT, xpc_grant,
		     struct xpcopy_grant, fd),
	XPC_IOCTL_OP(XPCOPY_CMD_GRANT_DERIVE, XPCOPY_GRANT_DERIVE, xpc_derive,
		     struct xpcopy_grant_derive, len),
	XPC_IOCTL_OP(XPCOPY_CMD_GRANT_REVOKE, XPCOPY_GRANT_REVOKE, xpc_revoke,
		     struct xpcopy_grant_revoke, __reserved),
	XPC_IOCTL_OP(XPCOPY_CMD_GRANT_INFO, XPCOPY_GRANT_INFO, xpc_info,
		     struct xpcopy_grant_info, __reserved),
};

/* Copy the command struct back, as much of it as the caller has room for. */
static int xpc_ucmd_respond(struct xpc_ucmd *ucmd, size_t size)
{
	if (copy_to_user(ucmd->ubuffer, ucmd->cmd, min_t(size_t, size,
							 ucmd->user_size)))
		return -EFAULT;
	return 0;
}

static int xpc_features(struct xpc_ucmd *ucmd)
{
	struct xpcopy_features *f = ucmd->cmd;
	unsigned int i;

	if (f->flags)
		return -EINVAL;
	f->abi_version = XPCOPY_ABI_VERSION;
	f->batch_pages = xpc_batch_pages();
	f->commands = 0;
	for (i = 0; i < ARRAY_SIZE(xpc_ops); i++)
		if (xpc_ops[i].execute)
			f->commands |= BIT_ULL(i);
	f->copy_flags = XPC_COPY_FLAGS;
	f->max_iov = XPCOPY_IOV_MAX;
	f->nr_workers = xpc_nr_workers();
	f->caps = XPC_URING_CMD ? XPCOPY_CAP_URING_CMD : 0;
	if (XPC_URING_ASYNC)
		f->caps |= XPCOPY_CAP_URING_WORKERS;
	f->caps |= XPCOPY_CAP_GRANT_PIN;
	if (XPC_URING_CMD)
		f->caps |= XPCOPY_CAP_SQE_COPY;
	return xpc_ucmd_respond(ucmd, sizeof(*f));
}

/* Ranges up to this many per side are read onto the stack, not allocated. */
#define XPC_FAST_IOV	8

static void xpc_free_iov(const struct xpcopy_iovec *iov,
			 const struct xpcopy_iovec *fast)
{
	if (iov != fast)
		kvfree(iov);
}

/* Check ranges: each must not wrap, nor their sum. 0 or -EINVAL. */
static int xpc_check_iov(const struct xpcopy_iovec *iov, u32 cnt)
{
	u64 total = 0, end;
	u32 i;

	for (i = 0; i < cnt; i++)
		if (check_add_overflow(iov[i].addr, iov[i].len, &end) ||
		    check_add_overflow(total, iov[i].len, &total))
			return -EINVAL;
	return 0;
}

/*
 * Read and check an array of ranges (xpc_check_iov()). Short arrays land
 * in @fast (XPC_FAST_IOV entries), longer ones are allocated;
 * xpc_free_iov() tells them apart.
 */
static struct xpcopy_iovec *xpc_import_iov(u64 uptr, u32 cnt,
					   struct xpcopy_iovec *fast)
{
	struct xpcopy_iovec *iov = fast;

	if (cnt > XPCOPY_IOV_MAX)
		return ERR_PTR(-EINVAL);
	if (!cnt)
		return NULL;
	if (cnt > XPC_FAST_IOV) {
		iov = kvmalloc_array(cnt, sizeof(*iov), GFP_KERNEL);
		if (!iov)
			return ERR_PTR(-ENOMEM);
	}
	/*
	 * One range, the common case, at a constant size: hardened usercopy
	 * checks a constant-size copy at build time (when it can see the
	 * object), not with a run-time walk on every call.
	 */
	if (cnt == 1 ? copy_from_user(iov, u64_to_user_ptr(uptr), sizeof(*iov)) :
		       copy_from_user(iov, u64_to_user_ptr(uptr),
				      cnt * sizeof(*iov))) {
		xpc_free_iov(iov, fast);
		return ERR_PTR(-EFAULT);
	}
	if (xpc_check_iov(iov, cnt)) {
		xpc_free_iov(iov, fast);
		return ERR_PTR(-EINVAL);
	}
	return iov;
}

/*
 * The target's address space, if the caller may use it: its own, or any
 * process's with CAP_SYS_PTRACE in the user namespace that owns that memory.
 * ptrace_may_access() is not exported to modules, so neither the dumpable
 * flag nor the security modules' ptrace hooks are consulted: the capability
 * is required even for a process of the same user. An error injected here
 * (fail_function) is a target that went away before the copy began.
 */
static noinline struct mm_struct *xpc_target_mm(pid_t nr, bool nonblock)
{
	struct user_namespace *ns;
	struct task_struct *task;
	struct mm_struct *mm;
	bool allowed;

	rcu_read_lock();
	task = pid_task(find_vpid(nr), PIDTYPE_PID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	if (!task)
		return ERR_PTR(-ESRCH);
	/* No exec between taking the mm and judging it, as mm_access(). */
	if (nonblock && !down_read_trylock(&task->signal->exec_update_lock)) {
		mm = ERR_PTR(-EAGAIN);
		goto out_task;
	}
	if (!nonblock && down_read_killable(&task->signal->exec_update_lock)) {
		mm = ERR_PTR(-EINTR);
		goto out_task;
	}
	mm = get_task_mm(task);
	if (!mm) {
		mm = ERR_PTR(-ESRCH);
		goto out_unlock;
	}
	allowed = mm == current->mm;
	if (!allowed) {
		ns = xpc_mm_user_ns(task, mm);
		allowed = ns_capable(ns, CAP_SYS_PTRACE);
		put_user_ns(ns);
	}
	if (!allowed) {
		mmput(mm);
		mm = ERR_PTR(-EPERM);
	}
out_unlock:
	up_read(&task->signal->exec_update_lock);
out_task:
	put_task_struct(task);
	return mm;
}
ALLOW_ERROR_INJECTION(xpc_target_mm, ERRNO);

/* The other side of a copy: an address space, by pid or through a grant. */
struct xpc_target {
	struct xpc_grant *grant;	/* NULL in pid mode */
};

/*
 * Resolve the other side once: @x gets its mm (a reference on its users)
 * and, through a grant, the check asked before each batch; a grant's
 * offsets in @x's remote ranges become addresses.
 */
static int xpc_target_resolve(struct xpc_target *t,
			      const struct xpcopy_copy *cmd,
			      struct xpc_xfer *x, bool nonblock)
{
	if (cmd->flags & XPCOPY_COPY_GRANT) {
		/* x->riov is ours: the grant turns offsets into addresses. */
		t->grant = xpc_grant_prepare(cmd->grant_fd, x,
					     (struct xpcopy_iovec *)x->riov,
					     cmd->flags & XPCOPY_COPY_PUBLISH);
		return PTR_ERR_OR_ZERO(t->grant);
	}
	t->grant = NULL;
	x->mm = xpc_target_mm(cmd->pid, nonblock);
	return PTR_ERR_OR_ZERO(x->mm);
}

/* Drop what xpc_target_resolve() took. */
static void xpc_target_put(struct xpc_target *t, struct xpc_xfer *x)
{
	if (t->grant)
		xpc_grant_finish(t->grant, x);
	else
		mmput_async(x->mm);	/* its last user may be a worker */
}

/*
 * A copy command between its checks and its end: the transfer, its other
 * side, and room for short iovec arrays. On the caller's stack, or in a
 * struct xpc_async when the workers run it.
 */
struct xpc_copy_state {
	struct xpc_xfer x;
	struct xpc_target target;
	u64 copied;
	struct xpcopy_iovec lfast[XPC_FAST_IOV];
	struct xpcopy_iovec rfast[XPC_FAST_IOV];
};

/*
 * The ranges of a copy: read from the caller's arrays, or an
 * XPCOPY_SQE_COPY's one a side. On success xpc_free_iov() frees them.
 */
static int xpc_copy_ranges(struct xpc_ucmd *ucmd, struct xpc_copy_state *st)
{
	const struct xpcopy_copy *cmd = ucmd->cmd;
	struct xpc_xfer *x = &st->x;
	int ret;

	x->lcnt = cmd->local_cnt;
	x->rcnt = cmd->remote_cnt;
	if (ucmd->sqe_iov) {
		st->lfast[0] = ucmd->sqe_iov[0];
		st->rfast[0] = ucmd->sqe_iov[1];
		x->liov = st->lfast;
		x->riov = st->rfast;
		return xpc_check_iov(x->liov, 1) ?: xpc_check_iov(x->riov, 1);
	}
	x->liov = xpc_import_iov(cmd->local_iov, cmd->local_cnt, st->lfast);
	if (IS_ERR(x->liov))
		return PTR_ERR(x->liov);
	x->riov = xpc_import_iov(cmd->remote_iov, cmd->remote_cnt, st->rfast);
	if (IS_ERR(x->riov)) {
		ret = PTR_ERR(x->riov);
		xpc_free_iov(x->liov, st->lfast);
		return ret;
	}
	return 0;
}

/*
 * Check a copy command, read its ranges and resolve its other side, with
 * the caller's credentials and files. On success xpc_copy_release() drops
 * what it took.
 */
static int xpc_copy_prepare(struct xpc_ucmd *ucmd, struct xpc_copy_state *st)
{
	struct xpcopy_copy *cmd = ucmd->cmd;
	u32 dir = cmd->flags & (XPCOPY_COPY_WRITE | XPCOPY_COPY_READ);
	bool by_grant = cmd->flags & XPCOPY_COPY_GRANT;
	bool publish = cmd->flags & XPCOPY_COPY_PUBLISH;
	struct xpc_xfer *x = &st->x;
	int ret;

	if (cmd->flags & ~XPC_COPY_FLAGS || cmd->__reserved)
		return -EINVAL;
	if (dir != XPCOPY_COPY_WRITE && dir != XPCOPY_COPY_READ)
		return -EINVAL;
	if (!by_grant && (cmd->pid < 0 || publish || cmd->seq))
		return -EINVAL;
	if (by_grant && !publish && cmd->seq)
		return -EINVAL;
	if (cmd->flags & XPCOPY_COPY_INLINE &&
	    cmd->flags & (XPCOPY_COPY_WORKER | XPCOPY_COPY_BOUNCE))
		return -EINVAL;

	/*
	 * A publication may wait for its lock and the word's page: not in
	 * the submission. (Where the workers can take a large copy whole,
	 * xpc_copy() decides once it knows the size.)
	 */
	if (ucmd->nonblock && publish && !ucmd->ioucmd)
		return -EAGAIN;

	memset(x, 0, sizeof(*x));
	st->copied = 0;
	x->write = dir == XPCOPY_COPY_WRITE;
	x->bounce = cmd->flags & XPCOPY_COPY_BOUNCE;
	/* io_uring cancellation must be able to end every wait of a copy. */
	x->nowait = ucmd->uring;
	x->nonblock = ucmd->nonblock;
	if (cmd->flags & XPCOPY_COPY_INLINE)
		x->path = XPC_PATH_INLINE;
	else if (cmd->flags & XPCOPY_COPY_WORKER)
		x->path = XPC_PATH_WORKER;
	ret = xpc_copy_ranges(ucmd, st);
	if (ret)
		return ret;
	ret = xpc_target_resolve(&st->target, cmd, x, ucmd->nonblock);
	if (ret) {
		xpc_free_iov(x->riov, st->rfast);
		xpc_free_iov(x->liov, st->lfast);
	}
	return ret;
}

/*
 * Copy, then publish @seq through the grant if asked and the copy is
 * whole; st->copied gets the count.
 */
static int xpc_copy_run(struct xpc_copy_state *st, bool publish, u64 seq)
{
	int ret;

	ret = xpc_engine_copy(&st->x, &st->copied);
	if (!ret && publish && st->copied == xpc_xfer_total(&st->x))
		ret = xpc_grant_publish(st->target.grant, seq);
	return ret;
}

/* Drop what xpc_copy_prepare() took. */
static void xpc_copy_release(struct xpc_copy_state *st)
{
	xpc_target_put(&st->target, &st->x);
	xpc_free_iov(st->x.riov, st->rfast);
	xpc_free_iov(st->x.liov, st->lfast);
}

/*
 * Where a copy command's count goes in the caller's struct; NULL for an
 * XPCOPY_SQE_COPY, whose count is only the CQE's.
 */
static u64 __user *xpc_copied_uptr(void __user *ubuffer)
{
	if (!ubuffer)
		return NULL;
	return ubuffer + offsetof(struct xpcopy_copy, copied);
}

#if XPC_URING_ASYNC
static int xpc_uring_async(struct xpc_ucmd *ucmd, struct xpc_copy_state *st);

/*
 * Most bytes the submission copies itself when no worker is free: a larger
 * copy goes to io-wq.
 */
#define XPC_URING_SUBMIT_MAX	(4ULL << 20)

/* io_uring copies handed to the workers that no worker has started yet. */
static atomic_t xpc_async_queued = ATOMIC_INIT(0);

/*
 * Is a worker free to take one more io_uring copy at once? Only then is it
 * handed to the workers: a copy never queues behind workers held by others'
 * copies (a page nobody serves), which no caller may do to another.
 */
static bool xpc_async_may_queue(void)
{
	return atomic_read(&xpc_async_queued) < (int)xpc_pool_idle();
}
#endif

static int xpc_copy(struct xpc_ucmd *ucmd)
{
	struct xpcopy_copy *cmd = ucmd->cmd;
	bool publish = cmd->flags & XPCOPY_COPY_PUBLISH;
	struct xpc_copy_state st;
	int ret;

	ret = xpc_copy_prepare(ucmd, &st);
	if (ret)
		return ret;
#if XPC_URING_ASYNC
	/*
	 * Too large for the submission: a free worker takes it whole; with
	 * none free it is tried here, by the submitter alone, and goes to
	 * io-wq only if it would wait.
	 */
	if (ucmd->ioucmd && xpc_engine_too_large(&st.x)) {
		if (xpc_async_may_queue())
			return xpc_uring_async(ucmd, &st);
		/* Not a long one: the submission holds the ring's lock. */
		if (xpc_xfer_total(&st.x) <= XPC_URING_SUBMIT_MAX)
			st.x.nonblock_large = true;
	}
#endif
	if (ucmd->nonblock && publish) {
		ret = -EAGAIN;
		goto out;
	}
	ret = xpc_copy_run(&st, publish, cmd->seq);
out:
	xpc_copy_release(&st);
	if (!ret && ucmd->ubuffer &&
	    put_user(st.copied, xpc_copied_uptr(ucmd->ubuffer)))
		ret = -EFAULT;
	ucmd->copied = st.copied;
	return ret;
}

static int xpc_grant(struct xpc_ucmd *ucmd)
{
	return xpc_grant_create(ucmd->cmd, ucmd->ubuffer);
}

static int xpc_derive(struct xpc_ucmd *ucmd)
{
	return xpc_grant_derive(ucmd->cmd, ucmd->ubuffer);
}

static int xpc_revoke(struct xpc_ucmd *ucmd)
{
	return xpc_grant_revoke(ucmd->cmd);
}

static int xpc_info(struct xpc_ucmd *ucmd)
{
	int ret = xpc_grant_info(ucmd->cmd);

	if (ret)
		return ret;
	return xpc_ucmd_respond(ucmd, sizeof(struct xpcopy_grant_info));
}

/*
 * Is @cmd (an ioctl number, or an io_uring cmd_op) the command @ioctl_num,
 * whatever its size bits say? The size that counts is the struct's own.
 */
static bool xpc_is_cmd(unsigned int cmd, unsigned int ioctl_num)
{
	const unsigned int size_mask = _IOC_SIZEMASK << _IOC_SIZESHIFT;

	return (cmd & ~size_mask) == (ioctl_num & ~size_mask);
}

/*
 * Run command @cmd (an ioctl number, or an io_uring cmd_op) on the struct
 * at @ubuffer. The ioctl and io_uring paths share every check.
 */
static int xpc_dispatch(unsigned int cmd, void __user *ubuffer,
			struct xpc_ucmd *ucmd)
{
	const struct xpc_ioctl_op *op;
	union xpc_ucmd_buffer buf;
	unsigned int nr = _IOC_NR(cmd);
	int ret;

	if (_IOC_TYPE(cmd) != XPCOPY_TYPE || nr >= ARRAY_SIZE(xpc_ops))
		return -ENOTTY;
	op = &xpc_ops[nr];
	if (!op->execute || !xpc_is_cmd(cmd, op->ioctl_num))
		return -ENOTTY;

	ucmd->ubuffer = ubuffer;
	ret = get_user(ucmd->user_size, (u32 __user *)ucmd->ubuffer);
	if (ret)
		return ret;
	if (ucmd->user_size < op->min_size)
		return -EINVAL;
	if (ucmd->user_size > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&buf, op->size, ucmd->ubuffer,
				    ucmd->user_size);
	if (ret)
		return ret;
	ucmd->cmd = &buf;
	return op->execute(ucmd);
}

static long xpc_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct xpc_ucmd ucmd = {};

	return xpc_dispatch(cmd, (void __user *)arg, &ucmd);
}

#if XPC_URING_ASYNC
/**
 * struct xpc_async - an io_uring copy the workers run and complete
 * @req: its request in the pool: one job, in the submitter's mm, which it
 *	holds (a reference on its users) until the request ends
 * @job: the job a worker runs, standing in for the submitter
 * @ioucmd: the io_uring command, marked cancelable
 * @ucopied: the submitter's struct xpcopy_copy's @copied (NULL: an
 *	XPCOPY_SQE_COPY, whose count is only the CQE's)
 * @publish: publish @seq after a whole copy
 * @seq: the value
 * @ret: the command's result: -ECANCELED until the job runs
 * @started: a worker took the job (it left xpc_async_queued)
 * @tgid: the submitter's process, watched by xpc_async_watch()
 * @node: on xpc_async_list while the request runs
 * @st: the copy, prepared in the submission
 *
 * Allocated in the submission, freed by the task work that posts the CQE;
 * until then ->uring_cmd() with IO_URING_F_CANCEL (under the ring's lock,
 * as that task work is) may find it through the command's pdu.
 */
struct xpc_async {
	struct xpc_req req;
	struct xpc_job job;
	struct io_uring_cmd *ioucmd;
	struct pid *tgid;
	struct list_head node;
	u64 __user *ucopied;
	bool publish;
	u64 seq;
	int ret;
	bool started;
	struct xpc_copy_state st;
};

static struct xpc_async *xpc_async_of(struct io_uring_cmd *ioucmd)
{
	return *io_uring_cmd_to_pdu(ioucmd, struct xpc_async *);
}

/*
 * The submitter's exit. A copy the workers run holds the users of the
 * submitter's mm, and with them its mappings, among which io_uring's own
 * rings: the ring is not released, and does not cancel the copy, until the
 * mm goes; and io_uring's cancellation at task exit passes over a
 * uring_cmd. So while such copies run they are watched: one whose
 * submitting process no longer runs on its mm (it exited, or exec'd) is
 * stopped (xpc_kick()), which lets the mm, the ring and the rest go.
 */
#define XPC_ASYNC_WATCH_MS	100

static LIST_HEAD(xpc_async_list);
static DEFINE_SPINLOCK(xpc_async_lock);	/* protects xpc_async_list */

static void xpc_async_watch(struct work_struct *work);
static DECLARE_DELAYED_WORK(xpc_async_watcher, xpc_async_watch);

static void xpc_async_watch(struct work_struct *work)
{
	struct xpc_async *a, *tmp;
	LIST_HEAD(unrun);
	bool more;

	spin_lock(&xpc_async_lock);
	list_for_each_entry_safe(a, tmp, &xpc_async_list, node)
		if (!xpc_req_cancelled(&a->req) &&
		    !xpc_process_runs_on(a->tgid, a->req.mm) &&
		    xpc_kick(&a->req))
			list_move(&a->node, &unrun);	/* ours to end */
	more = !list_empty(&xpc_async_list);
	spin_unlock(&xpc_async_lock);
	/* Jobs still queued (every worker busy): end them, unrun, now. */
	list_for_each_entry_safe(a, tmp, &unrun, node) {
		list_del_init(&a->node);
		xpc_jobs_done(&a->req, 1);
	}
	if (more)
		schedule_delayed_work(&xpc_async_watcher,
				      msecs_to_jiffies(XPC_ASYNC_WATCH_MS));
}

/*
 * The worker's job, in the submitter's mm: copy (and publish), then write
 * the count into the submitter's struct, as the ioctl does. A job
 * cancelled before it ran does nothing: its result stays -ECANCELED.
 */
static void xpc_async_run(struct xpc_job *job)
{
	struct xpc_async *a = container_of(job, struct xpc_async, job);

	a->started = true;
	atomic_dec(&xpc_async_queued);
	if (xpc_req_cancelled(job->req))
		return;
	a->ret = xpc_copy_run(&a->st, a->publish, a->seq);
	if (a->ret == -ERESTARTSYS)	/* a wait cut short by the cancel */
		a->ret = -EINTR;
	/* The copy is over: a SIGKILL from a late cancel must not cost the count. */
	if (signal_pending(current))
		flush_signals(current);
	/* A cancel's SIGKILL after the flush fails the fault: not a bad address. */
	if (!a->ret && a->ucopied && put_user(a->st.copied, a->ucopied))
		a->ret = xpc_req_cancelled(job->req) ? -ECANCELED : -EFAULT;
}

/*
 * Post the CQE of a copy the workers ran. Context: task work of the
 * submitter (or io_uring's fallback work once it is gone), the ring's lock
 * held.
 */
static void xpc_uring_async_done(struct io_uring_cmd *ioucmd,
				 unsigned int issue_flags)
{
	struct xpc_async *a = xpc_async_of(ioucmd);
	int ret = a->ret ? a->ret : min_t(u64, a->st.copied, INT_MAX);

	/* Takes it off the cancelable list: no cancel can find it after. */
	xpc_uring_cmd_done(ioucmd, ret, issue_flags);
	kfree(a);
}

XPC_DEFINE_URING_TW(xpc_uring_async_tw, xpc_uring_async_done);

/*
 * The request's job ran (or was dropped by a cancel): no worker touches
 * the submitter's mm for it any more. Drop what the submission took and
 * post the CQE from the submitter's task work.
 */
static void xpc_async_end(struct xpc_req *req)
{
	struct xpc_async *a = container_of(req, struct xpc_async, req);

	if (!a->started)	/* dropped by a cancel before it ran */
		atomic_dec(&xpc_async_queued);
	spin_lock(&xpc_async_lock);
	list_del(&a->node);
	spin_unlock(&xpc_async_lock);
	put_pid(a->tgid);
	xpc_req_end(req);
	xpc_copy_release(&a->st);
	/* A last reference: the teardown is not this worker's (or cancel's). */
	mmput_async(req->mm);
	/* The CQE from the submitter's task work (or io_uring's fallback). */
	io_uring_cmd_complete_in_task(a->ioucmd, xpc_uring_async_tw);
}

/*
 * A copy too large for the submission, handed to the workers whole, in the
 * submission itself (no io-wq thread): what needs the submitter (its
 * command and ranges, read; the target, resolved with its credentials) is
 * in @st already; this takes a reference on its mm, moves @st to the heap
 * and queues one job, which a worker runs in the submitter's mm as its
 * caller (the large copy shared with other idle workers as usual). The
 * command is cancelable: ring exit and task exit stop it (xpc_cancel()).
 * Consumes @st.
 */
static int xpc_uring_async(struct xpc_ucmd *ucmd, struct xpc_copy_state *st)
{
	struct xpcopy_copy *cmd = ucmd->cmd;
	struct xpc_async *a;
	LIST_HEAD(jobs);

	a = kmalloc(sizeof(*a), GFP_KERNEL);
	if (!a) {
		xpc_copy_release(st);
		return -ENOMEM;
	}
	a->st = *st;
	if (st->x.liov == st->lfast)
		a->st.x.liov = a->st.lfast;
	if (st->x.riov == st->rfast)
		a->st.x.riov = a->st.rfast;
	a->st.x.nonblock = false;
	a->st.x.stand_in = true;
	a->ioucmd = ucmd->ioucmd;
	a->ucopied = xpc_copied_uptr(ucmd->ubuffer);
	a->publish = cmd->flags & XPCOPY_COPY_PUBLISH;
	a->seq = cmd->seq;
	a->ret = -ECANCELED;
	a->started = false;
	mmget(current->mm);
	xpc_req_init(&a->req, current->mm);
	a->req.last = true;
	a->req.end = xpc_async_end;
	a->job.req = &a->req;
	a->job.run = xpc_async_run;
	list_add_tail(&a->job.node, &jobs);

	a->tgid = get_pid(task_tgid(current));
	spin_lock(&xpc_async_lock);
	list_add_tail(&a->node, &xpc_async_list);
	spin_unlock(&xpc_async_lock);
	schedule_delayed_work(&xpc_async_watcher,
			      msecs_to_jiffies(XPC_ASYNC_WATCH_MS));

	*io_uring_cmd_to_pdu(a->ioucmd, struct xpc_async *) = a;
	io_uring_cmd_mark_cancelable(a->ioucmd, ucmd->issue_flags);
	xpc_stat_add(XPC_URING_WORKERS, 1);
	/* Wake one even if one lingers: nobody takes this job back. */
	atomic_inc(&xpc_async_queued);
	xpc_submit(&a->req, &jobs, 1, 1);
	return -EIOCBQUEUED;
}
#endif /* XPC_URING_ASYNC */

#if XPC_URING_CMD
/* The bytes of sqe->cmd in a 128-byte SQE. */
#define XPC_SQE128_CMD_BYTES	(2 * sizeof(struct io_uring_sqe) - \
				 offsetof(struct io_uring_sqe, cmd))

/*
 * XPCOPY_SQE_COPY: the copy command is the SQE's own struct
 * xpcopy_sqe_copy, read once (the SQE may be in the ring, which userspace
 * can write), and run as an XPCOPY_COPY of one range a side, with no
 * struct of the caller's to read or write.
 */
static int xpc_sqe_copy(struct io_uring_cmd *ioucmd, unsigned int issue_flags,
			struct xpc_ucmd *ucmd)
{
	union {
		struct xpcopy_sqe_copy sc;
		u8 bytes[XPC_SQE128_CMD_BYTES];
	} u;
	struct xpcopy_iovec iov[2];
	struct xpcopy_copy cmd = {};
	u64 len;

	if (!(issue_flags & IO_URING_F_SQE128))
		return -EINVAL;
	memcpy(&u, xpc_uring_cmd_bytes(ioucmd), sizeof(u));
	if (u.sc.__reserved ||
	    memchr_inv(u.bytes + sizeof(u.sc), 0, sizeof(u) - sizeof(u.sc)))
		return -EINVAL;
	/* As process_vm_writev(): the count must fit the CQE. */
	len = min_t(u64, u.sc.len, MAX_RW_COUNT);
	iov[0] = (struct xpcopy_iovec){ .addr = u.sc.local, .len = len };
	iov[1] = (struct xpcopy_iovec){ .addr = u.sc.remote, .len = len };
	/*
	 * A small message through a pinned grant, in the submission: the
	 * fast way, or (any check it would fail, anything else) the general.
	 */
	if (ucmd->nonblock && len && !u.sc.seq && !xpc_check_iov(iov, 2) &&
	    (u.sc.flags == (XPCOPY_COPY_GRANT | XPCOPY_COPY_WRITE) ||
	     u.sc.flags == (XPCOPY_COPY_GRANT | XPCOPY_COPY_READ))) {
		int ret = xpc_grant_copy_fast(u.sc.grant_fd,
					      u.sc.flags & XPCOPY_COPY_WRITE,
					      u.sc.local, u.sc.remote, len);

		if (ret != -EOPNOTSUPP) {
			ucmd->copied = ret ? 0 : len;
			return ret;
		}
	}
	cmd.size = sizeof(cmd);
	cmd.flags = u.sc.flags;
	cmd.pid = u.sc.pid;
	cmd.local_cnt = 1;
	cmd.remote_cnt = 1;
	cmd.seq = u.sc.seq;
	ucmd->cmd = &cmd;
	ucmd->sqe_iov = iov;
	return xpc_copy(ucmd);
}

/**
 * xpc_uring_cmd() - IORING_OP_URING_CMD on /dev/xpcopy
 * @ioucmd: the command: cmd_op is an ioctl number, sqe->cmd a
 *	struct xpcopy_uring_cmd holding the address of the command's struct,
 *	or for XPCOPY_SQE_COPY a struct xpcopy_sqe_copy
 * @issue_flags: IO_URING_F_* flags of this issue
 *
 * Submission must never wait. A small copy on the automatic path (no
 * publication, no bounce, at most inline_max bytes) is tried in the
 * non-blocking issue itself: with every page it needs present and no lock
 * contended it completes there, its result returned, with no io-wq thread
 * and no worker. Anything else, or anything that would wait, returns
 * -EAGAIN, and io_uring hands the request, with its SQE copied, to an io-wq
 * worker, a thread of the submitting process (its mm, files and
 * credentials), which calls again, blocking, and runs the command exactly
 * as the ioctl, in parallel with the other requests in flight (a copy cut
 * short by -EAGAIN is copied again whole there). Cancellation and ring exit
 * send the worker a notify signal (TIF_NOTIFY_SIGNAL), which
 * signal_pending() reports, so the copy's waits end as for a signal.
 *
 * XPCOPY_SQE_COPY (a ring of 128-byte SQEs) is an XPCOPY_COPY whose command
 * is in the SQE itself (xpc_sqe_copy()), on the same paths.
 *
 * From the io-wq worker the result is posted with io_uring_cmd_done(), not
 * returned: see xpc_uring_cmd_done().
 *
 * Where the kernel has cancelable uring_cmds (XPC_URING_ASYNC), a copy too
 * large for the submission (the automatic path, more than inline_max) is
 * not punted: the non-blocking issue prepares it and hands it to the
 * module's workers (xpc_uring_async()), which post its CQE, and returns
 * -EIOCBQUEUED. Ring exit and task exit then call again with
 * IO_URING_F_CANCEL, which stops it (its worker still posts the CQE).
 *
 * Context: process context; sleeps unless IO_URING_F_NONBLOCK. With
 * IO_URING_F_CANCEL, the ring's lock held.
 * Return: for a non-blocking issue the command's result (or -errno), or
 * -EAGAIN, or -EIOCBQUEUED (handed to the workers); else -EIOCBQUEUED (the
 * CQE, with the command's result or -errno, is posted already); 0 for
 * IO_URING_F_CANCEL.
 */
static int xpc_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	struct xpc_ucmd ucmd = { .uring = true };
	bool sqe = xpc_is_cmd(ioucmd->cmd_op, XPCOPY_SQE_COPY);
	bool copy = sqe || xpc_is_cmd(ioucmd->cmd_op, XPCOPY_COPY);
	struct xpcopy_uring_cmd uc;
	int ret;

#if XPC_URING_ASYNC
	if (issue_flags & IO_URING_F_CANCEL) {
		/* Ring or task exit: stop it; its worker posts the CQE. */
		xpc_cancel(&xpc_async_of(ioucmd)->req);
		return 0;
	}
#endif
	ucmd.nonblock = issue_flags & IO_URING_F_NONBLOCK;
	if (ucmd.nonblock && !copy)
		goto punt;
	if (XPC_URING_ASYNC && ucmd.nonblock) {
		ucmd.ioucmd = ioucmd;
		ucmd.issue_flags = issue_flags;
	}
	if (sqe) {
		ret = xpc_sqe_copy(ioucmd, issue_flags, &ucmd);
	} else {
		memcpy(&uc, xpc_uring_cmd_bytes(ioucmd), sizeof(uc));
		ret = uc.__reserved ? -EINVAL :
		      xpc_dispatch(ioucmd->cmd_op, u64_to_user_ptr(uc.cmd),
				   &ucmd);
	}
	if (ret == -EIOCBQUEUED)
		return ret;	/* the workers took it */
	if (ret == -EAGAIN && ucmd.nonblock)
		goto punt;
	if (!ret && copy)
		ret = min_t(u64, ucmd.copied, INT_MAX);
	if (ucmd.nonblock) {
		xpc_stat_add(XPC_URING_ISSUED, 1);
		return ret;
	}
	xpc_uring_cmd_done(ioucmd, ret, issue_flags);
	return -EIOCBQUEUED;

punt:
	xpc_uring_sqe_keep(ioucmd, issue_flags);
	xpc_stat_add(XPC_URING_PUNTS, 1);
	return -EAGAIN;
}
#endif /* XPC_URING_CMD */

static const struct file_operations xpc_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = xpc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
#if XPC_URING_CMD
	.uring_cmd = xpc_uring_cmd,
#endif
	.llseek = noop_llseek,
};

struct xpc_stat_attr {
	struct device_attribute attr;
	enum xpc_stat stat;
};

static ssize_t xpc_stat_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct xpc_stat_attr *sa = container_of(attr, struct xpc_stat_attr, attr);

	return sysfs_emit(buf, "%llu\n", xpc_stat_read(sa->stat));
}

/* A read-only sysfs file that shows one of the module's counters. */
#define XPC_STAT_ATTR(_name, _stat)					\
	static struct xpc_stat_attr xpc_stat_##_name = {		\
		__ATTR(_name, 0444, xpc_stat_show, NULL), _stat		\
	}

XPC_STAT_ATTR(copies, XPC_COPIES);
XPC_STAT_ATTR(bytes, XPC_BYTES);
XPC_STAT_ATTR(copy_bytes, XPC_COPY_BYTES);
XPC_STAT_ATTR(pins_taken, XPC_PINS_TAKEN);
XPC_STAT_ATTR(pins_released, XPC_PINS_RELEASED);
XPC_STAT_ATTR(inline_copies, XPC_INLINE_COPIES);
XPC_STAT_ATTR(time_take_ns, XPC_NS_TAKE);
XPC_STAT_ATTR(time_wait_ns, XPC_NS_WAIT);
XPC_STAT_ATTR(time_release_ns, XPC_NS_RELEASE);
XPC_STAT_ATTR(time_worker_ns, XPC_NS_WORKER);
XPC_STAT_ATTR(time_inline_ns, XPC_NS_INLINE);
XPC_STAT_ATTR(uring_issued, XPC_URING_ISSUED);
XPC_STAT_ATTR(uring_punts, XPC_URING_PUNTS);
XPC_STAT_ATTR(worker_wakeups, XPC_WORKER_WAKEUPS);
XPC_STAT_ATTR(mm_switches, XPC_MM_SWITCHES);
XPC_STAT_ATTR(caller_bytes, XPC_CALLER_BYTES);
XPC_STAT_ATTR(taken_back, XPC_TAKEN_BACK);
XPC_STAT_ATTR(help_declined, XPC_HELP_DECLINED);
XPC_STAT_ATTR(uring_workers, XPC_URING_WORKERS);

static ssize_t pinned_now_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&xpc_pinned.now));
}
static DEVICE_ATTR_RO(pinned_now);

static ssize_t pinned_peak_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&xpc_pinned.peak));
}

/* Writing 0 starts a new measurement: the peak becomes what is pinned now. */
static ssize_t pinned_peak_store(struct device *dev,
				 struct device_attribute *attr,
				 const char *buf, size_t count)
{
	u64 val;
	int ret;

	ret = kstrtou64(buf, 0, &val);
	if (ret)
		return ret;
	if (val)
		return -EINVAL;
	atomic64_set(&xpc_pinned.peak,
		     atomic64_read(&xpc_pinned.now));
	return count;
}
static DEVICE_ATTR_RW(pinned_peak);

static struct attribute *xpc_stats_attrs[] = {
	&xpc_stat_copies.attr.attr,
	&xpc_stat_bytes.attr.attr,
	&xpc_stat_copy_bytes.attr.attr,
	&dev_attr_pinned_now.attr,
	&dev_attr_pinned_peak.attr,
	&xpc_stat_pins_taken.attr.attr,
	&xpc_stat_pins_released.attr.attr,
	&xpc_stat_inline_copies.attr.attr,
	&xpc_stat_time_take_ns.attr.attr,
	&xpc_stat_time_wait_ns.attr.attr,
	&xpc_stat_time_release_ns.attr.attr,
	&xpc_stat_time_worker_ns.attr.attr,
	&xpc_stat_time_inline_ns.attr.attr,
	&xpc_stat_uring_issued.attr.attr,
	&xpc_stat_uring_punts.attr.attr,
	&xpc_stat_worker_wakeups.attr.attr,
	&xpc_stat_mm_switches.attr.attr,
	&xpc_stat_caller_bytes.attr.attr,
	&xpc_stat_taken_back.attr.attr,
	&xpc_stat_help_declined.attr.attr,
	&xpc_stat_uring_workers.attr.attr,
	NULL,
};

static const struct attribute_group xpc_stats_group = {
	.name = "stats",
	.attrs = xpc_stats_attrs,
};

static const struct attribute_group *xpc_groups[] = {
	&xpc_stats_group,
	NULL,
};

/*
 * Anyone may open the device: every command checks its own authority (the
 * capability for pid addressing), so the file itself grants nothing.
 */
static struct miscdevice xpc_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "xpcopy",
	.fops = &xpc_fops,
	.groups = xpc_groups,
	.mode = 0666,
};

static int __init xpc_init(void)
{
	int ret;

	xpc_stats_init();
	ret = xpc_grant_start();
	if (ret)
		return ret;
	ret = xpc_pool_start();
	if (ret)
		goto err_grant;
	ret = misc_register(&xpc_misc);
	if (ret)
		goto err_pool;
	return 0;

err_pool:
	xpc_pool_stop();
err_grant:
	xpc_grant_stop();
	return ret;
}

static void __exit xpc_exit(void)
{
	misc_deregister(&xpc_misc);
#if XPC_URING_ASYNC
	/* No copy runs (each held the device open): it does not re-arm. */
	cancel_delayed_work_sync(&xpc_async_watcher);
#endif
	xpc_pool_stop();
	xpc_grant_stop();
	xpc_owner_exit();
}

module_init(xpc_init);
module_exit(xpc_exit);

MODULE_DESCRIPTION("xpcopy: single-copy memory transfer between processes");
MODULE_LICENSE("GPL");
MODULE_VERSION(XPCOPY_VERSION);
MODULE_AUTHOR("The xpcopy maintainers");
