// SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT
/*
 * libxpcopy: the out-of-line part of the library (see xpcopy.h).
 *
 * Every function returns -errno on failure and leaves errno as it found
 * it: each libc call that may set errno is bracketed by a save and a
 * restore.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

#include "xpcopy.h"

int xpcopy_open(int flags)
{
	int saved = errno;
	int fd;

	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	fd = open(XPCOPY_DEV_PATH, O_RDWR | flags);
	if (fd < 0)
		fd = -errno;
	errno = saved;
	return fd;
}

int xpcopy_close(int fd)
{
	int saved = errno;
	int ret = close(fd);

	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

/*
 * The struct grows with the ABI, and a program holds the one of the header
 * it was built with: each version of the shared library's symbol writes
 * only the fields its header had. XPCOPY_1.0's ended at nr_workers. (A
 * static link has the header it was built with: one symbol, all of it.)
 */
static int xpcopy_features_len(int fd, struct xpcopy_features *features,
			       size_t len)
{
	struct xpcopy_features f;
	int ret;

	if (!features)
		return -EFAULT;
	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	ret = __xpcopy_ioctl(fd, XPCOPY_FEATURES, &f);
	if (ret < 0)
		return ret;
	f.size = len;
	memcpy(features, &f, len);
	return 0;
}

#ifdef XPCOPY_SHARED
int xpcopy_features_v1_0(int fd, struct xpcopy_features *features);
int xpcopy_features_v1_0(int fd, struct xpcopy_features *features)
{
	return xpcopy_features_len(fd, features,
				   offsetof(struct xpcopy_features, nr_workers) +
				   sizeof(features->nr_workers));
}
__asm__(".symver xpcopy_features_v1_0, xpcopy_features@XPCOPY_1.0");

int xpcopy_features_v1_1(int fd, struct xpcopy_features *features);
int xpcopy_features_v1_1(int fd, struct xpcopy_features *features)
{
	return xpcopy_features_len(fd, features, sizeof(*features));
}
__asm__(".symver xpcopy_features_v1_1, xpcopy_features@@XPCOPY_1.1");
#else
int xpcopy_features(int fd, struct xpcopy_features *features)
{
	return xpcopy_features_len(fd, features, sizeof(*features));
}
#endif

/*
 * struct iovec and struct xpcopy_iovec: on LP64 both are two 64-bit words,
 * base then length, and an array of one is an array of the other. Elsewhere
 * the array is converted.
 */
#define IOV_IS_XPCOPY_IOV						\
	(sizeof(struct iovec) == sizeof(struct xpcopy_iovec) &&	\
	 sizeof(void *) == sizeof(uint64_t) &&				\
	 sizeof(size_t) == sizeof(uint64_t) &&				\
	 offsetof(struct iovec, iov_base) ==				\
		offsetof(struct xpcopy_iovec, addr) &&			\
	 offsetof(struct iovec, iov_len) ==				\
		offsetof(struct xpcopy_iovec, len))

#define IOV_ON_STACK	8

/*
 * The xpcopy_iovec array for @cnt iovecs: @iov itself where the layouts
 * agree, else @stack (up to IOV_ON_STACK) or a malloc'd array (*to_free).
 */
static int import_iov(const struct iovec *iov, unsigned int cnt,
		      struct xpcopy_iovec *stack,
		      const struct xpcopy_iovec **out, void **to_free)
{
	struct xpcopy_iovec *x = stack;
	unsigned int i;

	*to_free = NULL;
	if (cnt > XPCOPY_IOV_MAX)
		return -EINVAL;
	if (IOV_IS_XPCOPY_IOV || !cnt) {
		*out = (const struct xpcopy_iovec *)(const void *)iov;
		return 0;
	}
	if (!iov)
		return -EFAULT;
	if (cnt > IOV_ON_STACK) {
		int saved = errno;

		x = malloc(cnt * sizeof(*x));
		errno = saved;
		if (!x)
			return -ENOMEM;
		*to_free = x;
	}
	for (i = 0; i < cnt; i++) {
		x[i].addr = (uint64_t)(uintptr_t)iov[i].iov_base;
		x[i].len = iov[i].iov_len;
	}
	*out = x;
	return 0;
}

