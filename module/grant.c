// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: grants.
 *
 * A grant is a window of its owner's address space with rights, held as a
 * file. All grants derived from one original share a struct xpc_grant_src:
 * the owner (its process and its mm, see owner.c), the sequence word, its
 * waiters and the eventfd. Each grant holds its parent; a grant is revoked
 * when it or any ancestor is, and ends for good when its owner exec'd or
 * exited. A pinned grant's pages (XPCOPY_GRANT_PIN) are held by the source
 * too, with a count of their users: the grant until the original is revoked,
 * and each copy in flight.
 */
#include <linux/anon_inodes.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "engine.h"
#include "grant.h"
#include "owner.h"

#define XPC_GRANT_RIGHTS	(XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE)
#define XPC_GRANT_FLAGS		(XPC_GRANT_RIGHTS | XPCOPY_GRANT_SEQ | \
				 XPCOPY_GRANT_EVENTFD | XPCOPY_GRANT_PIN)
/* Grants derived from derived grants: at most this deep. */
#define XPC_GRANT_DEPTH_MAX	16
/* Pages pinned, or released, per call: between them the CPU is offered. */
#define XPC_PIN_CHUNK		512

/**
 * struct xpc_pin - the pages of a pinned grant's window
 * @users: 1 for the grant itself, until its original is revoked or its
 *	owner is found gone; 1 per copy in flight. The last user releases
 *	the pages (xpc_pin_put())
 * @pages: every page of the window, the first holding address @start;
 *	NULL once released
 * @nr: number of @pages
 * @start: the window's start, rounded down to a page
 * @write: the grant has the write right: release them dirty
 * @dropped: the grant's own user was dropped (under the publish lock)
 * @deferred: puts left to @work by copies that may not sleep
 * @work_queued: bit 0: @work is queued, and holds a reference on the source
 * @work: drops the grant's own user once its owner is gone, and the
 *	deferred puts, where it may sleep
 */
struct xpc_pin {
	refcount_t users;
	struct page **pages;
	unsigned long nr;
	u64 start;
	bool write;
	bool dropped;
	atomic_t deferred;
	unsigned long work_queued;
	struct work_struct work;
};

struct xpc_grant_src {
	struct kref kref;
	struct xpc_owner owner;		/* process and mm of the window */
	u64 seq_addr;			/* 0: no sequence word */
	struct eventfd_ctx *efd;
	struct mutex publish_lock;	/* orders the stores to seq_addr */
	spinlock_t lock;		/* protects seq and gen */
	u64 seq;			/* last value published */
	u64 gen;			/* publications so far */
	wait_queue_head_t wait;
	bool pinned;			/* XPCOPY_GRANT_PIN: pin holds the pages */
	struct xpc_pin pin;
};

struct xpc_grant {
	struct kref kref;
	struct xpc_grant_src *src;
	struct xpc_grant *parent;	/* NULL for the original */
	struct mm_struct *creator;	/* may revoke it, by mmgrab() */
	u64 base;			/* window start in the owner's mm */
	u64 len;
	u32 rights;
	u32 depth;			/* 0 for the original */
	bool revoked;
	u64 seen;			/* src->gen at this file's last read */
};

static const struct file_operations xpc_grant_fops;

/* The grant is freed by xpc_grant_put() itself. */
static void xpc_kref_noop(struct kref *kref)
{
}

static struct workqueue_struct *xpc_grant_wq;

/*
 * May the pages of @vma be pinned for as long as a grant lives, and written
 * through the kernel mapping? Anonymous and private memory (pinned for
 * writing, so a private copy of the owner's), tmpfs, memfd, SysV shm and
 * hugetlbfs are; a shared mapping of another file system's file is not:
 * its writeback would not see the writes (Linux refuses it itself from 6.5
 * on, not before).
 */
static bool xpc_vma_pinnable(struct vm_area_struct *vma)
{
	unsigned long magic;

	if (!(vma->vm_flags & VM_SHARED) || !vma->vm_file)
		return true;
	magic = file_inode(vma->vm_file)->i_sb->s_magic;
	return magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC;
}

