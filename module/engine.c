// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy: the copy engine.
 *
 * The caller is a copier. It pins a few of the other process's pages at a
 * time, maps them in the kernel only and copies between them and its own
 * memory, as CMA does: all of a small copy, and of a large one the shares
 * no idle worker took. Kernel workers help: a worker adopts the other
 * address space (kthread_use_mm()), pins a share of the caller's pages and
 * copies it with copy_to_user() or copy_from_user() against
 * kmap_local_page() mappings. They take shares from the front, the caller
 * from the back; with no idle worker the copy is the caller's alone, so a
 * copy never waits for a worker to become free.
 *
 * Forced onto the workers (and for the bounce path) the caller pins a
 * bounded batch of its own pages, cuts it into chunks, queues them, waits,
 * unpins, and goes on with the next batch.
 *
 * A worker is a kernel thread and sees none of the caller's signals. When the
 * caller is interrupted it cancels its request and sends SIGKILL to the
 * workers busy on it: a worker allows that signal, so a fault stalled on
 * userfaultfd gives up, and the copy ends with a short count.
 */
#include <linux/error-injection.h>
#include <linux/fault-inject-usercopy.h>
#include <linux/highmem.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "engine.h"
#include "pool.h"

#define XPC_BATCH_PAGES_MAX	65536
/* Below this many bytes per worker a batch is not split further. */
#define XPC_MIN_CHUNK		(64 * 1024)
/*
 * Most pages of a share of a copy shared between the caller and helping
 * workers: a worker that gets no CPU holds the caller up one share at most.
 */
#define XPC_SHARE_PAGES		64
/* Fewest pages of a share: a smaller one costs more to hand out than to copy. */
#define XPC_SHARE_PAGES_MIN	32

static unsigned int batch_pages = 512;

static int batch_pages_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (n < 1 || n > XPC_BATCH_PAGES_MAX)
		return -EINVAL;
	WRITE_ONCE(batch_pages, n);
	return 0;
}

static const struct kernel_param_ops batch_pages_ops = {
	.set = batch_pages_set,
	.get = param_get_uint,
};

module_param_cb(batch_pages, &batch_pages_ops, &batch_pages, 0644);
MODULE_PARM_DESC(batch_pages,
		 "most caller pages one copy pins at once (1-65536, default 512)");

static unsigned int inline_max = 65536;
module_param(inline_max, uint, 0644);
MODULE_PARM_DESC(inline_max,
		 "copies of at most this many bytes run in the caller's context (default 65536)");

static unsigned int busy_help_kb = 8192;
module_param(busy_help_kb, uint, 0644);
MODULE_PARM_DESC(busy_help_kb,
		 "with no CPU free for them (see help_idle_pct), workers help only copies of at least this many KiB (default 8192)");

/* Most pages of the other process the caller-context path pins at once. */
#define XPC_INLINE_PAGES	16

/* A position in an array of ranges. */
struct xpc_iter {
	const struct xpcopy_iovec *iov;
	u32 cnt;
	u32 idx;
	u64 off;
};

/* One piece of the caller's side of a batch, in kernel memory. */
struct xpc_frag {
	struct page *page;	/* a pinned page, or NULL in the bounce buffer */
	void *kaddr;		/* the bounce buffer's piece when !page */
	unsigned int off;
	unsigned int len;
};

/* A run of frags that one worker copies to or from consecutive bytes of mm. */
struct xpc_chunk {
	struct xpc_job job;
	bool write;
	struct xpc_frag *frags;
	unsigned int nfrags;
	struct xpc_iter rit;
	size_t len;
	size_t done;
};

/* A worker's help with a shared copy, and its room for a share's pages. */
struct xpc_helper {
	struct xpc_job job;
	struct xpc_shared *sh;
	struct page **pages;
	struct xpc_frag *frags;
};

/*
 * A large copy shared between its caller and idle workers (helpers): its
 * bytes from @base to @end are cut into @nshares shares of @share bytes
 * (the last one shorter). Helpers take them from the front, the caller
 * from the back, until they meet. Lives on the caller's stack.
 *
 * A copy through a grant is @ordered: everyone takes its shares from the
 * front, and each batch's first share is taken only once @check allowed
 * the batch, in order, so that the first refused batch ends the count at
 * its boundary and no share past it is started (a revocation is final:
 * every later check would refuse too). A batch is cut into @per_check
 * shares, so that copiers share a copy of one batch too. The copiers' own
 * copy of the transfer, @x, has no check.
 */
struct xpc_shared {
	const struct xpc_xfer *x;
	int (*check)(void *arg);	/* the transfer's, when @ordered */
	void *check_arg;
	bool ordered;
	u32 per_check;		/* shares a batch, one check, is cut into */
	struct mm_struct *caller_mm;	/* held by the caller, who waits */
	unsigned int pages;	/* most pages a helper holds for a share */
	u64 base;
	u64 end;
	u64 share;
	u32 nshares;
	spinlock_t lock;	/* protects the rest */
	u32 front;		/* the next share from the front */
	u32 back;		/* one past the next share from the back */
	u32 short_idx;		/* the first share that ended short */
	u64 short_done;		/* bytes of it copied */
	int err;		/* what stops the copy: a signal, a failure */
	int check_err;		/* what the check refused share @check_idx with */
	u32 check_idx;
};

/**
 * xpc_batch_pages() - the current cap of caller pages pinned by one copy
 *
 * Return: the value of the batch_pages module parameter.
 */
unsigned int xpc_batch_pages(void)
{
	return READ_ONCE(batch_pages);
}

static u64 xpc_iov_total(const struct xpcopy_iovec *iov, u32 cnt)
{
	u64 total = 0;
	u32 i;

	for (i = 0; i < cnt; i++)
		total += iov[i].len;	/* the caller checked it cannot wrap */
	return total;
}

/**
 * xpc_xfer_total() - bytes a transfer asks for
 * @x: the transfer
 *
 * Return: the length of the shorter side.
 */
u64 xpc_xfer_total(const struct xpc_xfer *x)
{
	return min(xpc_iov_total(x->liov, x->lcnt),
		   xpc_iov_total(x->riov, x->rcnt));
}

static void xpc_iter_advance(struct xpc_iter *it, u64 n)
{
	while (n && it->idx < it->cnt) {
		u64 left = it->iov[it->idx].len - it->off;

		if (n < left) {
			it->off += n;
			return;
		}
		n -= left;
		it->idx++;
		it->off = 0;
	}
}

/* The next non-empty range at @it, or NULL at the end. */
static const struct xpcopy_iovec *xpc_iter_seg(struct xpc_iter *it)
{
	while (it->idx < it->cnt && it->off == it->iov[it->idx].len) {
		it->idx++;
		it->off = 0;
	}
	return it->idx < it->cnt ? &it->iov[it->idx] : NULL;
}

static void xpc_stats_pinned(long n)
{
	s64 now = atomic64_add_return(n, &xpc_pinned.now);
	s64 peak = atomic64_read(&xpc_pinned.peak);

	xpc_stat_add(XPC_PINS_TAKEN, n);
	while (now > peak &&
	       !atomic64_try_cmpxchg(&xpc_pinned.peak, &peak, now))
		;
}

/* Count @n pages given back, by unpinning or by put_page(). */
static void xpc_stats_released(unsigned int n)
{
	/* Counted released first: pinned_now at 0 means they balance. */
	xpc_stat_add(XPC_PINS_RELEASED, n);
	atomic64_sub(n, &xpc_pinned.now);
}

