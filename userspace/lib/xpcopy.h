/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * libxpcopy: the userspace library of /dev/xpcopy, single-copy memory
 * transfer between processes.
 *
 * Every function returns a non-negative value on success and -errno on
 * failure, and never changes errno. Each public function has a man page
 * (xpcopy_open(3) and so on; libxpcopy(7) is the overview).
 *
 * The single-range copies and the sequence-word load are static inline
 * here: one ioctl, no conversion, no call into the library. The rest is in
 * libxpcopy.so.1 (symbol versions XPCOPY_1.0, 1.1) and libxpcopy.a.
 */
#ifndef LIBXPCOPY_H
#define LIBXPCOPY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The UAPI header may already be in, from another include path. */
#ifndef _UAPI_LINUX_XPCOPY_H
#include <linux/xpcopy.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The device node the library opens. */
#define XPCOPY_DEV_PATH		"/dev/xpcopy"

/* Library version, as in the file name of the shared library. */
#define XPCOPY_LIB_MAJOR	1
#define XPCOPY_LIB_MINOR	0

/*
 * What was being done when an error happened: xpcopy_strerror() explains
 * an errno in the terms of one operation.
 */
enum xpcopy_op {
	XPCOPY_OP_ANY = 0,	/* no context: every meaning the errno has */
	XPCOPY_OP_OPEN,		/* xpcopy_open() */
	XPCOPY_OP_FEATURES,	/* xpcopy_features() */
	XPCOPY_OP_COPY,		/* xpcopy_copy(), xpcopy_write(), _read(): pid mode */
	XPCOPY_OP_GRANT_COPY,	/* xpcopy_grant_copy(), _write(), _read() */
	XPCOPY_OP_GRANT_CREATE,	/* xpcopy_grant_create() */
	XPCOPY_OP_GRANT_DERIVE,	/* xpcopy_grant_derive() */
	XPCOPY_OP_GRANT_REVOKE,	/* xpcopy_grant_revoke() */
	XPCOPY_OP_GRANT_INFO,	/* xpcopy_grant_info() */
	XPCOPY_OP_WAIT,		/* xpcopy_wait() */
	XPCOPY_OP_MAX
};

/* Out of line: libxpcopy.so.1 / libxpcopy.a. */
int xpcopy_open(int flags);
int xpcopy_close(int fd);
int xpcopy_features(int fd, struct xpcopy_features *features);
ssize_t xpcopy_copy(int fd, pid_t pid, unsigned int flags,
		    const struct iovec *local, unsigned int local_cnt,
		    const struct iovec *remote, unsigned int remote_cnt);
ssize_t xpcopy_grant_copy(int fd, int grant_fd, unsigned int flags,
			  const struct iovec *local, unsigned int local_cnt,
			  const struct xpcopy_iovec *remote,
			  unsigned int remote_cnt, uint64_t seq);
int xpcopy_grant_create(int fd, void *addr, size_t len, unsigned int flags,
			uint64_t *seq_word, int eventfd);
int xpcopy_grant_derive(int fd, int grant_fd, uint64_t offset, uint64_t len,
			unsigned int rights);
int xpcopy_grant_revoke(int fd, int grant_fd);
int xpcopy_grant_info(int fd, int grant_fd, struct xpcopy_grant_info *info);
int xpcopy_wait(int grant_fd, const uint64_t *seq_word, uint64_t seq,
		int timeout_ms);
const char *xpcopy_strerror(int err, enum xpcopy_op op);

/*
 * Inline helpers. Names starting with __xpcopy are internal: not part of
 * the API, no man page, may change.
 */

/* ioctl(2) returning its result or -errno; errno is left as it was. */
static inline int __xpcopy_ioctl(int fd, unsigned long cmd, void *arg)
{
	int saved = errno;
	int ret = ioctl(fd, cmd, arg);

	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

/* One XPCOPY_COPY over ready-made xpcopy_iovec arrays. */
static inline ssize_t __xpcopy_copy_iov(int fd, unsigned int flags,
					int target,
					const struct xpcopy_iovec *local,
					unsigned int local_cnt,
					const struct xpcopy_iovec *remote,
					unsigned int remote_cnt, uint64_t seq)
{
	struct xpcopy_copy c;
	int ret;

	c.size = sizeof(c);
	c.flags = flags;
	c.pid = target;
	c.local_cnt = local_cnt;
	c.local_iov = (uint64_t)(uintptr_t)local;
	c.remote_cnt = remote_cnt;
	c.__reserved = 0;
	c.remote_iov = (uint64_t)(uintptr_t)remote;
	c.copied = 0;
	c.seq = seq;
	ret = __xpcopy_ioctl(fd, XPCOPY_COPY, &c);
	if (ret < 0)
		return ret;
	if (c.copied > (uint64_t)((size_t)-1 >> 1))
		return -EOVERFLOW;
	return (ssize_t)c.copied;
}

/* The option flags a single-range copy takes besides its direction. */
#define __XPCOPY_COPY_OPTIONS	(XPCOPY_COPY_BOUNCE | XPCOPY_COPY_INLINE | \
				 XPCOPY_COPY_WORKER)