/*
 * One XPCOPY_COPY from iovec arrays. The remote ranges are @remote
 * (iovecs, pid mode) or, when @remote_x is not NULL, @remote_x (offsets
 * into a grant's window, passed as they are).
 */
static ssize_t copy_iovec(int fd, unsigned int flags, int target,
			  const struct iovec *local, unsigned int local_cnt,
			  const struct iovec *remote,
			  const struct xpcopy_iovec *remote_x,
			  unsigned int remote_cnt, uint64_t seq)
{
	struct xpcopy_iovec lstack[IOV_ON_STACK], rstack[IOV_ON_STACK];
	const struct xpcopy_iovec *l = NULL, *r = remote_x;
	void *lfree = NULL, *rfree = NULL;
	ssize_t ret;

	if (local_cnt > XPCOPY_IOV_MAX || remote_cnt > XPCOPY_IOV_MAX)
		return -EINVAL;
	ret = import_iov(local, local_cnt, lstack, &l, &lfree);
	if (!ret && !remote_x)
		ret = import_iov(remote, remote_cnt, rstack, &r, &rfree);
	if (!ret)
		ret = __xpcopy_copy_iov(fd, flags, target, l, local_cnt,
					r, remote_cnt, seq);
	free(lfree);
	free(rfree);
	return ret;
}

ssize_t xpcopy_copy(int fd, pid_t pid, unsigned int flags,
		    const struct iovec *local, unsigned int local_cnt,
		    const struct iovec *remote, unsigned int remote_cnt)
{
	/* Grant mode has its own function: the pid would be read as an fd. */
	if (flags & (XPCOPY_COPY_GRANT | XPCOPY_COPY_PUBLISH))
		return -EINVAL;
	return copy_iovec(fd, flags, pid, local, local_cnt, remote, NULL,
			  remote_cnt, 0);
}

ssize_t xpcopy_grant_copy(int fd, int grant_fd, unsigned int flags,
			  const struct iovec *local, unsigned int local_cnt,
			  const struct xpcopy_iovec *remote,
			  unsigned int remote_cnt, uint64_t seq)
{
	static const struct xpcopy_iovec none[1];

	if (!remote) {
		if (remote_cnt)
			return -EFAULT;
		remote = none;
	}
	return copy_iovec(fd, flags | XPCOPY_COPY_GRANT, grant_fd, local,
			  local_cnt, NULL, remote, remote_cnt, seq);
}

int xpcopy_grant_create(int fd, void *addr, size_t len, unsigned int flags,
			uint64_t *seq_word, int eventfd)
{
	struct xpcopy_grant g;

	if ((flags & XPCOPY_GRANT_SEQ) && !seq_word)
		return -EINVAL;
	if ((flags & XPCOPY_GRANT_EVENTFD) && eventfd < 0)
		return -EBADF;
	memset(&g, 0, sizeof(g));
	g.size = sizeof(g);
	g.flags = flags;
	if (seq_word)
		g.flags |= XPCOPY_GRANT_SEQ;
	if (eventfd >= 0) {
		g.flags |= XPCOPY_GRANT_EVENTFD;
		g.eventfd = eventfd;
	}
	g.addr = (uint64_t)(uintptr_t)addr;
	g.len = len;
	g.seq_addr = (uint64_t)(uintptr_t)seq_word;
	return __xpcopy_ioctl(fd, XPCOPY_GRANT, &g);
}

int xpcopy_grant_derive(int fd, int grant_fd, uint64_t offset, uint64_t len,
			unsigned int rights)
{
	struct xpcopy_grant_derive d;

	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.flags = rights;
	d.grant_fd = grant_fd;
	d.offset = offset;
	d.len = len;
	return __xpcopy_ioctl(fd, XPCOPY_GRANT_DERIVE, &d);
}

