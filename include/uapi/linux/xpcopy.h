/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xpcopy: single-copy memory transfer between processes.
 *
 * This header is the whole ABI between the xpcopy module and userspace.
 */
#ifndef _UAPI_LINUX_XPCOPY_H
#define _UAPI_LINUX_XPCOPY_H

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * DOC: Grants
 *
 * A grant is how a process lets another touch its memory without giving it
 * power over the rest: the owner exports one window of its address space
 * with rights (read, write) as a file descriptor (%XPCOPY_GRANT) and hands
 * it to whom it chooses (``SCM_RIGHTS``, ``pidfd_getfd``, fork). Holding the
 * fd is the authority; no ptrace right or capability is needed.
 *
 * - Offsets: in grant mode the remote ranges of %XPCOPY_COPY are offsets
 *   into the window; every range must lie inside it.
 * - Lifetime: a grant refers to the address space the owner had when it
 *   made the grant. The owner is the process (all its threads): it has
 *   exited or executed a new program exactly when none of its threads runs
 *   on that address space any more. From then on every use fails with
 *   ``ESRCH`` (copies, derive; read(2) once no published value is left),
 *   %XPCOPY_GRANT_INFO reports ``revoked = 2``, and the fd polls
 *   ``EPOLLHUP``: no byte ever reaches the new image, even while other
 *   copies through the grant are still in flight. The grant does not keep
 *   the owner's memory alive. Closing the last fd frees it.
 * - Attenuation: %XPCOPY_GRANT_DERIVE makes a narrower grant (a sub-window,
 *   fewer rights) to pass on; a grant can never be widened.
 * - Revocation: %XPCOPY_GRANT_REVOKE, by the owner or by the process that
 *   derived the grant, ends it and every grant derived from it. Copies in
 *   flight stop at the next batch boundary with a short count; later uses
 *   fail with ``ESTALE``.
 * - Ordered completion: a grant may name a 64-bit sequence word in the
 *   owner's memory (%XPCOPY_GRANT_SEQ). A copy with %XPCOPY_COPY_PUBLISH
 *   first copies all its data, then stores &xpcopy_copy.seq into the word
 *   with release ordering, then wakes the waiters. A reader that loads the
 *   word with acquire ordering and sees the value sees all the data copied
 *   before it. A copy that fails or is cut short does not publish. The grant
 *   fd polls readable (``EPOLLIN``) when a value was published since the
 *   last read(2) of that open file (dup(2), fork(2) and ``SCM_RIGHTS`` share
 *   the open file, and so its read position); read(2) of 8 bytes returns the last published
 *   value (blocking unless ``O_NONBLOCK``: then ``EAGAIN``). A revoked grant
 *   polls ``EPOLLERR`` and reads fail with ``ESTALE``. One whose owner is
 *   gone polls ``EPOLLHUP``, as a pipe whose writer closed: a value
 *   published before is still read (and polls ``EPOLLIN`` too), then reads
 *   fail with ``ESRCH``. An eventfd attached
 *   at creation (%XPCOPY_GRANT_EVENTFD) is signalled at every publication.
 *   When the publication itself fails after the data was copied (the grant
 *   was revoked in between: ``ESTALE``; the word is no longer writable:
 *   ``EFAULT``; a signal: ``EINTR``), the command fails although the data
 *   landed: nothing was published, and repeating the copy is safe.
 * - A copy already running when the owner exits or executes stops at its
 *   next batch boundary with a short count (``ESRCH`` if it had copied
 *   nothing), as it does on revocation. The owner is checked before each
 *   batch touches its memory, and again after every wait on the caller's
 *   own pages: after the exec, a copy in flight moves at most the batches
 *   that had passed their check before it (the batches under way, copied
 *   by the caller and the workers helping it), and into the old address
 *   space. A check
 *   refused after such a wait ends the count where that copier stood,
 *   inside its batch.
 */