/* Release @nr pinned @pages, a chunk at a time. */
static void xpc_unpin_chunked(struct page **pages, unsigned long nr,
			      bool dirty)
{
	unsigned long done, n;

	for (done = 0; done < nr; done += n) {
		n = min_t(unsigned long, nr - done, XPC_PIN_CHUNK);
		unpin_user_pages_dirty_lock(pages + done, n, dirty);
		cond_resched();
	}
}

/*
 * Pin the pages of [@start, @start + @nr pages) of the caller into @pages
 * under its mmap lock, every mapping checked first (xpc_vma_pinnable()).
 * Return: 0, -EFAULT, -ENOMEM or -EINTR; on error nothing stays pinned.
 */
static int xpc_pin_locked(u64 start, unsigned long nr, struct page **pages)
{
	struct mm_struct *mm = current->mm;
	u64 end = start + (u64)nr * PAGE_SIZE, a;
	unsigned long done = 0;
	int ret = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for (a = start; a < end; ) {
		struct vm_area_struct *vma = find_vma(mm, a);

		if (!vma || vma->vm_start > a || !xpc_vma_pinnable(vma)) {
			ret = -EFAULT;
			goto out;
		}
		a = vma->vm_end;
	}
	while (done < nr) {
		int n = min_t(unsigned long, nr - done, XPC_PIN_CHUNK);
		long got;

		/*
		 * For writing whatever the rights: a page shared copy-on-write
		 * is made the owner's own first, so that what the owner
		 * writes later is what the grant reads, on every kernel.
		 * No lock drop (no locked argument): the mappings checked
		 * above are the ones pinned.
		 */
		got = xpc_pin_remote(mm, start + done * PAGE_SIZE, n,
				     FOLL_LONGTERM | FOLL_WRITE, pages + done,
				     NULL);
		if (got > 0)
			done += got;
		if (got <= 0) {
			ret = got == -ENOMEM ? -ENOMEM : -EFAULT;
			break;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
out:
	mmap_read_unlock(mm);
	if (ret)
		xpc_unpin_chunked(pages, done, false);
	return ret;
}

/*
 * Pin the window [@addr, @addr + @len) of the caller, which is its owner,
 * into @p, charged to its locked memory (first, so that a refused charge
 * allocates nothing). Return: 0, -EFAULT (a page not mapped, not writable,
 * or not to be pinned for long), -ENOMEM (beyond RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK, or no memory) or -EINTR (a fatal signal).
 */
static int xpc_pin_window(struct xpc_pin *p, u64 addr, u64 len, bool write)
{
	u64 start = addr & PAGE_MASK;
	u64 nr = (addr + len - 1 - start) / PAGE_SIZE + 1;
	int ret;

	/* Beyond any user address space, and what kvmalloc() refuses. */
	if (nr > INT_MAX / sizeof(*p->pages))
		return -ENOMEM;
	ret = account_locked_vm(current->mm, nr, true);
	if (ret)
		return ret;
	p->pages = kvmalloc_array(nr, sizeof(*p->pages), GFP_KERNEL_ACCOUNT);
	if (!p->pages) {
		ret = -ENOMEM;
		goto err_charge;
	}
	ret = xpc_pin_locked(start, nr, p->pages);
	if (ret)
		goto err_free;
	p->nr = nr;
	p->start = start;
	p->write = write;
	refcount_set(&p->users, 1);
	return 0;

err_free:
	kvfree(p->pages);
	p->pages = NULL;
err_charge:
	account_locked_vm(current->mm, nr, false);
	return ret;
}

/*
 * Drop a user of the pinned pages of @src; the last releases them and gives
 * the charge back. Context: may sleep (the owner's mmap lock, page locks).
 */
static void xpc_pin_put(struct xpc_grant_src *src)
{
	struct xpc_pin *p = &src->pin;

	if (!refcount_dec_and_test(&p->users))
		return;
	xpc_unpin_chunked(p->pages, p->nr, p->write);
	account_locked_vm(src->owner.mm, p->nr, false);
	kvfree(p->pages);
	p->pages = NULL;
}

/*
 * Queue @src's pin work, once, with a reference on @src; nothing if @src is
 * being freed (which releases the pages itself). Context: any.
 */
static void xpc_pin_kick(struct xpc_grant_src *src)
{
	if (test_and_set_bit(0, &src->pin.work_queued))
		return;
	if (!kref_get_unless_zero(&src->kref)) {
		clear_bit(0, &src->pin.work_queued);
		return;
	}
	queue_work(xpc_grant_wq, &src->pin.work);
}

/* Drop a user where sleeping is not allowed: maybe the last, so defer. */
static void xpc_pin_put_nowait(struct xpc_grant_src *src)
{
	if (refcount_dec_not_one(&src->pin.users))
		return;
	atomic_inc(&src->pin.deferred);
	xpc_pin_kick(src);
}

/*
 * Is the grant's own user of its pinned pages still to be dropped? Once
 * true, for the one caller that drops it.
 */
static bool xpc_pin_dropping(struct xpc_grant_src *src)
{
	if (!src->pinned || src->pin.dropped)
		return false;
	src->pin.dropped = true;
	return true;
}

static void xpc_src_free(struct kref *kref)
{
	struct xpc_grant_src *src = container_of(kref, struct xpc_grant_src,
						 kref);

	/* No copy is in flight: each holds a grant, and so the source. */
	if (xpc_pin_dropping(src))
		xpc_pin_put(src);
	if (src->efd)
		eventfd_ctx_put(src->efd);
	xpc_owner_destroy(&src->owner);
	kfree(src);
}

/*
 * The pin work: once the owner is gone the grant can copy no more, so its
 * own user of the pages goes (and with it, unless a copy is still in
 * flight, the pages and the charge), as if the original were revoked:
 * nobody can revoke it now. Then the puts deferred by copies.
 */
static void xpc_pin_work(struct work_struct *work)
{
	struct xpc_grant_src *src = container_of(work, struct xpc_grant_src,
						 pin.work);
	bool unpin = false;

	clear_bit(0, &src->pin.work_queued);
	smp_mb__after_atomic();	/* a kick from now on queues it again */
	if (READ_ONCE(src->owner.gone)) {
		mutex_lock(&src->publish_lock);
		unpin = xpc_pin_dropping(src);
		mutex_unlock(&src->publish_lock);
	}
	if (unpin)
		xpc_pin_put(src);
	while (atomic_dec_if_positive(&src->pin.deferred) >= 0)
		xpc_pin_put(src);
	kref_put(&src->kref, xpc_src_free);
}

/* The owner of @o is gone (any context): a pinned window can go. */
static void xpc_src_owner_gone(struct xpc_owner *o)
{
	struct xpc_grant_src *src = container_of(o, struct xpc_grant_src,
						 owner);

	if (src->pinned)
		xpc_pin_kick(src);
}

/**
 * xpc_grant_start() - module init: the workqueue of pinned grants
 *
 * Return: 0 or -ENOMEM.
 */
int xpc_grant_start(void)
{
	xpc_grant_wq = alloc_workqueue("xpcopy_grant", WQ_UNBOUND, 0);
	return xpc_grant_wq ? 0 : -ENOMEM;
}

/**
 * xpc_grant_stop() - module exit: run what pinned grants left queued
 *
 * Context: no grant fd is open any more; before xpc_owner_exit().
 */
void xpc_grant_stop(void)
{
	destroy_workqueue(xpc_grant_wq);
}

/*
 * Drop a reference; free the grant and, in a loop rather than by recursion
 * (a chain of derived grants may be long), every ancestor it was the last
 * holder of.
 */
static void xpc_grant_put(struct xpc_grant *g)
{
	while (g && kref_put(&g->kref, xpc_kref_noop)) {
		struct xpc_grant *parent = g->parent;

		mmdrop(g->creator);
		kref_put(&g->src->kref, xpc_src_free);
		kfree(g);
		g = parent;
	}
}

static bool xpc_grant_revoked(const struct xpc_grant *g)
{
	for (; g; g = g->parent)
		if (READ_ONCE(g->revoked))
			return true;
	return false;
}

/* Does the grant still reach its owner's memory? 0, -ESTALE or -ESRCH. */
static int xpc_grant_check(void *arg)
{
	struct xpc_grant *g = arg;

	if (xpc_grant_revoked(g))
		return -ESTALE;
	return xpc_owner_alive(&g->src->owner) ? 0 : -ESRCH;
}

/* The grant behind @fd, with a reference, or ERR_PTR(-EBADF or -EINVAL). */
static struct xpc_grant *xpc_grant_get(int fd)
{
	struct xpc_grant *g;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &xpc_grant_fops) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	g = file->private_data;
	kref_get(&g->kref);
	fput(file);
	return g;
}

/*
 * Give @g a file and an fd, tell the caller the fd at @ufd, and only then
 * make the fd visible, so that a failure leaves no fd behind. Consumes the
 * caller's reference on @g.
 */
static int xpc_grant_install(struct xpc_grant *g, s32 __user *ufd)
{
	struct file *file;
	int fd, ret;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_put;
	}
	file = anon_inode_getfile("[xpcopy-grant]", &xpc_grant_fops, g,
				  O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_fd;
	}
	if (put_user(fd, ufd)) {
		fput(file);	/* its release drops the reference */
		put_unused_fd(fd);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

err_fd:
	put_unused_fd(fd);
err_put:
	xpc_grant_put(g);
	return ret;
}

/* A writable, aligned word of the caller's: pin it once for writing. */
static int xpc_check_seq_word(u64 addr)
{
	struct page *page;

	if (!IS_ALIGNED(addr, sizeof(u64)))
		return -EINVAL;
	if (pin_user_pages_fast(addr, 1, FOLL_WRITE, &page) != 1)
		return -EFAULT;
	unpin_user_page(page);
	return 0;
}

/**
 * xpc_grant_create() - XPCOPY_GRANT: export a window of the caller's memory
 * @cmd: the command, read from userspace
 * @ucmd: where it came from, to return the fd
 *
 * Return: the new fd, or -errno (-EINTR: a signal came while the owner's
 * mm was being watched, see xpc_owner_init()).
 */
int xpc_grant_create(struct xpcopy_grant *cmd,
		     struct xpcopy_grant __user *ucmd)
{
	struct xpc_grant_src *src;
	struct xpc_grant *g;
	u64 end;
	int ret;

	if (cmd->flags & ~XPC_GRANT_FLAGS || !(cmd->flags & XPC_GRANT_RIGHTS))
		return -EINVAL;
	if (!cmd->len || check_add_overflow(cmd->addr, cmd->len, &end))
		return -EINVAL;
	if (!(cmd->flags & XPCOPY_GRANT_SEQ) && cmd->seq_addr)
		return -EINVAL;
	if (!(cmd->flags & XPCOPY_GRANT_EVENTFD) && cmd->eventfd)
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	if (cmd->flags & XPCOPY_GRANT_SEQ) {
		ret = xpc_check_seq_word(cmd->seq_addr);
		if (ret)
			return ret;
	}

	src = kzalloc(sizeof(*src), GFP_KERNEL_ACCOUNT);
	if (!src)
		return -ENOMEM;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g) {
		ret = -ENOMEM;
		goto err_src;
	}
	if (cmd->flags & XPCOPY_GRANT_EVENTFD) {
		src->efd = eventfd_ctx_fdget(cmd->eventfd);
		if (IS_ERR(src->efd)) {
			ret = PTR_ERR(src->efd);
			goto err_g;
		}
	}
	kref_init(&src->kref);
	src->seq_addr = cmd->flags & XPCOPY_GRANT_SEQ ? cmd->seq_addr : 0;
	mutex_init(&src->publish_lock);
	spin_lock_init(&src->lock);
	init_waitqueue_head(&src->wait);
	INIT_WORK(&src->pin.work, xpc_pin_work);
	ret = xpc_owner_init(&src->owner, &src->wait, xpc_src_owner_gone);
	if (ret)
		goto err_efd;
	if (cmd->flags & XPCOPY_GRANT_PIN) {
		ret = xpc_pin_window(&src->pin, cmd->addr, cmd->len,
				     cmd->flags & XPCOPY_GRANT_WRITE);
		if (ret)
			goto err_owner;
		src->pinned = true;
	}

	kref_init(&g->kref);
	g->src = src;
	mmgrab(current->mm);
	g->creator = current->mm;
	g->base = cmd->addr;
	g->len = cmd->len;
	g->rights = cmd->flags & XPC_GRANT_RIGHTS;
	return xpc_grant_install(g, &ucmd->fd);

err_owner:
	xpc_owner_destroy(&src->owner);
err_efd:
	if (src->efd)
		eventfd_ctx_put(src->efd);
err_g:
	kfree(g);
err_src:
	kfree(src);
	return ret;
}