static void xpc_unpin(struct page **pages, unsigned int n, bool dirty)
{
	if (!n)
		return;
	if (dirty)
		unpin_user_pages_dirty_lock(pages, n, true);
	else
		unpin_user_pages(pages, n);
	xpc_stats_released(n);
}

/* Drop the references xpc_pin_batch() took on a read-only source. */
static void xpc_put_refs(struct page **pages, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		put_page(pages[i]);
	xpc_stats_released(n);
}

/*
 * copy_from_user() without its zero padding: on a fault the caller's bytes
 * past the count stay as they were, as process_vm_readv() leaves them.
 */
static unsigned long xpc_copy_in(void *to, const void __user *from,
				 unsigned long n)
{
	if (!access_ok(from, n))
		return n;
	return __copy_from_user(to, from, n);
}

/*
 * Copy @n bytes between @kbuf and @uaddr, the caller's or (on a worker) the
 * adopted mm's. For part of a pinned page (@page) as copy_page_to_iter()
 * and copy_page_from_iter() do for process_vm_readv() and
 * process_vm_writev(): after access_ok() (and fail_usercopy), without the
 * hardened usercopy check of copy_to_user(), which looks up the page's
 * folio again on every page (a part of one pinned page is no heap or stack
 * object to overrun; the check made small caller-context copies 5 % slower
 * than CMA's). The bounce buffer, a heap object, keeps it. Returns the
 * bytes not copied.
 */
static size_t xpc_seg_copy(void *kbuf, void __user *uaddr, size_t n,
			   bool to_user, bool page)
{
	if (!page)
		return to_user ? copy_to_user(uaddr, kbuf, n) :
				 xpc_copy_in(kbuf, uaddr, n);
	if (should_fail_usercopy() || !access_ok(uaddr, n))
		return n;
	if (!to_user)
		return xpc_raw_copy_from_user(kbuf, uaddr, n);
	instrument_copy_to_user(uaddr, kbuf, n);
	return raw_copy_to_user(uaddr, kbuf, n);
}

/*
 * Bring in the page at @addr of the adopted mm through GUP's fault path
 * (killable: a worker cancelled with SIGKILL gives up). Under QEMU TCG a
 * page fault taken inside the workers' user copy costs milliseconds (a
 * 64 MiB copy into copy-on-write pages: 101 s on the debug kernel), the
 * same fault taken here microseconds. Returns 0 when the page is there.
 *
 * Like every ALLOW_ERROR_INJECTION() site of the module, a failure leaves
 * nothing to undo, so fail_function can fail it without running it: the
 * caller then falls back to the ordinary user copy.
 */
static noinline int xpc_fault_in(unsigned long addr, bool write)
{
	struct mm_struct *mm = current->mm;
	bool unlocked = false;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = fixup_user_fault(mm, addr, write ? FAULT_FLAG_WRITE : 0,
			       &unlocked);
	mmap_read_unlock(mm);
	return ret;
}
ALLOW_ERROR_INJECTION(xpc_fault_in, ERRNO);

/*
 * Worker side: xpc_seg_copy() of @n bytes between @kbuf (@page: part of a
 * pinned page) and @uaddr in the adopted mm, without page faults first,
 * bringing missing pages in through xpc_fault_in(); where that fails, the
 * copy with page faults decides what can be copied. Returns the bytes not
 * copied.
 */
static unsigned long xpc_user_copy(bool write, void __user *uaddr,
				   void *kbuf, unsigned long n, bool page)
{
	unsigned long done = 0, last = ULONG_MAX;

	while (done < n) {
		unsigned long left, addr;

		pagefault_disable();
		left = xpc_seg_copy(kbuf + done, uaddr + done, n - done, write,
				    page);
		pagefault_enable();
		done = n - left;
		if (!left)
			break;
		addr = (unsigned long)uaddr + done;
		if (addr != last && !xpc_fault_in(addr, write)) {
			last = addr;
			continue;
		}
		return xpc_seg_copy(kbuf + done, uaddr + done, left, write,
				    page);
	}
	return 0;
}

/* Worker side: copy one chunk between its frags and the adopted mm. */
static void xpc_chunk_copy(struct xpc_chunk *c)
{
	struct xpc_iter *it = &c->rit;
	bool write = c->write;
	unsigned int i;

	for (i = 0; i < c->nfrags; i++) {
		struct xpc_frag *f = &c->frags[i];
		unsigned int pos = 0;
		void *base;

		if (xpc_req_cancelled(c->job.req))
			return;
		base = f->page ? kmap_local_page(f->page) : f->kaddr;
		while (pos < f->len) {
			const struct xpcopy_iovec *v = xpc_iter_seg(it);
			void __user *uaddr;
			size_t n, left;

			if (!v)
				break;
			n = min_t(u64, f->len - pos, v->len - it->off);
			uaddr = u64_to_user_ptr(v->addr + it->off);
			left = xpc_user_copy(write, uaddr, base + f->off + pos,
					     n, f->page);
			n -= left;
			pos += n;
			it->off += n;
			c->done += n;
			if (left)
				break;
		}
		if (f->page)
			kunmap_local(base);
		if (pos < f->len)
			return;
		cond_resched();
	}
}

/* A worker's job on the batch path. */
static void xpc_chunk_run(struct xpc_job *job)
{
	xpc_chunk_copy(container_of(job, struct xpc_chunk, job));
}

/*
 * Cut a batch of @len bytes, described by @frags, into at most @k chunks,
 * from the other side's @rit on, as jobs on @jobs. Returns how many.
 */
static unsigned int xpc_cut_batch(struct xpc_req *req, bool write,
				  struct xpc_chunk *chunks, unsigned int k,
				  struct xpc_frag *frags, unsigned int nfrags,
				  size_t len, const struct xpc_iter *rit,
				  struct list_head *jobs)
{
	struct xpc_iter r = *rit;
	size_t per = DIV_ROUND_UP(len, k);
	unsigned int n = 0, f = 0;

	while (f < nfrags) {
		struct xpc_chunk *c = &chunks[n++];

		c->job.req = req;
		c->job.run = xpc_chunk_run;
		list_add_tail(&c->job.node, jobs);
		c->write = write;
		c->frags = &frags[f];
		c->nfrags = 0;
		c->rit = r;
		c->len = 0;
		c->done = 0;
		while (f < nfrags && (c->len < per || n == k)) {
			c->len += frags[f++].len;
			c->nfrags++;
		}
		xpc_iter_advance(&r, c->len);
	}
	return n;
}

/*
 * The bytes of @n chunks copied in order from the first: bytes past a
 * short chunk may have been copied too, but are not counted.
 */
static size_t xpc_chunks_done(const struct xpc_chunk *chunks, unsigned int n)
{
	size_t sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		sum += chunks[i].done;
		if (chunks[i].done < chunks[i].len)
			break;
	}
	return sum;
}

static long xpc_take_caller_once(struct mm_struct *mm, unsigned long start,
				 int nr, unsigned int gup_flags,
				 struct page **pages)
{
	int locked = 1;
	long got;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	if (gup_flags & FOLL_WRITE)
		got = xpc_pin_remote(mm, start, nr, gup_flags, pages, &locked);
	else
		got = xpc_get_remote(mm, start, nr, gup_flags, pages, &locked);
	if (locked)
		mmap_read_unlock(mm);
	return got == -ERESTARTSYS ? -EINTR : got;
}