/**
 * DOC: General ioctl format
 *
 * Every command takes one struct that begins with ``__u32 size`` and
 * ``__u32 flags``. @size is the size of the struct as the caller knows it;
 * the kernel accepts any size from the first version of the struct up to a
 * page:
 *
 * - smaller than the first version: ``EINVAL``;
 * - larger than the kernel's struct: accepted when every byte past the
 *   kernel's struct is zero, else ``E2BIG``; larger than a page: ``E2BIG``.
 *
 * Command numbers are built with ``_IOWR(XPCOPY_TYPE, nr, struct)``, so that
 * strace and other decoders see the direction and the first version's size.
 * The kernel masks the size bits out when it matches a command: the size
 * that counts is the one in the struct, which lets a struct grow under one
 * number (as iommufd does with ``_IO``) while keeping the numbers decodable
 * and usable unchanged as io_uring command opcodes. The type byte 'x' (0x78)
 * is unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst; xpcopy
 * uses numbers 0x00-0x1f.
 *
 * Errors, for every command:
 *
 * - ``ENOTTY``: unknown command.
 * - ``EINVAL``: unknown flag, non-zero reserved field, struct smaller than its
 *   first version, ``addr + len`` overflows, more than %XPCOPY_IOV_MAX
 *   segments, a negative pid, neither or both directions.
 * - ``E2BIG``: struct larger than the kernel's with a non-zero tail, or larger
 *   than a page.
 * - ``ESRCH``: no such pid, or the process has no memory (kernel thread,
 *   exiting or exited).
 * - ``EPERM``: pid mode without ``CAP_SYS_PTRACE`` in the user namespace that
 *   owns the target's memory (a process may always address itself). Linux
 *   security modules' ptrace hooks are not consulted: modules cannot reach
 *   them. Grants are the way in without that capability.
 * - ``EFAULT``: the command struct or an iovec array is unreadable, or no
 *   byte could be copied because a local or remote range is unmapped,
 *   ``PROT_NONE``, read-only for a write (no forced writes), or a kernel
 *   address. When some bytes were copied the command succeeds and
 *   &xpcopy_copy.copied says how many (a short count).
 * - ``EINTR``: a signal arrived before any byte was copied (or while the
 *   target was being looked up, or while waiting to publish, or while
 *   %XPCOPY_GRANT registered the window's teardown with the kernel: no grant
 *   was made, repeat the call). After progress,
 *   the copy succeeds with a short count. A signal stops a copy promptly,
 *   inside a batch too (a batch may be stalled on a userfaultfd or FUSE page
 *   of the other process): the count is of the bytes copied in order, and
 *   bytes past it may have been written.
 * - ``ENOMEM``: the kernel could not allocate its bookkeeping.
 * - ``EBADF``: a grant fd that is not an open file descriptor.
 *
 * Errors of grants (see "Grants" below):
 *
 * - ``EINVAL``: the fd is open but is not an xpcopy grant; a window that is
 *   empty or wraps; a sequence word that is not 8-byte aligned;
 *   %XPCOPY_COPY_PUBLISH on a grant without a sequence word.
 * - ``ERANGE``: a range, or a derived window, reaches outside the window
 *   (a range whose offset + len wraps around is ``EINVAL``, as everywhere).
 * - ``EACCES``: the grant lacks the right the command needs (read for
 *   %XPCOPY_COPY_READ, write for %XPCOPY_COPY_WRITE and for
 *   %XPCOPY_COPY_PUBLISH, since the word is the owner's memory too), or a
 *   derived grant asks for a right its parent does not have.
 * - ``EMLINK``: a grant derived from a grant derived 16 times already.
 * - ``ESTALE``: the grant, or a grant it was derived from, was revoked.
 * - ``ESRCH``: the owner of the window has exited or executed a new program
 *   (copies and derivations alike).
 * - ``EPERM``: revoking a grant the caller neither owns nor derived.
 * - ``EFAULT``: the sequence word is not writable memory of the caller.
 *
 * A zero-length copy succeeds with @copied 0, after every other check.
 */