/**
 * xpc_grant_derive() - XPCOPY_GRANT_DERIVE: a narrower grant from a grant
 * @cmd: the command, read from userspace
 * @ucmd: where it came from, to return the fd
 *
 * Return: the new fd, or -errno.
 */
int xpc_grant_derive(struct xpcopy_grant_derive *cmd,
		     struct xpcopy_grant_derive __user *ucmd)
{
	struct xpc_grant *parent, *g;
	u64 end;
	int ret;

	if (cmd->flags & ~XPC_GRANT_RIGHTS || !cmd->flags || !cmd->len)
		return -EINVAL;
	parent = xpc_grant_get(cmd->grant_fd);
	if (IS_ERR(parent))
		return PTR_ERR(parent);
	ret = -ESTALE;
	if (xpc_grant_revoked(parent))
		goto err_parent;
	ret = -EACCES;
	if (cmd->flags & ~parent->rights)
		goto err_parent;
	ret = -EINVAL;
	if (check_add_overflow(cmd->offset, cmd->len, &end))
		goto err_parent;
	ret = -ERANGE;
	if (end > parent->len)
		goto err_parent;
	ret = -EMLINK;
	if (parent->depth >= XPC_GRANT_DEPTH_MAX)
		goto err_parent;
	ret = -ESRCH;
	if (!current->mm || !xpc_owner_alive(&parent->src->owner))
		goto err_parent;

