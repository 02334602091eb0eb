/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the one place where kernel versions differ.
 *
 * Each difference is detected by compiling a small probe against the target
 * kernel's headers (scripts/compat-probe.sh runs scripts/compat/NAME.c and
 * writes XPC_HAVE_NAME into compat_probed.h beside the module sources before
 * the build) and is shimmed here, with a comment naming the kernel that
 * changed. No other file tests kernel versions or XPC_HAVE_* names; the
 * one thing a kernel may lack altogether, io_uring commands (before 5.19),
 * is XPC_URING_CMD, which device.c tests to leave its handler out.
 */
#ifndef _XPCOPY_COMPAT_H
#define _XPCOPY_COMPAT_H

#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/instrumented.h>
#include <linux/limits.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>
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
#include <linux/io_uring_types.h>
#else
#include <linux/io_uring.h>
#endif

/*
 * IORING_OP_URING_CMD, and with it file_operations->uring_cmd and struct
 * io_uring_cmd, came in 5.19: 5.10 has none of them. There the module is
 * built without its uring_cmd handler, and XPCOPY_FEATURES does not report
 * XPCOPY_CAP_URING_CMD (io_uring fails such an SQE with EINVAL itself).
 * XPC_URING_CMD is 1 or 0, for #if and for the feature bits.
 */
#ifdef XPC_HAVE_FOPS_URING_CMD
#define XPC_URING_CMD 1
#else
#define XPC_URING_CMD 0
#endif

/*
 * A uring_cmd that the module's workers run and complete themselves must be
 * cancelable, so that ring exit and task exit can stop it (->uring_cmd()
 * called again with IO_URING_F_CANCEL): IORING_URING_CMD_CANCELABLE and
 * io_uring_cmd_mark_cancelable() came in 6.7 (6.12 and 7.2 have them, 6.1
 * has not). Without them every copy that cannot complete in the
 * submission goes to an io-wq thread, as before. XPC_URING_ASYNC is 1 or 0.
 */
#ifdef XPC_HAVE_URING_CMD_CANCELABLE
#define XPC_URING_ASYNC 1
#else
#define XPC_URING_ASYNC 0
#endif

/*
 * memfd_secret(2) came in 5.14, with SECRETMEM_MAGIC, the magic of its file
 * system. Before it, no mapping is secret memory.
 */
static inline bool xpc_file_is_secretmem(struct file *file)
{
#if defined(XPC_HAVE_SECRETMEM_MAGIC) || defined(SECRETMEM_MAGIC)
	return file_inode(file)->i_sb->s_magic == SECRETMEM_MAGIC;
#else
	return false;
#endif
}

/*
 * kmap_local_page() came in 5.11. Before it, the mapping to use is the one
 * that may sleep, as the copy_to_user() and copy_from_user() done while a
 * page is mapped may (kmap_atomic() would forbid their page faults). On
 * x86_64 there is no highmem: every page is in the direct map, and kmap()
 * is page_address(), with nothing to undo.
 */
#ifndef XPC_HAVE_KMAP_LOCAL_PAGE
#if IS_ENABLED(CONFIG_HIGHMEM)
#error "xpcopy before Linux 5.11 needs a kernel without CONFIG_HIGHMEM"
#endif
static inline void *xpc_kmap_local_page(struct page *page)
{
	return page_address(page);
}

static inline void xpc_kunmap_local(void *kaddr)
{
}

#define kmap_local_page(page)	xpc_kmap_local_page(page)
#define kunmap_local(kaddr)	xpc_kunmap_local(kaddr)
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
 * Fault in the caller's user memory at @u, @n bytes; return how many of
 * them are still not there (less than @n: at least the first page is). Linux
 * 5.16 brought fault_in_readable() and fault_in_safe_writeable(). Before it,
 * reading is fault_in_pages_readable() (0 or -EFAULT; __get_user() does not
 * check the range, so it is checked here), and writing is done as 5.16 does
 * it, by fixup_user_fault() page by page: fault_in_pages_writeable() would
 * store zeroes into memory the copy may never reach.
 */
static inline size_t xpc_fault_in_readable(char __user *u, size_t n)
{
#ifdef XPC_HAVE_FAULT_IN_READABLE
	return fault_in_readable(u, n);
#else
	if (!n)
		return 0;
	if (n > INT_MAX || !access_ok(u, n))
		return n;
	return fault_in_pages_readable(u, n) ? n : 0;
#endif
}

static inline size_t xpc_fault_in_writeable(char __user *u, size_t n)
{
#ifdef XPC_HAVE_FAULT_IN_READABLE
	return fault_in_safe_writeable(u, n);
#else
	unsigned long start = (unsigned long)u, a = start, end;
	struct mm_struct *mm = current->mm;
	bool unlocked = false;

	if (!n || !access_ok(u, n))
		return n;
	end = PAGE_ALIGN(start + n);
	if (end < start)
		return n;
	if (mmap_read_lock_killable(mm))
		return n;
	while (a < end) {
		if (fixup_user_fault(mm, a, FAULT_FLAG_WRITE, &unlocked))
			break;
		a = (a & PAGE_MASK) + PAGE_SIZE;
	}
	mmap_read_unlock(mm);
	return a >= end ? 0 : n - min_t(size_t, n, a - start);
#endif
}