/*
 * A worker helping the caller takes the caller's pages from the caller's mm,
 * under its mmap lock, killably: a cancelled worker gives up. First without
 * waiting; pages that need a wait (I/O, the caller's userfaultfd or FUSE)
 * are taken in a second pass, which sets *@waited: the caller may have held
 * them for as long as it liked.
 */
static long xpc_take_caller(struct mm_struct *mm, unsigned long start,
			    int nr, unsigned int gup_flags, struct page **pages,
			    bool *waited)
{
	long got, more;

	got = xpc_take_caller_once(mm, start, nr, gup_flags | FOLL_NOWAIT,
				   pages);
	if (got == nr || got == -EINTR)
		return got;
	if (got < 0)
		got = 0;
	*waited = true;
	more = xpc_take_caller_once(mm, start + got * PAGE_SIZE, nr - got,
				    gup_flags, pages + got);
	if (more < 0)
		return got ? got : more;
	return got + more;
}

/*
 * Pin up to @cap pages of the caller's ranges at @lit, at most @want bytes,
 * and describe them in @frags: from the caller's own context, or with
 * @caller_mm from a worker's (*@waited is then set if that had to wait).
 * Returns the bytes pinned; *@err is set when pinning stopped short of
 * @want.
 */
static size_t xpc_pin_batch(struct mm_struct *caller_mm, struct xpc_iter *lit,
			    u64 want, unsigned int cap, unsigned int gup_flags,
			    struct page **pages, unsigned int *npages,
			    struct xpc_frag *frags, unsigned int *nfrags,
			    bool *waited, int *err)
{
	const struct xpcopy_iovec *v;
	size_t len = 0;

	*npages = 0;
	*nfrags = 0;
	while (len < want && *npages < cap && (v = xpc_iter_seg(lit))) {
		unsigned long start = v->addr + lit->off;
		unsigned int first = offset_in_page(start);
		u64 room = (u64)(cap - *npages) * PAGE_SIZE - first;
		u64 n = min3(v->len - lit->off, want - len, room);
		int nr = DIV_ROUND_UP(first + n, PAGE_SIZE);
		int got, i;

		/*
		 * Pages the workers write into are pinned (FOLL_PIN), as
		 * direct I/O pins them. Pages only read from are taken by
		 * reference: a read-only pin of an anonymous page shared
		 * copy-on-write with a child (after fork) must unshare it,
		 * which copied and allocated the whole source again on the
		 * first copy after a fork; a reference does not, and the
		 * bytes read are the caller's at the time of the copy.
		 */
		if (caller_mm)
			got = xpc_take_caller(caller_mm, start & PAGE_MASK, nr,
					      gup_flags, pages + *npages,
					      waited);
		else if (gup_flags & FOLL_WRITE)
			got = pin_user_pages_fast(start & PAGE_MASK, nr,
						  gup_flags, pages + *npages);
		else
			got = get_user_pages_fast(start & PAGE_MASK, nr,
						  gup_flags, pages + *npages);
		if (got <= 0) {
			/* -EOVERFLOW: a range up against the top of memory */
			*err = got && got != -EOVERFLOW ? got : -EFAULT;
			break;
		}
		xpc_stats_pinned(got);
		if (got < nr) {
			n = (u64)got * PAGE_SIZE - first;
			*err = -EFAULT;
		}
		for (i = 0; i < got; i++) {
			struct xpc_frag *f = &frags[(*nfrags)++];

			f->page = pages[*npages + i];
			f->kaddr = NULL;
			f->off = i ? 0 : first;
			f->len = min_t(u64, PAGE_SIZE - f->off, n);
			n -= f->len;
			len += f->len;
			lit->off += f->len;
		}
		*npages += got;
		if (*err)
			break;
	}
	return len;
}

/*
 * Copy between kernel memory (@page: part of a pinned page) and the
 * caller's ranges at @lit.
 */
static size_t xpc_local_copy(void *buf, size_t len, struct xpc_iter *lit,
			     bool to_user, bool page, int *err)
{
	const struct xpcopy_iovec *v;
	size_t pos = 0;

	while (pos < len && (v = xpc_iter_seg(lit))) {
		void __user *uaddr = u64_to_user_ptr(v->addr + lit->off);
		size_t n = min_t(u64, len - pos, v->len - lit->off);
		size_t left = xpc_seg_copy(buf + pos, uaddr, n, to_user, page);

		pos += n - left;
		lit->off += n - left;
		if (left) {
			*err = -EFAULT;
			break;
		}
	}
	return pos;
}

static unsigned int xpc_buf_frags(void *buf, size_t len, struct xpc_frag *frags)
{
	unsigned int n = 0;
	size_t pos;

	for (pos = 0; pos < len; pos += PAGE_SIZE, n++) {
		frags[n].page = NULL;
		frags[n].kaddr = buf + pos;
		frags[n].off = 0;
		frags[n].len = min_t(size_t, PAGE_SIZE, len - pos);
	}
	return n;
}

/*
 * May the next batch touch the other side? Not once the check says no (the
 * grant was revoked, or its owner exec'd or exited). Asked right before each
 * batch's first access to @x->mm, after anything that may have waited (the
 * caller's own pages, which a userfaultfd of the caller's can hold for as
 * long as it likes): what reaches the other side after the owner went is at
 * most the batch that was already under way.
 */
static int xpc_batch_allowed(const struct xpc_xfer *x)
{
	return x->check ? x->check(x->check_arg) : 0;
}

/*
 * Between batches: stop on a signal or when the check (revocation) says so.
 * An error injected here ends a copy at a batch boundary.
 */
static noinline int xpc_between_batches(const struct xpc_xfer *x)
{
	int err;

	/*
	 * At io_uring's submission a pending "signal" is mostly io_uring's own
	 * task work (TIF_NOTIFY_SIGNAL), the completions of other copies: go
	 * on, as nothing there waits; a fatal one hands the copy to io-wq,
	 * whole, rather than cut it short.
	 */
	if (x->nonblock) {
		if (fatal_signal_pending(current))
			return -EAGAIN;
	} else if (signal_pending(current)) {
		return -EINTR;
	}
	err = xpc_batch_allowed(x);
	if (err)
		return err;
	cond_resched();
	return 0;
}
ALLOW_ERROR_INJECTION(xpc_between_batches, ERRNO);

/**
 * xpc_engine_store_u64() - store a 64-bit value in another address space
 * @mm: the address space; the caller holds a reference on its users
 * @addr: an 8-byte aligned address in @mm
 * @val: the value
 *
 * In the caller's context: pin the page under @mm's mmap lock, map it in
 * the kernel and store @val with release ordering, so that every copy into
 * @mm that finished before this call (the caller has waited for its
 * workers) is visible before the value. An error injected here is a
 * publication that fails after its data landed.
 *
 * Return: 0, -EFAULT or -EINTR.
 */
noinline int xpc_engine_store_u64(struct mm_struct *mm, u64 addr, u64 val)
{
	struct page *page;
	int locked = 1;
	void *kaddr;
	long got;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	got = xpc_pin_remote(mm, addr & PAGE_MASK, 1, FOLL_WRITE, &page,
			     &locked);
	if (locked)
		mmap_read_unlock(mm);
	if (got == -EINTR || got == -ERESTARTSYS)
		return -EINTR;
	if (got != 1)
		return got == -ENOMEM ? -ENOMEM : -EFAULT;
	xpc_stats_pinned(1);
	kaddr = kmap_local_page(page);
	/* Pairs with the reader's acquire load of the word: data first. */
	smp_store_release((u64 *)(kaddr + offset_in_page(addr)), val);
	kunmap_local(kaddr);
	xpc_unpin(&page, 1, true);
	return 0;
}
ALLOW_ERROR_INJECTION(xpc_engine_store_u64, ERRNO);