	ret = -ENOMEM;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		goto err_parent;
	kref_init(&g->kref);
	kref_get(&parent->src->kref);
	g->src = parent->src;
	g->parent = parent;		/* takes over our reference */
	mmgrab(current->mm);
	g->creator = current->mm;
	g->base = parent->base + cmd->offset;
	g->len = cmd->len;
	g->rights = cmd->flags;
	g->depth = parent->depth + 1;
	return xpc_grant_install(g, &ucmd->fd);

err_parent:
	xpc_grant_put(parent);
	return ret;
}

/**
 * xpc_grant_revoke() - XPCOPY_GRANT_REVOKE: end a grant and its descendants
 * @cmd: the command, read from userspace
 *
 * Return: 0 or -errno.
 */
int xpc_grant_revoke(struct xpcopy_grant_revoke *cmd)
{
	struct xpc_grant *g;
	bool unpin = false;
	int ret = 0;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;
	g = xpc_grant_get(cmd->grant_fd);
	if (IS_ERR(g))
		return PTR_ERR(g);
	if (current->mm && (current->mm == g->src->owner.mm ||
			    current->mm == g->creator)) {
		/* No publication through it once this returns. */
		ret = mutex_lock_killable(&g->src->publish_lock);
		if (!ret) {
			WRITE_ONCE(g->revoked, true);
			/* The original's pages go once the copies in flight end. */
			unpin = !g->parent && xpc_pin_dropping(g->src);
			mutex_unlock(&g->src->publish_lock);
			wake_up_interruptible_all(&g->src->wait);
		}
		if (unpin)
			xpc_pin_put(g->src);
	} else {
		ret = -EPERM;
	}
	xpc_grant_put(g);
	return ret;
}