/* The file of a struct fd (from fdget()): a member until 6.12. */
#ifdef XPC_HAVE_FD_FILE
#define xpc_fd_file(f)	fd_file(f)
#else
#define xpc_fd_file(f)	((f).file)
#endif

#if XPC_URING_CMD
/*
 * The command bytes of an IORING_OP_URING_CMD SQE (16, or 80 in a ring of
 * 128-byte SQEs). 6.1 points at them (ioucmd->cmd); later kernels (6.12,
 * 7.2) keep a pointer to the whole SQE (ioucmd->sqe). In the submission
 * they may be in the ring, which userspace can write: read them once. By
 * the time a command is punted to io-wq io_uring has copied them out of
 * the ring (on 6.11-6.13 with xpc_uring_sqe_keep()'s help).
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
 * Before a non-blocking issue returns -EAGAIN (io-wq will issue it again).
 * Linux 6.11 to 6.13 then copy the SQE into the request's async data (a
 * struct uring_cache, the SQE at its start) but leave ioucmd->sqe pointing
 * into the submission ring, which the application may fill with other SQEs
 * before io-wq issues the command: it would read another command. Upstream
 * fixed it in 6.14 by pointing ioucmd->sqe at the copy; 6.12's stable
 * updates lack that. On those kernels (XPC_HAVE_URING_CMD_SQE_STALE, which
 * only the version can tell) the module makes the copy and points at it
 * itself, and io_uring, seeing it made, does not copy again. (A command
 * issued first on io-wq as part of a link still reads the ring there:
 * io_uring's own, out of the module's reach.)
 */
static inline void xpc_uring_sqe_keep(struct io_uring_cmd *ioucmd,
				      unsigned int issue_flags)
{
#ifdef XPC_HAVE_URING_CMD_SQE_STALE
	struct io_kiocb *req = cmd_to_io_kiocb(ioucmd);
	size_t n = issue_flags & IO_URING_F_SQE128 ?
		   2 * sizeof(struct io_uring_sqe) : sizeof(struct io_uring_sqe);

	if (req->async_data && ioucmd->sqe != req->async_data) {
		memcpy(req->async_data, ioucmd->sqe, n);
		ioucmd->sqe = req->async_data;
	}
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

#if XPC_URING_ASYNC
/*
 * XPC_DEFINE_URING_TW(name, fn) defines @name, a task work callback of
 * io_uring_cmd_complete_in_task() that calls
 * fn(struct io_uring_cmd *ioucmd, unsigned int issue_flags). 6.12 calls such
 * a callback with the command and the issue flags to pass to
 * io_uring_cmd_done(); 7.2 with an io_tw_req (io_uring_cmd_from_tw() finds
 * the command) and a token, the flags being
 * IO_URING_CMD_TASK_WORK_ISSUE_FLAGS. Either way the ring's lock is held and
 * the completion may be deferred.
 */
#ifdef XPC_HAVE_URING_CMD_TW_REQ
#define XPC_DEFINE_URING_TW(name, fn)					\
static void name(struct io_tw_req tw_req, io_tw_token_t tw)		\
{									\
	fn(io_uring_cmd_from_tw(tw_req),				\
	   IO_URING_CMD_TASK_WORK_ISSUE_FLAGS);				\
}
#else
#define XPC_DEFINE_URING_TW(name, fn)					\
static void name(struct io_uring_cmd *ioucmd, unsigned int issue_flags) \
{									\
	fn(ioucmd, issue_flags);					\
}
#endif
#endif /* XPC_URING_ASYNC */
#endif /* XPC_URING_CMD */

/*
 * copy_from_user() without the hardened usercopy check of the kernel side,
 * as lib/iov_iter.c copies a page: instrumented (KASAN, KCSAN, KMSAN), after
 * access_ok(), which the caller has asked. 6.1 split
 * instrument_copy_from_user() in two, around the copy (KMSAN).
 */
static inline unsigned long xpc_raw_copy_from_user(void *to,
						   const void __user *from,
						   unsigned long n)
{
	unsigned long left;

#ifdef XPC_HAVE_INSTRUMENT_COPY_FROM_USER_BEFORE
	instrument_copy_from_user_before(to, from, n);
	left = raw_copy_from_user(to, from, n);
	instrument_copy_from_user_after(to, from, n, left);
#else
	instrument_copy_from_user(to, from, n);
	left = raw_copy_from_user(to, from, n);
#endif
	return left;
}

#endif /* _XPCOPY_COMPAT_H */