/**
 * xpcopy_write() - copy @len bytes from @buf to address @addr of process @pid
 *
 * @flags: 0, or XPCOPY_COPY_BOUNCE, _INLINE, _WORKER.
 * Return: bytes copied (may be short), or -errno.
 */
static inline ssize_t xpcopy_write(int fd, pid_t pid, uint64_t addr,
				   const void *buf, size_t len,
				   unsigned int flags)
{
	struct xpcopy_iovec l = { (uint64_t)(uintptr_t)buf, len };
	struct xpcopy_iovec r = { addr, len };

	if (flags & ~__XPCOPY_COPY_OPTIONS)
		return -EINVAL;
	return __xpcopy_copy_iov(fd, flags | XPCOPY_COPY_WRITE, pid,
				 &l, 1, &r, 1, 0);
}

/**
 * xpcopy_read() - copy @len bytes from address @addr of process @pid to @buf
 */
static inline ssize_t xpcopy_read(int fd, pid_t pid, uint64_t addr,
				  void *buf, size_t len, unsigned int flags)
{
	struct xpcopy_iovec l = { (uint64_t)(uintptr_t)buf, len };
	struct xpcopy_iovec r = { addr, len };

	if (flags & ~__XPCOPY_COPY_OPTIONS)
		return -EINVAL;
	return __xpcopy_copy_iov(fd, flags | XPCOPY_COPY_READ, pid,
				 &l, 1, &r, 1, 0);
}

/**
 * xpcopy_grant_write() - copy @len bytes from @buf into a grant's window at
 * @offset; with XPCOPY_COPY_PUBLISH in @flags, then publish @seq
 */
static inline ssize_t xpcopy_grant_write(int fd, int grant_fd,
					 uint64_t offset, const void *buf,
					 size_t len, unsigned int flags,
					 uint64_t seq)
{
	struct xpcopy_iovec l = { (uint64_t)(uintptr_t)buf, len };
	struct xpcopy_iovec r = { offset, len };

	if (flags & ~(__XPCOPY_COPY_OPTIONS | XPCOPY_COPY_PUBLISH))
		return -EINVAL;
	return __xpcopy_copy_iov(fd, flags | XPCOPY_COPY_WRITE |
				 XPCOPY_COPY_GRANT, grant_fd, &l, 1, &r, 1,
				 seq);
}

/**
 * xpcopy_grant_read() - copy @len bytes of a grant's window from @offset
 * into @buf; with XPCOPY_COPY_PUBLISH in @flags, then publish @seq
 */
static inline ssize_t xpcopy_grant_read(int fd, int grant_fd, uint64_t offset,
					void *buf, size_t len,
					unsigned int flags, uint64_t seq)
{
	struct xpcopy_iovec l = { (uint64_t)(uintptr_t)buf, len };
	struct xpcopy_iovec r = { offset, len };

	if (flags & ~(__XPCOPY_COPY_OPTIONS | XPCOPY_COPY_PUBLISH))
		return -EINVAL;
	return __xpcopy_copy_iov(fd, flags | XPCOPY_COPY_READ |
				 XPCOPY_COPY_GRANT, grant_fd, &l, 1, &r, 1,
				 seq);
}

/**
 * xpcopy_seq_load() - load a sequence word with acquire ordering
 *
 * Pairs with the module's release store of a publication: once the value
 * loaded is the one a copy published, every byte of that copy is visible.
 */
static inline uint64_t xpcopy_seq_load(const uint64_t *seq_word)
{
	return __atomic_load_n(seq_word, __ATOMIC_ACQUIRE);
}

/*
 * io_uring: with <liburing.h> (or <linux/io_uring.h>) included before this
 * header, the xpcopy_prep_*() helpers fill an IORING_OP_URING_CMD SQE for
 * /dev/xpcopy (see "io_uring" in <linux/xpcopy.h>), and with <liburing.h>,
 * xpcopy_uring_wait() waits for one such command to complete.
 */
#ifdef LINUX_IO_URING_H