/**
 * xpc_grant_info() - XPCOPY_GRANT_INFO: describe a grant
 * @cmd: the command; its out fields are filled
 *
 * Return: 0 or -errno.
 */
int xpc_grant_info(struct xpcopy_grant_info *cmd)
{
	struct xpc_grant *g;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;
	g = xpc_grant_get(cmd->grant_fd);
	if (IS_ERR(g))
		return PTR_ERR(g);
	cmd->rights = g->rights;
	if (g->src->seq_addr)
		cmd->rights |= XPCOPY_GRANT_SEQ;
	if (g->src->efd)
		cmd->rights |= XPCOPY_GRANT_EVENTFD;
	if (g->src->pinned)
		cmd->rights |= XPCOPY_GRANT_PIN;
	cmd->len = g->len;
	spin_lock(&g->src->lock);
	cmd->seq = g->src->seq;
	spin_unlock(&g->src->lock);
	if (xpc_grant_revoked(g))
		cmd->revoked = 1;
	else if (!xpc_owner_alive(&g->src->owner))
		cmd->revoked = 2;
	xpc_grant_put(g);
	return 0;
}

/**
 * xpc_grant_prepare() - resolve a copy's target through a grant
 * @fd: the grant fd
 * @x: the transfer; gets the owner's mm and the revocation check
 * @riov: the remote ranges as offsets; turned into addresses in place
 * @publish: the copy will publish a sequence value
 *
 * Return: the grant, referenced, with a reference on the users of its
 * owner's mm in @x->mm (both dropped by xpc_grant_finish()), or an
 * ERR_PTR(): -EBADF, -EINVAL, -ESTALE, -EACCES, -ERANGE or -ESRCH.
 */