/*
 * May the workers reach @vma through the user mapping? GUP, and so ptrace and
 * CMA, refuse device and raw-PFN mappings (VM_IO, VM_PFNMAP) and secret
 * memory (memfd_secret(2), whose promise is that not even the kernel reads
 * it). The workers' copy_to_user() and copy_from_user() do not go through
 * GUP, so the same rule is applied here, before a batch is handed to them.
 */
static bool xpc_vma_refused(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP))
		return true;
	return vma->vm_file && xpc_file_is_secretmem(vma->vm_file);
}

/*
 * How many of the next @want bytes of the other side, from @rit on, lie
 * before the first mapping the workers must not touch. Holes count as
 * allowed: the copy faults there and stops, as it would anyway. A mapping
 * replaced after this check is the owner's own doing, to its own memory.
 */
static u64 xpc_remote_allowed(struct mm_struct *mm, const struct xpc_iter *at,
			      u64 want, int *err)
{
	struct xpc_iter rit = *at;
	u64 ok = 0;

	if (mmap_read_lock_killable(mm)) {
		*err = -EINTR;
		return 0;
	}
	while (ok < want) {
		const struct xpcopy_iovec *v = xpc_iter_seg(&rit);
		unsigned long start, end, a;
		u64 n;

		if (!v)
			break;
		start = v->addr + rit.off;
		n = min(v->len - rit.off, want - ok);
		end = start + n;
		for (a = start; a < end; ) {
			struct vm_area_struct *vma = find_vma(mm, a);

			if (!vma || vma->vm_start >= end)
				break;
			if (xpc_vma_refused(vma)) {
				ok += max(vma->vm_start, a) - start;
				goto out;
			}
			a = vma->vm_end;
		}
		ok += n;
		xpc_iter_advance(&rit, n);
	}
out:
	mmap_read_unlock(mm);
	return ok;
}

/*
 * Bring in the caller's page at @lit, where a copy with page faults disabled
 * stopped, @want bytes at most being left: 0 when it is there now (the copy
 * goes on), -EINTR on a signal, -EFAULT when it cannot be (unmapped,
 * PROT_NONE, read-only for a read). A worker helping the caller (@helper,
 * in the caller's mm) brings it in through GUP's fault path, killably, as
 * the workers do (xpc_fault_in()).
 */
static int xpc_fault_in_local(struct xpc_iter *lit, bool to_user, u64 want,
			      bool helper)
{
	const struct xpcopy_iovec *v = xpc_iter_seg(lit);
	char __user *u;
	u64 addr;
	size_t n;

	if (!v || !want)
		return -EFAULT;
	addr = v->addr + lit->off;
	u = u64_to_user_ptr(addr);
	n = min3(want, v->len - lit->off,
		 (u64)(PAGE_SIZE - offset_in_page(addr)));
	if (helper) {
		if (!xpc_fault_in(addr, to_user))
			return 0;
	} else if ((to_user ? xpc_fault_in_writeable(u, n) :
			      xpc_fault_in_readable(u, n)) < n) {
		return 0;
	}
	return signal_pending(current) ? -EINTR : -EFAULT;
}

/*
 * Pin @nr pages of @x->mm from @start for the caller's copy, under its mmap
 * lock. Return: how many (at least 1), -EAGAIN (not without waiting, or
 * not at all: the workers find out), -EINTR or another -errno.
 */
static long xpc_caller_pin(const struct xpc_xfer *x, unsigned long start,
			   int nr, unsigned int gup_flags, struct page **pages)
{
	int locked = 1;
	long got;

	if (x->nonblock) {
		if (!mmap_read_trylock(x->mm))
			return -EAGAIN;
	} else if (mmap_read_lock_killable(x->mm)) {
		return -EINTR;
	}
	got = xpc_pin_remote(x->mm, start, nr, gup_flags, pages, &locked);
	if (locked)
		mmap_read_unlock(x->mm);
	if (got == 0 || got == -EBUSY)
		return -EAGAIN;
	if (got > 0)
		xpc_stats_pinned(got);
	return got;
}

/*
 * Copy @len bytes between the caller's ranges at @lit and the other side's
 * at @rit in the caller's own context, with no hand-off: pin a few of the
 * other process's pages (within the cap) under its mmap lock, map them in
 * the kernel only, and copy between them and the caller's own memory, as
 * CMA does. Both positions and *@moved advance by the bytes copied.
 *
 * Off the forced caller-context path, pages are pinned with FOLL_NOWAIT: a
 * page that would make the caller wait (I/O, or a fault held by
 * userfaultfd) is left to the workers, whose waits a signal can always cut
 * short; -EAGAIN says "the workers take the rest". Forced by the caller, it
 * waits as CMA does (killably), unless @x->nowait (io_uring, whose
 * cancellation is no fatal signal). With @x->pinned the other side's pages
 * are taken from there instead: no lock, no pin, no wait.
 *
 * A worker helping with a shared copy through @x->pinned copies its share
 * this way too (@helper), in the caller's mm: its bytes are not counted as
 * the caller's, and the caller's missing pages are brought in as a
 * worker's are.
 */
static int xpc_caller_copy(const struct xpc_xfer *x, struct xpc_iter *lit,
			   struct xpc_iter *rit, u64 len, u64 *moved,
			   bool helper)
{
	unsigned int max = min(xpc_batch_pages(), XPC_INLINE_PAGES);
	unsigned int gup_flags = x->write ? FOLL_WRITE : 0;
	struct page *pages[XPC_INLINE_PAGES];
	struct page *const *pg = pages;
	u64 done = 0;
	int err = 0;

	if (x->pinned)
		max = XPC_INLINE_PAGES;
	if (x->path != XPC_PATH_INLINE || x->nowait)
		gup_flags |= FOLL_NOWAIT;
	while (done < len) {
		const struct xpcopy_iovec *v = xpc_iter_seg(rit);
		unsigned long start = v->addr + rit->off;
		unsigned int first = offset_in_page(start);
		u64 n = min3(v->len - rit->off, len - done,
			     (u64)max * PAGE_SIZE - first);
		int nr = DIV_ROUND_UP(first + n, PAGE_SIZE);
		size_t step = 0;
		long got;
		int i;

		if (x->pinned) {
			pg = x->pinned + ((start - x->pinned_start) >> PAGE_SHIFT);
			got = nr;
		} else {
			got = xpc_caller_pin(x, start & PAGE_MASK, nr, gup_flags,
					     pages);
			if (got < 0)
				return got;
			/* Short: the next round finds out why, where it stopped. */
			if (got < nr)
				n = (u64)got * PAGE_SIZE - first;
		}
		/*
		 * The caller's side without waiting: a page of it that must be
		 * faulted in (or that its userfaultfd holds) is brought in
		 * below, with the other side's pages released, and the check
		 * is asked again before they are taken again.
		 */
		pagefault_disable();
		for (i = 0; i < got && step < n; i++) {
			unsigned int off = i ? 0 : first;
			size_t part = min_t(u64, PAGE_SIZE - off, n - step);
			void *kaddr = kmap_local_page(pg[i]);
			size_t c;

			c = xpc_local_copy(kaddr + off, part, lit, !x->write,
					   true, &err);
			kunmap_local(kaddr);
			step += c;
			if (c < part)
				break;
		}
		pagefault_enable();
		if (!x->pinned)
			xpc_unpin(pages, got, x->write);
		done += step;
		*moved += step;
		rit->off += step;
		if (!helper)
			xpc_stat_add(XPC_CALLER_BYTES, step);
		if (err == -EFAULT) {
			err = x->nonblock ? -EAGAIN :
			      xpc_fault_in_local(lit, !x->write, n - step,
						 helper);
			/* That wait may have outlasted the grant: ask again. */
			if (!err && x->recheck)
				err = x->recheck(x->check_arg);
		}
		/* Done: whoever called asks between batches, if more follow. */
		if (err || done == len)
			break;
		err = xpc_between_batches(x);
		if (err)
			break;
	}
	return err;
}

