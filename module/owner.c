// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: a grant's owner.
 *
 * A grant refers to its owner's address space as it was at creation. The
 * owner has exec'd or exited exactly when no thread of its process runs on
 * that mm any more: execve() gives the process a new mm (after the other
 * threads are gone), exit takes each thread's away. That is the test, not
 * the mm's count of users, which every copy in flight holds up for as long
 * as the copy lasts, and a copy can be stalled at will by its own caller
 * (a userfaultfd page of its own buffer).
 *
 * The test runs when a use of the grant starts and before each batch of a
 * copy touches the other side. Its first failure is kept and wakes the
 * grant's waiters. A waiter asleep when the owner goes is woken by the
 * teardown of the old mm (an MMU notifier's release, shared by every grant
 * of that mm), or by the first use that finds the owner gone, whichever
 * comes first.
 */
#include <linux/err.h>
#include <linux/mmu_notifier.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "owner.h"

/*
 * One per mm that has grants: the owners to tell when the mm is torn down.
 * Allocated by mmu_notifier_get(), freed after an SRCU grace period once the
 * last owner put it.
 */
struct xpc_owner_mm {
	struct mmu_notifier mn;
	spinlock_t lock;		/* protects owners */
	struct list_head owners;
};

static void xpc_owner_set_gone(struct xpc_owner *o)
{
	if (READ_ONCE(o->gone))
		return;
	WRITE_ONCE(o->gone, true);
	wake_up_interruptible_all(o->wait);
	if (o->on_gone)
		o->on_gone(o);
}

/* The mm's last user left: every owner of it has exec'd or exited. */
static void xpc_owner_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct xpc_owner_mm *w = container_of(mn, struct xpc_owner_mm, mn);
	struct xpc_owner *o;

	spin_lock(&w->lock);
	list_for_each_entry(o, &w->owners, node)
		xpc_owner_set_gone(o);
	spin_unlock(&w->lock);
}

static struct mmu_notifier *xpc_owner_mm_alloc(struct mm_struct *mm)
{
	struct xpc_owner_mm *w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);

	if (!w)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&w->lock);
	INIT_LIST_HEAD(&w->owners);
	return &w->mn;
}

static void xpc_owner_mm_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct xpc_owner_mm, mn));
}

static const struct mmu_notifier_ops xpc_owner_mm_ops = {
	.release = xpc_owner_mm_release,
	.alloc_notifier = xpc_owner_mm_alloc,
	.free_notifier = xpc_owner_mm_free,
};

/**
 * xpc_owner_init() - make the calling process the owner
 * @o: the owner to fill
 * @wait: woken when the owner is found gone
 * @on_gone: called then too (in any context, perhaps more than once), or
 *	NULL
 *
 * Context: process context of a task with an mm. Takes the mm's mmap lock
 * for writing.
 *
 * Return: 0, -ENOMEM or -EINTR.
 */
int xpc_owner_init(struct xpc_owner *o, wait_queue_head_t *wait,
		   void (*on_gone)(struct xpc_owner *o))
{
	struct mmu_notifier *mn;

	mn = mmu_notifier_get(&xpc_owner_mm_ops, current->mm);
	if (IS_ERR(mn))
		return PTR_ERR(mn);
	mmgrab(current->mm);
	o->mm = current->mm;
	o->tgid = get_pid(task_tgid(current));
	o->gone = false;
	o->wait = wait;
	o->on_gone = on_gone;
	o->watch = container_of(mn, struct xpc_owner_mm, mn);
	spin_lock(&o->watch->lock);
	list_add(&o->node, &o->watch->owners);
	spin_unlock(&o->watch->lock);
	return 0;
}

/**
 * xpc_owner_destroy() - drop what xpc_owner_init() took
 * @o: the owner
 */
void xpc_owner_destroy(struct xpc_owner *o)
{
	spin_lock(&o->watch->lock);
	list_del(&o->node);
	spin_unlock(&o->watch->lock);
	mmu_notifier_put(&o->watch->mn);
	put_pid(o->tgid);
	mmdrop(o->mm);
}

/**
 * xpc_process_runs_on() - does a thread of a process run on an address space?
 * @tgid: the process
 * @mm: the address space
 *
 * False once the process exited, or exec'd (a new mm), for good if @mm is
 * held (mmgrab()): its address is then not reused.
 *
 * Context: any context that may take a spinlock.
 *
 * Return: true while a thread of @tgid has @mm.
 */
bool xpc_process_runs_on(struct pid *tgid, struct mm_struct *mm)
{
	struct task_struct *leader, *t;
	bool alive = false;

	rcu_read_lock();
	/* The group leader; its ->mm is NULL if it exited before the rest. */
	leader = pid_task(tgid, PIDTYPE_TGID);
	if (leader) {
		/*
		 * No task_lock(): only the pointer is compared, and @mm's
		 * address is not reused while it is held. An exec that
		 * races the check may go either way; once it is over, t->mm
		 * is the new mm.
		 */
		for_each_thread(leader, t) {
			alive = READ_ONCE(t->mm) == mm;
			if (alive)
				break;
		}
	}
	rcu_read_unlock();
	return alive;
}

/**
 * xpc_owner_alive() - does the owner still run on the mm it had?
 * @o: the owner
 *
 * True while a thread of the owner's process has @o->mm. Once false it stays
 * false (the mm can never come back: it is held, so its address is not
 * reused), and the first caller to see it so wakes @o->wait.
 *
 * Context: any context that may take a spinlock.
 */
bool xpc_owner_alive(struct xpc_owner *o)
{
	bool alive;

	if (READ_ONCE(o->gone))
		return false;
	alive = xpc_process_runs_on(o->tgid, o->mm);
	if (!alive)
		xpc_owner_set_gone(o);
	return alive;
}

/**
 * xpc_owner_exit() - wait until every freed subscription is gone
 *
 * Context: module exit, after the last grant was freed.
 */
void xpc_owner_exit(void)
{
	mmu_notifier_synchronize();
}