struct xpc_grant *xpc_grant_prepare(int fd, struct xpc_xfer *x,
				    struct xpcopy_iovec *riov, bool publish)
{
	u32 need = x->write ? XPCOPY_GRANT_WRITE : XPCOPY_GRANT_READ;
	struct xpc_grant *g;
	int ret;
	u32 i;

	g = xpc_grant_get(fd);
	if (IS_ERR(g))
		return g;
	ret = -ESTALE;
	if (xpc_grant_revoked(g))
		goto err;
	ret = -EACCES;
	if (!(g->rights & need))
		goto err;
	ret = -EACCES;	/* the word is the owner's memory too */
	if (publish && !(g->rights & XPCOPY_GRANT_WRITE))
		goto err;
	ret = -EINVAL;
	if (publish && !g->src->seq_addr)
		goto err;
	ret = -EINVAL;	/* a pinned grant's copies are the caller's own */
	if (g->src->pinned && (x->bounce || x->path == XPC_PATH_WORKER))
		goto err;
	ret = -ERANGE;
	for (i = 0; i < x->rcnt; i++) {
		if (riov[i].addr > g->len || riov[i].len > g->len - riov[i].addr)
			goto err;
		riov[i].addr += g->base;
	}
	ret = -ESRCH;
	if (!xpc_owner_alive(&g->src->owner) ||
	    !mmget_not_zero(g->src->owner.mm))
		goto err;
	x->mm = g->src->owner.mm;
	x->check = xpc_grant_check;
	x->check_arg = g;
	if (g->src->pinned) {
		/* Revoked, or the owner found gone, since the checks above. */
		ret = READ_ONCE(g->src->owner.gone) ? -ESRCH : -ESTALE;
		if (!refcount_inc_not_zero(&g->src->pin.users))
			goto err_mm;
		x->pinned = g->src->pin.pages;
		x->pinned_start = g->src->pin.start;
	}
	return g;

err_mm:
	mmput_async(x->mm);
err:
	xpc_grant_put(g);
	return ERR_PTR(ret);
}

/**
 * xpc_grant_copy_fast() - a small copy through a pinned grant, in io_uring's
 *	submission
 * @fd: the grant fd
 * @write: into the window (else out of it)
 * @local: the caller's address
 * @off: the offset into the window
 * @len: bytes, not 0
 *
 * The way through only: a copy any check of xpc_grant_prepare() would stop
 * (or a grant that is not pinned, or one too large) is left to the general
 * path, which says why. Takes what that path takes of the grant, less the
 * owner's mm, which a copy between pinned pages and the caller's never
 * touches.
 *
 * Context: io_uring's non-blocking issue; never sleeps.
 * Return: 0, all @len bytes copied; -EAGAIN, a page of the caller's is not
 * there (again, whole, where it may wait); -EOPNOTSUPP, take the general
 * path.
 */
int xpc_grant_copy_fast(int fd, bool write, u64 local, u64 off, u64 len)
{
	u32 need = write ? XPCOPY_GRANT_WRITE : XPCOPY_GRANT_READ;
	struct fd f = fdget(fd);
	struct file *file = xpc_fd_file(f);
	struct xpc_grant_src *src;
	struct xpc_grant *g;
	int ret = -EOPNOTSUPP;

	/* The file (held, or not shared) holds the grant until fdput(). */
	if (!file)
		return -EOPNOTSUPP;
	if (file->f_op != &xpc_grant_fops)
		goto out;
	g = file->private_data;
	src = g->src;
	if (!src->pinned || !(g->rights & need) || off > g->len ||
	    len > g->len - off || xpc_grant_revoked(g) ||
	    !xpc_owner_alive(&src->owner) ||
	    !refcount_inc_not_zero(&src->pin.users))
		goto out;
	ret = xpc_engine_copy_pinned(src->pin.pages,
				     g->base + off - src->pin.start,
				     u64_to_user_ptr(local), len, write);
	if (ret == -E2BIG)
		ret = -EOPNOTSUPP;
	xpc_pin_put_nowait(src);
out:
	fdput(f);
	return ret;
}