int xpcopy_grant_revoke(int fd, int grant_fd)
{
	struct xpcopy_grant_revoke r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.grant_fd = grant_fd;
	return __xpcopy_ioctl(fd, XPCOPY_GRANT_REVOKE, &r);
}

int xpcopy_grant_info(int fd, int grant_fd, struct xpcopy_grant_info *info)
{
	struct xpcopy_grant_info i;
	int ret;

	if (!info)
		return -EFAULT;
	memset(&i, 0, sizeof(i));
	i.size = sizeof(i);
	i.grant_fd = grant_fd;
	ret = __xpcopy_ioctl(fd, XPCOPY_GRANT_INFO, &i);
	if (ret < 0)
		return ret;
	*info = i;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait with poll(2) on the grant fd, and read(2) it after each POLLIN to
 * take the publication (which re-arms the poll); the word itself, loaded
 * with acquire ordering, decides. The word is checked before each sleep,
 * so a publication between the check and poll() is not missed: it leaves
 * the fd readable.
 */
int xpcopy_wait(int grant_fd, const uint64_t *seq_word, uint64_t seq,
		int timeout_ms)
{
	int64_t deadline = 0;
	bool polled = false;
	int saved = errno;
	int ret;

	if (!seq_word)
		return -EINVAL;
	if (grant_fd < 0)
		return -EBADF;
	if (timeout_ms > 0)
		deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = grant_fd, .events = POLLIN };
		int left = -1;
		uint64_t v;
		ssize_t n;

		if (xpcopy_seq_load(seq_word) >= seq) {
			ret = 0;
			break;
		}
		if (timeout_ms >= 0) {
			int64_t l = timeout_ms ? deadline - now_ms() : 0;

			if (l <= 0 && polled) {
				ret = -ETIMEDOUT;
				break;
			}
			left = l > 0 ? (int)l : 0;
		}
		ret = poll(&p, 1, left);
		polled = true;
		if (ret < 0) {
			ret = -errno;
			break;
		}
		if (ret == 0)
			continue;	/* timed out: the word has the last word */
		if (p.revents & POLLNVAL) {
			ret = -EBADF;
			break;
		}
		if (p.revents & POLLERR) {
			/* Revoked: a value published before still counts. */
			ret = xpcopy_seq_load(seq_word) >= seq ? 0 : -ESTALE;
			break;
		}
		if (!(p.revents & POLLIN)) {
			/* Hung up (not a grant fd): it would never wake us. */
			ret = -EPIPE;
			break;
		}
		n = read(grant_fd, &v, sizeof(v));
		if (n < 0 && errno != EAGAIN) {
			ret = -errno;
			if (ret == -ESTALE && xpcopy_seq_load(seq_word) >= seq)
				ret = 0;
			break;
		}
	}
	errno = saved;
	return ret;
}

/*
 * Error messages, in xpcopy's terms: what an errno means for one
 * operation. Looked up by (op, errno), then (XPCOPY_OP_ANY, errno).
 */
struct err_msg {
	unsigned char op;
	unsigned short err;
	const char *msg;
};

#define M(o, e, s)	{ XPCOPY_OP_##o, e, #e ": " s }

