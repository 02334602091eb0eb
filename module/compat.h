/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the one place where kernel versions differ.
 *
 * Each difference is detected by compiling a small probe against the target
 * kernel's headers (scripts/compat-probe.sh runs scripts/compat/NAME.c and
 * writes XPC_HAVE_NAME into compat_probed.h beside the module sources before
 * the build) and is shimmed here, with a comment naming the kernel that
 * changed. No other file tests kernel versions.
 */
#ifndef _XPCOPY_COMPAT_H
#define _XPCOPY_COMPAT_H

#include <linux/eventfd.h>
#include <linux/limits.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/user_namespace.h>

#include "compat_probed.h"

/*
 * A grant learns that its owner's old address space was torn down from an
 * MMU notifier (mmu_notifier_get(), 5.4 on). Every distribution kernel has
 * them: KVM, the GPU drivers and HMM select the option.
 */
#if !IS_ENABLED(CONFIG_MMU_NOTIFIER)
#error "xpcopy needs a kernel built with CONFIG_MMU_NOTIFIER"
#endif

#ifdef XPC_HAVE_TASK_EXEC_STATE
#include <linux/sched/exec_state.h>
#endif

#ifdef XPC_HAVE_URING_CMD_SQE
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

/* Linux 6.8 dropped the count argument of eventfd_signal(). */
static inline void xpc_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef XPC_HAVE_EVENTFD_SIGNAL_1ARG
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* Linux 6.5 dropped the vmas argument of pin_user_pages_remote(). */
static inline long xpc_pin_remote(struct mm_struct *mm, unsigned long start,
				  unsigned long nr, unsigned int gup_flags,
				  struct page **pages, int *locked)
{
#ifdef XPC_HAVE_PIN_USER_PAGES_REMOTE_NOVMAS
	return pin_user_pages_remote(mm, start, nr, gup_flags, pages, locked);
#else
	return pin_user_pages_remote(mm, start, nr, gup_flags, pages, NULL,
				     locked);
#endif
}

/* Linux 6.5 dropped the vmas argument of get_user_pages_remote() too. */
static inline long xpc_get_remote(struct mm_struct *mm, unsigned long start,
				  unsigned long nr, unsigned int gup_flags,
				  struct page **pages, int *locked)
{
#ifdef XPC_HAVE_GET_USER_PAGES_REMOTE_NOVMAS
	return get_user_pages_remote(mm, start, nr, gup_flags, pages, locked);
#else
	return get_user_pages_remote(mm, start, nr, gup_flags, pages, NULL,
				     locked);
#endif
}

/*
 * The user namespace that owns @task's memory @mm, with a reference. It was
 * mm->user_ns until struct task_exec_state (new in 7.2, absent in 6.12)
 * moved it, with dumpability, to the task.
 */
static inline struct user_namespace *xpc_mm_user_ns(struct task_struct *task,
						    struct mm_struct *mm)
{
#ifdef XPC_HAVE_TASK_EXEC_STATE
	struct user_namespace *ns;

	rcu_read_lock();
	ns = get_user_ns(rcu_dereference(task->exec_state)->user_ns);
	rcu_read_unlock();
	return ns;
#else
	return get_user_ns(mm->user_ns);
#endif
}

/*
 * The 16 command bytes of an IORING_OP_URING_CMD SQE. 6.1 points at them
 * (ioucmd->cmd); later kernels (6.12, 7.2) keep a pointer to the whole SQE
 * (ioucmd->sqe). Either way io_uring has copied them out of the ring by the
 * time a command goes to an io-wq worker.
 */
static inline const void *xpc_uring_cmd_bytes(const struct io_uring_cmd *ioucmd)
{
#ifdef XPC_HAVE_URING_CMD_SQE
	return ioucmd->sqe->cmd;
#else
	return ioucmd->cmd;
#endif
}

/*
 * Post the CQE of a uring_cmd with result @res. Used, rather than returning
 * the result from ->uring_cmd(), because 6.1 completes a request whose
 * handler returns a positive value only on the submission path: from an
 * io-wq worker such a request would never complete (io_wq_submit_work()
 * fails only negative returns). 7.2 dropped the res2 argument.
 */
static inline void xpc_uring_cmd_done(struct io_uring_cmd *ioucmd, int res,
				      unsigned int issue_flags)
{
#ifdef XPC_HAVE_URING_CMD_DONE_3ARG
	io_uring_cmd_done(ioucmd, res, issue_flags);
#else
	io_uring_cmd_done(ioucmd, res, 0, issue_flags);
#endif
}

#endif /* _XPCOPY_COMPAT_H */