/**
 * xpc_grant_publish() - store a sequence value after a complete copy
 * @g: the grant the data went through, from xpc_grant_prepare()
 * @seq: the value
 *
 * Stores @seq into the owner's sequence word after the data (whose workers
 * have all finished), then wakes the pollers and signals the eventfd. A
 * revoked grant does not publish.
 *
 * Return: 0, -ESTALE or -EFAULT.
 */
int xpc_grant_publish(struct xpc_grant *g, u64 seq)
{
	struct xpc_grant_src *src = g->src;
	int ret;

	if (mutex_lock_interruptible(&src->publish_lock))
		return -EINTR;
	ret = xpc_grant_check(g);
	if (!ret)
		ret = xpc_engine_store_u64(src->owner.mm, src->seq_addr, seq);
	if (!ret) {
		spin_lock(&src->lock);
		src->seq = seq;
		src->gen++;
		spin_unlock(&src->lock);
	}
	mutex_unlock(&src->publish_lock);
	if (ret)
		return ret;
	wake_up_interruptible_poll(&src->wait, EPOLLIN | EPOLLRDNORM);
	if (src->efd)
		xpc_eventfd_signal(src->efd);
	return 0;
}

/**
 * xpc_grant_finish() - drop what xpc_grant_prepare() took
 * @g: the grant
 * @x: the transfer
 */
void xpc_grant_finish(struct xpc_grant *g, struct xpc_xfer *x)
{
	/* The last user releases the pages: not in io_uring's submission. */
	if (x->pinned && x->nonblock)
		xpc_pin_put_nowait(g->src);
	else if (x->pinned)
		xpc_pin_put(g->src);
	mmput_async(x->mm);	/* its last user may be a worker */
	xpc_grant_put(g);
}

static __poll_t xpc_grant_poll(struct file *file, poll_table *wait)
{
	struct xpc_grant *g = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &g->src->wait, wait);
	if (xpc_grant_revoked(g))
		return EPOLLERR;
	spin_lock(&g->src->lock);
	if (g->src->gen != g->seen)
		mask = EPOLLIN | EPOLLRDNORM;
	spin_unlock(&g->src->lock);
	/* As a pipe whose writer is gone: what was published stays readable. */
	if (!xpc_owner_alive(&g->src->owner))
		mask |= EPOLLHUP;
	return mask;
}

/* Take the last published value if there is a new one. */
static bool xpc_grant_take(struct xpc_grant *g, u64 *val)
{
	bool fresh;

	spin_lock(&g->src->lock);
	fresh = g->src->gen != g->seen;
	if (fresh) {
		g->seen = g->src->gen;
		*val = g->src->seq;
	}
	spin_unlock(&g->src->lock);
	return fresh;
}

static ssize_t xpc_grant_read(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos)
{
	struct xpc_grant *g = file->private_data;
	u64 val;
	int ret;

	if (count < sizeof(val))
		return -EINVAL;
	for (;;) {
		if (xpc_grant_revoked(g))
			return -ESTALE;
		/* A value published before the owner went is still read. */
		if (xpc_grant_take(g, &val))
			break;
		if (!xpc_owner_alive(&g->src->owner))
			return -ESRCH;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(g->src->wait,
					       READ_ONCE(g->src->gen) != g->seen ||
					       xpc_grant_revoked(g) ||
					       READ_ONCE(g->src->owner.gone));
		if (ret)
			return ret;
	}
	if (put_user(val, (u64 __user *)buf))
		return -EFAULT;
	return sizeof(val);
}

static int xpc_grant_release(struct inode *inode, struct file *file)
{
	xpc_grant_put(file->private_data);
	return 0;
}

static const struct file_operations xpc_grant_fops = {
	.owner = THIS_MODULE,
	.poll = xpc_grant_poll,
	.read = xpc_grant_read,
	.release = xpc_grant_release,
	.llseek = noop_llseek,
};