static const struct err_msg err_msgs[] = {
	M(OPEN, ENOENT, "/dev/xpcopy does not exist: is the xpcopy module loaded?"),
	M(OPEN, ENODEV, "/dev/xpcopy has no driver: is the xpcopy module loaded?"),
	M(OPEN, ENXIO, "/dev/xpcopy has no driver: is the xpcopy module loaded?"),
	M(OPEN, EACCES, "no read and write permission on /dev/xpcopy"),
	M(OPEN, EPERM, "opening /dev/xpcopy is not permitted"),
	M(OPEN, EINVAL, "xpcopy_open() takes 0 or O_CLOEXEC"),

	M(FEATURES, EINVAL, "the module refused the request (non-zero flags)"),

	M(COPY, EPERM, "pid mode needs CAP_SYS_PTRACE over the target; use a grant"),
	M(COPY, ESRCH, "no such process, or it has no memory (exited, exiting, kernel thread)"),
	M(COPY, EFAULT, "nothing could be copied: a range is unmapped, PROT_NONE, read-only for a write, or a kernel address"),
	M(COPY, EINVAL, "bad request: unknown flag, neither or both directions, a negative pid, more than 1024 segments, or a range that wraps"),
	M(COPY, EINTR, "a signal arrived before any byte was copied"),
	M(COPY, EBADF, "the /dev/xpcopy fd is not open"),

	M(GRANT_COPY, EBADF, "the grant fd is not open"),
	M(GRANT_COPY, EINVAL, "not a grant fd, a range that wraps, PUBLISH on a grant without a sequence word, WORKER or BOUNCE through a pinned grant, an unknown flag, or more than 1024 segments"),
	M(GRANT_COPY, ERANGE, "a range reaches outside the grant's window"),
	M(GRANT_COPY, EACCES, "the grant lacks the right: read to read from it, write to write into it"),
	M(GRANT_COPY, ESTALE, "the grant, or one it was derived from, was revoked"),
	M(GRANT_COPY, ESRCH, "the grant's owner exited or executed a new program"),
	M(GRANT_COPY, EFAULT, "nothing could be copied (a range unmapped, PROT_NONE or read-only), or the owner's sequence word is no longer writable"),
	M(GRANT_COPY, EINTR, "a signal arrived before any byte was copied, or before the publication (the data landed: repeating the copy is safe)"),

	M(GRANT_CREATE, EINVAL, "an empty or wrapping window, neither read nor write right, an unaligned sequence word, an fd that is not an eventfd, or an unknown flag"),
	M(GRANT_CREATE, EFAULT, "the sequence word is not writable memory of this process; or, pinned (XPCOPY_GRANT_PIN), a page of the window is unmapped, read-only for a write grant, or not to be pinned for long (DAX, a shared file mapping written back)"),
	M(GRANT_CREATE, ENOMEM, "out of memory; or, pinned (XPCOPY_GRANT_PIN), the window would take locked memory past RLIMIT_MEMLOCK (no CAP_IPC_LOCK)"),
	M(GRANT_CREATE, EBADF, "the eventfd, or the /dev/xpcopy fd, is not open"),
	M(GRANT_CREATE, EMFILE, "no free file descriptor for the grant"),

	M(GRANT_DERIVE, EINVAL, "not a grant fd, an empty or wrapping window, no right, or an unknown flag"),
	M(GRANT_DERIVE, ERANGE, "the derived window reaches outside the parent's"),
	M(GRANT_DERIVE, EACCES, "a derived grant cannot have a right its parent lacks"),
	M(GRANT_DERIVE, ESTALE, "the parent grant, or one it was derived from, was revoked"),
	M(GRANT_DERIVE, ESRCH, "the grant's owner exited or executed a new program"),
	M(GRANT_DERIVE, EBADF, "the parent grant fd is not open"),
	M(GRANT_DERIVE, EMFILE, "no free file descriptor for the new grant"),

	M(GRANT_REVOKE, EPERM, "only the grant's owner, or the process that derived it, may revoke it"),
	M(GRANT_REVOKE, EINVAL, "not a grant fd"),
	M(GRANT_REVOKE, EBADF, "the grant fd is not open"),

	M(GRANT_INFO, EINVAL, "not a grant fd"),
	M(GRANT_INFO, EBADF, "the grant fd is not open"),

	M(WAIT, ETIMEDOUT, "the sequence word did not reach the value in time"),
	M(WAIT, ESTALE, "the grant was revoked before the sequence word reached the value"),
	M(WAIT, EINTR, "a signal interrupted the wait"),
	M(WAIT, EBADF, "the grant fd is not open"),
	M(WAIT, EINVAL, "not a grant fd, or no sequence word given"),
	M(WAIT, EPIPE, "the fd hung up: it is not a grant fd"),

	/* Whatever the operation. */
	M(ANY, ENOTTY, "not an xpcopy device, or a module that does not know this command"),
	M(ANY, E2BIG, "the module is older than this library and refused a field it does not know"),
	M(ANY, ENOMEM, "out of memory (the kernel's bookkeeping, or the library's)"),
	M(ANY, EOVERFLOW, "the byte count does not fit in ssize_t"),
	M(ANY, EPERM, "pid mode needs CAP_SYS_PTRACE over the target (use a grant); or revoking a grant one neither owns nor derived"),
	M(ANY, ESRCH, "no such process, or it has no memory; or the grant's owner exited or executed a new program"),
	M(ANY, EBADF, "a file descriptor that is not open"),
	M(ANY, EACCES, "the grant lacks the right (read or write), or a derived grant asks for more rights than its parent has"),
	M(ANY, ERANGE, "a range outside the grant's window"),
	M(ANY, ESTALE, "the grant, or one it was derived from, was revoked"),
	M(ANY, EFAULT, "nothing could be copied: unmapped, PROT_NONE, read-only target, or kernel address; or an unreadable argument"),
	M(ANY, EINTR, "a signal arrived before any byte was copied"),
	M(ANY, EINVAL, "an invalid argument: unknown flag, reserved field, wrapping range, more than 1024 segments, not a grant fd"),
	M(ANY, ENOENT, "/dev/xpcopy does not exist: is the xpcopy module loaded?"),
	M(ANY, ENODEV, "/dev/xpcopy has no driver: is the xpcopy module loaded?"),
	M(ANY, ENXIO, "/dev/xpcopy has no driver: is the xpcopy module loaded?"),
	M(ANY, ETIMEDOUT, "timed out"),
	M(ANY, EMFILE, "too many open files in this process"),
	M(ANY, ENFILE, "too many open files in the system"),
	M(ANY, EAGAIN, "nothing to read yet (O_NONBLOCK)"),
};