/**
 * xpcopy_copy_init() - fill a struct xpcopy_copy for xpcopy_prep_copy()
 *
 * @target: the pid, or with XPCOPY_COPY_GRANT in @flags the grant fd.
 */
static inline void xpcopy_copy_init(struct xpcopy_copy *c, unsigned int flags,
				    int target,
				    const struct xpcopy_iovec *local,
				    unsigned int local_cnt,
				    const struct xpcopy_iovec *remote,
				    unsigned int remote_cnt, uint64_t seq)
{
	c->size = sizeof(*c);
	c->flags = flags;
	c->pid = target;
	c->local_cnt = local_cnt;
	c->local_iov = (uint64_t)(uintptr_t)local;
	c->remote_cnt = remote_cnt;
	c->__reserved = 0;
	c->remote_iov = (uint64_t)(uintptr_t)remote;
	c->copied = 0;
	c->seq = seq;
}

/**
 * xpcopy_prep_cmd() - any /dev/xpcopy command as an io_uring SQE
 *
 * @cmd_op: the ioctl number (XPCOPY_COPY, XPCOPY_GRANT, ...); @arg: its
 * struct, which must stay valid until the CQE. user_data is set to @arg.
 * A NULL @sqe (a full ring) is left alone: submit, reap, and try again.
 */
static inline void xpcopy_prep_cmd(struct io_uring_sqe *sqe, int fd,
				   unsigned int cmd_op, void *arg)
{
	struct xpcopy_uring_cmd uc = { (uint64_t)(uintptr_t)arg, 0 };

	if (!sqe)	/* io_uring_get_sqe() found the ring full */
		return;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = (uint64_t)(uintptr_t)arg;
	memcpy(sqe->cmd, &uc, sizeof(uc));
}

/**
 * xpcopy_prep_copy() - an XPCOPY_COPY as an io_uring SQE
 *
 * @c, its iovec arrays and their memory must stay valid until the CQE.
 */
static inline void xpcopy_prep_copy(struct io_uring_sqe *sqe, int fd,
				    struct xpcopy_copy *c)
{
	xpcopy_prep_cmd(sqe, fd, XPCOPY_COPY, c);
}

/**
 * xpcopy_prep_sqe_copy() - one copy whole in a 128-byte SQE (XPCOPY_SQE_COPY)
 *
 * @sqe: an entry of a ring made with IORING_SETUP_SQE128 (all 128 bytes
 * are written); @flags: XPCOPY_COPY_* as for xpcopy_copy(); @target: the
 * pid, or with XPCOPY_COPY_GRANT the grant fd; @local: the caller's
 * address; @remote: the target's address, or with XPCOPY_COPY_GRANT an
 * offset into the window; @len: bytes; @seq: with XPCOPY_COPY_PUBLISH the
 * value to publish, else 0. The kernel reads nothing but the SQE: the
 * entry may be reused once submitted; only the memory copied must stay
 * valid until the completion, whose result is the count or -errno.
 * user_data is left 0: set it with io_uring_sqe_set_data() or by hand.
 * Needs XPCOPY_CAP_SQE_COPY. A NULL @sqe is left alone.
 */
static inline void xpcopy_prep_sqe_copy(struct io_uring_sqe *sqe, int fd,
					unsigned int flags, int target,
					const void *local, uint64_t remote,
					uint64_t len, uint64_t seq)
{
	struct xpcopy_sqe_copy c;

	if (!sqe)	/* io_uring_get_sqe() found the ring full */
		return;
	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.pid = target;
	c.local = (uint64_t)(uintptr_t)local;
	c.remote = remote;
	c.len = len;
	c.seq = seq;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = XPCOPY_SQE_COPY;
	memcpy(sqe->cmd, &c, sizeof(c));
}

#ifdef LIB_URING_H
/**
 * xpcopy_uring_wait() - wait for the next CQE of a command prepared with
 * xpcopy_prep_cmd() or xpcopy_prep_copy(), and consume it
 *
 * Stores the command's struct (the CQE's user_data) in *@arg.
 * Return: the CQE's result: -errno, or for XPCOPY_COPY the bytes copied
 * (at most INT_MAX; the whole count is in the struct's copied field).
 */
static inline int xpcopy_uring_wait(struct io_uring *ring, void **arg)
{
	struct io_uring_cqe *cqe;
	int saved = errno;
	int ret;

	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	if (ret >= 0) {
		*arg = (void *)(uintptr_t)cqe->user_data;
		ret = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	errno = saved;
	return ret;
}
#endif /* LIB_URING_H */

#endif /* LINUX_IO_URING_H */

#ifdef __cplusplus
}
#endif

#endif /* LIBXPCOPY_H */