/**
 * DOC: Pinned grants
 *
 * A grant made with %XPCOPY_GRANT_PIN pins every page of its window once,
 * when it is made, as io_uring's registered buffers and RDMA memory
 * regions do. A copy through it (or through a grant derived from it) then
 * takes the owner's pages from the grant: no page-table walk, no lock or
 * pin of the owner's memory, no wait for a page of the owner's, whatever
 * the owner's memory is doing. It is the way to many small messages at the
 * lowest cost: a 4 KiB copy through io_uring completes in its submission.
 *
 * - The whole window must be mapped when the grant is made, and writable,
 *   whatever the rights: pages are pinned for writing, so that a page the
 *   owner shares copy-on-write (with a child, or the zero page) is first
 *   made its own, and what the owner writes later is what holders read.
 *   Anonymous and private mappings, tmpfs, memfd, SysV shared memory and
 *   hugetlbfs can be pinned; a shared mapping of another file system's
 *   file cannot (its writeback would not see the writes), nor can DAX.
 *   Else ``EFAULT``, and nothing stays pinned.
 * - The pages are charged to the owner's ``RLIMIT_MEMLOCK`` (its
 *   ``locked_vm``, as by vfio); beyond it, without ``CAP_IPC_LOCK``:
 *   ``ENOMEM``.
 * - The grant copies to and from the pages pinned when it was made. If
 *   the owner later replaces pages of the window (munmap(2), mremap(2),
 *   ``MADV_DONTNEED``, ``MADV_FREE``, a new mapping over it), copies go on
 *   reaching the old pages, which the owner no longer sees: the owner keeps
 *   the window mapped, and leaves its pages alone, while the grant is used.
 * - The pages stay pinned until the original grant is revoked (derived
 *   grants then end with it), or its owner has exited or executed (the
 *   grant can copy no more), or its last fd, and those of every grant
 *   derived from it, is closed; in each case once the copies in flight
 *   end (at their next 16-page step, or a shared copy's at the end of
 *   the batch under way). Revoking a derived grant releases nothing.
 * - Every rule of grants holds: rights, attenuation, revocation, ordered
 *   completion (the sequence word is stored through the owner's address
 *   space, not pinned), the owner's exec ending the grant.
 * - Nothing of the owner's can stall a copy through a pinned grant. A
 *   small one is the caller's; a large one is shared with idle module
 *   workers as a large copy by pid is, the workers copying their shares
 *   between the pinned pages and the caller's memory in the caller's
 *   address space (never the owner's), and checking the grant before each
 *   batch in order as every shared grant copy does. With
 *   %XPCOPY_COPY_INLINE it is the caller's at any size.
 *   %XPCOPY_COPY_WORKER and %XPCOPY_COPY_BOUNCE are ``EINVAL`` with it.
 *   Through io_uring a copy of at most ``inline_max`` bytes completes in
 *   the submission unless a page of the caller's own is not present; a
 *   larger one is handed to a module worker that stands in for the
 *   submitter, as any large copy.
 * - %XPCOPY_GRANT_INFO reports %XPCOPY_GRANT_PIN among the rights of a
 *   pinned grant and of every grant derived from it.
 *
 * %XPCOPY_CAP_GRANT_PIN in &xpcopy_features.caps says the module has it.
 */