/**
 * xpc_engine_copy_pinned() - a small copy between pinned pages and the
 *	caller, whole, that never waits
 * @pages: the other side's pages, pinned for longer than the copy
 * @pos: where the copy starts in them: byte @pos counted from the start of
 *	@pages[0]
 * @uaddr: the caller's range
 * @len: bytes, at most inline_max
 * @write: from @uaddr into the pages (else from the pages to @uaddr)
 *
 * io_uring's submission's way for a small copy through a pinned grant
 * (XPCOPY_SQE_COPY): one range a side, no iterator, no batch, no page
 * table of the other side, and the caller's pages copied with page faults
 * off. What the general path does for the same copy, less what it cannot
 * need.
 *
 * Context: any process context; never sleeps.
 * Return: 0, all @len bytes copied; -E2BIG, more than inline_max (nothing
 * copied: the general path's, which shares it with the workers); -EAGAIN,
 * a page of the caller's was not there, or not writable (a short or no
 * copy: the caller copies it all again where it may fault them in, and
 * find out).
 */
int xpc_engine_copy_pinned(struct page *const *pages, u64 pos,
			   void __user *uaddr, u64 len, bool write)
{
	u64 done = 0;

	if (len > READ_ONCE(inline_max))
		return -E2BIG;
	pagefault_disable();
	while (done < len) {
		struct page *page = pages[(pos + done) >> PAGE_SHIFT];
		unsigned int off = offset_in_page(pos + done);
		size_t n = min_t(u64, len - done, PAGE_SIZE - off);
		void *kaddr = kmap_local_page(page);
		size_t left;

		left = xpc_seg_copy(kaddr + off, uaddr + done, n, !write, true);
		kunmap_local(kaddr);
		if (left)
			break;
		done += n;
	}
	pagefault_enable();
	if (done < len)
		return -EAGAIN;
	xpc_stat_add(XPC_COPIES, 1);
	xpc_stat_add(XPC_BYTES, len);
	xpc_stat_add(XPC_COPY_BYTES, len);
	xpc_stat_add(XPC_INLINE_COPIES, 1);
	xpc_stat_add(XPC_CALLER_BYTES, len);
	return 0;
}

/*
 * Most workers one batch is cut for: no more than run at once. The pool
 * has more, so that a copy stalled on pages nobody serves leaves others
 * idle.
 */
static unsigned int xpc_batch_workers(void)
{
	return min(xpc_nr_workers(), num_online_cpus());
}

/*
 * How many workers help the caller with @len bytes: the idle ones (asleep
 * or lingering), leaving a CPU to the caller, and fewer than the copy has
 * shares; none for a copy under busy_help_kb when no CPU is free for
 * them. A worker counted idle that is not costs nothing: the caller takes
 * back the help it did not start, and copies the shares itself.
 */
static unsigned int xpc_helpers(u64 len, u64 share)
{
	unsigned int k = min3(xpc_pool_idle(), num_online_cpus() - 1,
			      xpc_nr_workers());
	u64 shares = div64_u64(len, share);

	/*
	 * On CPUs all busy a helper shares one and may be descheduled in its
	 * share, holding the caller for about a time slice: worth it only for
	 * a copy that takes several.
	 */
	if (k && shares > 1 && len >> 10 < READ_ONCE(busy_help_kb) &&
	    !xpc_pool_may_help()) {
		xpc_stat_add(XPC_HELP_DECLINED, 1);
		return 0;
	}
	return shares > k ? k : (shares ? shares - 1 : 0);
}

/*
 * Pages of a share of @len bytes split between the caller and @k helpers:
 * as even as that, at least XPC_SHARE_PAGES_MIN (a page less than
 * XPC_SHARE_PAGES at most, for a share not aligned to a page).
 */
static unsigned int xpc_share_pages(u64 len, unsigned int k)
{
	u64 n = DIV_ROUND_UP_ULL(len, (u64)(k + 1) * PAGE_SIZE);

	return clamp_t(u64, n, XPC_SHARE_PAGES_MIN, XPC_SHARE_PAGES - 1);
}

/* Positions @off bytes into the copy, on both sides. */
static void xpc_iters_at(const struct xpc_xfer *x, u64 off,
			 struct xpc_iter *lit, struct xpc_iter *rit)
{
	*lit = (struct xpc_iter){ .iov = x->liov, .cnt = x->lcnt };
	*rit = (struct xpc_iter){ .iov = x->riov, .cnt = x->rcnt };
	xpc_iter_advance(lit, off);
	xpc_iter_advance(rit, off);
}

/*
 * The caller-context path: the copy from *@done to @total in the caller's
 * context alone (see xpc_caller_copy()); the whole of a small copy, or the
 * rest of one no worker helps.
 */
static int xpc_inline_copy(const struct xpc_xfer *x, u64 total, u64 *done)
{
	struct xpc_iter lit, rit;

	xpc_iters_at(x, *done, &lit, &rit);
	return xpc_caller_copy(x, &lit, &rit, total - *done, done, false);
}

/*
 * Take the next share from the front (a helper) or the back (the caller);
 * an ordered copy's from the front only, a batch's first share once the
 * check allowed the batch. A refusal ends the count at that batch: no
 * share is taken any more.
 */
static int xpc_share_take(struct xpc_shared *sh, bool front)
{
	int i = -1, ret;

	spin_lock(&sh->lock);
	if (sh->err || sh->front >= sh->back)
		goto out;
	if (sh->ordered) {
		ret = sh->front % sh->per_check ? 0 : sh->check(sh->check_arg);
		if (ret) {
			sh->check_err = ret;
			sh->check_idx = sh->front;
			if (sh->front < sh->short_idx) {
				sh->short_idx = sh->front;
				sh->short_done = 0;
			}
			sh->back = sh->front;
			goto out;
		}
		front = true;
	}
	i = front ? sh->front++ : --sh->back;
out:
	spin_unlock(&sh->lock);
	return i;
}

static u64 xpc_share_len(const struct xpc_shared *sh, u32 i)
{
	return min(sh->share, sh->end - sh->base - (u64)i * sh->share);
}

/*
 * Share @i ended with @done bytes copied and @err. A short one ends the
 * count in order there: no share past it is taken any more. An error other
 * than a fault stops the copy.
 */
static void xpc_share_end(struct xpc_shared *sh, u32 i, u64 done, int err)
{
	spin_lock(&sh->lock);
	if (done < xpc_share_len(sh, i) && i < sh->short_idx) {
		sh->short_idx = i;
		sh->short_done = done;
		if (i + 1 < sh->back)
			sh->back = max(sh->front, i + 1);
	}
	if (err && err != -EFAULT && err != -EAGAIN && !sh->err)
		sh->err = err;
	spin_unlock(&sh->lock);
}

