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
 * - ``EINTR``: a signal arrived before any byte was copied. After progress,
 *   the copy stops at a batch boundary with a short count.
 * - ``ENOMEM``: the kernel could not allocate its bookkeeping.
 *
 * A zero-length copy succeeds with @copied 0, after every other check.
 */

/** @XPCOPY_TYPE: the ioctl type byte of /dev/xpcopy */
#define XPCOPY_TYPE		'x'

/** @XPCOPY_ABI_VERSION: bumped when the ABI grows */
#define XPCOPY_ABI_VERSION	1

/** @XPCOPY_IOV_MAX: most segments in one iovec array (as IOV_MAX) */
#define XPCOPY_IOV_MAX		1024

enum {
	XPCOPY_CMD_FEATURES = 0x00,
	XPCOPY_CMD_COPY = 0x01,
};

/**
 * struct xpcopy_features - XPCOPY_FEATURES: what this module knows
 * @size: sizeof(struct xpcopy_features)
 * @flags: must be 0
 * @abi_version: out, %XPCOPY_ABI_VERSION of the running module
 * @batch_pages: out, most pages of the caller the module pins at once for
 *	one copy (the module parameter ``batch_pages``)
 * @commands: out, bit n set when command number n is known
 * @copy_flags: out, every XPCOPY_COPY_* flag this module accepts
 * @max_iov: out, most segments in one iovec array
 * @nr_workers: out, kernel workers that copy into other address spaces
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
};

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
 *
 * Exactly one of @XPCOPY_COPY_WRITE and @XPCOPY_COPY_READ must be set.
 */
enum xpcopy_copy_flags {
	XPCOPY_COPY_WRITE = 1 << 0,
	XPCOPY_COPY_READ = 1 << 1,
	XPCOPY_COPY_BOUNCE = 1 << 2,
};

/**
 * struct xpcopy_copy - XPCOPY_COPY: copy between the caller and a process
 * @size: sizeof(struct xpcopy_copy)
 * @flags: XPCOPY_COPY_* flags; unknown flags are %EINVAL
 * @pid: the target process, in the caller's pid namespace; the caller needs
 *	``CAP_SYS_PTRACE`` over it unless it is the caller itself
 * @local_cnt: number of &struct xpcopy_iovec at @local_iov
 * @local_iov: the caller's ranges (pointer to an array)
 * @remote_cnt: number of &struct xpcopy_iovec at @remote_iov
 * @__reserved: must be 0
 * @remote_iov: the target's ranges (pointer to an array)
 * @copied: out, bytes copied
 *
 * Bytes are copied in order, from the concatenation of one side's ranges to
 * the concatenation of the other's, until the shorter side ends, exactly as
 * process_vm_writev(2) and process_vm_readv(2) do. The command succeeds when
 * any byte was copied (@copied may then be short of the request: a range
 * ended in an unmapped page, or a signal arrived) or when there was nothing
 * to copy; it fails only when nothing was copied.
 *
 * The caller's pages are pinned in batches of at most
 * &xpcopy_features.batch_pages, copied by a kernel worker that adopts the
 * target's address space, and unpinned before the next batch. The target's
 * pages are never pinned and never mapped anywhere but in the kernel.
 */
struct xpcopy_copy {
	__u32 size;
	__u32 flags;
	__s32 pid;
	__u32 local_cnt;
	__u64 local_iov;
	__u32 remote_cnt;
	__u32 __reserved;
	__u64 remote_iov;
	__u64 copied;
};

#define XPCOPY_COPY	_IOWR(XPCOPY_TYPE, XPCOPY_CMD_COPY, struct xpcopy_copy)

#endif /* _UAPI_LINUX_XPCOPY_H */