/**
 * DOC: io_uring
 *
 * Every command can also be submitted as an ``IORING_OP_URING_CMD`` on an
 * open /dev/xpcopy, so that many copies are in flight at once from one
 * thread. That io_uring opcode came in Linux 5.19: %XPCOPY_CAP_URING_CMD in
 * &xpcopy_features.caps says whether the running kernel has it. Where it is
 * not set (Linux 5.10: the ioctl is the only way in), io_uring itself fails
 * such an SQE with ``EINVAL`` (an opcode it does not know), and the module
 * never sees it.
 *
 * - ``sqe->fd``: the /dev/xpcopy file descriptor (or a registered file with
 *   ``IOSQE_FIXED_FILE``); ``sqe->cmd_op``: the ioctl number (%XPCOPY_COPY,
 *   %XPCOPY_GRANT, ...); ``sqe->cmd``: a &struct xpcopy_uring_cmd, whose
 *   @cmd is the address of the command's struct, the same struct the ioctl
 *   takes. All other SQE fields are as io_uring defines them for
 *   ``IORING_OP_URING_CMD`` (zero, but for ``user_data`` and ``flags``).
 * - The struct goes through the same checks as the ioctl, with the same
 *   errnos (an unknown ``cmd_op`` is ``ENOTTY``, a non-zero
 *   &xpcopy_uring_cmd.__reserved is ``EINVAL``), and the out fields are
 *   written the same way (&xpcopy_copy.copied, &xpcopy_grant.fd, ...).
 * - The CQE's ``res`` is -errno on failure. On success it is, for
 *   %XPCOPY_COPY, the number of bytes copied (at most ``INT_MAX``: a larger
 *   count is in &xpcopy_copy.copied), and for every other command what the
 *   ioctl returns (0, or the new fd of %XPCOPY_GRANT and
 *   %XPCOPY_GRANT_DERIVE).
 * - The command struct, its iovec arrays and the memory they describe must
 *   stay valid and unchanged until the CQE arrives: the kernel reads them
 *   when the copy runs, not at submission.
 * - Submission never waits for a copy: the kernel runs the command in an
 *   io_uring worker thread of the submitting process (with its credentials,
 *   memory and file table), as the ioctl would run in the caller. Copies
 *   complete in any order; ``user_data`` tells them apart.
 * - Cancellation: ``IORING_OP_ASYNC_CANCEL``, closing the ring or the exit
 *   of the submitting process stop a copy in flight as a signal stops the
 *   ioctl: a copy not started yet completes with ``ECANCELED``, a running
 *   one with ``EINTR`` (nothing copied yet) or with a short count. A copy
 *   stalled on a page of the other process (userfaultfd, FUSE) is stopped
 *   too: through io_uring, %XPCOPY_COPY_INLINE never waits for such a page
 *   itself but hands it to the kernel workers, whose waits can always be
 *   cut short.
 * - ``IORING_SETUP_IOPOLL`` rings are refused (``EOPNOTSUPP``).
 */

/** @XPCOPY_TYPE: the ioctl type byte of /dev/xpcopy */
#define XPCOPY_TYPE		'x'

/** @XPCOPY_ABI_VERSION: bumped when the ABI grows */
#define XPCOPY_ABI_VERSION	4

/** @XPCOPY_IOV_MAX: most segments in one iovec array (as IOV_MAX) */
#define XPCOPY_IOV_MAX		1024

enum {
	XPCOPY_CMD_FEATURES = 0x00,
	XPCOPY_CMD_COPY = 0x01,
	XPCOPY_CMD_GRANT = 0x02,
	XPCOPY_CMD_GRANT_DERIVE = 0x03,
	XPCOPY_CMD_GRANT_REVOKE = 0x04,
	XPCOPY_CMD_GRANT_INFO = 0x05,
	XPCOPY_CMD_SQE_COPY = 0x06,
};

/**
 * struct xpcopy_features - XPCOPY_FEATURES: what this module knows
 * @size: sizeof(struct xpcopy_features)
 * @flags: must be 0
 * @abi_version: out, %XPCOPY_ABI_VERSION of the running module
 * @batch_pages: out, most pages of the caller the module pins at once for
 *	one copy (the module parameter ``batch_pages``)
 * @commands: out, bit n set when command number n is known as an ioctl
 *	(%XPCOPY_CMD_SQE_COPY, which is io_uring's only, is in @caps)
 * @copy_flags: out, every XPCOPY_COPY_* flag this module accepts
 * @max_iov: out, most segments in one iovec array
 * @nr_workers: out, kernel workers that copy into other address spaces
 * @caps: out, XPCOPY_CAP_* bits: what the running kernel lets the module
 *	do (a struct too short to hold it: the caller cannot tell)
 *
 * Fields the caller's struct is too short to hold are not written.
 */