/* The bytes of the shared copy done in order, once no one copies. */
static u64 xpc_shared_done(const struct xpc_shared *sh)
{
	u64 n;

	if (sh->front < sh->back && sh->front < sh->short_idx)
		return (u64)sh->front * sh->share;	/* stopped before it */
	if (sh->short_idx < sh->nshares)
		return (u64)sh->short_idx * sh->share + sh->short_done;
	n = sh->end - sh->base;
	return n;
}

/*
 * A helper's share @i, a few pages at a time: take the caller's pages (they
 * may wait on the caller's own faults, after which a grant is checked
 * again), copy them in the adopted mm, give them back. *@done gets the bytes copied in order.
 */
static int xpc_help_share(struct xpc_helper *tok, u32 i, u64 *done)
{
	struct xpc_shared *sh = tok->sh;
	const struct xpc_xfer *x = sh->x;
	u64 len = xpc_share_len(sh, i);
	struct xpc_iter lit, rit;
	int err = 0;

	xpc_iters_at(x, sh->base + (u64)i * sh->share, &lit, &rit);
	/*
	 * Through pinned pages the share is copied as the caller copies, in
	 * the caller's mm, which this worker adopted: the other side's pages
	 * from the array, the caller's through its own page tables. Nothing
	 * goes through x->mm, which may no longer map them.
	 */
	if (x->pinned) {
		err = xpc_caller_copy(x, &lit, &rit, len, done, true);
		goto out;
	}
	/* The mappings the workers must not touch end the share there. */
	len = xpc_remote_allowed(x->mm, &rit, len, &err);
	while (*done < len && !err) {
		struct xpc_chunk c = {
			.job.req = tok->job.req, .write = x->write,
			.frags = tok->frags, .rit = rit,
		};
		unsigned int npages = 0;
		u64 t0 = ktime_get_ns(), t1;
		bool waited = false;

		c.len = xpc_pin_batch(sh->caller_mm, &lit, len - *done,
				      sh->pages, x->write ? 0 : FOLL_WRITE,
				      tok->pages, &npages, tok->frags,
				      &c.nfrags, &waited, &err);
		t1 = ktime_get_ns();
		xpc_stat_add(XPC_NS_TAKE, t1 - t0);
		/*
		 * The check allowed the share's batch before its first share
		 * was taken (the batch under way may go on); a wait on the
		 * caller's pages since may have outlasted the grant.
		 */
		if (c.len && waited && x->recheck) {
			int ret = x->recheck(x->check_arg);

			if (ret) {
				err = ret;
				c.len = 0;
			}
		}
		if (c.len)
			xpc_chunk_copy(&c);
		t0 = ktime_get_ns();
		if (x->write)
			xpc_put_refs(tok->pages, npages);
		else
			xpc_unpin(tok->pages, npages, true);
		xpc_stat_add(XPC_NS_RELEASE, ktime_get_ns() - t0);
		*done += c.done;
		rit = c.rit;
		if (!c.len || c.done < c.len)
			break;
	}
out:
	if (!err && *done < len && xpc_req_cancelled(tok->job.req))
		err = -EINTR;
	return err;
}

/* A helper's job: copy shares from the front until none is left. */
static void xpc_help(struct xpc_job *job)
{
	struct xpc_helper *tok = container_of(job, struct xpc_helper, job);
	struct xpc_shared *sh = tok->sh;
	int i;

	while (!xpc_req_cancelled(job->req) &&
	       (i = xpc_share_take(sh, true)) >= 0) {
		u64 done = 0;
		int err = xpc_help_share(tok, i, &done);

		xpc_share_end(sh, i, done, err);
	}
}

/*
 * An ordered copy's shares: each batch (@cap pages, the unit of the check)
 * cut into a power of two of equal shares of whole pages, so that the
 * batch's end is a share's: as many as make a share fit a helper's @ppw
 * pages even unaligned, or fewer (a helper then copies a share in several
 * rounds) when @cap has fewer factors of two.
 */
static void xpc_cut_batches(struct xpc_shared *sh, unsigned int cap,
			    unsigned int ppw)
{
	unsigned int n = roundup_pow_of_two(DIV_ROUND_UP(cap, ppw - 1));

	while (cap % n)
		n >>= 1;
	sh->per_check = n;
	sh->share = (u64)(cap / n) * PAGE_SIZE;
}

static int xpc_worker_copy(const struct xpc_xfer *x, u64 total, u64 *done,
			   unsigned int cap);
static int xpc_stand_in_copy(const struct xpc_xfer *x, u64 total, u64 *done);

/*
 * The rest of the caller's share @i, from *@moved on, after a page of the
 * other side that would make the caller wait: where it may wait (a
 * stand-in itself, else the workers' batch path, within the caller's own
 * XPC_INLINE_PAGES if it has helpers), while the helpers go on with their shares and the
 * caller then with its next. Through a grant it is unchecked, as the
 * share's batch was allowed, unless taking the caller's own pages waited
 * (then the check is asked, as everywhere): handing the rest of the copy to
 * the batch path, which asked the grant first, could end the count inside
 * this batch after the helpers had copied later shares, bytes past the
 * count. *@moved grows by what was copied.
 */
static int xpc_share_rest(struct xpc_shared *sh, u32 i, u64 *moved)
{
	u64 start = sh->base + (u64)i * sh->share;
	u64 at = start + *moved;
	int err = -EAGAIN;

	/* Pinned pages never make anyone wait; the batch path takes x->mm. */
	if (WARN_ON_ONCE(sh->x->pinned))
		return -EFAULT;
	if (sh->x->stand_in)
		err = xpc_stand_in_copy(sh->x, start + xpc_share_len(sh, i),
					&at);
	if (err == -EAGAIN)
		err = xpc_worker_copy(sh->x, start + xpc_share_len(sh, i),
				      &at, sh->pages ? XPC_INLINE_PAGES :
				      xpc_batch_pages());
	*moved = at - start;
	return err;
}

/*
 * A large copy, shared: the caller is a copier and idle workers help. The
 * copy is cut into shares of at most XPC_SHARE_PAGES pages, as evenly
 * between the copiers as that allows but not under XPC_SHARE_PAGES_MIN;
 * the helpers take them from the first on, each pinning the caller's pages
 * of its share itself, while the caller copies them from the last back, as
 * the caller-context path does, pinning a few of the other side's pages at
 * a time. When they meet the caller takes back the help no worker started
 * and waits for the shares being copied (awake a little first). No batch
 * boundary makes it wait in between, and with no idle worker the copy is
 * the caller's alone: a
 * copy never waits for a worker to become free, so none stalls behind
 * another's (a FUSE page whose server never answers holds a worker, not
 * the pool). The helpers' pages and the caller's stay within batch_pages.
 *
 * Through a grant everyone, caller included, takes the shares in order
 * from the front, a batch's first once the grant's check allowed the
 * batch: a revocation ends the count at a batch boundary and no share past
 * it is started, as on the batch path. The shares of one batch are copied
 * side by side, as they are without a grant.
 *
 * Through pinned pages (@x->pinned) the helpers enter the caller's mm, not
 * @x->mm, and copy their shares as the caller copies (xpc_caller_copy()):
 * no page of either side is pinned for it, and no page makes anyone wait
 * but the caller's own, after which the grant is asked again.
 *
 * A page that would make the caller wait gives the rest of its share to
 * the workers (xpc_share_rest()); the caller then goes on. With
 * no helper and no grant the copy is the caller's alone, and -EAGAIN at
 * such a page says, *@done being what was copied, the workers take the rest.
 */