#undef M

static const struct { unsigned short err; const char *name; } err_names[] = {
#define N(e)	{ e, #e }
	N(EPERM), N(ENOENT), N(ESRCH), N(EINTR), N(EIO), N(ENXIO), N(E2BIG),
	N(EBADF), N(EAGAIN), N(ENOMEM), N(EACCES), N(EFAULT), N(EBUSY),
	N(EEXIST), N(ENODEV), N(EINVAL), N(ENFILE), N(EMFILE), N(ENOTTY),
	N(ENOSPC), N(EPIPE), N(ERANGE), N(ENOSYS), N(EOVERFLOW),
	N(EOPNOTSUPP), N(ETIMEDOUT), N(ESTALE), N(ECANCELED),
#undef N
};

const char *xpcopy_strerror(int err, enum xpcopy_op op)
{
	static __thread char buf[128];
	const char *name = NULL;
	unsigned int i;
	int saved = errno;

	if (err < 0)
		err = -err;
	if ((unsigned int)op >= XPCOPY_OP_MAX)
		op = XPCOPY_OP_ANY;
	for (i = 0; i < sizeof(err_msgs) / sizeof(err_msgs[0]); i++)
		if (err_msgs[i].op == op && err_msgs[i].err == err)
			return err_msgs[i].msg;
	for (i = 0; i < sizeof(err_msgs) / sizeof(err_msgs[0]); i++)
		if (err_msgs[i].op == XPCOPY_OP_ANY && err_msgs[i].err == err)
			return err_msgs[i].msg;
	if (err == 0)
		return "0: success";
	for (i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (err_names[i].err == err)
			name = err_names[i].name;
	if (name)
		snprintf(buf, sizeof(buf), "%s: %s", name, strerror(err));
	else
		snprintf(buf, sizeof(buf), "errno %d: %s", err, strerror(err));
	errno = saved;
	return buf;
}