struct xpcopy_features {
	__u32 size;
	__u32 flags;
	__u32 abi_version;
	__u32 batch_pages;
	__u64 commands;
	__u64 copy_flags;
	__u32 max_iov;
	__u32 nr_workers;
	__u64 caps;
};

/**
 * @XPCOPY_CAP_URING_CMD: the commands can be submitted as
 * ``IORING_OP_URING_CMD`` (see "io_uring"); the kernel has that opcode
 * from 5.19 on
 */
#define XPCOPY_CAP_URING_CMD	(1ULL << 0)

/**
 * @XPCOPY_CAP_URING_WORKERS: an io_uring copy too large for the submission
 * (more than ``inline_max`` bytes on the automatic path) is handed there to
 * the module's workers, which post its CQE, rather than to an io-wq thread;
 * ring exit and task exit cancel it. The kernel has cancelable
 * ``IORING_OP_URING_CMD`` commands from 6.7 on
 */
#define XPCOPY_CAP_URING_WORKERS	(1ULL << 1)

/**
 * @XPCOPY_CAP_GRANT_PIN: grants can be pinned (%XPCOPY_GRANT_PIN, see
 * "Pinned grants")
 */
#define XPCOPY_CAP_GRANT_PIN	(1ULL << 2)

/**
 * @XPCOPY_CAP_SQE_COPY: %XPCOPY_SQE_COPY, a copy carried whole in a
 * 128-byte SQE, is known (see "Copies in the SQE"); set with
 * %XPCOPY_CAP_URING_CMD
 */
#define XPCOPY_CAP_SQE_COPY	(1ULL << 3)

#define XPCOPY_FEATURES	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_FEATURES, \
			      struct xpcopy_features)

/**
 * struct xpcopy_iovec - one range of memory
 * @addr: start address (user pointer as a 64-bit integer)
 * @len: length in bytes
 */
struct xpcopy_iovec {
	__u64 addr;
	__u64 len;
};

/**
 * enum xpcopy_copy_flags - flags of struct xpcopy_copy
 * @XPCOPY_COPY_WRITE: copy the local ranges into the target's ranges
 * @XPCOPY_COPY_READ: copy the target's ranges into the local ranges
 * @XPCOPY_COPY_BOUNCE: copy twice through a kernel buffer of
 *	&xpcopy_features.batch_pages pages, as WriteProcessMemory does; for
 *	comparison, never faster
 * @XPCOPY_COPY_GRANT: the target is the grant &xpcopy_copy.grant_fd, and
 *	the remote ranges are offsets into its window
 * @XPCOPY_COPY_PUBLISH: with @XPCOPY_COPY_GRANT on a grant with a sequence
 *	word: after all data is copied, store &xpcopy_copy.seq into the word
 *	and wake the waiters
 * @XPCOPY_COPY_INLINE: copy in the caller's context: pin a few pages of the
 *	target at a time and copy between them and the caller's memory, with
 *	no hand-off to a worker. By default copies of at most the module
 *	parameter ``inline_max`` bytes go this way, and hand a page that would
 *	make the caller wait (I/O, userfaultfd) and the rest of the copy to
 *	the workers; forced by this flag, the caller waits for such a page
 *	(killably, as process_vm_writev() does). Not with
 *	@XPCOPY_COPY_WORKER or @XPCOPY_COPY_BOUNCE.
 * @XPCOPY_COPY_WORKER: copy on the kernel workers whatever the size, the
 *	caller only waiting. By default a copy by pid larger than
 *	``inline_max`` is shared: the caller copies shares itself, as
 *	@XPCOPY_COPY_INLINE does, while idle workers copy others, and takes
 *	back the help no worker has started; with no idle worker it copies
 *	alone. Through a grant it is shared too, its shares taken in order
 *	and each batch's only once the grant was checked for that batch, so
 *	that a revocation ends it at a batch boundary.
 *
 * Exactly one of @XPCOPY_COPY_WRITE and @XPCOPY_COPY_READ must be set.
 */