static int xpc_shared_copy(const struct xpc_xfer *x, u64 total, u64 *done)
{
	unsigned int cap = xpc_batch_pages(), k, ppw = 0, i;
	struct xpc_shared sh = { .x = x, .base = *done, .end = total };
	struct xpc_helper *toks = NULL;
	struct xpc_frag *frags = NULL;
	struct page **pages = NULL;
	struct xpc_iter lit, rit;
	struct xpc_xfer unchecked;
	struct xpc_req req;
	LIST_HEAD(jobs);
	u64 t0, t1, nshares, rest_ns = 0;
	int err = 0, ret;

	if (x->check) {
		/* Ordered: each batch checked once, before its first share. */
		unchecked = *x;
		unchecked.check = NULL;
		unchecked.recheck = x->check;
		sh.x = &unchecked;
		sh.check = x->check;
		sh.check_arg = x->check_arg;
		sh.ordered = true;
	}
	k = xpc_helpers(total - *done, XPC_SHARE_PAGES_MIN * PAGE_SIZE);
	if (k && cap > XPC_INLINE_PAGES)
		ppw = min3(XPC_SHARE_PAGES, (cap - XPC_INLINE_PAGES) / k,
			   xpc_share_pages(total - *done, k) + 1);
	if (ppw >= 2) {
		toks = kcalloc(k, sizeof(*toks), GFP_KERNEL);
		pages = kvmalloc_array(k * ppw, sizeof(*pages), GFP_KERNEL);
		frags = kvmalloc_array(k * ppw, sizeof(*frags), GFP_KERNEL);
	}
	sh.per_check = 1;
	if (!toks || !pages || !frags) {
		/*
		 * No help: the copy is the caller's alone, in batches if
		 * ordered; through pinned pages as a small one, its check
		 * asked every round.
		 */
		k = 0;
		if (!sh.ordered || x->pinned) {
			err = xpc_inline_copy(x, total, done);
			goto out_free;
		}
		sh.share = (u64)cap * PAGE_SIZE;
	} else if (!sh.ordered) {
		/* A share not aligned to a page spans one page more. */
		sh.share = (u64)(ppw - 1) * PAGE_SIZE;
	} else {
		xpc_cut_batches(&sh, cap, ppw);
	}

	spin_lock_init(&sh.lock);
	sh.caller_mm = current->mm;
	sh.pages = ppw;
	nshares = div64_u64(total - *done + sh.share - 1, sh.share);
	if (nshares > INT_MAX) {
		/* More shares than indices: the batch path (pinned: alone). */
		err = x->pinned ? xpc_inline_copy(x, total, done) : -EAGAIN;
		goto out_free;
	}
	sh.nshares = nshares;
	sh.back = sh.nshares;
	sh.short_idx = sh.nshares;
	/*
	 * The helpers enter the other mm and take the caller's pages; through
	 * pinned pages they enter the caller's mm instead (kept alive by the
	 * caller, who waits for them), and never touch x->mm.
	 */
	xpc_req_init(&req, x->pinned ? current->mm : x->mm);
	req.last = true;
	for (i = 0; i < k; i++) {
		toks[i].job.req = &req;
		toks[i].job.run = xpc_help;
		list_add_tail(&toks[i].job.node, &jobs);
		toks[i].sh = &sh;
		toks[i].pages = pages + i * ppw;
		toks[i].frags = frags + i * ppw;
	}
	if (k)
		xpc_submit(&req, &jobs, k, xpc_pool_to_wake(k));

	t0 = ktime_get_ns();
	while ((ret = xpc_share_take(&sh, false)) >= 0) {
		u64 moved = 0, r0;

		i = ret;
		xpc_iters_at(sh.x, sh.base + (u64)i * sh.share, &lit, &rit);
		ret = xpc_caller_copy(sh.x, &lit, &rit, xpc_share_len(&sh, i),
				      &moved, false);
		if (ret == -EAGAIN) {
			r0 = ktime_get_ns();
			ret = xpc_share_rest(&sh, i, &moved);
			rest_ns += ktime_get_ns() - r0;	/* not the caller's */
		}
		/* A signal is seen between shares as between batches. */
		if (!ret)
			ret = xpc_between_batches(sh.x);
		xpc_share_end(&sh, i, moved, ret);
		if (ret && ret != -EFAULT)
			break;
	}
	if (k)
		xpc_stat_add(XPC_TAKEN_BACK, xpc_take_back(&req));
	t1 = ktime_get_ns();
	if (k) {
		if (sh.err)
			xpc_stop(&req);
		else if (xpc_wait_helpers(&req))
			sh.err = -EINTR;
	}
	xpc_req_end(&req);
	xpc_stat_add(XPC_NS_INLINE, t1 - t0 - rest_ns);
	xpc_stat_add(XPC_NS_WAIT, ktime_get_ns() - t1);
	*done += xpc_shared_done(&sh);
	if (sh.err)
		err = sh.err;
	else if (sh.check_err && sh.short_idx == sh.check_idx)
		err = sh.check_err;	/* refused: no error if some copied */
	else if (!err && *done < total)
		err = -EFAULT;

out_free:
	kvfree(frags);
	kvfree(pages);
	kfree(toks);
	return err;
}

/*
 * The worker path: take a batch of the caller's pages (or fill the bounce
 * buffer), let the workers copy it in the other mm, release them, next
 * batch. For copies forced onto the workers, the bounce path, and the rest
 * of a shared copy after a page that would have made its caller wait.
 */