enum xpcopy_copy_flags {
	XPCOPY_COPY_WRITE = 1 << 0,
	XPCOPY_COPY_READ = 1 << 1,
	XPCOPY_COPY_BOUNCE = 1 << 2,
	XPCOPY_COPY_GRANT = 1 << 3,
	XPCOPY_COPY_PUBLISH = 1 << 4,
	XPCOPY_COPY_INLINE = 1 << 5,
	XPCOPY_COPY_WORKER = 1 << 6,
};

/**
 * struct xpcopy_copy - XPCOPY_COPY: copy between the caller and a process
 * @size: sizeof(struct xpcopy_copy)
 * @flags: XPCOPY_COPY_* flags; unknown flags are %EINVAL
 * @pid: the target process, in the caller's pid namespace; the caller needs
 *	``CAP_SYS_PTRACE`` over it unless it is the caller itself
 * @grant_fd: with %XPCOPY_COPY_GRANT, in place of @pid: a grant fd
 * @local_cnt: number of &struct xpcopy_iovec at @local_iov
 * @local_iov: the caller's ranges (pointer to an array)
 * @remote_cnt: number of &struct xpcopy_iovec at @remote_iov
 * @__reserved: must be 0
 * @remote_iov: the target's ranges (pointer to an array)
 * @copied: out, bytes copied
 * @seq: with %XPCOPY_COPY_PUBLISH, the value to publish
 *
 * Bytes are copied in order, from the concatenation of one side's ranges to
 * the concatenation of the other's, until the shorter side ends, exactly as
 * process_vm_writev(2) and process_vm_readv(2) do. The command succeeds when
 * any byte was copied (@copied may then be short of the request: a range
 * ended in an unmapped page, or a signal arrived) or when there was nothing
 * to copy; it fails only when nothing was copied.
 *
 * On the worker path the caller's pages are pinned in batches of at most
 * &xpcopy_features.batch_pages, copied by kernel workers that adopt the
 * target's address space, and unpinned before the next batch. On the
 * caller-context path (%XPCOPY_COPY_INLINE) a few of the target's pages are
 * pinned at a time instead. A large copy by pid on the default path does
 * both at once: the workers' shares and the caller's together stay within
 * the cap. Pages are never mapped anywhere but in the kernel,
 * and never pinned more than &xpcopy_features.batch_pages at once.
 */
struct xpcopy_copy {
	__u32 size;
	__u32 flags;
	union {
		__s32 pid;
		__s32 grant_fd;
	};
	__u32 local_cnt;
	__u64 local_iov;
	__u32 remote_cnt;
	__u32 __reserved;
	__u64 remote_iov;
	__u64 copied;
	__u64 seq;
};

#define XPCOPY_COPY	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_COPY, struct xpcopy_copy)

/**
 * enum xpcopy_grant_flags - rights and options of a grant
 * @XPCOPY_GRANT_READ: holders may copy out of the window
 * @XPCOPY_GRANT_WRITE: holders may copy into the window
 * @XPCOPY_GRANT_SEQ: &xpcopy_grant.seq_addr names a sequence word
 * @XPCOPY_GRANT_EVENTFD: &xpcopy_grant.eventfd is signalled at every
 *	publication
 * @XPCOPY_GRANT_PIN: pin the window's pages when the grant is made (see
 *	"Pinned grants"), so that a copy through it touches no page table
 *	and never waits for a page of the owner's
 *
 * At least one of @XPCOPY_GRANT_READ and @XPCOPY_GRANT_WRITE must be set.
 */
enum xpcopy_grant_flags {
	XPCOPY_GRANT_READ = 1 << 0,
	XPCOPY_GRANT_WRITE = 1 << 1,
	XPCOPY_GRANT_SEQ = 1 << 2,
	XPCOPY_GRANT_EVENTFD = 1 << 3,
	XPCOPY_GRANT_PIN = 1 << 8,
};

/**
 * struct xpcopy_grant - XPCOPY_GRANT: export a window of the caller's memory
 * @size: sizeof(struct xpcopy_grant)
 * @flags: XPCOPY_GRANT_* rights and options
 * @addr: start of the window in the caller's address space
 * @len: length of the window, not 0
 * @seq_addr: with %XPCOPY_GRANT_SEQ, the address of an 8-byte aligned,
 *	writable __u64 of the caller (inside the window or not)
 * @eventfd: with %XPCOPY_GRANT_EVENTFD, an eventfd to signal; else 0
 * @fd: out, the new grant fd (``O_CLOEXEC``); also the ioctl's return value
 *
 * The window need not be mapped yet: ranges are resolved at each copy.
 */
struct xpcopy_grant {
	__u32 size;
	__u32 flags;
	__u64 addr;
	__u64 len;
	__u64 seq_addr;
	__s32 eventfd;
	__s32 fd;
};

#define XPCOPY_GRANT	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_GRANT, struct xpcopy_grant)

/**
 * struct xpcopy_grant_derive - XPCOPY_GRANT_DERIVE: a narrower grant
 * @size: sizeof(struct xpcopy_grant_derive)
 * @flags: rights of the new grant (%XPCOPY_GRANT_READ, %XPCOPY_GRANT_WRITE),
 *	a non-empty subset of the parent's
 * @grant_fd: the parent grant
 * @fd: out, the new grant fd (``O_CLOEXEC``); also the ioctl's return value
 * @offset: start of the new window, as an offset into the parent's
 * @len: length of the new window, not 0
 *
 * The new grant shares the parent's owner, sequence word and waiters, and
 * ends when the parent is revoked.
 */
struct xpcopy_grant_derive {
	__u32 size;
	__u32 flags;
	__s32 grant_fd;
	__s32 fd;
	__u64 offset;
	__u64 len;
};

#define XPCOPY_GRANT_DERIVE	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_GRANT_DERIVE, \
				      struct xpcopy_grant_derive)

/**
 * struct xpcopy_grant_revoke - XPCOPY_GRANT_REVOKE: end a grant
 * @size: sizeof(struct xpcopy_grant_revoke)
 * @flags: must be 0
 * @grant_fd: the grant to end, with every grant derived from it
 * @__reserved: must be 0
 *
 * Allowed to the owner of the window and to the process that derived the
 * grant. Revoking twice succeeds.
 */
struct xpcopy_grant_revoke {
	__u32 size;
	__u32 flags;
	__s32 grant_fd;
	__u32 __reserved;
};

#define XPCOPY_GRANT_REVOKE	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_GRANT_REVOKE, \
				      struct xpcopy_grant_revoke)

/**
 * struct xpcopy_grant_info - XPCOPY_GRANT_INFO: what a grant allows
 * @size: sizeof(struct xpcopy_grant_info)
 * @flags: must be 0
 * @grant_fd: the grant to describe
 * @rights: out, the grant's XPCOPY_GRANT_* flags
 * @len: out, length of the window
 * @seq: out, the last value published through the grant's sequence word
 * @revoked: out, 1 when revoked, 2 when the owner is gone, else 0
 * @__reserved: must be 0
 */
struct xpcopy_grant_info {
	__u32 size;
	__u32 flags;
	__s32 grant_fd;
	__u32 rights;
	__u64 len;
	__u64 seq;
	__u32 revoked;
	__u32 __reserved;
};

#define XPCOPY_GRANT_INFO	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_GRANT_INFO, \
				      struct xpcopy_grant_info)