static int xpc_worker_copy(const struct xpc_xfer *x, u64 total, u64 *done,
			   unsigned int cap)
{
	struct xpc_iter lit = { .iov = x->liov, .cnt = x->lcnt };
	struct xpc_iter rit = { .iov = x->riov, .cnt = x->rcnt };
	/* The rest of a grant copy's share: did taking our pages wait? */
	struct mm_struct *own = x->recheck ? current->mm : NULL;
	unsigned int gup_flags = x->write ? 0 : FOLL_WRITE;
	struct xpc_chunk *chunks;
	struct xpc_frag *frags;
	struct page **pages = NULL;
	void *buf = NULL;
	struct xpc_req req;
	int err = 0;

	chunks = kcalloc(xpc_nr_workers(), sizeof(*chunks), GFP_KERNEL);
	frags = kvmalloc_array(cap, sizeof(*frags), GFP_KERNEL);
	if (x->bounce)	/* no bigger than the copy: small ones stay cheap */
		buf = kvmalloc(min_t(u64, total - *done, (u64)cap * PAGE_SIZE),
			       GFP_KERNEL);
	else
		pages = kvmalloc_array(cap, sizeof(*pages), GFP_KERNEL);
	if (!chunks || !frags || (!buf && !pages)) {
		err = -ENOMEM;
		goto out_free;
	}

	xpc_req_init(&req, x->mm);
	/* Go on where the caller-context path stopped, if it ran first. */
	xpc_iter_advance(&lit, *done);
	xpc_iter_advance(&rit, *done);

	while (*done < total) {
		u64 want = min_t(u64, total - *done, (u64)cap * PAGE_SIZE);
		unsigned int npages = 0, nfrags, n = 0;
		size_t len, moved = 0;
		bool waited = false;
		u64 t0, t1, t2;
		int ret;

		want = xpc_remote_allowed(x->mm, &rit, want, &err);
		if (!want)
			break;
		t0 = ktime_get_ns();
		if (!x->bounce)
			len = xpc_pin_batch(own, &lit, want, cap, gup_flags,
					    pages, &npages, frags, &nfrags,
					    &waited, &err);
		else if (x->write)
			len = xpc_local_copy(buf, want, &lit, false, false,
					     &err);
		else
			len = want;
		if (!len)
			break;
		if (x->bounce)
			nfrags = xpc_buf_frags(buf, len, frags);

		t1 = ktime_get_ns();
		req.last = *done + len >= total;
		/*
		 * Taking the caller's side may have waited: ask again (the rest
		 * of a grant copy's share has no check of its own, its batch
		 * was allowed, unless that wait may have outlasted the grant).
		 */
		ret = waited && x->recheck ? x->recheck(x->check_arg) :
		      xpc_batch_allowed(x);
		if (!ret) {
			LIST_HEAD(jobs);

			n = DIV_ROUND_UP(len, XPC_MIN_CHUNK);
			n = xpc_cut_batch(&req, x->write, chunks,
					  clamp(n, 1U, xpc_batch_workers()), frags,
					  nfrags, len, &rit, &jobs);
			xpc_submit(&req, &jobs, n, n);
			ret = xpc_wait(&req);
			moved = xpc_chunks_done(chunks, n);
		}
		t2 = ktime_get_ns();
		if (x->bounce && !x->write) {
			size_t out = xpc_local_copy(buf, moved, &lit, true, false,
						    &err);

			if (out < moved) {
				moved = out;
				len = out;
			}
		}
		if (x->write)
			xpc_put_refs(pages, npages);
		else
			xpc_unpin(pages, npages, true);
		xpc_stat_add(XPC_NS_TAKE, t1 - t0);
		xpc_stat_add(XPC_NS_WAIT, t2 - t1);
		xpc_stat_add(XPC_NS_RELEASE, ktime_get_ns() - t2);
		*done += moved;
		xpc_iter_advance(&rit, moved);
		if (ret)
			err = ret;
		if (err || moved < len)
			break;
		err = xpc_between_batches(x);
		if (err)
			break;
	}
	xpc_req_end(&req);

out_free:
	kvfree(buf);
	kvfree(pages);
	kvfree(frags);
	kfree(chunks);
	return err;
}

/*
 * The rest of a copy whose caller is a worker standing in for an io_uring
 * submitter, after a page that would make it wait: it waits itself, as the
 * forced caller-context path does (killably), rather than hand the rest to
 * the workers' batch path and wait for jobs queued behind, maybe, other
 * such copies. The other side is asked first (signal, grant), as the batch
 * path asks before each batch.
 */
static int xpc_stand_in_copy(const struct xpc_xfer *x, u64 total, u64 *done)
{
	struct xpc_xfer waiting = *x;
	int err;

	waiting.path = XPC_PATH_INLINE;
	waiting.nowait = false;
	err = xpc_between_batches(x);
	if (err)
		return err;
	err = xpc_inline_copy(&waiting, total, done);
	/* Not even a waiting pin took the page: it is not to be had. */
	return err == -EAGAIN ? -EFAULT : err;
}

/**
 * xpc_engine_too_large() - is a copy too large for io_uring's submission?
 * @x: the transfer, on the automatic path
 *
 * Return: true when @x would not be tried in the submission (more than
 * inline_max bytes on the automatic path, not bounced): the copy the
 * workers take whole from an io_uring submitter.
 */
bool xpc_engine_too_large(const struct xpc_xfer *x)
{
	return x->path == XPC_PATH_AUTO && !x->bounce &&
	       xpc_xfer_total(x) > READ_ONCE(inline_max);
}

/**
 * xpc_engine_copy() - run one copy command
 * @x: what to copy; ranges validated by the caller
 * @copied: out, bytes copied in order
 *
 * Small copies run in the caller's context (no hand-off to a worker), larger
 * ones on the workers; @x->path can force either. A large copy to or from
 * pinned pages (@x->pinned) is shared with idle workers as a large copy by
 * pid is, the helpers in the caller's mm; forced or bounced, or with none
 * idle, it is the caller's alone.
 *
 * Context: process context of the caller, whose pages are pinned, or a
 * worker standing in for it in its mm (@x->stand_in). Sleeps.
 * When it returns no worker touches the caller's pages or @x->mm any more.
 *
 * Return: 0 when some bytes were copied or there was nothing to copy, with
 * *@copied set; else -EFAULT, -EINTR, -ENOMEM or the @x->check error.
 */
int xpc_engine_copy(const struct xpc_xfer *x, u64 *copied)
{
	u64 total = xpc_xfer_total(x), done = 0;
	bool inl;
	int err = 0;

	*copied = 0;
	if (!total)
		return 0;
	/*
	 * At io_uring's submission only a copy on the automatic path, small
	 * or one no worker was free to take, and the caller's alone.
	 */
	if (x->nonblock && (x->path != XPC_PATH_AUTO || x->bounce ||
			    (total > READ_ONCE(inline_max) &&
			     !x->nonblock_large)))
		return -EAGAIN;
	inl = x->path == XPC_PATH_INLINE ||
	      (x->path == XPC_PATH_AUTO && !x->bounce &&
	       (total <= READ_ONCE(inline_max) || x->nonblock));
	/* Pinned: the caller's, or shared (neither forced nor bounced). */
	if (x->pinned && (x->path != XPC_PATH_AUTO || x->bounce))
		inl = true;
	if (inl) {
		u64 t0 = ktime_get_ns();

		err = xpc_inline_copy(x, total, &done);
		xpc_stat_add(XPC_NS_INLINE, ktime_get_ns() - t0);
		if (err == -EAGAIN && x->nonblock)
			return -EAGAIN;	/* all again, where it may wait */
		if (err == -EAGAIN)
			inl = false;
	}
	/*
	 * Large: shared between the caller and idle workers, unless forced
	 * onto the workers or after a page that would make the caller wait.
	 * Through a grant (a check between batches) the shares are taken in
	 * order, each batch's once checked: a revocation ends the copy at a
	 * batch boundary with no byte past the count.
	 */
	if (!inl && x->path == XPC_PATH_AUTO && !x->bounce && err != -EAGAIN)
		err = xpc_shared_copy(x, total, &done);
	else if (!inl)
		err = -EAGAIN;
	/*
	 * Pinned pages never wait: nothing for the workers' batch path (or a
	 * stand-in's wait) to take over, and it would go through x->mm.
	 */
	if (WARN_ON_ONCE(x->pinned && err == -EAGAIN))
		err = -EFAULT;
	if (err == -EAGAIN && x->stand_in)
		err = xpc_stand_in_copy(x, total, &done);
	if (err == -EAGAIN)
		err = xpc_worker_copy(x, total, &done, xpc_batch_pages());
	if (done) {
		*copied = done;
		xpc_stat_add(XPC_COPIES, 1);
		xpc_stat_add(XPC_BYTES, done);
		xpc_stat_add(XPC_COPY_BYTES, x->bounce ? 2 * done : done);
		if (inl)
			xpc_stat_add(XPC_INLINE_COPIES, 1);
		return 0;
	}
	return err ? err : -EFAULT;
}