/**
 * DOC: Copies in the SQE
 *
 * %XPCOPY_SQE_COPY is a copy of one range whose command is the SQE itself:
 * the kernel reads nothing of the caller's but the bytes it copies, and
 * writes nothing back but the CQE. It is the cheapest way to move many small
 * messages, and needs a ring made with ``IORING_SETUP_SQE128``, whose
 * 80-byte ``sqe->cmd`` holds a &struct xpcopy_sqe_copy.
 *
 * - ``sqe->opcode``: ``IORING_OP_URING_CMD``; ``sqe->fd``: /dev/xpcopy (or
 *   a registered file); ``sqe->cmd_op``: %XPCOPY_SQE_COPY; ``sqe->cmd``: a
 *   &struct xpcopy_sqe_copy, the rest of the 80 bytes zero (``EINVAL``
 *   else: they are kept for the struct to grow in). Other SQE fields as for
 *   every command (see "io_uring").
 * - On a ring of 64-byte SQEs: ``EINVAL``. As an ioctl: ``ENOTTY`` (it is
 *   io_uring's only, and not in &xpcopy_features.commands;
 *   %XPCOPY_CAP_SQE_COPY says the module has it).
 * - It is %XPCOPY_COPY with one local and one remote range of the same
 *   length: the same flags, checks, errnos, paths and cancellation; with
 *   %XPCOPY_COPY_GRANT, @remote is an offset into the grant's window. At
 *   most ``MAX_RW_COUNT`` (``INT_MAX`` rounded down to a page) bytes are
 *   copied, as by process_vm_writev(2): a longer @len gets a short count.
 * - The CQE's ``res`` is the number of bytes copied, or -errno; a short
 *   count means what it means for %XPCOPY_COPY.
 * - io_uring copies the SQE when it needs it later: the SQE may be reused
 *   once submitted (on Linux 6.11 to 6.13, not a command linked behind
 *   another, IOSQE_IO_LINK, which io_uring itself reads from the ring when
 *   its turn comes). The memory the ranges describe must stay valid until
 *   the CQE.
 */

/**
 * struct xpcopy_sqe_copy - XPCOPY_SQE_COPY: one copy, whole in ``sqe->cmd``
 * @flags: XPCOPY_COPY_* flags, as for %XPCOPY_COPY
 * @pid: the target process, as &xpcopy_copy.pid
 * @grant_fd: with %XPCOPY_COPY_GRANT, in place of @pid: a grant fd
 * @local: the caller's address
 * @remote: the target's address; with %XPCOPY_COPY_GRANT, an offset into
 *	the grant's window
 * @len: bytes to copy, from @local to @remote (%XPCOPY_COPY_WRITE) or
 *	from @remote to @local (%XPCOPY_COPY_READ)
 * @seq: with %XPCOPY_COPY_PUBLISH, the value to publish; else 0
 * @__reserved: must be 0
 */
struct xpcopy_sqe_copy {
	__u32 flags;
	union {
		__s32 pid;
		__s32 grant_fd;
	};
	__u64 local;
	__u64 remote;
	__u64 len;
	__u64 seq;
	__u64 __reserved;
};

#define XPCOPY_SQE_COPY	_IOW(XPCOPY_TYPE, XPCOPY_CMD_SQE_COPY, \
			     struct xpcopy_sqe_copy)

/**
 * struct xpcopy_uring_cmd - the 16 bytes of ``sqe->cmd`` for /dev/xpcopy
 * @cmd: address of the command's struct (as the ioctl's argument)
 * @__reserved: must be 0
 *
 * An ``IORING_OP_URING_CMD`` SQE for /dev/xpcopy carries this in
 * ``sqe->cmd`` and the ioctl number in ``sqe->cmd_op``; see "io_uring".
 */
struct xpcopy_uring_cmd {
	__u64 cmd;
	__u64 __reserved;
};

#endif /* _UAPI_LINUX_XPCOPY_H */
